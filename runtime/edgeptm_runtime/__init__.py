"""edgeptm-runtime: run edgeptm classifier bundles on small devices, without torch.

    import edgeptm_runtime
    with edgeptm_runtime.load("quickstart-int8.tar.gz") as clf:
        print(clf.predict(["What a lovely day"])[0].label)

Needs only numpy and tokenizers, plus the engine of the bundle (``[onnx]`` or ``[openvino]``),
which is imported when a bundle of that engine is loaded.
"""

__version__ = "0.1.0"

from edgeptm_runtime.archive import write_archive  # noqa: E402 - __version__ first: submodules read it
from edgeptm_runtime.bundle import (  # noqa: E402
    FORMAT,
    FORMAT_VERSION,
    BundleManifest,
    Preprocessing,
    read_manifest,
    verify_bundle,
    write_bundle_manifest,
)
from edgeptm_runtime.classifier import Classifier, Prediction, load  # noqa: E402
from edgeptm_runtime.encoding import Encoder, TruncationWarning  # noqa: E402
from edgeptm_runtime.errors import (  # noqa: E402
    BundleError,
    EdgeptmRuntimeError,
    EngineError,
    IntegrityError,
    TokenizerError,
    UnsupportedOperatorsError,
)
from edgeptm_runtime.requirements import RequirementWarning  # noqa: E402

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "BundleError",
    "BundleManifest",
    "Classifier",
    "EdgeptmRuntimeError",
    "Encoder",
    "EngineError",
    "IntegrityError",
    "Prediction",
    "Preprocessing",
    "RequirementWarning",
    "TokenizerError",
    "TruncationWarning",
    "UnsupportedOperatorsError",
    "__version__",
    "load",
    "read_manifest",
    "verify_bundle",
    "write_archive",
    "write_bundle_manifest",
]
