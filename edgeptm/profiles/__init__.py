"""Device profiles: what a target device is and what a deployment must meet there.

A profile is a YAML file checked against :class:`DeviceProfile` (``extra="forbid"``, like recipes):
the architecture, cores and threads to use, RAM and storage budgets, the preferred backends and
devices, a latency budget at a batch size and sequence length, and the largest macro-F1 drop allowed
overall and in the worst language. ``edgeptm tune`` and the ``tune`` recipe stage search against one.

The shipped profiles are package data (``edgeptm/profiles/builtin``, also reachable as
``recipes/profiles``); :func:`load_profile` takes one of their names or a path, and ``overrides``
(``latency_ms=50``, from ``--set``) are checked like the file itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgeptm.errors import EdgeptmError
from edgeptm.stage import NAME_PATTERN

BUILTIN = Path(__file__).resolve().parent / "builtin"
"""The shipped profiles, one ``<name>.yaml`` each."""


class ProfileError(EdgeptmError):
    """A profile is unknown, or its file or an override does not validate."""


class BackendChoice(BaseModel):
    """A backend to try, on one of its devices (``None``: the backend's default device)."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    device: str | None = None

    def label(self) -> str:
        return f"{self.backend}:{self.device}" if self.device else self.backend


class DeviceProfile(BaseModel):
    """One target device and the limits a deployment must meet on it (every field at the top level,
    so ``--set field=value`` reaches each)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    arch: Literal["x86_64", "aarch64"]
    cpu: str = Field(description="the device's CPU, in words")
    cpu_flags: list[str] = Field([], description="instruction sets it has, named as edgeptm reports them (avx2, ...)")
    accelerator: str | None = Field(None, description="an NPU or GPU the preferred backends use, in words")
    cores: int = Field(ge=1)
    threads: int = Field(ge=1, description="intra-op threads a deployment uses (at most cores)")
    ram_mb: float = Field(gt=0, description="peak resident memory a deployment may use")
    storage_mb: float = Field(gt=0, description="size on disk a deployment may take")
    backends: list[BackendChoice] = Field(min_length=1, description="preferred backends and devices, best first")
    latency_ms: float = Field(gt=0, description="p50 latency budget at batch_size x seq_length")
    batch_size: int = Field(1, ge=1)
    seq_length: int = Field(128, ge=8)
    max_drop: float = Field(ge=0, description="largest macro-F1 drop allowed overall, in points")
    max_language_drop: float = Field(ge=0, description="largest macro-F1 drop allowed in any one language, in points")

    @model_validator(mode="after")
    def _threads_fit(self) -> DeviceProfile:
        if self.threads > self.cores:
            raise ValueError(f"threads ({self.threads}) exceed cores ({self.cores})")
        return self

    def differs_from_here(self) -> str | None:
        """Why latency measured on this machine is not this device's own (``None``: it matches)."""
        from edgeptm.measure.machine import machine

        here = machine()
        reasons = []
        if here.arch != self.arch:
            reasons.append(f"this machine is {here.arch}, the device {self.arch}")
        if here.logical_cores != self.cores:
            reasons.append(f"{here.logical_cores} cores here, {self.cores} on the device")
        missing = sorted(set(self.cpu_flags) - set(here.flags))
        extra = sorted({"avx512", "avx512-vnni", "avx-vnni", "amx"} & (set(here.flags) - set(self.cpu_flags)))
        if missing:
            reasons.append(f"this machine lacks {', '.join(missing)}")
        if extra:
            reasons.append(f"this machine has {', '.join(extra)}, the device does not")
        if self.accelerator:
            reasons.append(f"the device runs on its {self.accelerator}")
        return "; ".join(reasons) or None


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def _locate(name_or_path: str | Path) -> Path:
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") or path.is_file() or "/" in str(name_or_path):
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        return path
    builtin = BUILTIN / f"{name_or_path}.yaml"
    if not builtin.is_file():
        raise ProfileError(
            f"unknown profile {str(name_or_path)!r} (built-in: {', '.join(builtin_names())}); give a name or a YAML path"
        )
    return builtin


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs, each value read as YAML (``50``, ``[onnx]``, ``null``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ProfileError(f"--set {pair!r}: expected FIELD=VALUE (e.g. latency_ms=50)")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ProfileError(f"--set {pair!r}: the value is not valid YAML") from None
    return out


def load_profile(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> DeviceProfile:
    """A built-in profile by name, or a profile file, with ``overrides`` applied and checked."""
    path = _locate(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping (name, arch, cores, ...)")
    for key in overrides or {}:
        if key not in DeviceProfile.model_fields:
            raise ProfileError(f"--set {key}: not a profile field (fields: {', '.join(DeviceProfile.model_fields)})")
    try:
        return DeviceProfile.model_validate({**raw, **(overrides or {})})
    except ValidationError as exc:
        where = [f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()]
        origin = " (with --set " + ", ".join(f"{k}" for k in overrides) + ")" if overrides else ""
        raise ProfileError(f"{path}{origin}: " + "; ".join(where)) from None


def load_builtin_profiles() -> list[DeviceProfile]:
    return [load_profile(name) for name in builtin_names()]
