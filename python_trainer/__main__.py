"""``python -m python_trainer``: see :mod:`python_trainer.cli`.

The console is set up here, before anything imports TensorFlow: quiet unless ``--verbose``
(see :mod:`python_trainer.quiet`).
"""

import sys

from python_trainer.quiet import quiet_process, wants_verbose

quiet_process(verbose=wants_verbose(sys.argv[1:]))

from python_trainer.cli import main  # noqa: E402  (after the console set-up, before TF is imported)

sys.exit(main())
