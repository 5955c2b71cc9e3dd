"""edgeptm's ONNX backend: optimum-onnx export, ORT transformer fusions, int8 quantization."""

from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    from edgeptm_onnx.backend import OnnxBackend

    register(OnnxBackend())
