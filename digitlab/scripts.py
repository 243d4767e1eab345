"""Handwritten digits in other scripts: Kannada, Persian, Arabic, Bengali and Tibetan beside MNIST.

``SCRIPTS`` names the registry's entries and ``get(name)`` returns one ``Script``: its display
name, its ten digits in its own glyphs (``Script.write`` shows a number in them, ``written`` a
reading with its value: ``೭ = 7``), where its data comes from (repository, pinned commit, files
with their git blob SHA-1), how to cite it and its licence terms as the source states them.

``load_digits(script)`` returns ``(x_train, y_train), (x_test, y_test)`` in MNIST's format,
found like ``data.load_mnist`` finds MNIST: the ``path`` argument, ``$DIGITLAB_SCRIPTS`` (a
folder of ``<script>.npz``), ``$DIGITLAB_DATA`` when it is a folder holding ``<script>.npz``,
``data/<script>.npz``, and otherwise a download of the official files, each checked by its git
blob SHA-1 and converted by ``script_formats`` (every image through ``preprocess.to_mnist``).
A file without a test split gets one from ``split_test``, which holds out whole writers where
the set records them. ``load_digits("western")`` is ``data.load_mnist``.

``model_data`` splits a script's digits for a model (validation off the training part, the
loader's test split), one way for ``train`` and for ``calibration``; ``find_model`` names the
model file that reads a script (``config.script_model``), or says how to train a missing one.

This module needs numpy, Pillow and scipy only, never TensorFlow.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from digitlab import config, data, script_formats
from digitlab.data import DataError, Split
from digitlab.files import ModelFileError, atomic_path, check_model_path

__all__ = [
    "RAW_URL", "TEST_FRACTION", "RawFile", "Script", "REGISTRY", "SCRIPTS", "get", "block_writers", "load_digits", "find_digits",
    "given_digits_source", "default_digits_path", "read_digits", "split_test", "download_digits", "convert",
    "git_blob_sha1", "ANY", "check_name", "ModelData", "model_data", "take_per_class", "card_script", "check_trained_on",
    "find_model",
    "written", "short_name", "local_digits", "ANY_CLASSES", "classes_of", "any_labels", "value_logits", "reading_scores",
    "read_any",
]

#: Where GitHub serves a repository's files at a commit: ``<RAW_URL>/<owner>/<name>/<commit>/<path>``.
RAW_URL = "https://raw.githubusercontent.com"
#: Share of the images ``split_test`` holds out when a set has no test split of its own.
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class RawFile:
    """One official file: its path in the repository at the pinned commit, and its git blob SHA-1."""

    path: str
    blob_sha1: str


@dataclass(frozen=True)
class Script:
    """One writing system's handwritten digits: how to show them, where they come from, how to cite them."""

    name: str                    # registry key, and the file name ``<name>.npz``
    display_name: str
    digits: str                  # the digits 0-9 in the script's own glyphs
    dataset: str                 # the data set's own name
    repository: str              # GitHub owner/name holding the official files ("" for MNIST)
    commit: str                  # the pinned commit those files are taken at
    reader: str                  # their format: a key of ``script_formats.READERS``
    train: tuple[RawFile, ...]   # files of the training split, in the reader's argument order
    test: tuple[RawFile, ...]    # files of the official test split; () when the set has none
    split: str                   # which test split ``load_digits`` uses, and why
    citation: str
    licence: str                 # the terms, as the source states them
    block_rows: int = 0          # a file without a test split runs writer (or sheet) by writer in blocks of
                                 # this many rows (the offline copies' order); 0 where the order says nothing
    dot_zero: bool = False       # its zero is a small dot (Persian, Arabic): a mark too small for another digit
                                 # can be it, so ``Predictor.recognise`` does not decline it as "too small"

    @property
    def source(self) -> str:
        """The web address of the official files: the repository at its pinned commit (Keras's file for MNIST)."""
        return f"https://github.com/{self.repository}/tree/{self.commit}" if self.repository else data.MNIST_URL

    def url(self, file: RawFile, base: str = RAW_URL) -> str:
        """Return the address of ``file`` at the pinned commit under ``base``, spaces and all URL-encoded."""
        return f"{base}/{self.repository}/{self.commit}/{quote(file.path)}"

    def write(self, value: int | str) -> str:
        """Return ``value`` (a number, or a string of 0-9) written in this script's digits; other characters stay."""
        return str(value).translate(str.maketrans("0123456789", self.digits))


