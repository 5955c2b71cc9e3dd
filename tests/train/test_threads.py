"""--threads: training runs on exactly the threads it is given (default: the physical cores), then restores them."""

from __future__ import annotations

from pathlib import Path

import torch

from edgeptm.train.hf import physical_cores, reproducible


def test_default_is_the_physical_cores_and_the_count_is_restored() -> None:
    before = torch.get_num_threads()
    with reproducible(None) as n:
        assert n == physical_cores() == torch.get_num_threads()
    with reproducible(1) as n:
        assert n == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before


def test_finetune_trains_on_the_threads_it_is_given(tiny_base: Path, sample, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    from edgeptm.train.finetune import FinetuneOptions, finetune

    seen: list[int] = []

    class Record(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    finetune(
        str(tiny_base),
        sample["train"].filter_languages(["en"]),
        sample["eval"].filter_languages(["en"]),
        tmp_path / "m",
        FinetuneOptions(epochs=1, batch_size=16, max_length=32, threads=1),
        progress=False,
        log=lambda m: None,
        callbacks=[Record()],
    )
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before


def test_the_recipe_stages_take_threads() -> None:
    from edgeptm.recipes.stages.finetune import FinetuneStage
    from edgeptm.recipes.stages.pretrain import PretrainStage

    assert FinetuneStage.model_validate({"stage": "finetune", "threads": 2}).threads == 2
    assert PretrainStage.model_validate({"stage": "pretrain", "corpus": ["en=x.txt"], "threads": 3}).threads == 3
