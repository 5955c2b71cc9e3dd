"""edgeptm's backend conformance kit.

Installed as a pytest plugin (``pytest11`` entry point ``edgeptm``). Subclass
:class:`BackendConformance` with ``backends = ["name"]`` in a test module, or run
``pytest --pyargs edgeptm.testing.conformance --edgeptm-backend name``. See
``docs/plugins.md``.
"""

from edgeptm.testing.suite import BackendConformance

__all__ = ["BackendConformance"]