def _files(*paths_and_hashes: str) -> tuple[RawFile, ...]:
    """Return RawFiles from alternating paths and git blob SHA-1s."""
    return tuple(RawFile(p, h) for p, h in zip(paths_and_hashes[::2], paths_and_hashes[1::2], strict=True))


_KANNADA = "data/output_tensors/MNIST_format/"
_STRATIFIED = f"a seeded split stratified by digit holds out {TEST_FRACTION:.0%}, as the set records no writers"

#: Every script, by name: MNIST's Western digits first, then the others.
REGISTRY: dict[str, Script] = {s.name: s for s in (
    Script(
        name="western", display_name="Western (MNIST)", digits="0123456789", dataset="MNIST",
        repository="", commit="", reader="", train=(), test=(),
        split="MNIST's own test set: 10,000 digits by writers kept apart from the training set's.",
        citation="Y. LeCun, C. Cortes and C. J. C. Burges, The MNIST database of handwritten digits (1998).",
        licence="Yann LeCun and Corinna Cortes hold the copyright of MNIST, a derivative work of NIST's data; "
                "it is made available under the Creative Commons Attribution-Share Alike 3.0 license "
                "(as Keras's mnist.load_data states).",
    ),
    Script(
        name="kannada", display_name="Kannada", digits="೦೧೨೩೪೫೬೭೮೯", dataset="Kannada-MNIST",
        repository="vinayprabhu/Kannada_MNIST", commit="f8390ece0c6990551e6f35189ccc42757bb29c43", reader="idx",
        train=_files(f"{_KANNADA}X_kannada_MNIST_train-idx3-ubyte.gz", "b588ed8355da1fc0dd0c2707947c132f7aa427c0",
                     f"{_KANNADA}y_kannada_MNIST_train-idx1-ubyte.gz", "bcfa4effc50c989ea25264975dc38e14d6f8ecc1"),
        test=_files(f"{_KANNADA}X_kannada_MNIST_test-idx3-ubyte.gz", "1dc875a6b5278cf9504eda58ac28530bb65817e9",
                    f"{_KANNADA}y_kannada_MNIST_test-idx1-ubyte.gz", "46809f488ce804791478598cc66f7ef85639eae1"),
        split="Downloaded: Kannada-MNIST's official 60,000 / 10,000 train and test files. A file without a test "
              f"split (the offline copy is the official test file alone): {_STRATIFIED}.",
        citation='Prabhu, Vinay Uday. "Kannada-MNIST: A new handwritten digits dataset for the Kannada language." '
                 "arXiv preprint arXiv:1908.01242 (2019).",
        licence="None stated in the repository (it has no licence file); its README asks papers to cite Prabhu (2019).",
    ),
    Script(
        name="persian", display_name="Persian", digits="۰۱۲۳۴۵۶۷۸۹", dataset="HODA",
        repository="amir-saniyan/HodaDatasetReader", commit="728dd5465fcf38c3c82a1d3fda721da30b2e70ed", reader="hoda",
        train=_files("DigitDB/Train 60000.cdb", "a87ae8c4b1a9e9227f600194ae82a8af3d0e08ec"),
        test=_files("DigitDB/Test 20000.cdb", "1928104d6d0537c653ec2105d666e0b6733aabbf"), dot_zero=True,
        split="Downloaded: HODA's official 60,000 / 20,000 train and test files. A file without a test split "
              f"(the offline copy is HODA's randomised RemainingSamples): {_STRATIFIED}.",
        citation='H. Khosravi and E. Kabir, "Introducing a very large dataset of handwritten Farsi digits and a '
                 'study on their varieties", Pattern Recognition Letters 28(10), 1133-1141 (2007).',
        licence="This dataset is free of charge for research purposes and non commercial uses only "
                "(HodaDatasetReader's README; the reader's own code is MIT-licensed).",
    ),
    Script(
        name="arabic", display_name="Arabic (Eastern Arabic-Indic)", digits="٠١٢٣٤٥٦٧٨٩", dataset="MADBase",
        repository="mloey/Arabic-Handwritten-Digits-Dataset", commit="0e691d1b38f9a08ceb91325becb633d8b97b135b",
        reader="madbase",
        train=_files("Train Images.zip", "bb1bcd13f2b92ba2d20de0c2d33e0476853ffc84"),
        test=_files("Test Images.zip", "c43371bdf21be27a37b3e10c1b7e75e619716589"), block_rows=100, dot_zero=True,
        split="Downloaded: MADBase's official 60,000 / 10,000 train and test archives, by different writers. A "
              "file without a test split (the offline copy: the test archive's ids 1-8000) runs writer by writer, "
              f"100 images each (every digit ten times), so whole writers are held out, {TEST_FRACTION:.0%} of "
              "them, and every digit keeps its share.",
        citation='A. El-Sawy, H. El-Bakry and M. Loey, "CNN for Handwritten Arabic Digits Recognition Based on '
                 'LeNet-5", Proceedings of AISI 2016, Springer (2016). MADBase: S. Abdelazeem and E. El-Sherif.',
        licence="None stated in the repository (its README is its title alone).",
    ),
    Script(
        name="bengali", display_name="Bengali", digits="০১২৩৪৫৬৭৮৯", dataset="NumtaDB",
        repository="naimul011/Bangla-Handwritten-Digits-Datasets-NumtaDB-BanglaLekha-Ekush",
        commit="c52aedee8254a661738a44bd204ec92d0fbb6390", reader="numtadb",
        train=_files("datasets/numtaX_train.zip", "57adfe8c32a5bd89df02f26ec176345cf8a59ac6",
                     "datasets/numtaY_train.zip", "69ea2424168a1af106ae798a8aa7e824f804e493"),
        test=(),
        split=f"NumtaDB's training set comes without a test split, downloaded or offline: {_STRATIFIED}.",
        citation='S. Alam, T. Reasat, R. M. Doha and A. I. Humayun, "NumtaDB - Assembled Bengali Handwritten '
                 'Digits", arXiv:1806.02452 (2018).',
        licence="None stated in the repository; NumtaDB is CC BY-SA 4.0 where Bengali.AI publishes it.",
    ),
    Script(
        name="tibetan", display_name="Tibetan", digits="༠༡༢༣༤༥༦༧༨༩", dataset="TibetanMNIST",
        repository="bat67/TibetanMNIST", commit="71789520fb9ea2b6c66aec40d3087b9d819158ad", reader="tibetan-npz",
        train=_files("Datasets/TibetanMNIST.npz", "554c2a4336abc43646fcce4f16014d065909047e"), test=(), block_rows=575,
        split="Downloaded: TibetanMNIST's npz has no test split and records no sheets, so a seeded split "
              f"stratified by digit holds out {TEST_FRACTION:.0%}. A file without a test split (the offline "
              "copy: 14,360 scans of sheets 1-25, kept sheet by sheet, as its digit counts per block show) is cut "
              "into 25 blocks of 575 rows, about one sheet each, and whole blocks are held out, "
              f"{TEST_FRACTION:.0%} of them: test digits come from sheets not in training but for the blocks' "
              "edges. The scans name their sheet: read_tibetan_jpgs returns it, for split_test(groups=sheets).",
        citation="TibetanMNIST, by the student team 巨神人工智能科技 of Minzu University of China (2018), "
                 "https://github.com/bat67/TibetanMNIST.",
        licence="CC BY-NC-SA 4.0; the repository's dataset notes add that the copyright is Minzu University of "
                "China's and that every use must name the data's source.",
    ),
)}
#: The registry's names, in order.
SCRIPTS: tuple[str, ...] = tuple(REGISTRY)
#: The name that asks for the model reading every script at once (``Predictor``, the CLI's ``--script``).
ANY = "any"
#: Classes of the any-script model: each script's ten digits in ``SCRIPTS`` order (class ``10 * i + d``
#: is digit ``d`` of ``SCRIPTS[i]``; Western's are 0-9, so Western labels are any-script labels as they are).
ANY_CLASSES = len(SCRIPTS) * config.NUM_CLASSES


