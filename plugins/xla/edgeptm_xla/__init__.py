"""edgeptm's XLA backend: PyTorch on a TPU (or the XLA CPU device) with bucketed shapes."""

from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    from edgeptm_xla.backend import XlaBackend

    register(XlaBackend())
