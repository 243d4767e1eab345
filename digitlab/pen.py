"""Real pen input: UCI's pen-based handwritten digits, drawn on the canvas exactly as the pad draws.

UCI's "Pen-Based Recognition of Handwritten Digits" (Alpaydin and Alimoglu, CC BY 4.0) keeps,
in ``pendigits-orig.tra``, the pen trajectories of 7,494 digits written on a tablet by 30
people: the closest thing to what a user does on the drawing pad, by people outside MNIST.

- ``load_pen_digits`` finds the file (``path``, ``$DIGITLAB_PEN``, ``data/pendigits-orig.tra``
  or a download from UCI, SHA-256 checked) and ``read_pen_digits`` parses it into
  ``PenDigits``: label, writer and strokes of (x, y) points, y up as on the tablet.
- ``to_canvas`` and ``render`` draw a digit on the pad's 280x280 canvas with the pad's pen
  (``strokes.rasterize``), and ``prepare`` takes a batch on to MNIST format (``to_mnist``).
- ``split_by_writer`` holds out whole writers: one writer's digits look alike, so a random
  split would flatter any model trained on the rest.
- ``evaluate`` scores a predictor per pen width and polarity, and per writer and digit;
  ``training_images`` renders the training writers' digits for mixing into CNN training.

This module needs numpy, scipy and Pillow only, never TensorFlow: ``evaluate`` takes any
object with ``predict_batch`` (``digitlab.predict.Predictor``).
"""
from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from digitlab import config, data, metrics, preprocess, strokes
from digitlab.files import atomic_path

__all__ = [
    "CANVAS_SIZE", "PEN_WIDTH", "MARGIN", "POLARITIES", "PEN_URL", "PEN_SHA256",
    "PenDataError", "BatchPredictor", "PenDigit", "PenDigits", "PenReport",
    "load_pen_digits", "given_pen_file", "find_pen_digits", "default_pen_path", "download_pen_digits", "read_pen_digits", "unlzw",
    "to_canvas", "render", "prepare", "split_by_writer", "evaluate", "training_images",
]

#: The drawing pad's canvas side and default pen diameter (``drawing.CANVAS_SIZE``, ``drawing.PEN_WIDTH``),
#: repeated here so this module imports without ipywidgets; a test keeps them equal.
CANVAS_SIZE = 280
PEN_WIDTH = 18.0
#: Free border, in canvas pixels, around a digit drawn by ``to_canvas``: the digit's longer side
#: (its height, for 93% of these digits) spans 280 - 2 * 49 = 182 px, 65% of the canvas, as people
#: fill the pad and as the pad's own test drawings do (``strokes.scale_strokes``: ~180 px). The size
#: sets the pen's width relative to the digit; the shipped model is as accurate from 120 to 240 px.
MARGIN = 49.0
#: How a drawing can look: the pad's black ink on white paper, or white ink on black like MNIST.
POLARITIES = ("dark-on-light", "light-on-dark")

#: UCI's archive of dataset 81; it holds the trajectories as ``pendigits-orig.tra.Z`` (unix compress).
PEN_URL = "https://archive.ics.uci.edu/static/public/81/pen+based+recognition+of+handwritten+digits.zip"
PEN_MEMBER = "pendigits-orig.tra.Z"
PEN_FILE = "pendigits-orig.tra"
#: SHA-256 of ``pendigits-orig.tra`` (decompressed), as UCI distributes it.
PEN_SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
#: ``.INCLUDE``, ``.LEXICON``, ``.HIERARCHY``, ``.DT``: metadata the reader skips.
_SKIPPED = (".INCLUDE", ".LEXICON", ".HIERARCHY", ".DT")


class PenDataError(data.DataError):
    """The pen digits could not be found, fetched or read; the message says which file (and line) and why."""


