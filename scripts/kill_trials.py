"""Kill -9 a recipe run at random points, run it again, and check that it ends with the figures and files of
an uninterrupted run (see :mod:`edgeptm.testing.recovery`).

    .venv/bin/python scripts/kill_trials.py --trials 20 --json runs/kill-trials.json

Each trial kills ``python -m edgeptm run`` with SIGKILL a random fraction into a random stage (fine-tune,
export, quantize, evaluate, or as the summary is written), reruns it, and compares. The recipe is
:data:`edgeptm.testing.recovery.TINY_RECIPE` unless ``--recipe`` names another (its ``output`` must be
``out``). Exits non-zero when any trial fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="trial i uses seed SEED+i")
    parser.add_argument("--recipe", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every trial here")
    args = parser.parse_args()

    from edgeptm.measure.machine import describe_machine
    from edgeptm.testing import recovery

    work = Path(tempfile.mkdtemp(prefix="edgeptm-kill-trials-"))
    os.environ.setdefault("EDGEPTM_CACHE", str(work / "cache"))
    text = args.recipe.read_text(encoding="utf-8") if args.recipe else recovery.TINY_RECIPE

    def recipe(folder: Path) -> Path:
        folder.mkdir(parents=True)
        path = folder / "recipe.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    started = time.perf_counter()
    ref_recipe = recipe(work / "reference")
    reference = recovery.baseline(ref_recipe, ref_recipe.parent / "out")
    print(f"reference run: stage seconds {reference.seconds}", file=sys.stderr)
    trials = []
    for i in range(args.trials):
        folder = work / f"trial-{i}"
        trial = recovery.kill_trial(recipe(folder), folder / "out", reference, args.seed + i)
        trials.append(trial)
        print(
            f"trial {i:2d} seed {trial.seed}: kill in {trial.target:<8} after {trial.delay_s:6.2f} s "
            f"({'killed' if trial.killed else 'had finished'}); rerun exit {trial.rerun_exit}, "
            f"same figures {trial.same_figures}, debris {trial.debris or 'none'}, missing {trial.missing or 'none'}",
            file=sys.stderr,
        )
        if trial.ok:
            shutil.rmtree(folder)
    failed = [t for t in trials if not t.ok]
    killed = Counter(t.target for t in trials if t.killed)
    print(
        f"{len(trials) - len(failed)}/{len(trials)} trials recovered with identical figures and no debris; "
        f"killed during: {dict(killed)}; {sum(not t.killed for t in trials)} finished before the kill; "
        f"{time.perf_counter() - started:.0f} s on {describe_machine(None)}; load average {os.getloadavg()}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "reference_seconds": reference.seconds,
                    "trials": [{**t.__dict__, "log": t.log if not t.ok else ""} for t in trials],
                },
                indent=2,
            )
        )
    for t in failed:
        print(f"--- trial seed {t.seed} failed ---\n{t.log}", file=sys.stderr)
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
