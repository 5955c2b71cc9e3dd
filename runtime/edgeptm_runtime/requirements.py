"""Which library versions a bundle was built with, and whether this device has them.

A mismatch is a warning, not an error: a board may run a newer tokenizers or engine than the
machine that measured the bundle, and that usually works, but tokenization or kernels may differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata


class RequirementWarning(UserWarning):
    """The installed numpy, tokenizers or engine does not match what the bundle was built and measured with."""


ENGINE_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml", "onnxruntime-qnn"),
    "openvino": ("openvino",),
}
"""Distributions that provide each engine's module (any one of them satisfies an ``onnxruntime`` requirement)."""
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(==|>=)\s*(\d+(?:\.\d+)*)\S*\s*$")


def _version_key(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(x) for x in match.group(0).split(".")) if match else ()


def _installed(name: str) -> str | None:
    candidates = ENGINE_DISTRIBUTIONS["onnx"] if name == "onnxruntime" else (name,)
    for candidate in candidates:
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def unmet_requirements(requirements: Iterable[str], engine: str) -> list[str]:
    """One-line notes for each ``name==X`` / ``name>=X`` requirement the installed packages miss.

    Only numpy, tokenizers and the engine in use are checked (other requirements are the core's
    business), and only the numeric release is compared. A mismatch is a warning, not an error:
    a device may well run a newer library, but tokenization or kernels may then differ slightly.
    """
    relevant = {"numpy", "tokenizers", ENGINE_DISTRIBUTIONS[engine][0]}
    notes = []
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if not match:
            continue
        name, op, wanted = match.group(1).lower().replace("_", "-"), match.group(2), match.group(3)
        installed = _installed(name) if name in relevant else None
        if installed is None:
            continue
        have, want = _version_key(installed), _version_key(wanted)
        width = max(len(have), len(want))  # 0.22 == 0.22.0
        have, want = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        if (op == "==" and have != want) or (op == ">=" and have < want):
            notes.append(
                f"bundle.json asks for {requirement.strip()} but {name} {installed} is installed; "
                f"results may differ from what was measured (pip install '{requirement.strip()}')"
            )
    return notes


def default_requirements(engine: str) -> list[str]:
    """What a device needs to run an ``engine`` bundle made here.

    ``tokenizers`` is pinned to the version installed here because tokenization is part of the model;
    the engine gets a lower bound at the installed major.minor (the version the bundle was checked with).
    """
    dist = {"onnx": "onnxruntime", "openvino": "openvino"}[engine]
    floor = {"onnx": "1.17", "openvino": "2024.0"}[engine]
    try:
        tokenizers = f"tokenizers=={metadata.version('tokenizers')}"
    except metadata.PackageNotFoundError:
        tokenizers = "tokenizers>=0.19"
    try:
        floor = ".".join(metadata.version(dist).split(".")[:2])
    except metadata.PackageNotFoundError:
        pass
    return ["numpy>=1.24", tokenizers, f"{dist}>={floor}"]
