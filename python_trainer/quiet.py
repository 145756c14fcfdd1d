"""Quiet by default: what ``python -m python_trainer`` does about TensorFlow's console noise.

Without ``--verbose`` the CLI process prints no TF C++ INFO or WARNING lines, no TF or absl Python
warnings and no Keras progress bars; errors still show. TF's C++ logs come two ways, and each needs
its own switch:

- TF's own logging (``2026-01-01 12:00:00.000: I tensorflow/...``) obeys ``TF_CPP_MIN_LOG_LEVEL``,
  which must be set before TensorFlow is imported: :func:`quiet_process` sets it to ``2``.
- Parts of TF 2.18 log through absl (``I0000 00:00:... mlir_graph_optimization_pass.cc:401] ...``,
  ``WARNING: All log messages before absl::InitializeLog() ...``) and ignore that variable. While
  the process runs, its stderr (file descriptor 2) goes through a small filter process that drops
  those INFO and WARNING lines and passes every other byte on, errors and tracebacks included. A
  separate process, not a thread: if the CLI dies, the filter still delivers what it was given.

``--verbose`` leaves all of this alone and sets ``TF_CPP_MIN_LOG_LEVEL=0``: every line comes back.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import warnings

VERBOSE_FLAGS = ("--verbose", "-v")
_configured = False

# Lines dropped from stderr in quiet mode: absl's INFO/WARNING format, absl's pre-init notice, TF's own
# INFO/WARNING format (in case TF_CPP_MIN_LOG_LEVEL was lowered after start-up), and one ERROR line
# that is not an error: TF 2.18.1's tf.data graphs carry an attribute its own kernels do not declare,
# and TF says so at ERROR level with "Unknown attributes will be ignored" (tf.data works as usual).
_NOISE_PATTERNS = (
    rb"^[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^ \]]+:\d+\] ",
    rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR\r?$",
    rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] ",
    rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: E tensorflow/core/framework/node_def_util\.cc:\d+\] "
    rb"NodeDef mentions attribute use_unbounded_threadpool which is not in the op definition",
)

_FILTER_PROGRAM = r"""
import os, re, sys
noise = re.compile(b"|".join(%r))
out = os.fdopen(1, "wb", buffering=0)
for line in sys.stdin.buffer:
    if not noise.match(line.rstrip(b"\n")):
        out.write(line)
"""


def wants_verbose(argv: list[str]) -> bool:
    """True when the command line asks for TensorFlow's logs (``--verbose`` or ``-v`` anywhere)."""
    return any(arg in VERBOSE_FLAGS for arg in argv)


def quiet_process(*, verbose: bool) -> None:
    """Sets up this process's console before TensorFlow is imported.

    Quiet (the default): ``TF_CPP_MIN_LOG_LEVEL=2``, the absl-line filter on stderr, TF's and absl's
    Python loggers at ERROR, MLflow's at WARNING without its run links, and Python warnings from
    tensorflow, keras and absl hidden. Verbose:
    ``TF_CPP_MIN_LOG_LEVEL=0`` and nothing else changed. Only the first call in a process acts.
    """
    global _configured
    if _configured:
        return
    _configured = True
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    # MLflow (register, train --register): its INFO lines and the run's UI links; our own line names the version.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for module in ("tensorflow", "keras", "absl", "google.protobuf"):
        warnings.filterwarnings("ignore", module=module)
    try:
        from absl import logging as absl_logging  # comes with TensorFlow; importing it does not import TF
    except ImportError:
        pass
    else:
        absl_logging.set_verbosity(absl_logging.ERROR)
    _filter_stderr()


def _filter_stderr() -> None:
    """Routes file descriptor 2 through the filter process until this process exits."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        program = _FILTER_PROGRAM % (list(_NOISE_PATTERNS),)
        child = subprocess.Popen(
            [sys.executable, "-I", "-c", program], stdin=subprocess.PIPE, stdout=saved, close_fds=True
        )
    except OSError:  # no fd 2, or no way to start a process: stay unfiltered rather than fail
        return
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)  # closes this process's last write end: the filter drains and exits
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
        os.close(saved)

    atexit.register(restore)