def classes_of(script: str) -> int:
    """Return how many classes a model of ``script`` has: 10 digits, or ``ANY_CLASSES`` for the any-script model."""
    return ANY_CLASSES if check_name(script, any_ok=True) == ANY else config.NUM_CLASSES


def any_labels(name: str, y: np.ndarray) -> np.ndarray:
    """Return the any-script model's labels (int64) of script ``name``'s digit labels ``y``: ``10 * index + digit``."""
    return np.asarray(y, np.int64) + SCRIPTS.index(check_name(name)) * config.NUM_CLASSES


def reading_scores(labels: np.ndarray, values: np.ndarray, scripts_read: np.ndarray) -> dict:
    """Return how the any-script model read images of labels ``any_labels``: value right, script right, per script.

    ``values`` and ``scripts_read`` are what ``read_any`` returns: the value read (a Persian 2 read
    as an Arabic 2 reads the right value) and the index of the script named. ``value_accuracy`` is
    over all images, ``by_script`` each script's value accuracy.
    """
    labels = np.asarray(labels)
    value_right = np.asarray(values) == labels % config.NUM_CLASSES
    script_of = labels // config.NUM_CLASSES
    return {"value_accuracy": float(value_right.mean()),
            "script_accuracy": float(np.mean(np.asarray(scripts_read) == script_of)),
            "by_script": {name: float(value_right[script_of == i].mean())
                          for i, name in enumerate(SCRIPTS) if np.any(script_of == i)}}


