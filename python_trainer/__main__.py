"""``python -m python_trainer``: see :mod:`python_trainer.cli`."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from python_trainer.cli import main

sys.exit(main())
