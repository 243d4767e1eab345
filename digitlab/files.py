"""Atomic file writes (a file appears complete under its name, or not at all) and JSON files.

Downloads, models, cards and histories are written to a temporary file in the destination
folder and renamed into place, so an interrupted write never replaces a good file with half
of a new one.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["ModelFileError", "check_model_path", "atomic_path", "write_json_atomic", "read_json"]


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it to ``dest`` if the block succeeds.

    On any exception the temporary file is removed and ``dest`` is left as it was. ``suffix``
    matters for writers that check the extension (Keras wants ``.keras``).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are ordinary project files
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Return ``path`` after writing ``obj`` as indented JSON there via a temp file and rename."""
    text = json.dumps(obj, indent=2) + "\n"  # serialise first: a bad object must not touch the file
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_json(path: str | os.PathLike) -> dict:
    """Return the JSON object stored at ``path``, or an empty dict if there is no such file."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


class ModelFileError(ValueError):
    """A model file is missing, corrupt or not a Keras model; the message names the file."""


def check_model_path(path: str | os.PathLike) -> Path:
    """Return ``path`` if it names an existing ``.keras`` file; ModelFileError naming it otherwise.

    Only the file system is consulted (no TensorFlow), so the command line checks ``--model``
    with the same words ``model.load_model`` uses before it reads the file.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path} (train one with `python -m digitlab train`)")
    if path.is_dir() or path.suffix != ".keras":
        raise ModelFileError(f"{path}: not a .keras model file")
    return path