def read_any(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (N,) the value and (N,) the script index the any-script model's (N, 60) logits read.

    The value is the most probable of the ten values summed over the scripts (``value_logits``),
    the script that of the most probable class. Log-probabilities serve as well as logits.
    """
    logits = np.asarray(logits)
    return value_logits(logits).argmax(axis=-1), logits.argmax(axis=-1) // config.NUM_CLASSES


def value_logits(logits: np.ndarray) -> np.ndarray:
    """Return (..., 10) logits of the digit values from the any-script model's (..., 60): a log-sum-exp over the scripts.

    Their softmax is the probability of each value summed over the scripts (a Persian 2 and an
    Arabic 2 both read 2), and their energy equals the 60 logits' energy.
    """
    logits = np.asarray(logits, np.float64)
    grouped = logits.reshape(*logits.shape[:-1], len(SCRIPTS), config.NUM_CLASSES)
    peak = grouped.max(axis=-2, keepdims=True)
    return (np.log(np.exp(grouped - peak).sum(axis=-2)) + peak[..., 0, :]).astype(np.float32)


def get(name: str | Script) -> Script:
    """Return the registry's ``Script`` called ``name`` (a ``Script`` as is); ValueError listing the names."""
    if isinstance(name, Script):
        return name
    return REGISTRY[check_name(name)]


def written(digit: int, script: str | Script, *, glyph: bool = True) -> str:
    """Return ``digit`` as a reading shows it: ``7`` for Western digits, else the script's glyph and value (``೭ = 7``).

    The value stays beside the glyph so that a reader who does not know the script still
    sees what was read; the CLI's ``predict`` and the drawing pad both write readings so.
    ``glyph`` False writes the value alone (``7``), for a font that has no such glyphs (matplotlib's default).
    """
    s = get(script)
    if isinstance(digit, bool) or not (isinstance(digit, (int, np.integer)) and 0 <= digit < config.NUM_CLASSES):
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}")
    return str(digit) if s.name == "western" or not glyph else f"{s.write(int(digit))} = {int(digit)}"


def short_name(script: str | Script) -> str:
    """Return the script's display name without its note in brackets: ``Arabic``, ``Western`` (for a reading's script)."""
    return get(script).display_name.split(" (")[0]


def check_name(name: str, *, any_ok: bool = False) -> str:
    """Return ``name`` if it names a script of the registry (or is ``ANY``, where ``any_ok``); ValueError listing the choices."""
    if isinstance(name, str) and (name in REGISTRY or (any_ok and name == ANY)):
        return name
    choices = (*SCRIPTS, ANY) if any_ok else SCRIPTS
    raise ValueError(f"unknown script {name!r}: choose one of {', '.join(choices)}")


# --- finding and loading ----------------------------------------------------------------------


