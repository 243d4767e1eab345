"""Import TensorFlow without its native start-up chatter.

TensorFlow 2.20+ prints oneDNN and CUDA-probing lines from C++ before its logging is set up,
so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; they would land in every notebook's output and
break the CLI's one-line error messages. The modules that need TensorFlow import it through
``tensorflow()`` first, which silences the process's stderr only while TensorFlow starts.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from types import ModuleType
from typing import Iterator

__all__ = ["quiet_logger", "silenced_stderr_fd", "tensorflow"]


@contextlib.contextmanager
def silenced_stderr_fd() -> Iterator[None]:
    """Send file descriptor 2 (native code's stderr) to /dev/null inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Drop Python logger ``name``'s records below ERROR inside the block.

    ``silenced_stderr_fd`` does not reach a logging handler that writes to a Python stream: in a
    notebook, ``sys.stderr`` is the kernel's stream, not file descriptor 2, so a library's deprecation
    warning would land in every cell that builds a ``Predictor``.
    """
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def tensorflow() -> ModuleType:
    """Return the tensorflow module, imported (and its devices probed) with native logs silenced."""
    if "tensorflow" not in sys.modules:
        with silenced_stderr_fd():
            import tensorflow as tf

            tf.config.list_physical_devices()
    return sys.modules["tensorflow"]
