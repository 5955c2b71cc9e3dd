"""The whole conformance suite for this backend: declaring it is all a plugin author writes."""

from edgeptm.testing import BackendConformance


class TestNumpyBackend(BackendConformance):
    backends = ["numpy"]
