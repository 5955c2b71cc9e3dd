"""edgeptm's OpenVINO backend: IR export, fp16 weights, NNCF int8 (with accuracy control), any OpenVINO device."""

from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    from edgeptm_openvino.backend import OpenVinoBackend

    register(OpenVinoBackend())