def default_digits_path(script: str | Script) -> Path:
    """Return where a script's downloaded digits are kept: ``data/<script>.npz`` in the repo."""
    return config.DATA_DIR / f"{get(script).name}.npz"


def given_digits_source(
    script: str | Script, path: str | os.PathLike | None = None, *, name: str = "path argument"
) -> Path | None:
    """Return the ``<script>.npz`` named by ``path`` or ``$DIGITLAB_SCRIPTS`` (a file, or a folder holding it), or None.

    A named file or folder must exist and a named folder must hold ``<script>.npz`` (DataError
    otherwise, calling ``path`` by ``name``): it is never silently replaced. Nothing is read.
    For ``"western"`` this is ``data.given_source`` (``path`` or ``$DIGITLAB_DATA``, MNIST's).
    """
    s = get(script)
    if not s.repository:
        return data.given_source(path, name=name)
    given = data.given_source(path, name=name, env=config.SCRIPTS_ENV, what=f"{s.display_name} digits file",
                              hint=f"name {s.name}.npz or a folder holding it")
    if given is None or not given.is_dir():
        return given
    inside = given / f"{s.name}.npz"
    if not inside.exists():
        origin = name if path else f"${config.SCRIPTS_ENV}"
        raise DataError(f"the folder given by {origin} holds no {s.name}.npz: {given}")
    return inside


