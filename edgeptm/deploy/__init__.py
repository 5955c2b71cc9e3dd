"""Export, quantize, validate against the torch reference, and load artifacts through whichever
backend owns them."""

from edgeptm.deploy.export import export
from edgeptm.deploy.quantize import QuantizeTexts, quantize, quantize_notes, quantize_texts
from edgeptm.deploy.runners import artifact_manifest, load_runner
from edgeptm.deploy.validate import QualityGate, compare, validation_texts
from edgeptm.manifest import Validation

__all__ = [
    "QualityGate",
    "QuantizeTexts",
    "Validation",
    "artifact_manifest",
    "compare",
    "export",
    "load_runner",
    "quantize",
    "quantize_notes",
    "quantize_texts",
    "validation_texts",
]
