"""Paths, the seed, the fast-mode flag and MNIST's shape, shared by the package, notebooks and tests.

Everything that depends on where the repository lives or on the environment is read here,
so the rest of the package takes plain arguments.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "REPO_ROOT", "DATA_DIR", "MODELS_DIR", "SHIPPED_MODEL", "SEED", "EPOCHS", "DATA_ENV", "FAST_ENV", "PEN_ENV", "SCRIPTS_ENV",
    "NUM_CLASSES", "IMAGE_SIZE", "INPUT_SHAPE", "fast_mode", "script_model",
]

#: The repository root (the package is installed editable from it).
REPO_ROOT: Path = Path(__file__).resolve().parent.parent
#: Where ``load_mnist`` looks for and stores ``mnist.npz``.
DATA_DIR: Path = REPO_ROOT / "data"
#: Where models, their histories and cards live.
MODELS_DIR: Path = REPO_ROOT / "models"
#: The pretrained model shipped with the repository: it reads Western digits (``script_model`` names the others).
SHIPPED_MODEL: Path = MODELS_DIR / "digitlab_cnn.keras"
#: Seed used by notebooks, training and benchmarks unless told otherwise.
SEED: int = 42
#: Epochs of digitlab's training recipe unless told otherwise (the CLI's default too): chosen on validation against
#: 18 and 24 (models/README.md, "Epochs of the default recipe"); a third fewer than 24 at one validation error more.
EPOCHS: int = 16

#: Environment variable naming an MNIST file or folder; overrides ``data/mnist.npz``.
DATA_ENV = "DIGITLAB_DATA"
#: Environment variable that switches notebooks to a tiny, quick run (set by the tests).
FAST_ENV = "DIGITLAB_FAST"
#: Environment variable naming UCI's ``pendigits-orig.tra`` (real pen digits); overrides ``data/``.
PEN_ENV = "DIGITLAB_PEN"
#: Environment variable naming a folder of ``<script>.npz`` digit sets (``digitlab.scripts``); overrides ``data/``.
SCRIPTS_ENV = "DIGITLAB_SCRIPTS"

#: Classes the models tell apart: the digits 0-9.
NUM_CLASSES: int = 10
#: Side of an MNIST image in pixels (images are square).
IMAGE_SIZE: int = 28
#: Shape of one model input: height, width and one grey channel.
INPUT_SHAPE: tuple[int, int, int] = (IMAGE_SIZE, IMAGE_SIZE, 1)


def fast_mode() -> bool:
    """Return True when ``DIGITLAB_FAST`` asks for a quick run (notebooks under test)."""
    return os.environ.get(FAST_ENV, "").strip().lower() not in ("", "0", "false", "no")


def script_model(script: str = "western") -> Path:
    """Return where the shipped model that reads ``script`` lives (the file may not exist yet).

    Western digits: ``SHIPPED_MODEL`` (``models/digitlab_cnn.keras``); another script of
    ``digitlab.scripts``: ``models/<script>_cnn.keras``; ``"any"``, the model reading every
    script: ``models/any_script_cnn.keras``. ValueError listing the choices for another name.
    """
    from digitlab import scripts  # the registry knows the names; imported here, as it imports this module

    name = scripts.check_name(script, any_ok=True)
    if name == "western":
        return SHIPPED_MODEL
    return MODELS_DIR / ("any_script_cnn.keras" if name == scripts.ANY else f"{name}_cnn.keras")