def find_digits(script: str | Script, path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the ``<script>.npz`` to read: ``path``, ``$DIGITLAB_SCRIPTS``, ``$DIGITLAB_DATA``, ``data/`` or a download.

    ``$DIGITLAB_DATA`` belongs to MNIST: its folder is used only when it holds ``<script>.npz``.
    For ``"western"`` this is ``data.find_mnist``.
    """
    s = get(script)
    if not s.repository:
        return data.find_mnist(path, download=download)
    named = given_digits_source(s, path)
    folder = os.environ.get(config.DATA_ENV)
    shared = Path(folder).expanduser() / f"{s.name}.npz" if folder else None
    if named is None and shared is not None and shared.is_file():
        named = shared
    local = default_digits_path(s)
    return data.locate(named, local, download=download, fetch=lambda dest: download_digits(s, dest),
                       refuse=lambda reason: DataError(_no_digits_message(s, local, reason=reason)))


def load_digits(script: str | Script, path: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Return ``(x_train, y_train), (x_test, y_test)`` of a script's digits: uint8 (N, 28, 28) and (N,), MNIST-style.

    The file is found by ``find_digits`` (``path``, ``$DIGITLAB_SCRIPTS``, ``$DIGITLAB_DATA``'s
    folder, ``data/<script>.npz``, a download); one without a test split gets one from
    ``split_test``. ``"western"`` is MNIST, loaded by ``data.load_mnist(path)``. ``ANY`` joins
    every script's splits with the any-script model's labels (``any_labels``); ``path`` then
    names MNIST's file only.
    """
    if script == ANY:  # every script's, with the any-script model's labels
        parts = {name: load_digits(name, path if name == "western" else None) for name in SCRIPTS}
        return tuple((np.concatenate([p[k][0] for p in parts.values()]),  # type: ignore[return-value]
                      np.concatenate([any_labels(name, p[k][1]) for name, p in parts.items()])) for k in (0, 1))
    s = get(script)
    if not s.repository:  # MNIST
        return data.load_mnist(path)
    return read_digits(find_digits(s, path), s)


def local_digits(names: Sequence[str], *, on_missing: Callable[[str, DataError], None] | None = None,
                 ) -> dict[str, tuple[Split, Split]]:
    """Return the train and test splits of each of ``names`` whose file is found here (``find_digits``), never downloaded.

    A script whose file is not here (or unreadable) is left out, after ``on_missing(name, error)``
    if given: for the optional extras (other scripts' digits as non-digits) that must never start a
    download.
    """
    found = {}
    for name in names:
        try:
            found[name] = read_digits(find_digits(name, download=False), name)
        except DataError as exc:
            if on_missing is not None:
                on_missing(name, exc)
    return found


def read_digits(path: str | os.PathLike, script: str | Script) -> tuple[Split, Split]:
    """Return the train and test splits stored in a script's npz, holding out a test split if it has none.

    ``x_train`` and ``y_train`` are required, ``x_test`` and ``y_test`` optional (together);
    every array is checked like MNIST's and a malformed file is refused with DataError naming it.
    """
    s, path = get(script), Path(path)
    arrays = data.read_npz(path, keys=("x_train", "y_train"), optional=("x_test", "y_test"),
                           what=f"a digits npz for {s.display_name}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: holds only one of x_test and y_test (both or neither)")
    data.validate(arrays, path, splits=("train", "test") if "x_test" in arrays else ("train",))
    if "x_test" in arrays:
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    return split_test(arrays["x_train"], arrays["y_train"], script=s)


def _no_digits_message(s: Script, local: Path, *, reason: str) -> str:
    """Return the message for a script's digits found nowhere: ``reason`` and every way to provide them."""
    return data.not_found_message(f"{s.display_name} digits", reason, [
        f"pass a path: load_digits({s.name!r}, 'path/to/{s.name}.npz')",
        f"set ${config.SCRIPTS_ENV} (or ${config.DATA_ENV}) to a folder holding {s.name}.npz",
        f"put it at {local}", f"connect to the internet and it is made from the official files at {s.source}",
    ], provide=f"{s.name}.npz")


# --- the test split ---------------------------------------------------------------------------


def split_test(
    x: np.ndarray, y: np.ndarray, *, script: str | Script, seed: int = config.SEED,
    groups: np.ndarray | None = None, test_fraction: float = TEST_FRACTION,
) -> tuple[Split, Split]:
    """Return ``(x_train, y_train), (x_test, y_test)``: a seeded test split keeping writers apart where known.

    ``groups`` (a writer or sheet per image) or else the script's ``block_rows`` (the file runs
    writer by writer: MADBase's 100 per writer, TibetanMNIST's ~575 per sheet) make it hold out
    whole groups, about ``test_fraction`` of them; without either, a seeded split stratified by digit.
    """
    s = get(script)
    data.check_held_out_share(test_fraction, "test_fraction")
    if groups is None:
        groups = block_writers(s, len(y))
    if groups is None:
        return data.train_val_split(x, y, val_fraction=test_fraction, seed=seed)
    test = _held_out(np.asarray(groups), np.asarray(y), test_fraction, seed)
    return (x[~test], y[~test]), (x[test], y[test])


def block_writers(script: str | Script, rows: int) -> np.ndarray | None:
    """Return the writer (or sheet) of each of ``rows`` rows of a file that runs writer by writer in ``block_rows``; None if not."""
    rows_each = get(script).block_rows
    return np.arange(rows) // rows_each if rows_each else None


def _held_out(groups: np.ndarray, y: np.ndarray, fraction: float, seed: int, *, tries: int = 200) -> np.ndarray:
    """Return a mask of the rows of about ``fraction`` of the groups, chosen so each digit keeps about its share.

    Of ``tries`` seeded random choices of whole groups, the one whose worst digit is held out
    closest to ``fraction`` wins: groups stay whole and the split stays as stratified as they allow.
    """
    if groups.shape != y.shape:
        raise ValueError(f"groups must give one group per image: shape {groups.shape}, expected {y.shape}")
    ids, index = np.unique(groups, return_inverse=True)
    if len(ids) < 2:
        raise ValueError(f"holding out whole groups needs at least two of them, got {len(ids)}")
    count = min(len(ids) - 1, max(1, round(len(ids) * fraction)))
    table = np.bincount(index * config.NUM_CLASSES + y, minlength=len(ids) * config.NUM_CLASSES)
    table = table.reshape(len(ids), config.NUM_CLASSES)
    total = np.maximum(table.sum(axis=0), 1)
    rng = np.random.default_rng(seed)
    choices = [rng.choice(len(ids), size=count, replace=False) for _ in range(tries)]
    best = min(choices, key=lambda chosen: np.abs(table[chosen].sum(axis=0) / total - fraction).max())
    return np.isin(index, best)


# --- a model's data and its file ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModelData:
    """A script's digits as one model sees them: the file they came from, and its three splits."""

    source: Path
    train: Split
    validation: Split
    test: Split
    sources: dict[str, Path] | None = None
    """For the any-script model, each script's file (``source`` is MNIST's); else None."""


def model_data(
    script: str | Script, path: str | os.PathLike | None = None, *, fraction: float = 1.0,
    per_class: int | None = None, val_fraction: float = 0.1, seed: int = config.SEED,
) -> ModelData:
    """Return the data a model of ``script`` trains on: validation held out of the training part, the loader's test split.

    The file is found by ``find_digits`` and read by ``load_digits`` (MNIST for ``"western"``); a
    seeded ``fraction`` of its training part is kept (``data.subset``), ``split_test`` holds out
    ``val_fraction`` of it for validation the way the test split is held out (whole writers or
    sheets of a script with ``block_rows``, so validation judges a model on writers it never saw, as
    the test does; else stratified by digit), and then ``per_class`` (None: all) keeps that
    many training images of each digit (``take_per_class``), so the validation images are the same
    whatever ``per_class``. ``train.prepare_data`` and ``calibration.calibration_data`` both call
    it: a calibration sees its model's own split. For ``ANY``, each script's data is split so
    (``path`` names MNIST's file only) and the splits are joined with ``any_labels``.
    """
    if script == ANY:
        parts = {name: model_data(name, path if name == "western" else None, fraction=fraction, per_class=per_class,
                                  val_fraction=val_fraction, seed=seed) for name in SCRIPTS}

        def joined(part: str) -> Split:
            return (np.concatenate([getattr(p, part)[0] for p in parts.values()]),
                    np.concatenate([any_labels(name, getattr(p, part)[1]) for name, p in parts.items()]))
        return ModelData(parts["western"].source, joined("train"), joined("validation"), joined("test"),
                         {name: p.source for name, p in parts.items()})
    data.check_held_out_share(val_fraction, "val_fraction")  # before split_test, which would name it test_fraction
    source = find_digits(script, path)
    (x_all, y_all), test = load_digits(script, source)
    kept, _ = data.subset(np.arange(len(y_all)), y_all, fraction, seed=seed)  # rows kept, in file order
    rows = get(script).block_rows
    blocks = kept // rows if rows else None
    train, validation = split_test(x_all[kept], y_all[kept], script=script, seed=seed, groups=blocks,
                                   test_fraction=val_fraction)
    if per_class is not None:
        train = take_per_class(*train, per_class, seed=seed)
    return ModelData(source, train, validation, test)


def take_per_class(x: np.ndarray, y: np.ndarray, n: int, *, seed: int = config.SEED) -> Split:
    """Return ``n`` images of each digit of ``(x, y)``, chosen by ``seed``, in their original order.

    Each digit's images are shuffled once by ``seed`` and the first ``n`` kept, so with one seed
    the sets are nested (the 10 per digit are among the 30): data-efficiency curves compare like
    with like. ValueError if a digit has fewer than ``n`` images.
    """
    if n < 1:
        raise ValueError(f"per_class must be 1 or more, got {n}")
    rng = np.random.default_rng(seed)
    chosen = []
    for digit in range(config.NUM_CLASSES):
        idx = np.flatnonzero(y == digit)
        if len(idx) < n:
            raise ValueError(f"per_class={n}: only {len(idx)} training images of digit {digit} to choose from")
        chosen.append(rng.permutation(idx)[:n])
    keep = np.sort(np.concatenate(chosen))
    return x[keep], y[keep]


def card_script(card: dict) -> str:
    """Return the script a model card says its model reads: ``western`` for cards written before scripts were recorded."""
    return check_name(card.get("script", "western"), any_ok=True)


def check_trained_on(card: dict, source: Path, sources: dict[str, Path] | None = None) -> None:
    """Raise ValueError unless ``source`` (and, for the any-script model, each of ``sources``) is the file the card names.

    Compared by SHA-256: another file would put training images into the validation split.
    """
    trained_on = card.get("training_data", {})
    for name, path in (sources or {card_script(card): source}).items():
        wanted = (trained_on.get("sources") or {}).get(name, trained_on)
        if data.sha256(path) != wanted["sha256"]:
            raise ValueError(f"{path} is not the file the model was trained on ({wanted.get('source_file')}, "
                             f"SHA-256 {wanted['sha256'][:12]}...): pass that file with --data")


def find_model(script: str, model_path: str | os.PathLike | None = None) -> Path:
    """Return the model file that reads ``script``: ``model_path`` if given, else its shipped model.

    The shipped model's place is ``config.script_model(script)``. Only the file system is
    consulted (no TensorFlow), so the CLI checks it before loading anything; a missing or
    unusable file raises ModelFileError, for a missing shipped model saying how to train it.
    """
    name = check_name(script, any_ok=True)
    path = Path(model_path) if model_path else config.script_model(name)
    if model_path or path.exists():
        return check_model_path(path)
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    if name == ANY:
        raise ModelFileError(f"no any-script model at {path}: train it with `python -m digitlab train --script any "
                             f"--out {shown}`, or read one script at a time, with script (--script) one of "
                             f"{', '.join(SCRIPTS)}")
    option = "" if name == "western" else f" --script {name}"
    raise ModelFileError(f"no {get(name).display_name} model at {path}: train it with "
                         f"`python -m digitlab train{option} --out {shown}`")


# --- downloading and converting ---------------------------------------------------------------


def git_blob_sha1(path: str | os.PathLike) -> str:
    """Return the git blob SHA-1 of a file: the hash a repository's tree records, ``sha1(b"blob <size>\\0" + data)``."""
    with open(path, "rb") as f:
        seeded = hashlib.sha1(b"blob %d\0" % os.fstat(f.fileno()).st_size)
        return hashlib.file_digest(f, lambda: seeded).hexdigest()


def download_digits(script: str | Script, dest: Path | None = None, *, base: str | None = None) -> Path:
    """Return ``dest`` after making it from the script's official files: downloaded, hash-checked, converted.

    Each file comes from ``Script.url(file, base)`` (``base`` defaults to ``RAW_URL``) and must
    have its git blob SHA-1; the images go through ``convert`` and the four arrays are written
    to ``dest`` (``data/<script>.npz`` by default) through a temporary file. Nothing is left
    behind unless every step succeeded.
    """
    s = get(script)
    if not s.repository:
        raise ValueError(f"{s.name} is MNIST: data.download_mnist fetches it")
    dest = Path(dest) if dest else default_digits_path(s)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=f".{s.name}-raw-", dir=dest.parent) as folder:
            fetched = [[_fetch(s, f, Path(folder), base or RAW_URL) for f in files] for files in (s.train, s.test)]
            arrays = convert(s, *fetched)
    except OSError as exc:  # the chain (socket error, URLError) adds nothing to the message
        raise DataError(_no_digits_message(s, dest, reason=f"download failed: {exc}")) from None
    with atomic_path(dest, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return dest


def _fetch(s: Script, file: RawFile, folder: Path, base: str) -> Path:
    """Return where ``file`` of ``s`` was downloaded into ``folder``, checked by its git blob SHA-1."""
    return data.download_checked(s.url(file, base), folder / Path(file.path).name, expected=file.blob_sha1,
                                 digest=git_blob_sha1, digest_name="git blob SHA-1")


def convert(script: str | Script, train: Sequence[Path], test: Sequence[Path] = ()) -> dict[str, np.ndarray]:
    """Return ``x_train, y_train, x_test, y_test`` in MNIST format, made from a script's official files.

    ``train`` and ``test`` are the files in the registry's order; the script's reader reads them
    and ``script_formats.to_mnist_batch`` normalises every image (blank ones are left out). With
    no ``test`` files, a seeded split stratified by digit holds out ``TEST_FRACTION``: the order of
    those official files (NumtaDB, TibetanMNIST's npz) is not known to run by writer or sheet.
    """
    s = get(script)
    read = script_formats.READERS[s.reader]
    x, y = _normalised(read(*train), f"{s.name} train")
    if test:
        x_test, y_test = _normalised(read(*test), f"{s.name} test")
    else:
        (x, y), (x_test, y_test) = data.train_val_split(x, y, val_fraction=TEST_FRACTION, seed=config.SEED)
    return {"x_train": x, "y_train": y, "x_test": x_test, "y_test": y_test}


def _normalised(raw: script_formats.Raw, desc: str) -> Split:
    """Return the images of ``raw`` in MNIST format and their labels, blank images left out."""
    images, labels = raw
    x, kept = script_formats.to_mnist_batch(images, desc=f"normalising {desc}")
    return x, labels[kept]
