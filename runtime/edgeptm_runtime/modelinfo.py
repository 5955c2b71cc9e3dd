"""What a model file says about itself, read with the standard library only.

The bundle writer records a model's operator domains from here, and loading cross-checks the
recorded ones against the file, so an engine is refused on what the model really imports.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import BinaryIO

DEFAULT_DOMAIN = "ai.onnx"
"""Name used in bundle.json for ONNX's default domain, which model files write as ``""``."""

_OPSET_IMPORT = 8  # ModelProto.opset_import (repeated OperatorSetIdProto)


def _varint(f: BinaryIO) -> int | None:
    """A protobuf varint, or ``None`` at a clean end of the stream."""
    result = shift = 0
    while True:
        byte = f.read(1)
        if not byte:
            if shift:
                raise ValueError("truncated varint")
            return None
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _fields(f: BinaryIO, size: int, wanted: set[int]) -> list[tuple[int, int | bytes]]:
    """Top-level ``(field, value)`` pairs for ``wanted`` fields; every other field is skipped by seeking.

    Seeking past the graph (field 7) means a model of any size costs a few reads.
    """
    found: list[tuple[int, int | bytes]] = []
    while True:
        tag = _varint(f)
        if tag is None:
            return found
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value = _varint(f)
            if value is None:
                raise ValueError("truncated field")
            if field in wanted:
                found.append((field, value))
        elif wire in (1, 5):
            f.seek(8 if wire == 1 else 4, os.SEEK_CUR)
        elif wire == 2:
            length = _varint(f)
            if length is None or f.tell() + length > size:
                raise ValueError("field runs past the end of the file")
            if field in wanted:
                found.append((field, f.read(length)))
            else:
                f.seek(length, os.SEEK_CUR)
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if f.tell() > size:
            raise ValueError("field runs past the end of the file")


def onnx_opsets(model_file: Path) -> dict[str, int]:
    """``{domain: opset}`` from an ONNX model's ``opset_import``, the default domain as ``ai.onnx``.

    Raises ``ValueError`` when the file is not a readable ONNX model.
    """
    path = Path(model_file)
    size = path.stat().st_size
    with open(path, "rb") as f:
        entries = _fields(f, size, {_OPSET_IMPORT})
    opsets: dict[str, int] = {}
    for _, raw in entries:
        assert isinstance(raw, bytes)
        domain, version = "", 0
        for field, value in _fields(io.BytesIO(raw), len(raw), {1, 2}):
            if field == 1 and isinstance(value, bytes):
                domain = value.decode("utf-8")
            elif field == 2 and isinstance(value, int):
                version = value
        domain = domain or DEFAULT_DOMAIN
        opsets[domain] = max(opsets.get(domain, 0), version)
    if not opsets:
        raise ValueError("no opset_import (not an ONNX model?)")
    return opsets


_RUNTIME_VERSION = re.compile(rb'<Runtime_version\s+value="([^"]+)"')


def openvino_ir_version(xml_file: Path, *, tail_bytes: int = 1 << 20) -> str | None:
    """The OpenVINO release that wrote an IR (``rt_info/Runtime_version``), e.g. ``2026.4.0``; ``None`` if absent.

    The version sits in ``rt_info`` at the end of the file, so only the tail is read (no XML parser:
    an IR can be megabytes and this runs on small devices).
    """
    path = Path(xml_file)
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - tail_bytes))
        match = _RUNTIME_VERSION.search(f.read())
    if not match:
        return None
    return match.group(1).decode("ascii", "replace").split("-")[0]
