"""Third-party warnings: one summary line by default, each in full with -v, always in the log file."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

from click.testing import CliRunner

from edgeptm.capture import capture_third_party, log_file
from edgeptm.encoding import TruncationWarning


def test_export_prints_one_line_by_default_and_every_warning_with_v(cli, finetuned: Path, tmp_path: Path) -> None:
    args = ["export", "--model", str(finetuned), "--backend", "onnx", "--option", "optimize=false"]
    quiet = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert quiet.exit_code == 0, quiet.output
    lines = quiet.stderr.strip().splitlines()
    summary = [line for line in lines if "third-party warning" in line]
    assert len(summary) == 1 and len(lines) == 1, quiet.stderr  # nothing else on stderr
    m = re.fullmatch(
        r"(\d+) third-party warnings? hidden; see (.+) or rerun with `edgeptm -v export \.\.\.`", summary[0]
    )
    assert m, summary[0]
    n, log = int(m.group(1)), Path(m.group(2))
    assert n >= 1 and "TracerWarning" in log.read_text() and len(log.read_text().splitlines()) == n

    for verbose in (["-v", *args], [*args, "-v"]):  # before or after the command name
        loud = CliRunner().invoke(cli, [*verbose, "--out", str(tmp_path / "b"), "--force"])
        assert loud.exit_code == 0, loud.output
        shown = [line for line in loud.stderr.splitlines() if line.startswith("[")]
        assert len(shown) == n and any(line.startswith("[TracerWarning (") for line in shown)
        assert "third-party warning" not in loud.stderr
    assert quiet.stdout.startswith(f"wrote {tmp_path / 'a'}: onnx fp32")


def test_edgeptm_warnings_and_logs_pass_through_and_sinks_get_the_rest(tmp_path: Path, caplog) -> None:
    with capture_third_party() as capture, log_file(tmp_path / "run.log") as write:
        write("progress line")
        warnings.warn_explicit("lib noise", UserWarning, "/x/site-packages/somelib/mod.py", 7)
        logging.getLogger("somelib.shape").warning("could not infer %s", "shape")
        logging.getLogger("edgeptm.test").error("own log")
        with warnings.catch_warnings(record=True) as own:
            warnings.simplefilter("always")
            warnings.warn("longer than max_length", TruncationWarning, stacklevel=1)
    assert [m.line() for m in capture.messages] == [
        "[UserWarning (somelib/mod.py:7)] lib noise",
        "[warning somelib.shape] could not infer shape",
    ]
    assert len(own) == 1 and own[0].category is TruncationWarning  # edgeptm's own warning is left alone
    assert "own log" in caplog.text  # and so is its log record
    assert (tmp_path / "run.log").read_text().splitlines()[1:] == [
        "[UserWarning (somelib/mod.py:7)] lib noise",
        "[warning somelib.shape] could not infer shape",
    ]
    assert (
        capture.summary("run")
        == f"2 third-party warnings hidden; see {tmp_path / 'run.log'} or rerun with `edgeptm -v run ...`"
    )
    assert logging.Logger.callHandlers.__name__ == "callHandlers"  # restored
