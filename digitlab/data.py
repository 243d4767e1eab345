"""Find, download, read and check MNIST.

``load_mnist`` accepts Keras's ``mnist.npz`` layout and the four original IDX files
(gzipped or not) in a folder, and refuses anything truncated, mis-shaped or mislabelled
with one message naming the file, so a notebook never trains on partial data.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from digitlab import config
from digitlab.files import atomic_path

__all__ = [
    "MNIST_URL", "MNIST_SHA256", "NPZ_KEYS", "IDX_NAMES", "Split", "DataError", "default_path", "given_source", "locate", "not_found_message",
    "find_mnist", "load_mnist", "read_npz", "read_idx_folder", "read_idx", "validate", "sha256", "fetch",
    "download_checked", "download_mnist", "check_held_out_share", "train_val_split", "subset",
]

#: The file ``keras.datasets.mnist.load_data`` downloads, and its published SHA-256.
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

Split = tuple[np.ndarray, np.ndarray]


class DataError(ValueError):
    """MNIST could not be found, fetched or read; the message says which file and why."""

    def _render_traceback_(self) -> list[str]:
        """Return the lines IPython shows instead of a traceback: the message, which says what to do.

        IPython (and so Jupyter) calls this hook of an exception when it defines one; a
        notebook then shows the same message the command line prints, not a page of frames.
        """
        return f"{type(self).__name__}: {self}".splitlines()


def default_path() -> Path:
    """Return where the downloaded ``mnist.npz`` is kept: ``data/mnist.npz`` in the repo."""
    return config.DATA_DIR / "mnist.npz"


def given_source(
    path: str | os.PathLike | None = None, *, name: str = "path argument", env: str = config.DATA_ENV,
    what: str = "MNIST file", hint: str = "name an mnist.npz file or a folder with the four IDX files",
    error: type[DataError] = DataError,
) -> Path | None:
    """Return the source named by ``path`` or by the environment variable ``env``, or None if neither names one.

    A named source must exist (``error`` otherwise, calling ``path`` by ``name`` and the source
    by ``what``, with ``hint``): it is never silently replaced by another. Nothing is read, so
    the command line can check ``--data`` before any slow work. Every data set's loader uses it.
    """
    for given, origin in ((path, name), (os.environ.get(env), f"${env}")):
        if given:
            p = Path(given).expanduser()
            if not p.exists():
                raise error(f"{what} given by {origin} does not exist: {p} ({hint})")
            return p
    return None


def find_mnist(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the MNIST source to read: ``path``, ``$DIGITLAB_DATA``, ``data/mnist.npz``, or a download.

    A path given explicitly (argument or environment) must exist; it is never silently
    replaced by another source.
    """
    local = default_path()
    return locate(given_source(path), local, download=download, fetch=download_mnist,
                  refuse=lambda reason: DataError(_no_data_message(local, reason=reason)))


def locate(
    named: Path | None, local: Path, *, download: bool, fetch: Callable[[Path], Path],
    refuse: Callable[[str], Exception],
) -> Path:
    """Return the file a data set is read from: ``named`` if given, else ``local`` if there, else ``fetch(local)``.

    Every loader searches this way (``find_mnist``, ``pen.find_pen_digits``,
    ``scripts.find_digits``); with ``download`` False, ``refuse("download disabled")`` is
    raised instead of fetching.
    """
    if named is not None:
        return named
    if local.exists():
        return local
    if not download:
        raise refuse("download disabled")
    return fetch(local)


