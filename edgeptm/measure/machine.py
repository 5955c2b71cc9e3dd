"""What machine a figure was measured on: CPU model, the instruction sets that change int8 speed and
accuracy (AVX2, AVX-512, VNNI, AMX), cores and load. Every timing edgeptm reports says where it ran.

The flags come from ``/proc/cpuinfo`` on Linux; elsewhere from ``sysctl`` (macOS) or, failing that,
numpy's own CPU dispatch table, so a decision that depends on them (which int8 weights to use) is
made the same way on every system numpy runs on.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable
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

SYSCTL_FLAGS = {"avx2": "avx2", "avx512f": "avx512f", "avx512vnni": "avx512_vnni", "avxvnni": "avx_vnni"}
"""macOS ``machdep.cpu`` feature (lower-cased) -> the /proc/cpuinfo flag it means."""
NUMPY_FLAGS = {"AVX2": "avx2", "AVX512F": "avx512f", "AVX512VNNI": "avx512_vnni", "ASIMDDP": "asimddp"}
"""numpy's ``__cpu_features__`` name -> the /proc/cpuinfo flag it means (numpy has no AVX-VNNI or AMX)."""


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction sets that decide how int8 runs on a CPU.

    ``vnni``: 8-bit dot products accumulate in 32 bits in one instruction (AVX512-VNNI, AVX-VNNI),
    so u8×s8 products never saturate. Without it x86 int8 kernels use ``vpmaddubsw``, whose 16-bit
    sums of two u8×s8 products saturate: what :func:`edgeptm_onnx.weights` guards against.
    """

    flags: tuple[str, ...]
    """Reported names (:data:`FLAGS` values), sorted."""
    source: str
    """Where they were read: ``/proc/cpuinfo``, ``sysctl``, ``numpy`` or ``given`` (passed in, e.g. by a test)."""
    arch: str

    @property
    def x86(self) -> bool:
        return self.arch.lower() in ("x86_64", "amd64", "i386", "i686", "x86")

    @property
    def avx2(self) -> bool:
        return "avx2" in self.flags

    @property
    def avx512(self) -> bool:
        return "avx512" in self.flags

    @property
    def vnni(self) -> bool:
        return any("vnni" in f for f in self.flags)

    @property
    def amx(self) -> bool:
        return "amx" in self.flags

    @property
    def int8_saturates(self) -> bool:
        """x86 without VNNI or AMX: u8×s8 int8 kernels sum pairs of products in saturating 16 bits."""
        return self.x86 and not (self.vnni or self.amx)

    def describe(self) -> str:
        """``avx2, no VNNI`` / ``avx2, avx512, avx512-vnni``."""
        return ", ".join([*self.flags, *([] if self.vnni or not self.x86 else ["no VNNI"])]) or "no SIMD flags found"


def cpu_features(flags: Iterable[str] | None = None, *, arch: str | None = None) -> CpuFeatures:
    """This CPU's features, or those of ``flags`` (raw /proc/cpuinfo flag names) when given."""
    arch = arch or platform.machine()
    if flags is not None:
        raw, source = set(flags), "given"
    else:
        raw, source = _read_flags()
    return CpuFeatures(tuple(sorted(name for flag, name in FLAGS.items() if flag in raw)), source, arch)


def _read_flags() -> tuple[set[str], str]:
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                return set(value.split()), "/proc/cpuinfo"
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.features", "machdep.cpu.leaf7_features"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.lower()
        except OSError:
            out = ""
        found = {flag for name, flag in SYSCTL_FLAGS.items() if name in out.split()}
        if found:
            return found, "sysctl"
    import importlib

    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # numpy 2, numpy 1
        try:
            features: dict[str, bool] = importlib.import_module(module).__cpu_features__
        except (ImportError, AttributeError):
            continue
        return {flag for name, flag in NUMPY_FLAGS.items() if features.get(name)}, "numpy"
    return set(), "unknown"


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
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                cpu = value.strip()
                break
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return Machine(
        cpu=cpu or "unknown CPU",
        arch=platform.machine(),
        logical_cores=os.cpu_count() or 1,
        flags=list(cpu_features().flags),
        load_1min=load,
    )


def describe_machine(threads: int | None = None) -> str:
    """One line: ``AMD EPYC 7B13 (x86_64, 2 cores, avx2, no VNNI), 2 threads``."""
    m = machine()
    flags = ", ".join([*m.flags, *([] if m.vnni else ["no VNNI"])])
    line = f"{m.cpu} ({m.arch}, {m.logical_cores} cores{', ' + flags if flags else ''})"
    return line + (f", {threads} threads" if threads else "")
