"""Compare the host's and the emulated aarch64 run of ``scripts/arm64_predict.py``; part of ``scripts/test-arm64.sh``.

    python scripts/arm64/compare.py HOST.json ARM.json [--host-wall S] [--arm-wall S] [--emulator TEXT]

Prints a short report and exits 0 when every label matches, except near-ties: texts whose
host top-2 logit margin is below 2x the largest |logit difference| seen, which are listed
apart and do not fail. Exits 1 on a real label mismatch, on a run that is not aarch64, or on
results that cannot be compared (different texts, labels or shapes).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

SHOWN = 10
"""Near-ties and mismatches listed one per line; the rest are counted."""
PACKAGES = ("numpy", "tokenizers", "onnxruntime", "openvino", "edgeptm-runtime")


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"test-arm64: error: cannot read {path}: {exc}") from None


def _row(name: str, left: str, right: str) -> str:
    return f"  {name:<16} {left:<28} {right}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", type=Path)
    parser.add_argument("arm", type=Path)
    parser.add_argument("--host-wall", type=float, default=None, help="wall seconds of the host run")
    parser.add_argument("--arm-wall", type=float, default=None, help="wall seconds of the emulated run")
    parser.add_argument("--emulator", default="", help="how the aarch64 side ran (for the report)")
    parser.add_argument("--texts-name", default="", help="where the texts came from (for the report)")
    parser.add_argument(
        "--max-near-ties",
        type=float,
        default=0.05,
        help="near-ties tolerated: a count (>= 1) or a fraction of the texts (< 1); default 0.05, at least 1 text",
    )
    parser.add_argument(
        "--max-delta",
        type=float,
        default=None,
        help="also fail when max |logit difference| exceeds this (default: no limit)",
    )
    args = parser.parse_args(argv)
    host, arm = _load(args.host), _load(args.arm)

    problems = []
    if arm["platform"]["machine"] != "aarch64":
        problems.append(f"the emulated run reports platform.machine() = {arm['platform']['machine']!r}, not 'aarch64'")
    if host["bundle"]["labels"] != arm["bundle"]["labels"]:
        problems.append(f"label names differ: {host['bundle']['labels']} vs {arm['bundle']['labels']}")
    hp, ap = host["predictions"], arm["predictions"]
    if len(hp) != len(ap):
        problems.append(f"{len(hp)} host predictions vs {len(ap)} emulated")
    elif any(len(a["logits"]) != len(b["logits"]) for a, b in zip(hp, ap)):
        problems.append("logit vectors differ in length")

    b = host["bundle"]
    print(
        f"== edgeptm-runtime on aarch64: {b['name']} ({b['engine']}, {b['precision']}), "
        f"{len(hp)} texts{' from ' + args.texts_name if args.texts_name else ''}"
    )
    print(_row("", "host", f"emulated{' (' + args.emulator + ')' if args.emulator else ''}"))
    hpl, apl = host["platform"], arm["platform"]
    print(_row("machine", hpl["machine"], apl["machine"]))
    print(_row("python", f"{hpl['python']} {hpl['implementation']}", f"{apl['python']} {apl['implementation']}"))
    for name in PACKAGES:
        left, right = hpl["packages"].get(name), apl["packages"].get(name)
        if left or right:
            print(_row(name, left or "-", right or "-"))
    hs, as_ = host["seconds"], arm["seconds"]
    print(
        _row(
            "import/load/run",
            f"{hs['import']:.2f} / {hs['load']:.2f} / {hs['predict']:.2f} s",
            f"{as_['import']:.2f} / {as_['load']:.2f} / {as_['predict']:.2f} s",
        )
    )
    print(_row("wall (process)", _seconds(args.host_wall), _seconds(args.arm_wall)))
    for side, result in (("host", host), ("emulated", arm)):
        for warning in result.get("warnings", []):
            print(f"  warning ({side}): {warning}")

    if problems:
        for problem in problems:
            print(f"test-arm64: error: {problem}", file=sys.stderr)
        return 1

    deltas = [max(abs(x - y) for x, y in zip(a["logits"], b_["logits"])) for a, b_ in zip(hp, ap)]
    max_delta = max(deltas) if deltas else 0.0
    mean_delta = sum(deltas) / len(deltas) if deltas else 0.0
    worst = max(range(len(deltas)), key=deltas.__getitem__) if deltas else None
    near_ties, mismatches = [], []
    for i, (a, b_) in enumerate(zip(hp, ap)):
        if a["label"] == b_["label"]:
            continue
        top = sorted(a["logits"], reverse=True)
        margin = top[0] - top[1] if len(top) > 1 else math.inf
        (near_ties if margin < 2 * max_delta else mismatches).append((i, a["label"], b_["label"], margin))
    agree = len(hp) - len(near_ties) - len(mismatches)
    print(_row("labels agree", f"{agree}/{len(hp)}", f"near-ties {len(near_ties)}, mismatches {len(mismatches)}"))
    print(
        _row(
            "max |dlogit|",
            f"{max_delta:.6f}",
            f"mean of per-text max {mean_delta:.6f}" + (f"; worst text #{worst}" if worst is not None else ""),
        )
    )
    for kind, rows in (("near-tie", near_ties), ("MISMATCH", mismatches)):
        for i, left, right, margin in rows[:SHOWN]:
            print(
                f"  {kind}: text #{i}: host {left} / aarch64 {right}; host top-2 margin {margin:.4f} "
                f"{'<' if kind == 'near-tie' else '>='} 2 x max |dlogit| = {2 * max_delta:.4f}"
            )
        if len(rows) > SHOWN:
            print(f"  ... and {len(rows) - SHOWN} more {kind}(s)")
    limit = args.max_near_ties if args.max_near_ties >= 1 else max(1, math.floor(args.max_near_ties * len(hp)))
    failed = False
    if len(near_ties) > limit:
        print(
            f"test-arm64: error: {len(near_ties)} labels differ as near-ties, more than the {int(limit)} tolerated: "
            f"the logits differ too much (max |dlogit| {max_delta:.4f}) for the near-tie rule to mean anything; "
            "the emulated CPU model or the engine's kernels for it are suspect",
            file=sys.stderr,
        )
        failed = True
    if args.max_delta is not None and max_delta > args.max_delta:
        print(f"test-arm64: error: max |dlogit| {max_delta:.6f} exceeds --max-delta {args.max_delta}", file=sys.stderr)
        failed = True
    if mismatches:
        print(
            f"test-arm64: error: {len(mismatches)} label(s) differ between the host and aarch64 beyond near-ties",
            file=sys.stderr,
        )
        return 1
    if failed:
        return 1
    print(
        f"OK: aarch64 labels match the host on {agree}/{len(hp)} texts"
        + (f" ({len(near_ties)} near-tie(s) differ)" if near_ties else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
