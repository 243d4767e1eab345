"""digitlab: the helper package behind the digit-recognition notebooks.

Import it as ``import digitlab as dl``; submodules are loaded on first use so that
``import digitlab`` stays quick and does not pull in TensorFlow until a model is needed.
"""
from __future__ import annotations

import importlib
import os
from importlib.metadata import version as _version
from typing import Any

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) is noise in notebooks and the CLI.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: The installed package's version; ``pyproject.toml`` is its one source.
__version__: str = _version("digitlab")

_SUBMODULES = (
    "config", "data", "preprocess", "metrics", "model", "introspect", "train", "calibration", "predict", "declining",
    "analysis", "strokes", "style", "pen", "nondigits", "scripts", "transfer", "crossval", "robustness", "plots", "drawing", "cli",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"digitlab.{name}")
    raise AttributeError(f"module 'digitlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))
