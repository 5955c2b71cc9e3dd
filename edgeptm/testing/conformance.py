"""Run the conformance suite on any installed backend without writing a test file:

pytest --pyargs edgeptm.testing.conformance --edgeptm-backend NAME [--edgeptm-device DEVICE]
"""

from edgeptm.testing.suite import BackendConformance


class TestConformance(BackendConformance):
    """The suite for the backends named by ``--edgeptm-backend`` or the ``edgeptm_backends`` ini option."""
