"""Read the raw files of the digit sets in other scripts and bring every image to MNIST format.

Each reader returns the images as the set stores them, turned to white ink on black (uint8,
any size), and their labels 0-9 as uint8. ``to_mnist_batch`` then takes every image of every
set through the package's own ``preprocess.to_mnist``, the steps that made MNIST (crop to the
ink, fit into 20x20, centre by mass in 28x28), so the scripts differ in their digits only.

- IDX (Kannada-MNIST): ``read_idx_pair``, with ``data.read_idx``;
- HODA ``.cdb`` (Persian): ``read_hoda_cdb``, binary run-length images of any size;
- MADBase PNG zip (Arabic): ``read_madbase_zip``, ``<folder>/id_<n>_label_<d>.png`` in id order;
- NumtaDB npy zips (Bengali): ``read_numtadb_zips``, pixels 0-20 and one-hot labels;
- TibetanMNIST: ``read_tibetan_npz`` (arrays ``image`` and ``label``) and ``read_tibetan_jpgs``
  (scans named ``<label>_<sheet>_<n>.jpg``, which also give each digit's sheet).

Every reader refuses a malformed file with ``data.DataError`` naming it. This module needs
numpy, Pillow and scipy only, never TensorFlow.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from digitlab import config, data, preprocess
from digitlab.data import DataError

__all__ = [
    "PAD", "HODA_HEADER", "READERS", "Raw", "to_mnist_batch", "white_on_black", "read_idx_pair", "read_hoda_cdb",
    "read_madbase_zip", "read_numtadb_zips", "read_tibetan_npz", "read_tibetan_jpgs",
]

#: Background added around each raw image before ``to_mnist``: HODA crops its images to the ink,
#: so a "1" or a Persian zero (a dot) would otherwise have no background to tell the ink from.
PAD = 2
#: Bytes before HODA's first record: date, size, count, per-class counts, image type, comments, reserved.
HODA_HEADER = 1024
_HODA_TYPE = 522  # offset of the image-type byte in the header: 0 binary, 1 grey
_MADBASE_NAME = re.compile(r"(?:.*/)?id_(\d+)_label_(\d+)\.png")
_TIBETAN_NAME = re.compile(r"(\d+)_(\d+)_(\d+)\.jpg")

#: Images (each a 2-D uint8 array, white ink on black) and their labels, (N,) uint8.
Raw = tuple[Sequence[np.ndarray], np.ndarray]


def to_mnist_batch(images: Iterable[np.ndarray], *, desc: str = "normalising") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, kept)``: the inked images in MNIST format, uint8 (N, 28, 28), and a mask of which had ink.

    Every image (2-D uint8, white ink on black) gets a ``PAD``-pixel black border and goes through
    ``preprocess.to_mnist``: one code path for every script. Blank images, whose brightest pixel is
    below ``preprocess.MIN_CONTRAST``, are left out; ``kept`` says which inputs are in ``x``. A
    progress bar named ``desc`` shows where it can redraw (a notebook or a terminal).
    """
    from tqdm.auto import tqdm

    out, kept = [], []
    for image in tqdm(images, desc=desc, leave=False, disable=None):
        inked = int(image.max()) >= preprocess.MIN_CONTRAST * 255
        kept.append(inked)
        if inked:
            out.append(preprocess.to_mnist(np.pad(image, PAD)))
    size = config.IMAGE_SIZE
    x = np.round(np.array(out, dtype=np.float32).reshape(-1, size, size) * 255).astype(np.uint8)
    return x, np.array(kept, dtype=bool)


def white_on_black(images: np.ndarray) -> np.ndarray:
    """Return uint8 images (N, H, W) as white ink on black, inverted if the set's borders are light.

    The decision is made once for the whole set, from the median of every image's border, so a
    digit that touches its frame cannot flip on its own.
    """
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=None)
    light = np.median(border) > (int(images.min()) + int(images.max())) / 2
    return 255 - images if light else images


