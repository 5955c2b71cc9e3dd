"""Hugging Face plumbing shared by fine-tuning, pre-training and vocabulary trimming: where the
built-in model lives, loading with one-line errors, checkpoints, the common ``TrainingArguments``,
and saving a trained model atomically.

transformers and torch are imported inside the functions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgeptm.errors import ModelError
from edgeptm.fsutil import atomic_dir, cache_dir, write_json
from edgeptm.manifest import check_model_folder
from edgeptm.train.tinymodel import BUILTIN_MODEL, builtin_model


def physical_cores() -> int:
    """Physical CPU cores (hyper-threads share a core's units, so training gains nothing from them)."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


@contextmanager
def reproducible(threads: int | None) -> Iterator[int]:
    """Run a training block so that the same options and data give the same model, bit for bit: torch on
    exactly ``threads`` intra-op threads (default: the physical cores) and deterministic algorithms only;
    both restored afterwards. Yields the thread count.

    The thread count changes how float sums are split, so it must be pinned: left alone, it would depend on
    whatever set ``torch.set_num_threads`` earlier in the process. Deterministic algorithms matter on GPUs
    (scatter-add and some cuBLAS paths are not by default); an operation with no deterministic version
    warns instead of failing. The data order is seeded by the training arguments.
    """
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (read at CUDA init)
    wanted = threads or physical_cores()
    previous = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(wanted)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield wanted
    finally:
        torch.set_num_threads(previous)
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)


def resolve_model(model: str) -> str:
    """A local folder for ``builtin:…``, the path or hub id otherwise."""
    if model == BUILTIN_MODEL:
        return str(builtin_model(cache_dir()))
    if model.startswith("builtin:"):
        raise ModelError(f"{model}: unknown built-in model (the only one is {BUILTIN_MODEL})")
    path = Path(model).expanduser()
    looks_local = path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1 or "\\" in model
    if path.exists() or looks_local:
        check_model_folder(path)  # no such folder, a file, custom code, pickle weights: one line each
        return str(path)
    return model


def load_pretrained(loader: Any, name: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(name)`` with a one-line error for a broken folder or an unreachable hub.

    A model's own code never runs (``trust_remote_code=False``) and only safetensors weights are read."""
    kwargs = {"trust_remote_code": False, **kwargs}
    if Path(name).is_dir() and "Tokenizer" not in getattr(loader, "__name__", ""):
        kwargs.setdefault("use_safetensors", True)
    try:
        return loader.from_pretrained(name, **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:  # HFValidationError and "Unrecognized model" are ValueErrors
        if Path(name).is_dir():
            raise ModelError(f"{name}: could not load ({_first_line(exc)})") from None
        raise ModelError(
            f"could not fetch {name!r} from the Hugging Face hub (offline, or no such model); "
            "pass a local save_pretrained folder with --model, or builtin:tiny-multilingual"
        ) from None
    except Exception as exc:
        if type(exc).__name__ == "SafetensorError":  # safetensors' own error for a corrupt weights file
            raise ModelError(f"{name}: corrupt model.safetensors ({_first_line(exc)}); save the model again") from None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def multi_cpu() -> bool:
    """Launched by torchrun with no accelerator: DDP over gloo on CPU.

    accelerate only picks multi-process CPU when told to use the CPU explicitly.
    """
    import importlib.util

    import torch

    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return launched and not torch.cuda.is_available() and importlib.util.find_spec("torch_xla") is None


def training_arguments(
    work: Path,
    *,
    options: Any,
    progress: bool,
    on_xla: bool,
    **specific: Any,
) -> Any:
    """``TrainingArguments`` with what every edgeptm training run shares, plus ``specific`` ones.

    ``options`` carries ``learning_rate``, ``warmup_ratio``, ``weight_decay``, ``batch_size``,
    ``eval_batch_size``, ``gradient_accumulation_steps`` and ``seed`` (the data order is seeded too).
    On XLA the fused AdamW crashes, so plain ``adamw_torch``; under torchrun without a GPU, gloo DDP on CPU.
    """
    from transformers import TrainingArguments

    cpu_ddp = multi_cpu()
    xla_specific: dict[str, Any] = {"optim": "adamw_torch"} if on_xla else {}
    return TrainingArguments(
        output_dir=str(work),
        save_total_limit=2,
        learning_rate=options.learning_rate,
        warmup_ratio=options.warmup_ratio,
        weight_decay=options.weight_decay,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.eval_batch_size,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        seed=options.seed,
        data_seed=options.seed,
        report_to=[],
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        use_cpu=cpu_ddp,
        ddp_backend="gloo" if cpu_ddp else None,
        **xla_specific,
        **specific,
    )


def save_trained(
    trainer: Any,
    tokenizer: Any,
    out: Path,
    work: Path,
    metrics: dict[str, Any],
    *,
    extra: Callable[[Path], None] | None = None,
) -> None:
    """Write the trained model, its tokenizer and ``metrics.json`` to ``out`` atomically (rank 0 only),
    then remove the checkpoints folder ``work``. ``extra(tmp)`` adds files (a manifest) before the rename."""
    if trainer.is_world_process_zero():
        with atomic_dir(out, kind="model") as tmp:
            trainer.save_model(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            write_json(tmp / "metrics.json", metrics)
            (tmp / "training_args.bin").unlink(missing_ok=True)
            if extra is not None:
                extra(tmp)
        shutil.rmtree(work, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
