"""Device profiles: the shipped files validate, ``edgeptm profiles`` prints them exactly, and bad
profiles and overrides fail with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from edgeptm.profiles import BUILTIN, ProfileError, load_profile, parse_overrides

TABLE = """\
profile         arch     threads/cores  ram_mb  storage_mb  backends                            latency budget  max drop all/lang
--------------  -------  -------------  ------  ----------  ----------------------------------  --------------  -----------------
intel-npu       x86_64   4/8            2048    1024        openvino:NPU,openvino:CPU,onnx:cpu  20 ms @ 1x128   1/2
jetson-orin     aarch64  4/6            3072    4096        cuda:cuda,onnx:cpu                  10 ms @ 1x128   0.5/1.5
rpi4            aarch64  4/4            1024    512         onnx:cpu                            150 ms @ 1x128  1.5/3
x86-avx2-2core  x86_64   2/2            4096    2048        onnx:cpu,openvino:CPU               50 ms @ 1x128   1/2
"""


def test_profiles_command_prints_every_shipped_profile(cli) -> None:
    r = CliRunner().invoke(cli, ["profiles"])
    assert r.exit_code == 0, r.output
    assert r.stdout == TABLE


def test_profiles_json_is_the_files_content(cli) -> None:
    r = CliRunner().invoke(cli, ["profiles", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [p["name"] for p in listed] == ["intel-npu", "jetson-orin", "rpi4", "x86-avx2-2core"]
    for p in listed:
        raw = yaml.safe_load((BUILTIN / f"{p['name']}.yaml").read_text())
        assert {k: p[k] for k in raw} == raw  # every field of the file, unchanged
    rpi = next(p for p in listed if p["name"] == "rpi4")
    assert (rpi["arch"], rpi["cores"], rpi["ram_mb"]) == ("aarch64", 4, 1024)


def test_recipes_profiles_is_the_shipped_folder() -> None:
    root = Path(__file__).resolve().parents[2]
    assert sorted(p.name for p in (root / "recipes" / "profiles").glob("*.yaml")) == sorted(
        p.name for p in BUILTIN.glob("*.yaml")
    )


def test_load_by_path_and_override(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    raw = yaml.safe_load((BUILTIN / "rpi4.yaml").read_text())
    path.write_text(yaml.safe_dump({**raw, "name": "mine"}))
    p = load_profile(path, parse_overrides(["latency_ms=50", "backends=[{backend: onnx}]"]))
    assert (p.name, p.latency_ms, [b.label() for b in p.backends]) == ("mine", 50, ["onnx"])
    assert load_profile("rpi4").latency_ms == 150  # overrides never change the file


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        (
            "nope",
            {},
            "unknown profile 'nope' (built-in: intel-npu, jetson-orin, rpi4, x86-avx2-2core); give a name or a YAML path",
        ),
        (
            "rpi4",
            {"threads": 9},
            "rpi4.yaml (with --set threads): (top level): Value error, threads (9) exceed cores (4)",
        ),
        ("rpi4", {"latency": 9}, "--set latency: not a profile field"),
        ("rpi4", {"latency_ms": -1}, "rpi4.yaml (with --set latency_ms): latency_ms: Input should be greater than 0"),
    ],
)
def test_bad_profiles_fail_in_one_line(name: str, overrides: dict, message: str) -> None:
    with pytest.raises(ProfileError) as exc:
        load_profile(name, overrides)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_field_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    raw = yaml.safe_load((BUILTIN / "rpi4.yaml").read_text())
    path.write_text(yaml.safe_dump({**raw, "ram_gb": 4}))
    with pytest.raises(ProfileError, match=r"typo.yaml: ram_gb: Extra inputs are not permitted"):
        load_profile(path)


def test_cli_set_reaches_the_profile(cli, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    r = CliRunner().invoke(
        cli, ["tune", str(tmp_path / "model"), "--profile", "rpi4", "--set", "oops", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 1
    assert r.output == "Error: --set 'oops': expected FIELD=VALUE (e.g. latency_ms=50)\n"
