"""Every built-in backend passes the conformance kit (edgeptm.testing). CUDA is skipped with its
reason where there is no GPU; XLA runs in its own environment (`make test-xla`, tests/test_xla.py)."""

from edgeptm.testing import BackendConformance


class TestBuiltinBackends(BackendConformance):
    backends = ["torch", "onnx", "openvino", "cuda"]
