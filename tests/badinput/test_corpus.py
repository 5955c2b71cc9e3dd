"""Every bad input ends with one line naming what is wrong: non-zero exit, exactly one ``Error:`` line that
names the file or field, no traceback, and nothing changed outside the command's intended output."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from corpus_cases import CASES
from corpus_harness import Fixtures, Work, judge, read_only, record, run_in_process, run_subprocess, snapshot


@pytest.fixture(scope="session")
def fixtures(finetuned: Path, onnx_fp32: Path, onnx_int8: Path) -> Fixtures:
    return Fixtures(model=finetuned, art=onnx_fp32, int8=onnx_int8)


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    ids = Counter(case.id for case in CASES)
    assert [i for i, n in ids.items() if n > 1] == []
    assert len(CASES) >= 140


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, fixtures: Fixtures, cli, tmp_path: Path, monkeypatch) -> None:
    work = Work(tmp_path / "w", fixtures)
    work.root.mkdir()
    case.setup(work)
    argv = [case.fill(a, work) for a in case.argv]
    env = {k: case.fill(v, work) for k, v in case.env.items()}
    out = Path(case.fill(case.out, work)) if case.out else None
    watched = (work.root, fixtures.model, fixtures.art, fixtures.int8)
    before = snapshot(*watched, skip=out)
    if case.subprocess:
        outcome = run_subprocess(argv, env, cwd=work.root)
    else:
        monkeypatch.chdir(work.root)
        if case.patch is not None:
            case.patch(monkeypatch)
        with read_only([Path(case.fill(r, work)) for r in case.readonly]):
            outcome = run_in_process(cli, argv, env)
    problems = judge(case, outcome, work)
    after = snapshot(*watched, skip=out)
    changed = sorted(set(before.items()) ^ set(after.items()))
    if changed:
        problems.append(f"changed outside the intended output: {[p for p, _ in changed][:5]}")
    record(case, outcome, problems, bool(changed))
    assert not problems, f"{case.id}: {'; '.join(problems)}\n--- output ---\n{outcome.output[-3000:]}" + (
        f"\n--- exception ---\n{outcome.exception!r}" if outcome.exception else ""
    )
