"""``python -m edgeptm_runtime``: the same as the ``edgeptm-runtime`` command."""

import sys

from edgeptm_runtime.cli import main

sys.exit(main())
