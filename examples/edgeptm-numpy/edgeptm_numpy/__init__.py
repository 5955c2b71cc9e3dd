"""An example third-party edgeptm backend: numpy only, no ML runtime.

The module an entry point names holds the hook implementations. Keep it light:
import the backend (and anything heavy) inside the hook.
"""

from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    from edgeptm_numpy.backend import NumpyBackend

    register(NumpyBackend())
