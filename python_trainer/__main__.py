"""``python -m python_trainer``: see :mod:`python_trainer.cli` (which quiets the process first)."""

import sys

from python_trainer.cli import main

sys.exit(main())