def load_mnist(path: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays (N, 28, 28) and (N,).

    Looks at ``path``, then ``$DIGITLAB_DATA``, then ``data/mnist.npz``, and otherwise
    downloads Keras's ``mnist.npz`` (SHA-256 checked) into ``data/``. ``path`` may be an
    ``.npz`` file in Keras's layout or a folder holding the four IDX files.
    """
    source = find_mnist(path)
    arrays = read_idx_folder(source) if source.is_dir() else read_npz(source)
    validate(arrays, source)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def read_npz(
    path: Path, *, keys: tuple[str, ...] = NPZ_KEYS, optional: tuple[str, ...] = (), what: str = "an MNIST npz"
) -> dict[str, np.ndarray]:
    """Return the arrays ``keys`` (and those of ``optional`` present) of an npz file; DataError if it is unreadable.

    The defaults read the four arrays of a Keras-layout ``mnist.npz``; ``what`` names the kind of
    file in errors. Arrays of Python objects are refused, never unpickled: loading them could run any code.
    """
    try:
        # our own handle, closed on every path: np.load(path) leaks its handle when the zip is corrupt
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # every npz is a zip archive
                raise DataError(f"{path}: not an npz file (Keras's mnist.npz is a zip archive of numpy arrays)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                missing = [k for k in keys if k not in npz.files]
                if missing:
                    raise DataError(f"{path}: not {what}, missing arrays {missing} (has {npz.files})")
                return {k: npz[k] for k in (*keys, *optional) if k in npz.files}
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"{path}: corrupt or truncated npz file ({exc})") from None
    except ValueError:  # numpy's own text advises allow_pickle, which is unsafe to follow
        raise DataError(f"{path}: corrupt npz file, or one holding Python objects instead of plain "
                        "arrays (never loaded: unpickling can run any code)") from None


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """Return the four arrays read from the original IDX files (``.gz`` or plain) in ``folder``."""
    arrays = {}
    for key, name in IDX_NAMES.items():
        candidates = [folder / f"{name}.gz", folder / name]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise DataError(f"{folder}: IDX file {name}[.gz] is missing")
        arrays[key] = read_idx(found)
    return arrays


def read_idx(path: Path) -> np.ndarray:
    """Return the uint8 array stored in one IDX file; DataError if its header and size disagree."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{path}: header says {shape} ({expected} bytes) but {len(raw) - header} bytes follow")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def validate(arrays: dict[str, np.ndarray], source: Path, *, splits: tuple[str, ...] = ("train", "test")) -> None:
    """Raise DataError naming ``source`` unless the arrays of ``splits`` are well-formed MNIST-format splits."""
    for split in splits:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (config.IMAGE_SIZE, config.IMAGE_SIZE):
            raise DataError(f"{source}: x_{split} has shape {x.shape}, expected (N, 28, 28)")
        if y.ndim != 1:
            raise DataError(f"{source}: y_{split} has shape {y.shape}, expected (N,)")
        if len(x) != len(y):
            raise DataError(f"{source}: {len(x)} {split} images but {len(y)} labels")
        if len(x) == 0:
            raise DataError(f"{source}: the {split} split is empty")
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise DataError(f"{source}: {split} arrays are {x.dtype}/{y.dtype}, expected uint8")
        if y.max() > 9:
            raise DataError(f"{source}: y_{split} holds labels outside 0-9 (max {int(y.max())})")


