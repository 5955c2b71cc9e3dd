"""edgeptm's torch backend: eager PyTorch, the reference every other backend is checked against."""

from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    from edgeptm_torch.backend import TorchBackend

    register(TorchBackend())