def _labels(values: np.ndarray, path: Path) -> np.ndarray:
    """Return ``values`` as uint8 labels; DataError naming ``path`` unless all are whole numbers 0-9."""
    values = np.asarray(values)
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        raise DataError(f"{path}: labels must be a column of whole numbers 0-9, got {values.dtype} {values.shape}")
    if values.min() < 0 or values.max() > 9:
        raise DataError(f"{path}: labels outside 0-9 (from {values.min()} to {values.max()})")
    return values.astype(np.uint8)


def read_idx_pair(images: Path, labels: Path) -> Raw:
    """Return the images and labels of an IDX pair (Kannada-MNIST's files, gzipped or not)."""
    x, y = data.read_idx(Path(images)), data.read_idx(Path(labels))
    if x.ndim != 3 or len(x) != len(y):
        raise DataError(f"{images}: {x.shape} images do not match the {y.shape} labels of {labels}")
    return white_on_black(x), _labels(y, Path(labels))


def read_hoda_cdb(path: Path) -> Raw:
    """Return the images (0 or 255, each its own size) and labels of a binary HODA ``.cdb`` file.

    The layout, as HodaDatasetReader reads it: a 1,024-byte header (height, width, record count,
    image type), then per record 0xFF, the label, the width and height (when the header gives no
    fixed size), the record's byte count and, row by row, run lengths alternating background and ink.
    """
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < HODA_HEADER:
        raise DataError(f"{path}: not a HODA .cdb file (shorter than its {HODA_HEADER}-byte header)")
    if raw[_HODA_TYPE] != 0:
        raise DataError(f"{path}: HODA image type {raw[_HODA_TYPE]} (only binary images, type 0, are read)")
    size, count = (raw[4], raw[5]), int.from_bytes(raw[6:10], "little")
    images, labels, offset = [], [], HODA_HEADER
    for index in range(count):
        try:
            image, label, offset = _hoda_record(raw, offset, size)
        except (IndexError, ValueError) as exc:
            raise DataError(f"{path}: record {index} of {count} at byte {offset} is corrupt or truncated "
                            f"({exc})") from None
        images.append(image)
        labels.append(label)
    if offset != len(raw):
        raise DataError(f"{path}: {len(raw) - offset} bytes follow the {count} records its header announces")
    return images, _labels(np.array(labels), path)


def _hoda_record(raw: bytes, offset: int, size: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """Return ``(image, label, next offset)`` for the HODA record at ``offset``; ``size`` is the header's (h, w)."""
    if raw[offset] != 0xFF:
        raise ValueError(f"starts with {raw[offset]:#04x}, not 0xff")
    label, offset = raw[offset + 1], offset + 2
    height, width = size
    if not (height and width):
        width, height, offset = raw[offset], raw[offset + 1], offset + 2
    length, start = int.from_bytes(raw[offset:offset + 2], "little"), offset + 2
    body = raw[start:start + length]
    if len(body) != length:
        raise ValueError(f"{length} bytes announced, {len(body)} left")
    image, pos = np.zeros((height, width), dtype=np.uint8), 0
    for row in image:
        x, ink = 0, False
        while x < width:
            run, pos = body[pos], pos + 1
            if ink:
                row[x:x + run] = 255
            x, ink = x + run, not ink
        if x != width:
            raise ValueError(f"a row of runs spans {x} pixels, not {width}")
    if pos != length:
        raise ValueError(f"{length - pos} bytes left over in the record")
    return image, label, start + length


def read_madbase_zip(path: Path) -> Raw:
    """Return the images and labels of a MADBase zip of ``<folder>/id_<n>_label_<d>.png``, in id order.

    Id order keeps each writer's digits together (MADBase's ids run writer by writer).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = sorted((int(m[1]), int(m[2]), m[0]) for m in map(_MADBASE_NAME.fullmatch, zf.namelist()) if m)
            if not members:
                raise DataError(f"{path}: holds no images named <folder>/id_<n>_label_<d>.png")
            images = [_image(zf.read(name), f"{path}:{name}") for _, _, name in members]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable zip archive ({exc})") from None
    return images, _labels(np.array([label for _, label, _ in members]), path)


def _image(raw: bytes, name: str) -> np.ndarray:
    """Return the image file ``raw`` as a 2-D uint8 grey array; DataError naming ``name`` if unreadable."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            return np.asarray(image.convert("L"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{name}: not a readable image ({exc})") from None