def sha256(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of a file, or of the IDX files of a folder taken in order."""
    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.iterdir() if "idx" in f.name)
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def fetch(url: str, dest: Path, progress: Callable[[int, int], None] | None = None) -> None:
    """Download ``url`` into ``dest``; kept separate so tests can replace it."""
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        for block in iter(lambda: response.read(1 << 16), b""):
            out.write(block)
            done += len(block)
            if progress:
                progress(done, total)


def download_checked(
    url: str, dest: Path, *, expected: str, digest: Callable[[Path], str] = sha256, digest_name: str = "SHA-256"
) -> Path:
    """Return ``dest`` after downloading ``url`` to it, checked by ``digest`` and renamed into place.

    ``digest`` computes a file's checksum (``sha256`` by default), compared with ``expected``:
    nothing is left at ``dest`` unless the whole file arrived with the right checksum
    (DataError otherwise). Network and disk errors propagate as OSError for the caller to explain.
    """
    with atomic_path(dest, suffix=".part") as tmp, contextlib.closing(_ProgressBar(dest.name)) as bar:
        fetch(url, tmp, bar.update)
        got = digest(tmp)
        if got != expected:
            raise DataError(f"download of {url} has {digest_name} {got}, expected {expected}; not saved")
    return dest


def download_mnist(dest: Path | None = None, *, url: str | None = None, expected_sha256: str | None = None) -> Path:
    """Return ``dest`` after downloading MNIST to it, checked by SHA-256 and renamed into place.

    ``url`` and ``expected_sha256`` default to Keras's ``mnist.npz``. Nothing is left at
    ``dest`` unless the whole file arrived with the right checksum.
    """
    url, expected_sha256 = url or MNIST_URL, expected_sha256 or MNIST_SHA256
    dest = Path(dest) if dest else default_path()
    try:
        download_checked(url, dest, expected=expected_sha256)
    except OSError as exc:  # the chain (socket error, URLError) adds nothing to the message
        raise DataError(_no_data_message(dest, reason=f"download from {url} failed: {exc}")) from None
    return dest


class _ProgressBar:
    """A download's progress bar, made when the first bytes arrive and shown only where it can redraw.

    A download that fails at once leaves no bar behind, and output redirected to a file or
    pipe gets none (tqdm's ``disable=None``); a notebook shows its widget.
    """

    def __init__(self, name: str):
        self.name, self.bar = name, None

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` bytes (``total`` 0 when the server does not say)."""
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=f"downloading {self.name}", total=total or None, unit="B", unit_scale=True,
                            leave=False, disable=None)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        """Remove the bar, if one was made."""
        if self.bar is not None:
            self.bar.close()


def not_found_message(what: str, reason: str, ways: Sequence[str], *, provide: str = "it") -> str:
    """Return the message for a data set found nowhere: ``what`` is missing (``reason``), then each way to provide it, numbered."""
    steps = ";\n".join(f"  {i}. {way}" for i, way in enumerate(ways, 1))
    return f"{what} not found ({reason}). Provide {provide} one of these ways:\n{steps}."


def _no_data_message(local: Path, *, reason: str) -> str:
    """Return the message for MNIST found nowhere: ``reason`` and every way to provide it."""
    return not_found_message("MNIST", reason, [
        "pass a path: load_mnist('path/to/mnist.npz') or --data PATH on the command line",
        f"set ${config.DATA_ENV} to an mnist.npz file or a folder with the four IDX files",
        f"put Keras's mnist.npz at {local}",
        f"connect to the internet and it is downloaded from {MNIST_URL}",
    ])


def check_held_out_share(value: float, name: str) -> None:
    """Raise ValueError naming ``name`` unless ``value``, a share of images to hold out, lies strictly between 0 and 1."""
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def train_val_split(
    x: np.ndarray, y: np.ndarray, *, val_fraction: float = 0.1, seed: int = config.SEED
) -> tuple[Split, Split]:
    """Return ``(x_train, y_train), (x_val, y_val)``: a seeded, stratified split of the training data."""
    check_held_out_share(val_fraction, "val_fraction")
    rng = np.random.default_rng(seed)
    val_idx = []
    for digit in np.unique(y):
        idx = np.flatnonzero(y == digit)
        val_idx.append(rng.choice(idx, size=max(1, round(len(idx) * val_fraction)), replace=False))
    val = np.zeros(len(y), dtype=bool)
    val[np.concatenate(val_idx)] = True
    return (x[~val], y[~val]), (x[val], y[val])


def subset(x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int = config.SEED) -> Split:
    """Return a seeded random ``fraction`` of ``(x, y)``, for quick runs."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return x, y
    idx = np.random.default_rng(seed).permutation(len(y))[: max(1, int(len(y) * fraction))]
    return x[np.sort(idx)], y[np.sort(idx)]
