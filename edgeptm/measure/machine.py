"""What machine a figure was measured on: CPU model, the instruction sets that change int8 speed and
accuracy (AVX2, AVX-512, VNNI, AMX), cores and load. Every timing edgeptm reports says where it ran."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

FLAGS = {
    "avx2": "avx2",
    "avx512f": "avx512",
    "avx512_vnni": "avx512-vnni",
    "avx_vnni": "avx-vnni",
    "amx_tile": "amx",
    "asimddp": "neon-dotprod",
}
"""/proc/cpuinfo flag -> the name reported."""


@dataclass(frozen=True)
class Machine:
    cpu: str
    arch: str
    logical_cores: int
    flags: list[str]
    load_1min: float | None

    @property
    def vnni(self) -> bool:
        return any("vnni" in f for f in self.flags)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "vnni": self.vnni}


def machine() -> Machine:
    cpu: str = platform.processor() or ""
    flags: set[str] = set()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "Hardware") and not cpu:
                cpu = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return Machine(
        cpu=cpu or "unknown CPU",
        arch=platform.machine(),
        logical_cores=os.cpu_count() or 1,
        flags=sorted(name for flag, name in FLAGS.items() if flag in flags),
        load_1min=load,
    )


def describe_machine(threads: int | None = None) -> str:
    """One line: ``AMD EPYC 7B13 (x86_64, 2 cores, avx2, no VNNI), 2 threads``."""
    m = machine()
    flags = ", ".join([*m.flags, *([] if m.vnni else ["no VNNI"])])
    line = f"{m.cpu} ({m.arch}, {m.logical_cores} cores{', ' + flags if flags else ''})"
    return line + (f", {threads} threads" if threads else "")
