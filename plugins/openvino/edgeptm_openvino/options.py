"""The ``openvino`` backend's options and file names, shared by the backend, the quantizer and the runner."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeptm.fsutil import check_cache_name

MODEL_XML = "openvino_model.xml"
MODEL_BIN = "openvino_model.bin"
FILES = [MODEL_XML, MODEL_BIN]


class OpenVinoOptions(BaseModel):
    """Options of the ``openvino`` backend (recipe ``options:`` and CLI ``--option key=value``).

    Runtime options (hint, cache, static shape, inference precision) are kept in the
    manifest and applied whenever the artifact is loaded.
    """

    model_config = ConfigDict(extra="forbid")

    performance_hint: Literal["LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"] = Field(
        "LATENCY", description="OpenVINO performance hint; THROUGHPUT runs a batch as parallel requests"
    )
    cache_dir: str | None = Field(
        None,
        description="model cache: a folder name under $EDGEPTM_CACHE/openvino (compiled blobs, so later loads are "
        "fast); never a path, so a manifest can't make a load write elsewhere",
    )
    static_shape: bool = Field(False, description="compile for [batch_size, max_length] (always on for NPU)")
    batch_size: int = Field(1, ge=1, description="rows of the static shape")
    inference_precision: Literal["f32", "f16", "bf16"] | None = Field(
        None, description="CPU/GPU compute precision (default f32, so results match what was validated)"
    )
    preset: Literal["mixed", "performance"] = Field(
        "mixed", description="int8: NNCF preset (mixed: asymmetric activations)"
    )
    calibration_size: int = Field(300, ge=1, description="int8: calibration texts, sampled evenly across languages")
    max_drop: float = Field(1.0, ge=0, le=100, description="int8-acc: max drop in eval macro-F1, in points")
    eval_size: int | None = Field(
        None, ge=1, description="int8-acc: eval texts used, sampled evenly across languages (default all)"
    )

    @field_validator("cache_dir")
    @classmethod
    def _under_cache_root(cls, value: str | None) -> str | None:
        return None if value is None else check_cache_name(value)