class BatchPredictor(Protocol):
    """Anything with ``predict_batch((N, 28, 28)) -> (N, 10)``, like ``digitlab.predict.Predictor``."""

    def predict_batch(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One written digit: its label, its writer (1-30) and its strokes, each (n, 2) float (x, y), y up."""

    label: int
    writer: int
    strokes: tuple[np.ndarray, ...]
    line: int = 0  # line of its ``.SEGMENT`` in the file, to trace a digit back

    def __repr__(self) -> str:
        points = sum(len(s) for s in self.strokes)
        return (f"PenDigit(label={self.label}, writer={self.writer}, "
                f"{len(self.strokes)} strokes, {points} points, line={self.line})")


class PenDigits(Sequence):
    """Digits read from one file: a sequence of ``PenDigit`` with array views ``labels`` and ``writers``.

    An int index gives one ``PenDigit``; a slice, an index array or a boolean mask gives
    another ``PenDigits``, so ``digits[digits.labels == 7]`` works as with numpy arrays.
    """

    def __init__(self, digits: Iterable[PenDigit], source: Path | None = None):
        self.digits = tuple(digits)
        self.source = source

    def __len__(self) -> int:
        return len(self.digits)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> PenDigit | PenDigits:
        if isinstance(index, (int, np.integer)):
            return self.digits[index]
        if isinstance(index, slice):
            return PenDigits(self.digits[index], self.source)
        chosen = np.arange(len(self))[np.asarray(index)]
        return PenDigits((self.digits[i] for i in chosen), self.source)

    def __iter__(self) -> Iterator[PenDigit]:
        return iter(self.digits)

    def __repr__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        return f"PenDigits({len(self)} digits by {len(np.unique(self.writers))} writers{where})"

    @cached_property
    def labels(self) -> np.ndarray:
        """The digits' labels, (N,) uint8 like MNIST's."""
        return np.array([d.label for d in self.digits], dtype=np.uint8)

    @cached_property
    def writers(self) -> np.ndarray:
        """The digits' writer numbers, (N,) int."""
        return np.array([d.writer for d in self.digits], dtype=int)

    def of_writers(self, writers: Iterable[int]) -> PenDigits:
        """Return the digits written by any of ``writers``, in file order."""
        return self[np.isin(self.writers, list(writers))]


# --- finding and fetching the file ---------------------------------------------------------


def default_pen_path() -> Path:
    """Return where the downloaded trajectories are kept: ``data/pendigits-orig.tra`` in the repo."""
    return config.DATA_DIR / PEN_FILE


def load_pen_digits(path: str | os.PathLike | None = None) -> PenDigits:
    """Return every digit of ``pendigits-orig.tra``, found by ``find_pen_digits(path)``."""
    return read_pen_digits(find_pen_digits(path))


def given_pen_file(path: str | os.PathLike | None = None, *, name: str = "path argument") -> Path | None:
    """Return the trajectories file named by ``path`` (called ``name`` in errors) or ``$DIGITLAB_PEN``, or None.

    A named file must exist (PenDataError otherwise); nothing is read, so the command line can
    check it before any slow work.
    """
    return data.given_source(path, name=name, env=config.PEN_ENV, what="pen digits file",
                             hint=f"name {PEN_FILE}", error=PenDataError)


def find_pen_digits(path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the trajectories file to read: ``path``, ``$DIGITLAB_PEN``, ``data/pendigits-orig.tra``, or a download.

    A file named explicitly (argument or environment) must exist; it is never silently
    replaced by another source.
    """
    local = default_pen_path()
    return data.locate(given_pen_file(path), local, download=download, fetch=download_pen_digits,
                       refuse=lambda reason: PenDataError(_no_pen_message(local, reason=reason)))


def download_pen_digits(
    dest: Path | None = None, *, url: str | None = None, expected_sha256: str | None = None
) -> Path:
    """Return ``dest`` after downloading UCI's archive, unpacking ``pendigits-orig.tra`` into it, SHA-256 checked.

    ``url`` and ``expected_sha256`` default to UCI's archive and the published file. The archive
    is a zip holding ``pendigits-orig.tra.Z`` (unix ``compress``), decompressed by ``unlzw``.
    Nothing is left at ``dest`` unless the whole file arrived with the right checksum.
    """
    url, expected_sha256 = url or PEN_URL, expected_sha256 or PEN_SHA256
    dest = Path(dest) if dest else default_pen_path()
    try:
        with atomic_path(dest, suffix=".part") as tmp:
            data.fetch(url, tmp)
            tmp.write_bytes(_unpack(tmp, url))
            got = data.sha256(tmp)
            if got != expected_sha256:
                raise PenDataError(f"{PEN_FILE} from {url} has SHA-256 {got}, expected {expected_sha256}; not saved")
    except OSError as exc:
        raise PenDataError(_no_pen_message(dest, reason=f"download from {url} failed: {exc}")) from exc
    return dest


def _unpack(archive: Path, url: str) -> bytes:
    """Return the decompressed ``pendigits-orig.tra`` from the zip archive downloaded from ``url``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            member = next((n for n in names if Path(n).name == PEN_MEMBER), None)
            compressed = zf.read(member) if member else None
    except (zipfile.BadZipFile, EOFError) as exc:
        raise PenDataError(f"download from {url} is not a zip archive ({exc})") from exc
    if compressed is None:
        raise PenDataError(f"archive from {url} holds no {PEN_MEMBER} (it has {names})")
    try:
        return unlzw(compressed)
    except ValueError as exc:
        raise PenDataError(f"{PEN_MEMBER} from {url}: {exc}") from exc


def _no_pen_message(local: Path, *, reason: str) -> str:
    """Return the message for pen digits found nowhere: ``reason`` and every way to provide them."""
    return data.not_found_message("pen digits", reason, [
        f"pass a path: load_pen_digits('path/to/{PEN_FILE}')", f"set ${config.PEN_ENV} to the file",
        f"put it at {local}", f"connect to the internet and it is downloaded from {PEN_URL}",
    ], provide=f"UCI's {PEN_FILE}")


def unlzw(compressed: bytes) -> bytes:
    """Return the contents of a unix ``compress`` (``.Z``) file; ValueError if it is not one or is corrupt.

    LZW with codes of 9 bits growing to the header's maximum (at most 16), packed least
    significant bit first in groups of eight; a width change or a CLEAR code (256) skips
    to the end of the current group, as ``compress`` pads there.
    """
    if len(compressed) < 3 or compressed[:2] != b"\x1f\x9d":
        raise ValueError("not a .Z file (no 1f 9d magic number)")
    max_bits = compressed[2] & 0x1F
    if not compressed[2] & 0x80 or not 9 <= max_bits <= 16:
        raise ValueError(f"unsupported .Z header byte {compressed[2]:#04x} (need block mode, 9-16 bits)")
    table = [bytes([i]) for i in range(256)] + [b""]  # 256 is CLEAR
    out, prev = [], None
    bits, pos, start, end = 9, 24, 24, len(compressed) * 8  # positions in bits; ``start``: this width's first code
    while True:
        if len(table) >= 1 << bits and bits < max_bits:
            pos = start = _group_end(pos, start, bits)
            bits += 1
        if pos + bits > end:
            return b"".join(out)
        i = pos >> 3
        code = (int.from_bytes(compressed[i:i + 3], "little") >> (pos & 7)) & ((1 << bits) - 1)
        pos += bits
        if code == 256:
            pos = start = _group_end(pos, start, bits)
            bits, prev = 9, None
            del table[257:]
            continue
        if code < len(table):
            entry = table[code]
        elif code == len(table) and prev is not None:
            entry = prev + prev[:1]
        else:
            raise ValueError(f"corrupt .Z data: code {code} at bit {pos - bits} with {len(table)} codes known")
        if prev is not None and len(table) < 1 << max_bits:
            table.append(prev + entry[:1])
        out.append(entry)
        prev = entry


def _group_end(pos: int, start: int, bits: int) -> int:
    """Return ``pos`` rounded up to the next group of eight ``bits``-bit codes counted from ``start``."""
    group = 8 * bits
    return start + -(-(pos - start) // group) * group


# --- reading the file ------------------------------------------------------------------------


def read_pen_digits(path: str | os.PathLike) -> PenDigits:
    """Return the digits of a UNIPEN-like pendigits file; PenDataError naming the file and line if malformed.

    ``.SEGMENT DIGIT ... "8"`` starts a digit with its label, ``.COMMENT <digit> <writer> <n>``
    names its writer, and each ``.PEN_DOWN`` ... ``.PEN_UP`` holds one stroke's ``x y`` points
    (y up). ``.INCLUDE``, ``.LEXICON``, ``.HIERARCHY`` and ``.DT`` are skipped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise PenDataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PenDataError(f"{path}: cannot read it as a pendigits text file ({exc})") from exc
    digits = PenDigits(_parse(text.splitlines(), path), path)
    if not digits:
        raise PenDataError(f"{path}: holds no digits (no .SEGMENT DIGIT lines)")
    return digits


def _parse(lines: Sequence[str], path: Path) -> Iterator[PenDigit]:
    """Yield each digit of ``lines`` as it ends; PenDataError naming ``path`` and the line otherwise."""
    segment = None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        keyword = line.split(maxsplit=1)[0] if line.startswith(".") else None
        if not line or keyword in _SKIPPED:
            continue
        if keyword == ".SEGMENT":
            if segment is not None:
                yield segment.finish()
            segment = _Segment(line, path, number)
        elif segment is None:
            raise PenDataError(f"{path}:{number}: {line.split()[0]!r} before the first .SEGMENT")
        elif keyword is None and segment.pen is not None:  # a point: most lines, kept fast
            segment.pen.append((number, line))
        else:
            segment.take(keyword, line, number)
    if segment is not None:
        yield segment.finish()


class _Segment:
    """A digit being read: its label from the ``.SEGMENT`` line, then writer and strokes line by line."""

    def __init__(self, line: str, path: Path, number: int):
        parts = line.split()
        label = parts[-1].strip('"') if len(parts) >= 3 and parts[1] == "DIGIT" else None
        if label is None or len(label) != 1 or label not in "0123456789":
            raise PenDataError(f'{path}:{number}: unknown label in {line!r} (expected .SEGMENT DIGIT ... "0" to "9")')
        self.label, self.path, self.number = int(label), path, number
        self.writer: int | None = None
        self.strokes: list[np.ndarray] = []
        self.pen: list[tuple[int, str]] | None = None  # (line number, text) of the open stroke's points
        self.pen_down_at = 0  # line of the open stroke's .PEN_DOWN

    def take(self, keyword: str | None, line: str, number: int) -> None:
        """Add a ``.PEN_DOWN``, ``.PEN_UP`` or ``.COMMENT`` line to this digit (points go straight to ``pen``)."""
        where = f"{self.path}:{number}"
        if keyword is None:
            raise PenDataError(f"{where}: point {line!r} outside .PEN_DOWN ... .PEN_UP")
        if keyword == ".PEN_DOWN":
            if self.pen is not None:
                raise PenDataError(f"{where}: .PEN_DOWN while the pen is already down (missing .PEN_UP)")
            self.pen, self.pen_down_at = [], number
        elif keyword == ".PEN_UP":
            if not self.pen:
                raise PenDataError(f"{where}: .PEN_UP without .PEN_DOWN and points before it")
            self.strokes.append(_points(self.pen, self.path))
            self.pen = None
        elif keyword == ".COMMENT":
            self.writer = _writer(line, self.label, where)
        else:
            raise PenDataError(f"{where}: unknown keyword {keyword!r}")

    def finish(self) -> PenDigit:
        """Return the finished digit; PenDataError if a stroke is open or it has no strokes or writer."""
        where = f"{self.path}:{self.number}"
        if self.pen is not None:
            raise PenDataError(f"{self.path}:{self.pen_down_at}: .PEN_DOWN without .PEN_UP before the digit ends")
        if not self.strokes:
            raise PenDataError(f"{where}: this digit has no strokes (.PEN_DOWN ... .PEN_UP)")
        if self.writer is None:
            raise PenDataError(f"{where}: this digit has no .COMMENT <digit> <writer> <n> naming its writer")
        return PenDigit(self.label, self.writer, tuple(self.strokes), self.number)


def _points(lines: list[tuple[int, str]], path: Path) -> np.ndarray:
    """Return the (n, 2) float64 points of numbered ``x y`` lines; PenDataError naming the first bad line."""
    try:
        points = np.array([text.split() for _, text in lines], dtype=np.float64)
    except ValueError:  # a bad number, or rows of different lengths
        points = None
    if points is None or points.shape != (len(lines), 2) or not np.isfinite(points).all():
        number, text = next((n, t) for n, t in lines if not _is_point(t))
        raise PenDataError(f"{path}:{number}: bad point {text!r}, expected two finite numbers 'x y'")
    return points


def _is_point(text: str) -> bool:
    """Return True if ``text`` is two finite numbers."""
    parts = text.split()
    try:
        return len(parts) == 2 and all(math.isfinite(float(v)) for v in parts)
    except ValueError:
        return False


def _writer(line: str, label: int, where: str) -> int:
    """Return the writer named by a ``.COMMENT <digit> <writer> <n>`` line that agrees with ``label``."""
    parts = line.split()
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        raise PenDataError(f"{where}: bad number in {line!r}, expected .COMMENT <digit> <writer> <n>")
    if int(parts[1]) != label:
        raise PenDataError(f"{where}: .COMMENT says digit {parts[1]} but its .SEGMENT says {label}")
    return int(parts[2])


# --- drawing like the pad ------------------------------------------------------------------


def to_canvas(strokes: Sequence[np.ndarray], size: int = CANVAS_SIZE, margin: float = MARGIN) -> list[np.ndarray]:
    """Return ``strokes`` (points y up, any units) as (n, 2) arrays in canvas pixels, y down.

    Flipped upright for the canvas and scaled uniformly (aspect kept) so the longer side of
    their bounding box spans ``size - 2 * margin`` pixels, centred on the ``size`` canvas.
    """
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    points = np.concatenate(arrays) if arrays else np.zeros((0, 2))
    if len(points) == 0:
        raise ValueError("no points to draw: the digit has no strokes")
    side = size - 2 * margin
    if side <= 0:
        raise ValueError(f"margin {margin} leaves no room on a canvas of size {size}")
    low, high = points.min(axis=0), points.max(axis=0)
    scale = side / max(float(np.max(high - low)), 1e-9)
    flip = np.array([scale, -scale])  # tablet y grows upwards, canvas y downwards
    return [(a - (low + high) / 2) * flip + size / 2 for a in arrays]


def render(
    digit: PenDigit | Sequence[np.ndarray],
    *,
    pen_width: float = PEN_WIDTH,
    size: int = CANVAS_SIZE,
    margin: float = MARGIN,
    polarity: str = "dark-on-light",
) -> np.ndarray:
    """Return the (size, size) float32 image in [0, 1] of ``digit`` drawn as the drawing pad draws it.

    Its strokes go onto the canvas by ``to_canvas`` and are rasterised by ``strokes.rasterize``
    with the pad's round pen of diameter ``pen_width``, as ``DrawingPad.ink()`` does.
    ``"dark-on-light"`` is what the pad shows (black ink on white, ``1 - ink``);
    ``"light-on-dark"`` is the ink itself, white on black like MNIST.
    """
    _check_polarities((polarity,))
    lines = digit.strokes if isinstance(digit, PenDigit) else digit
    return _polarized(strokes.rasterize(to_canvas(lines, size, margin), size, pen_width), polarity)


def prepare(
    digits: Sequence[PenDigit],
    *,
    pen_width: float = PEN_WIDTH,
    polarity: str = "dark-on-light",
    progress: bool | None = None,
) -> np.ndarray:
    """Return (N, 28, 28) float32 MNIST-format images of ``digits``: each ``render``-ed, then ``to_mnist``.

    ``progress`` shows a progress bar; by default only for 500 digits or more.
    """
    return _prepare_polarities(digits, pen_width, (polarity,), progress)[polarity]


def _prepare_polarities(
    digits: Sequence[PenDigit], pen_width: float, polarities: Sequence[str], progress: bool | None
) -> dict[str, np.ndarray]:
    """Return ``prepare``'s images for each of ``polarities``, rasterising each digit only once."""
    _check_polarities(polarities)
    shape = (len(digits), config.IMAGE_SIZE, config.IMAGE_SIZE)
    images = {p: np.zeros(shape, dtype=np.float32) for p in polarities}
    for i, digit in enumerate(_progress(digits, progress, f"pen {pen_width:g}")):
        ink = render(digit, pen_width=pen_width, polarity="light-on-dark")
        for polarity, out in images.items():
            out[i] = preprocess.to_mnist(_polarized(ink, polarity))
    return images


def _polarized(ink: np.ndarray, polarity: str) -> np.ndarray:
    """Return ``ink`` (1 = ink) as an image of ``polarity``: ``1 - ink`` for dark-on-light, else ``ink``."""
    return 1.0 - ink if polarity == "dark-on-light" else ink


def _check_polarities(polarities: Iterable[str]) -> None:
    """Raise ValueError unless every one of ``polarities`` is in ``POLARITIES``."""
    for polarity in polarities:
        if polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")


def _progress(items: Sequence, show: bool | None, desc: str) -> Iterable:
    """Return ``items``, wrapped in a tqdm progress bar if ``show`` (None: 500 or more, and not into a pipe or file)."""
    if not (show if show is not None else len(items) >= 500):
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False, disable=None if show is None else False)


# --- splits, evaluation and training data --------------------------------------------------


def split_by_writer(
    digits: PenDigits, *, n_validation: int = 5, n_test: int = 5, seed: int = config.SEED
) -> tuple[PenDigits, PenDigits, PenDigits]:
    """Return ``(train, validation, test)``: whole writers held out, ``n_validation`` and ``n_test`` of them.

    The writers are shuffled by ``seed`` and every digit of a writer goes to the same part
    (20/5/5 of the 30 writers by default), never a random split of the digits: one writer's
    digits look alike, so a model would be scored on the hands it was trained on.
    """
    writers = np.unique(digits.writers)
    if len(writers) <= n_validation + n_test:
        raise ValueError(f"{len(writers)} writers cannot give {n_validation} validation, {n_test} test "
                         "and at least one training writer")
    order = np.random.default_rng(seed).permutation(writers)
    test, validation, train = np.split(order, [n_test, n_test + n_validation])
    return digits.of_writers(train), digits.of_writers(validation), digits.of_writers(test)


@dataclass(frozen=True, eq=False)
class PenReport:
    """How a predictor reads real pen digits: accuracy per (pen width, polarity), and the details at one pen.

    ``images`` ((N, 28, 28), what the model saw) and ``probabilities`` ((N, 10)) are those of
    ``pen_width`` and ``polarity``, so a notebook can show the worst mistakes.
    """

    accuracy: dict[tuple[float, str], float]
    pen_width: float
    polarity: str
    labels: np.ndarray
    writers: np.ndarray
    images: np.ndarray
    probabilities: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        """The predicted digit of each image, (N,)."""
        return self.probabilities.argmax(axis=1)

    @property
    def confusion(self) -> np.ndarray:
        """The (10, 10) confusion matrix at the detailed pen: rows true digits, columns predictions."""
        return metrics.confusion_matrix(self.labels, self.predictions)

    @property
    def per_digit(self) -> np.ndarray:
        """Accuracy for each true digit 0-9, (10,) (recall; 0 for a digit not present)."""
        return metrics.per_class_scores(self.confusion)["recall"]

    @property
    def per_writer(self) -> dict[int, float]:
        """Accuracy for each writer at the detailed pen, by writer number."""
        correct = self.predictions == self.labels
        return {int(w): float(correct[self.writers == w].mean()) for w in np.unique(self.writers)}

    def mistakes(self) -> np.ndarray:
        """Return the indices of the wrong predictions, most confident first."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        return wrong[np.argsort(-self.probabilities[wrong].max(axis=1), kind="stable")]

    def to_dict(self) -> dict:
        """Return a JSON-ready summary: accuracy per pen; per writer, per digit and confusion at the detailed pen."""
        return {
            "n": int(len(self.labels)),
            "writers": sorted(self.per_writer),
            "accuracy": [{"pen_width": w, "polarity": p, "accuracy": a} for (w, p), a in self.accuracy.items()],
            "detail": {"pen_width": self.pen_width, "polarity": self.polarity},
            "per_writer": {str(w): a for w, a in self.per_writer.items()},
            "per_digit": [float(a) for a in self.per_digit],
            "confusion_matrix": self.confusion.tolist(),
        }


def evaluate(
    predictor: BatchPredictor,
    digits: PenDigits,
    *,
    pen_widths: Sequence[float] = (10, 18, 28),
    polarities: Sequence[str] = POLARITIES,
    pen_width: float = PEN_WIDTH,
    polarity: str = "dark-on-light",
    progress: bool | None = None,
) -> PenReport:
    """Return a ``PenReport`` of ``predictor`` on ``digits`` drawn at each of ``pen_widths`` x ``polarities``.

    Each digit is drawn like the pad draws it (``prepare``) and read by ``predictor.predict_batch``.
    Per writer, per digit, confusion matrix, images and probabilities are kept for ``pen_width``
    and ``polarity`` (the pad's default pen), which are scored too if not in the grid.
    """
    grid = [(float(w), p) for w in pen_widths for p in polarities] + [(float(pen_width), polarity)]
    grid = list(dict.fromkeys(grid))  # in order, without repeats
    accuracy, detail = {}, None
    for width in dict.fromkeys(w for w, _ in grid):
        wanted = [p for w, p in grid if w == width]
        for p, images in _prepare_polarities(digits, width, wanted, progress).items():
            probabilities = np.asarray(predictor.predict_batch(images))
            accuracy[(width, p)] = float(np.mean(probabilities.argmax(axis=1) == digits.labels))
            if (width, p) == (pen_width, polarity):
                detail = (images, probabilities)
    return PenReport(accuracy, float(pen_width), polarity, digits.labels, digits.writers, *detail)


def training_images(
    digits: Sequence[PenDigit],
    *,
    rng: np.random.Generator,
    pen_widths: Sequence[float] = (10, 14, 18, 22, 28),
    jitter: bool = True,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, y)``: each digit drawn once like the pad, as MNIST uint8 (N, 28, 28), and labels (N,) uint8.

    Each digit gets a pen width drawn from ``pen_widths`` and, with ``jitter``, a small random
    affine change and wobble of its points (``strokes.jitter_strokes``: rotation up to 10
    degrees, scale and aspect up to 10%, shear up to 0.15), so a digit mixed into training
    several times looks a little different each time. Give it the training writers only.
    """
    x = np.zeros((len(digits), config.IMAGE_SIZE, config.IMAGE_SIZE), dtype=np.uint8)
    for i, digit in enumerate(_progress(digits, progress, "pen training images")):
        lines = to_canvas(digit.strokes)
        lines = strokes.jitter_strokes(lines, rng) if jitter else lines
        ink = strokes.rasterize(lines, CANVAS_SIZE, float(rng.choice(pen_widths)))
        x[i] = np.round(preprocess.to_mnist(ink) * 255)
    return x, np.array([d.label for d in digits], dtype=np.uint8)
