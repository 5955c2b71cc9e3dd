"""XLA (TPU, or the XLA CPU device) support shared by the engine and the ``xla`` backend.

XLA compiles one graph per input shape, so batches are padded to a few sequence
lengths (buckets) and the compile count is reported. torch_xla is imported only
when it is installed and asked for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

SMALLEST_BUCKET = 16


def seq_buckets(max_length: int) -> list[int]:
    """Powers of two from 16 below ``max_length``, then ``max_length`` itself."""
    buckets, n = [], SMALLEST_BUCKET
    while n < max_length:
        buckets.append(n)
        n *= 2
    return [*buckets, max_length]


def bucket(n: int, buckets: Sequence[int]) -> int:
    """The smallest bucket that holds ``n`` (the largest when none does: the caller truncates)."""
    return next((b for b in sorted(buckets) if b >= n), max(buckets))


def training_on_xla() -> bool:
    """Whether transformers' Trainer will put the model on an XLA device (torch_xla is installed)."""
    from transformers.utils import is_torch_xla_available

    return bool(is_torch_xla_available())


class BucketCollator:
    """Pads each batch to the smallest sequence bucket that fits, so XLA compiles a few shapes."""

    def __init__(self, tokenizer: Any, buckets: Sequence[int]) -> None:
        self.tokenizer = tokenizer
        self.buckets = list(buckets)

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        from transformers import DataCollatorWithPadding

        width = bucket(max(len(f["input_ids"]) for f in features), self.buckets)
        return DataCollatorWithPadding(self.tokenizer, padding="max_length", max_length=width)(features)


def compile_counts() -> dict[str, float]:
    """XLA graph compilations so far in this process, and the seconds spent compiling."""
    import torch_xla.debug.metrics as met

    data = met.metric_data("CompileTime")
    return {
        "compiles": int(data[0]) if data else 0,
        "compile_s": round(float(data[1]) / 1e9, 3) if data else 0.0,
        "cached_compiles": int(met.counter_value("CachedCompile") or 0),
    }


def step_timer() -> Any:
    """A TrainerCallback timing optimizer steps (the first apart: it compiles); ``.report()`` sums up."""
    import statistics

    import torch_xla
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._start = 0.0
            self._before = compile_counts()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._before = compile_counts()  # the process may have compiled other graphs already

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            torch_xla.sync()
            self.times.append(time.perf_counter() - self._start)

        def report(self) -> dict[str, Any]:
            """Step times, and the compiles of this fine-tuning run (training, evaluation, prediction)."""
            rest = self.times[1:]
            now = compile_counts()
            return {
                "steps_timed": len(self.times),
                "first_step_s": round(self.times[0], 3) if self.times else None,
                "median_step_s": round(statistics.median(rest), 4) if rest else None,
                **{k: round(now[k] - self._before[k], 3) for k in now},
            }

    return StepTimer()
