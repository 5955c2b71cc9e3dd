"""OpenVINO device strings: physical devices from ``Core().available_devices`` and the virtual ones.

Accepted: a present device (``CPU``, ``GPU``, ``GPU.1``, ``NPU``, or any device a plugin
registers, an FPGA-style accelerator included), ``AUTO``, and ``AUTO:``/``HETERO:``/
``MULTI:``/``BATCH:`` followed by comma-separated present devices. Case-insensitive.
"""

from __future__ import annotations

from edgeptm.errors import BackendError

VIRTUAL = ("AUTO", "HETERO", "MULTI", "BATCH")


def _present(name: str, available: list[str]) -> bool:
    """``GPU`` matches ``GPU.0``; ``GPU.0`` matches only itself."""
    return name in available or any(d.split(".")[0] == name for d in available)


def parse_device(device: str, available: list[str]) -> str:
    """The canonical device string for ``device``; a one-line error listing what is present."""
    canonical = device.strip().upper()
    virtual, sep, targets = canonical.partition(":")
    if virtual in VIRTUAL:
        names = [t.strip() for t in targets.split(",") if t.strip()] if sep else []
        if (names or virtual == "AUTO") and all(_present(n.split("(")[0], available) for n in names):
            return canonical
    elif not sep and _present(canonical, available):
        return canonical
    listed = ", ".join(available) or "none"
    raise BackendError(
        f"device {device!r} is not available to backend 'openvino' here (present: {listed}; "
        f"also AUTO, or AUTO:/HETERO:/MULTI: with a comma-separated list of those)"
    )


def device_family(device: str) -> str:
    """``CPU`` for ``CPU``, ``GPU`` for ``GPU.1``, the first target for ``HETERO:GPU,CPU``, else the virtual name."""
    virtual, sep, targets = device.partition(":")
    first = targets.split(",")[0] if sep and virtual != "AUTO" else virtual
    return first.split(".")[0].split("(")[0]