def read_numtadb_zips(images: Path, labels: Path) -> Raw:
    """Return the images (rescaled to 0-255) and labels of NumtaDB's ``numtaX``/``numtaY`` npy zips.

    The images are stored 28x28 with pixel values 0-20 and the labels one-hot (N, 10).
    """
    x, onehot = _npy_in_zip(Path(images)), _npy_in_zip(Path(labels))
    if x.ndim != 3 or onehot.shape != (len(x), 10) or not np.array_equal(onehot, np.eye(10)[onehot.argmax(axis=1)]):
        raise DataError(f"{images}, {labels}: expected (N, H, W) images and one-hot labels (N, 10), "
                        f"got {x.shape} and {onehot.shape}")
    scaled = np.round(x.astype(np.float32) * (255 / max(float(x.max()), 1.0))).astype(np.uint8)
    return white_on_black(scaled), onehot.argmax(axis=1).astype(np.uint8)


def _npy_in_zip(path: Path) -> np.ndarray:
    """Return the one ``.npy`` array inside the zip archive ``path`` (Python objects are never unpickled)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(".npy")]
            if len(names) != 1:
                raise DataError(f"{path}: expected one .npy file in the archive, found {names}")
            return np.load(io.BytesIO(zf.read(names[0])), allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a zip archive holding a plain .npy array ({exc})") from None


def read_tibetan_npz(path: Path) -> Raw:
    """Return the images and labels of TibetanMNIST's npz (arrays ``image``, 28x28, and ``label``)."""
    path = Path(path)
    arrays = data.read_npz(path, keys=("image", "label"), what="TibetanMNIST's npz")
    x, side = arrays["image"], config.IMAGE_SIZE
    if x.size != len(x) * side * side:
        raise DataError(f"{path}: image has shape {x.shape}, expected {side}x{side} images")
    try:
        x = preprocess.to_unit(x.reshape(-1, side, side))  # any numeric dtype, scaled as an image of it
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: image is not an array of pixels ({exc})") from None
    return white_on_black(np.round(x * 255).astype(np.uint8)), _labels(arrays["label"].ravel(), path)


def read_tibetan_jpgs(folder: str | os.PathLike) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Return ``(images, labels, sheets)`` of TibetanMNIST's scans ``<label>_<sheet>_<n>.jpg`` in ``folder``.

    The sheet (the paper a digit was written on) lets a test split keep sheets apart. Files are
    taken in (sheet, label, n) order; other files in the folder are ignored.
    """
    folder = Path(folder)
    found = sorted((int(m[2]), int(m[1]), int(m[3]), m[0])
                   for m in (_TIBETAN_NAME.fullmatch(p.name) for p in folder.iterdir()) if m)
    if not found:
        raise DataError(f"{folder}: holds no TibetanMNIST scans named <label>_<sheet>_<n>.jpg")
    images = [_image((folder / name).read_bytes(), str(folder / name)) for *_, name in found]
    labels = _labels(np.array([label for _, label, _, _ in found]), folder)
    return images, labels, np.array([sheet for sheet, *_ in found])


#: The reader of each raw format, called with the format's files in the registry's order.
READERS: dict[str, Callable[..., Raw]] = {
    "idx": read_idx_pair,
    "hoda": read_hoda_cdb,
    "madbase": read_madbase_zip,
    "numtadb": read_numtadb_zips,
    "tibetan-npz": read_tibetan_npz,
}
