"""The corpus's table and harness are plain modules beside the test (``corpus_cases``, ``corpus_harness``);
with ``--import-mode=importlib`` a test can import them only from a folder on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
