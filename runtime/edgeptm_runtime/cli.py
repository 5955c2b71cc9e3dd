"""``edgeptm-runtime predict|serve|verify|info``: argparse only, one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from edgeptm_runtime import __version__
from edgeptm_runtime.errors import EdgeptmRuntimeError, one_line

ENGINE_CHOICES = ("onnx", "openvino")


class InputError(Exception):
    """A bad ``--input`` line or file; the message names the file and line."""


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeptm-runtime", description="Run an edgeptm classifier bundle: predict, serve, verify, info."
    )
    parser.add_argument("--version", action="version", version=f"edgeptm-runtime {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def bundle_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("bundle", metavar="BUNDLE", help="bundle folder or .tar.gz")

    def engine_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--threads", type=_positive, help="engine threads (default: the engine's choice)")
        p.add_argument("--engine", choices=ENGINE_CHOICES, help="engine to run on (default: the bundle's own)")

    p = sub.add_parser("predict", help="classify texts; one JSON line per text on stdout")
    bundle_arg(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", help="a text to classify (repeatable)")
    source.add_argument("--input", metavar="FILE", help='JSONL with {"text": ...} per line ("id" is kept); - is stdin')
    p.add_argument("--batch-size", type=_positive, default=32)
    engine_args(p)

    p = sub.add_parser("serve", help="HTTP JSON server: POST /predict, GET /health, GET /metadata")
    bundle_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed at startup)")
    p.add_argument("--max-batch-size", type=_positive, default=16, help="texts run together by the worker")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="how long the worker waits to fill a batch")
    p.add_argument("--queue-size", type=_positive, default=256, help="queued requests before answering 503")
    p.add_argument("--max-request-bytes", type=_positive, default=1 << 20, help="larger bodies get 413")
    p.add_argument("--max-texts", type=_positive, default=64, help="more texts in one request get 413")
    engine_args(p)

    p = sub.add_parser("verify", help="check bundle.json and every file's size and SHA-256")
    bundle_arg(p)
    p.add_argument("--engine", choices=ENGINE_CHOICES, help="also check the model's operators against this engine")

    p = sub.add_parser("info", help="print the bundle's metadata (bundle.json) as JSON")
    bundle_arg(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return {"predict": _predict, "serve": _serve, "verify": _verify, "info": _info}[args.command](args)
    except (EdgeptmRuntimeError, InputError, OSError, ValueError) as exc:
        print(f"Error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """Warnings as one ``Warning:`` line on stderr, like errors."""
    print(f"Warning: {one_line(message)}", file=sys.stderr)


def _predict(args: argparse.Namespace) -> int:
    from edgeptm_runtime.classifier import load

    with load(args.bundle, engine=args.engine, threads=args.threads) as classifier:
        records = ({"text": t} for t in args.text) if args.text is not None else _read_jsonl(args.input)
        chunk: list[dict[str, Any]] = []
        size = args.batch_size * 8  # enough texts per chunk for length sorting to pay, small enough to stream
        try:
            try:
                for record in records:
                    chunk.append(record)
                    if len(chunk) >= size:
                        batch, chunk = chunk, []
                        _emit(classifier, batch, args.batch_size, sys.stdout)
            finally:  # what was read before a bad line is still answered
                if chunk:
                    batch, chunk = chunk, []
                    _emit(classifier, batch, args.batch_size, sys.stdout)
        except BrokenPipeError:  # e.g. `| head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _emit(classifier: Any, records: list[dict[str, Any]], batch_size: int, out: TextIO) -> None:
    predictions = classifier.predict([r["text"] for r in records], batch_size=batch_size)
    for record, prediction in zip(records, predictions, strict=True):
        line = {"id": record["id"]} if "id" in record else {}
        line.update(text=record["text"], label=prediction.label, scores=prediction.scores)
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


def _read_jsonl(source: str) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file (or stdin for ``-``); blank lines are skipped."""
    name = "stdin" if source == "-" else source
    if source == "-":
        stream: TextIO = sys.stdin
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{source}: no such input file")
        stream = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, after the generator is drained
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name}:{number}: not a JSON object ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise InputError(f'{name}:{number}: expected an object with a "text" string')
            yield record
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def _serve(args: argparse.Namespace) -> int:
    from edgeptm_runtime.classifier import load
    from edgeptm_runtime.encoding import TruncationWarning
    from edgeptm_runtime.server import ServerConfig, serve

    config = ServerConfig(
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
        queue_size=args.queue_size,
        max_request_bytes=args.max_request_bytes,
        max_texts=args.max_texts,
    )
    warnings.simplefilter("ignore", TruncationWarning)  # truncation is documented; not a line per request
    with load(args.bundle, engine=args.engine, threads=args.threads) as classifier:
        try:
            return serve(classifier, config)
        except OSError as exc:
            raise OSError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None


def _verify(args: argparse.Namespace) -> int:
    from edgeptm_runtime.archive import BundleDir
    from edgeptm_runtime.bundle import verify_bundle

    with BundleDir(Path(args.bundle)) as bundle:
        manifest = verify_bundle(bundle.path)
        if args.engine:
            from edgeptm_runtime.classifier import check_engine

            check_engine(manifest, bundle.path, args.engine)
        from edgeptm_runtime.requirements import RequirementWarning, unmet_requirements

        for note in unmet_requirements(manifest.requirements, args.engine or manifest.engine):
            warnings.warn(note, RequirementWarning, stacklevel=1)
    print(f"ok: {len(manifest.files)} files verified")
    return 0


def _info(args: argparse.Namespace) -> int:
    from edgeptm_runtime.archive import BundleDir
    from edgeptm_runtime.bundle import read_manifest

    with BundleDir(Path(args.bundle)) as bundle:
        manifest = read_manifest(bundle.path)
    print(json.dumps(manifest.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
