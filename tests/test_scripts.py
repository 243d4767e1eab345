"""digitlab.scripts and script_formats: the registry, every converter on genuine raw files, the
lookup order and its errors, the held-out test splits, and the download against a local server."""
from __future__ import annotations

import dataclasses
import functools
import http.server
import importlib
import inspect
import io
import os
import threading
import unicodedata
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import fake_arrays
from digitlab import config, data, preprocess, scripts
from digitlab import script_formats as formats
from digitlab.files import ModelFileError
from digitlab.scripts import RawFile

#: Unicode's name for each script's digits ("KANNADA DIGIT ZERO", ...).
UNICODE_NAMES = {"western": "DIGIT", "kannada": "KANNADA DIGIT", "persian": "EXTENDED ARABIC-INDIC DIGIT",
                 "arabic": "ARABIC-INDIC DIGIT", "bengali": "BENGALI DIGIT", "tibetan": "TIBETAN DIGIT"}
#: git blob SHA-1 of HODA's RemainingSamples.cdb (the offline copies' README lists it).
REMAINING_BLOB = "9d2fcb7a4e6ce0f8657a2bf27a6751f2317b2d52"
KANNADA_X, KANNADA_Y = "kannada/X_kannada_MNIST_test-idx3-ubyte.gz", "kannada/y_kannada_MNIST_test-idx1-ubyte.gz"


@pytest.fixture(scope="session")
def offline() -> Path:
    """The folder of offline copies ``$DIGITLAB_SCRIPTS`` names (CI sets it), with the raw files in ``raw/``."""
    folder = os.environ.get(config.SCRIPTS_ENV)
    if not folder:
        pytest.skip(f"set ${config.SCRIPTS_ENV} to the folder of offline copies (see data/README.md)")
    return Path(folder)


@pytest.fixture(scope="session")
def raw(offline) -> Path:
    return offline / "raw"


@pytest.fixture(scope="session")
def hoda(raw):
    """HODA's genuine RemainingSamples.cdb, read once."""
    return formats.read_hoda_cdb(raw / "persian/RemainingSamples.cdb")


@pytest.fixture
def isolated(isolated_data, monkeypatch) -> Path:
    """No ``$DIGITLAB_SCRIPTS`` or ``$DIGITLAB_DATA`` and an empty ``data/``: the loader's own search."""
    monkeypatch.delenv(config.SCRIPTS_ENV, raising=False)
    return isolated_data


def offline_arrays(offline: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(offline / f"{name}.npz") as npz:
        return {k: npz[k] for k in npz.files}


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the Pearson correlation of each pair of images a[i], b[i]."""
    a, b = (v.reshape(len(v), -1).astype(np.float64) for v in (a, b))
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def assert_like_offline(images, labels, offline: Path, name: str, n: int = 200) -> None:
    """The first ``n`` raw images, normalised here, match the offline copy's (made elsewhere) in label and shape."""
    x, kept = formats.to_mnist_batch(images[:n])
    copy = offline_arrays(offline, name)
    assert kept.all() and x.shape == (n, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(labels[:n], copy["y_train"][:n])
    assert np.median(correlation(x, copy["x_train"][:n])) > 0.85


# --- the registry -----------------------------------------------------------------------------


def test_registry_lists_six_scripts_with_their_own_digits():
    assert scripts.SCRIPTS == ("western", "kannada", "persian", "arabic", "bengali", "tibetan")
    for name in scripts.SCRIPTS:
        s = scripts.get(name)
        assert s.name == name and len(s.digits) == 10
        assert [unicodedata.digit(c) for c in s.digits] == list(range(10))
        assert all(unicodedata.name(c).startswith(UNICODE_NAMES[name]) for c in s.digits)
        assert s.citation and s.licence and s.split and s.display_name
    assert scripts.get("kannada").write(1908) == "೧೯೦೮" and scripts.get("arabic").write("3.5") == "٣.٥"
    with pytest.raises(dataclasses.FrozenInstanceError):
        scripts.get("tibetan").digits = "0123456789"

def test_a_reading_is_written_as_the_glyph_with_its_value():
    assert scripts.written(7, "western") == "7"
    assert scripts.written(7, "kannada") == "೭ = 7" and scripts.written(np.int64(0), "tibetan") == "༠ = 0"
    assert [scripts.written(d, "persian")[0] for d in range(10)] == list(scripts.get("persian").digits)
    assert scripts.written(7, "kannada", glyph=False) == "7"  # for fonts without the glyph
    for wrong in (10, -1, 2.0, True):
        with pytest.raises(ValueError, match="digit must be an integer from 0 to 9"):
            scripts.written(wrong, "arabic")
    with pytest.raises(ValueError, match="unknown script 'klingon'"):
        scripts.written(1, "klingon")



def test_every_source_is_pinned_and_hashed():
    for name in scripts.SCRIPTS[1:]:
        s = scripts.get(name)
        assert len(s.commit) == 40 and s.reader in formats.READERS and s.train
        assert all(len(f.blob_sha1) == 40 and int(f.blob_sha1, 16) >= 0 for f in (*s.train, *s.test))
        assert s.source == f"https://github.com/{s.repository}/tree/{s.commit}"
    arabic = scripts.get("arabic")
    assert arabic.url(arabic.test[0]) == f"{scripts.RAW_URL}/{arabic.repository}/{arabic.commit}/Test%20Images.zip"
    assert scripts.get("western").source == data.MNIST_URL


def test_unknown_script_lists_the_names():
    with pytest.raises(ValueError, match="unknown script 'klingon': choose one of western, kannada, persian, "
                                         "arabic, bengali, tibetan"):
        scripts.load_digits("klingon")
    s = scripts.get("bengali")
    assert scripts.get(s) is s


@pytest.mark.parametrize("module", [scripts, formats])
def test_all_lists_the_public_names(module):
    defined = {n for n, obj in vars(module).items() if not n.startswith("_")
               and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}
    assert defined <= set(module.__all__) and all(hasattr(module, n) for n in module.__all__)
    assert importlib.import_module("digitlab").scripts is scripts


def test_git_blob_sha1_is_what_git_records(tmp_path, raw):
    hello = tmp_path / "hello"
    hello.write_bytes(b"hello\n")
    assert scripts.git_blob_sha1(hello) == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    kannada = scripts.get("kannada")
    assert [scripts.git_blob_sha1(raw / p) for p in (KANNADA_X, KANNADA_Y)] == [f.blob_sha1 for f in kannada.test]
    assert scripts.git_blob_sha1(raw / "persian/RemainingSamples.cdb") == REMAINING_BLOB


# --- converters, on the genuine raw files -----------------------------------------------------


def hoda_bytes(images, labels) -> bytes:
    """Return a HODA .cdb file of binary images of any size: the format read_hoda_cdb reads, written anew."""
    header = bytearray(formats.HODA_HEADER)
    header[6:10] = len(images).to_bytes(4, "little")  # height and width 0: each record gives its own
    records = [bytes(header)]
    for image, label in zip(images, labels):
        body = bytearray()
        for row in image > 0:
            edges = np.flatnonzero(np.diff(row.astype(np.int8))) + 1
            runs = np.diff(np.r_[0, edges, len(row)])
            body += bytes(([0] if row[0] else []) + runs.tolist())  # background run first, maybe empty
        h, w = image.shape
        records.append(bytes([0xFF, int(label), w, h]) + len(body).to_bytes(2, "little") + bytes(body))
    return b"".join(records)


def test_idx_pair_reads_kannada_mnist(raw, offline):
    images, labels = formats.read_idx_pair(raw / KANNADA_X, raw / KANNADA_Y)
    assert images.shape == (10000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10
    np.testing.assert_array_equal(images, offline_arrays(offline, "kannada")["x_train"])  # the copy is stored as is
    assert_like_offline(images, labels, offline, "kannada")


def test_hoda_cdb_reads_every_record_of_remaining_samples(hoda, offline):
    images, labels = hoda
    assert len(images) == len(labels) == 22352
    assert np.bincount(labels).tolist() == [2070, 2330, 1923, 2334, 2333, 2110, 2254, 2363, 2264, 2371]
    assert {im.dtype for im in images} == {np.dtype(np.uint8)} and len({im.shape for im in images}) > 100
    assert set(np.unique(images[0])) == {0, 255} and min(im.shape[1] for im in images) < 6  # cropped to the ink
    assert_like_offline(images, labels, offline, "persian")


def test_hoda_writer_and_reader_agree_and_corrupt_records_are_named(hoda, tmp_path):
    images, labels = hoda[0][:40], hoda[1][:40]
    path = tmp_path / "small.cdb"
    path.write_bytes(hoda_bytes(images, labels))
    again, again_labels = formats.read_hoda_cdb(path)
    assert all(np.array_equal(a, b) for a, b in zip(images, again)) and again_labels.tolist() == labels.tolist()
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(data.DataError, match=r"small.cdb: record 39 of 40 at byte \d+ is corrupt or truncated"):
        formats.read_hoda_cdb(path)
    path.write_bytes(b"\0" * 100)
    with pytest.raises(data.DataError, match="small.cdb: not a HODA .cdb file"):
        formats.read_hoda_cdb(path)


def test_madbase_zip_reads_in_id_order(raw, offline):
    images, labels = formats.read_madbase_zip(raw / "arabic-sample.zip")
    assert len(images) == 200 and images[0].shape == (28, 28)
    assert labels.tolist() == [i % 10 for i in range(200)]  # ids 1-200: label = (id - 1) mod 10
    assert_like_offline(images, labels, offline, "arabic")


def test_tibetan_jpgs_give_label_and_sheet(raw, offline):
    images, labels, sheets = formats.read_tibetan_jpgs(raw / "tibetan-sample")
    named = sorted(tuple(map(int, p.stem.split("_")[:2])) for p in (raw / "tibetan-sample").glob("*.jpg"))
    assert len(images) == 100 and images[0].shape == (350, 350)
    assert sorted(zip(labels.tolist(), sheets.tolist())) == named
    assert set(sheets) == set(range(1, 26)) and np.all(np.diff(sheets) >= 0)
    x, kept = formats.to_mnist_batch(images)
    assert kept.all() and x.shape == (100, 28, 28)
    assert np.abs(x.mean() - offline_arrays(offline, "tibetan")["x_train"].mean()) < 10  # the copy's ink level


def test_tibetan_npz_reads_image_and_label(raw, tmp_path):
    images, labels, _ = formats.read_tibetan_jpgs(raw / "tibetan-sample")
    small = np.stack([np.asarray(Image.fromarray(im).resize((28, 28), Image.Resampling.BILINEAR)) for im in images])
    path = tmp_path / "TibetanMNIST.npz"
    np.savez(path, image=255 - small, label=labels.astype(np.int64))  # dark on light: made white on black
    x, y = formats.read_tibetan_npz(path)
    np.testing.assert_array_equal(x, small)
    np.testing.assert_array_equal(y, labels)
    np.savez(path, image=small)
    with pytest.raises(data.DataError, match=r"TibetanMNIST.npz: not TibetanMNIST's npz, missing arrays \['label'\]"):
        formats.read_tibetan_npz(path)


def numtadb_zips(folder: Path, images: np.ndarray, labels: np.ndarray) -> tuple[Path, Path]:
    """Write NumtaDB's two zips: images scaled to 0-20 and one-hot float32 labels."""
    arrays = {"numtaX_train": np.round(images / 255 * 20).astype(np.uint8),
              "numtaY_train": np.eye(10, dtype=np.float32)[labels]}
    paths = []
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array)
        paths.append(folder / f"{name}.zip")
        with zipfile.ZipFile(paths[-1], "w") as zf:
            zf.writestr(f"{name}.npy", buffer.getvalue())
    return paths[0], paths[1]


def test_numtadb_zips_are_rescaled_and_one_hot_decoded(raw, tmp_path):
    kannada, labels = formats.read_idx_pair(raw / KANNADA_X, raw / KANNADA_Y)
    x_zip, y_zip = numtadb_zips(tmp_path, kannada[:300], labels[:300])
    x, y = formats.read_numtadb_zips(x_zip, y_zip)
    assert x.dtype == np.uint8 and x.max() == 255 and np.abs(x.astype(int) - kannada[:300]).max() <= 7
    np.testing.assert_array_equal(y, labels[:300])
    (tmp_path / "short").mkdir()
    with pytest.raises(data.DataError, match=r"one-hot labels \(N, 10\), got \(300, 28, 28\) and \(299, 10\)"):
        formats.read_numtadb_zips(x_zip, numtadb_zips(tmp_path / "short", kannada[:299], labels[:299])[1])


def test_one_code_path_to_mnist_and_blank_images_left_out(hoda):
    images = [hoda[0][1], np.zeros((30, 20), np.uint8), hoda[0][2]]  # a "1" five pixels wide, a blank
    x, kept = formats.to_mnist_batch(images)
    assert kept.tolist() == [True, False, True] and x.shape == (2, 28, 28)
    expected = np.round(preprocess.to_mnist(np.pad(images[2], formats.PAD)) * 255)
    np.testing.assert_array_equal(x[1], expected)
    assert abs(np.mean(np.nonzero(x[0])[1]) - 14) < 1.5, "a thin stroke is centred, not taken for background"


def test_readers_refuse_what_is_not_their_format(tmp_path):
    not_zip = tmp_path / "Test Images.zip"
    not_zip.write_text("hello")
    with pytest.raises(data.DataError, match="Test Images.zip: not a readable zip archive"):
        formats.read_madbase_zip(not_zip)
    with zipfile.ZipFile(not_zip, "w") as zf:
        zf.writestr("test/readme.txt", "no digits")
    with pytest.raises(data.DataError, match="holds no images named <folder>/id_<n>_label_<d>.png"):
        formats.read_madbase_zip(not_zip)
    with pytest.raises(data.DataError, match="holds no TibetanMNIST scans"):
        formats.read_tibetan_jpgs(tmp_path)


# --- finding and loading ----------------------------------------------------------------------


def test_offline_copies_load_through_the_environment(offline):
    for name in scripts.SCRIPTS[1:]:
        (x, y), (xt, yt) = scripts.load_digits(name)
        total = len(offline_arrays(offline, name)["y_train"])
        assert x.shape[1:] == xt.shape[1:] == (28, 28) and x.dtype == xt.dtype == y.dtype == np.uint8
        assert len(y) + len(yt) == total and abs(len(yt) / total - scripts.TEST_FRACTION) < 0.01


def test_western_is_mnist(fake_npz):
    (x, y), (xt, yt) = scripts.load_digits("western", fake_npz)
    (mx, _), (_, myt) = data.load_mnist(fake_npz)
    np.testing.assert_array_equal(x, mx)
    np.testing.assert_array_equal(yt, myt)
    assert scripts.find_digits("western", fake_npz) == fake_npz


def save_digits(path: Path, n_train: int = 60, **change) -> Path:
    """Write a small npz in the scripts' layout (train and test), with ``change`` applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {**fake_arrays(n_train=n_train), **change}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_lookup_order(isolated, tmp_path, monkeypatch):
    save_digits(isolated / "kannada.npz", 30)
    assert scripts.find_digits("kannada") == isolated / "kannada.npz"
    mnist_folder = tmp_path / "mnist"
    save_digits(mnist_folder / "mnist.npz")
    monkeypatch.setenv(config.DATA_ENV, str(mnist_folder))
    assert scripts.find_digits("kannada") == isolated / "kannada.npz", "a folder without kannada.npz is passed"
    shared = save_digits(mnist_folder / "kannada.npz", 40)
    assert scripts.find_digits("kannada") == shared
    monkeypatch.setenv(config.DATA_ENV, str(mnist_folder / "mnist.npz"))  # CI: a file, MNIST's alone
    assert scripts.find_digits("kannada") == isolated / "kannada.npz"
    ours = save_digits(tmp_path / "scripts" / "kannada.npz", 50)
    monkeypatch.setenv(config.SCRIPTS_ENV, str(ours.parent))
    assert scripts.find_digits("kannada") == ours
    assert len(scripts.load_digits("kannada")[0][1]) == 50
    argument = save_digits(tmp_path / "mine.npz", 70)
    assert len(scripts.load_digits("kannada", argument)[0][1]) == 70
    assert scripts.find_digits("kannada", tmp_path / "scripts") == ours


def test_named_sources_must_exist(isolated, tmp_path, monkeypatch):
    save_digits(isolated / "tibetan.npz")
    with pytest.raises(data.DataError, match="Tibetan digits file given by path argument does not exist: .*nope.npz"):
        scripts.load_digits("tibetan", tmp_path / "nope.npz")
    monkeypatch.setenv(config.SCRIPTS_ENV, str(tmp_path / "gone"))
    with pytest.raises(data.DataError, match=r"given by \$DIGITLAB_SCRIPTS does not exist: .*gone"):
        scripts.load_digits("tibetan")
    monkeypatch.setenv(config.SCRIPTS_ENV, str(tmp_path))
    with pytest.raises(data.DataError, match=r"the folder given by \$DIGITLAB_SCRIPTS holds no tibetan.npz"):
        scripts.load_digits("tibetan")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"y_train": None}, r"not a digits npz for Bengali, missing arrays \['y_train'\]"),
        ({"y_test": None}, "holds only one of x_test and y_test"),
        ({"x_train": np.zeros((60, 27, 28), np.uint8)}, r"x_train has shape \(60, 27, 28\), expected \(N, 28, 28\)"),
        ({"x_test": np.zeros((20, 28, 28), np.float32)}, "test arrays are float32/uint8, expected uint8"),
        ({"y_train": np.full(60, 12, np.uint8)}, r"y_train holds labels outside 0-9 \(max 12\)"),
        ({"x_test": None, "y_test": None, "y_train": np.zeros(59, np.uint8)}, "60 train images but 59 labels"),
    ],
)
def test_malformed_files_are_refused_naming_them(tmp_path, change, message):
    path = save_digits(tmp_path / "bengali.npz", **change)
    with pytest.raises(data.DataError, match=f"bengali.npz: {message}"):
        scripts.load_digits("bengali", path)


def test_no_data_and_no_network_lists_every_way(isolated, monkeypatch):
    def offline_fetch(url, dest, progress=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "fetch", offline_fetch)
    with pytest.raises(data.DataError) as info:
        scripts.load_digits("persian")
    message = str(info.value)
    assert message.startswith("Persian digits not found (download failed: <urlopen error no network>)")
    for hint in ("load_digits('persian', ", "$DIGITLAB_SCRIPTS", str(isolated / "persian.npz"),
                 scripts.get("persian").source):
        assert hint in message
    assert list(isolated.iterdir()) == [], "a failed download leaves nothing behind"
    with pytest.raises(data.DataError, match="download disabled"):
        scripts.find_digits("persian", download=False)


# --- the held-out test split ------------------------------------------------------------------


def split_rows(name: str, y: np.ndarray, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Return the row numbers of the train and test parts ``split_test`` makes for labels ``y``."""
    (train, _), (test, _) = scripts.split_test(np.arange(len(y)), y, script=name, **kwargs)
    assert len(train) + len(test) == len(y) and not set(train) & set(test)
    return train, test


def held_out_share(y: np.ndarray, test: np.ndarray) -> np.ndarray:
    return np.bincount(y[test], minlength=10) / np.bincount(y, minlength=10)


def test_arabic_holds_out_whole_writers_and_every_digit_its_share(offline):
    y = offline_arrays(offline, "arabic")["y_train"]
    train, test = split_rows("arabic", y)
    assert not set(train // 100) & set(test // 100), "no writer (block of 100 ids) on both sides"
    assert len(set(test // 100)) == 16 and held_out_share(y, test).tolist() == [0.2] * 10


def test_tibetan_holds_out_whole_sheet_blocks_close_to_stratified(offline):
    y = offline_arrays(offline, "tibetan")["y_train"]
    train, test = split_rows("tibetan", y)
    assert not set(train // 575) & set(test // 575) and len(set(test // 575)) == 5
    share = held_out_share(y, test)
    assert share.min() > 0.17 and share.max() < 0.23


def test_sets_without_writers_get_a_seeded_stratified_split(offline):
    y = offline_arrays(offline, "persian")["y_train"]
    _, test = split_rows("persian", y)
    np.testing.assert_allclose(held_out_share(y, test), 0.2, atol=0.001)
    np.testing.assert_array_equal(test, split_rows("persian", y)[1])
    assert not np.array_equal(test, split_rows("persian", y, seed=1)[1])


def test_explicit_groups_are_kept_apart_and_bad_arguments_refused(raw):
    _, labels, sheets = formats.read_tibetan_jpgs(raw / "tibetan-sample")
    (train, _), (test, _) = scripts.split_test(np.arange(100), labels, script="tibetan", groups=sheets, seed=3)
    assert not set(sheets[train]) & set(sheets[test]) and len(set(sheets[test])) == 5
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        scripts.split_test(np.arange(100), labels, script="tibetan", test_fraction=1.0)
    with pytest.raises(ValueError, match=r"one group per image: shape \(99,\), expected \(100,\)"):
        scripts.split_test(np.arange(100), labels, script="kannada", groups=sheets[:99])
    with pytest.raises(ValueError, match="needs at least two"):
        scripts.split_test(np.arange(100), labels, script="kannada", groups=np.zeros(100))


# --- a model's data and its file ---------------------------------------------------------------


def test_check_name_accepts_any_only_where_asked():
    assert scripts.check_name("tibetan") == "tibetan" and scripts.check_name("any", any_ok=True) == scripts.ANY
    with pytest.raises(ValueError, match="unknown script 'any': choose one of western, .*, tibetan$"):
        scripts.check_name("any")
    with pytest.raises(ValueError, match="unknown script 'Kannada': choose one of western, .*, tibetan, any$"):
        scripts.check_name("Kannada", any_ok=True)
    with pytest.raises(ValueError, match="unknown script"):
        scripts.get(["kannada"])


def test_given_source_of_western_is_mnists(fake_npz, tmp_path, monkeypatch):
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    assert scripts.given_digits_source("western", fake_npz) == fake_npz
    with pytest.raises(data.DataError, match="MNIST file given by --data does not exist"):
        scripts.given_digits_source("western", tmp_path / "nope.npz", name="--data")


def test_model_data_holds_out_validation_then_takes_per_class(tmp_path):
    path = save_digits(tmp_path / "kannada.npz", n_train=300)
    full = scripts.model_data("kannada", path, val_fraction=0.1, seed=5)
    (x_train, y_train), (x_test, _) = scripts.load_digits("kannada", path)
    (x, _), _ = data.train_val_split(x_train, y_train, val_fraction=0.1, seed=5)
    np.testing.assert_array_equal(full.train[0], x)
    np.testing.assert_array_equal(full.test[0], x_test)
    assert full.source == path and len(full.validation[1]) == 30
    few, more = (scripts.model_data("kannada", path, per_class=n, seed=5) for n in (3, 9))
    np.testing.assert_array_equal(few.validation[0], full.validation[0])
    assert np.bincount(few.train[1]).tolist() == [3] * 10 and np.bincount(more.train[1]).tolist() == [9] * 10
    assert {bytes(i) for i in few.train[0]} <= {bytes(i) for i in more.train[0]}, "nested: the 3 are among the 9"
    with pytest.raises(ValueError, match="per_class=28: only 27 training images of digit 0"):
        scripts.model_data("kannada", path, per_class=28, seed=5)
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1, got 1.5"):
        scripts.model_data("arabic", path, val_fraction=1.5)


def test_model_data_holds_out_whole_writers_for_validation_where_the_file_runs_writer_by_writer(tmp_path):
    path = save_digits(tmp_path / "arabic.npz", n_train=2000)  # MADBase: 100 rows a writer, so 20 writers
    split = scripts.model_data("arabic", path, val_fraction=0.1, seed=5)
    x_train = scripts.load_digits("arabic", path)[0][0]
    writer = {bytes(image): row // 100 for row, image in enumerate(x_train)}
    held, trained = ({writer[bytes(i)] for i in part[0]} for part in (split.validation, split.train))
    assert len(held) == 2 and not held & trained, "two whole writers, none of them in training"
    assert len(split.validation[1]) == 200 and np.bincount(split.validation[1]).tolist() == [20] * 10
    quick = scripts.model_data("arabic", path, fraction=0.5, val_fraction=0.1, seed=5)
    held = {writer[bytes(i)] for i in quick.validation[0]}
    assert len(held) == 2 and not held & {writer[bytes(i)] for i in quick.train[0]}, "a quick run keeps writers apart too"


def test_take_per_class_is_seeded_and_keeps_the_order():
    y = np.repeat(np.arange(10), 5)
    x = np.arange(50)
    a, b = scripts.take_per_class(x, y, 2, seed=1), scripts.take_per_class(x, y, 2, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    assert (np.diff(a[0]) > 0).all() and np.bincount(a[1]).tolist() == [2] * 10
    assert not np.array_equal(a[0], scripts.take_per_class(x, y, 2, seed=2)[0])
    with pytest.raises(ValueError, match="per_class must be 1 or more"):
        scripts.take_per_class(x, y, 0)


def test_find_model_names_each_scripts_model_and_how_to_train_a_missing_one(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(config, "SHIPPED_MODEL", tmp_path / "models" / "digitlab_cnn.keras")
    monkeypatch.chdir(tmp_path)
    assert config.script_model() == config.SHIPPED_MODEL
    assert config.script_model("bengali") == tmp_path / "models" / "bengali_cnn.keras"
    assert config.script_model("any") == tmp_path / "models" / "any_script_cnn.keras"
    with pytest.raises(ValueError, match="unknown script 'klingon'"):
        config.script_model("klingon")
    with pytest.raises(ModelFileError, match=r"^no Bengali model at .*: train it with "
                                             r"`python -m digitlab train --script bengali --out models/bengali_cnn.keras`$"):
        scripts.find_model("bengali")
    with pytest.raises(ModelFileError, match=r"train it with `python -m digitlab train --out models/digitlab_cnn.keras`"):
        scripts.find_model("western")
    with pytest.raises(ModelFileError, match=r"^no any-script model at .*: train it with `python -m digitlab train "
                                             r"--script any --out models/any_script_cnn.keras`, .*one of western, kannada"):
        scripts.find_model("any")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bengali_cnn.keras").write_bytes(b"model")
    assert scripts.find_model("bengali") == config.script_model("bengali")
    mine = tmp_path / "mine.keras"
    with pytest.raises(ModelFileError, match="model file not found: .*mine.keras"):
        scripts.find_model("bengali", mine)
    mine.write_bytes(b"model")
    assert scripts.find_model("bengali", mine) == mine


def test_card_script_is_western_for_cards_that_name_none():
    assert scripts.card_script({}) == "western" and scripts.card_script({"script": "tibetan"}) == "tibetan"
    with pytest.raises(ValueError, match="unknown script 'elvish'"):
        scripts.card_script({"script": "elvish"})


# --- downloading from a local server ----------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    """Yield ``(base URL, folder)`` of a local HTTP server serving ``folder`` as raw.githubusercontent.com would."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    finally:
        httpd.shutdown()
        httpd.server_close()


def serve(folder: Path, s: scripts.Script, contents: dict[str, bytes]) -> scripts.Script:
    """Put ``contents`` (repository path -> bytes) where ``s``'s URLs point; return ``s`` with their real hashes."""
    hashes = {}
    for path, payload in contents.items():
        target = folder / s.repository / s.commit / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
        hashes[path] = scripts.git_blob_sha1(target)

    def pinned(files: tuple[RawFile, ...]) -> tuple[RawFile, ...]:
        return tuple(RawFile(f.path, hashes[f.path]) for f in files)

    return dataclasses.replace(s, train=pinned(s.train), test=pinned(s.test))


def test_download_converts_the_official_files(server, hoda, tmp_path):
    base, folder = server
    persian = scripts.get("persian")
    s = serve(folder, persian, {"DigitDB/Train 60000.cdb": hoda_bytes(hoda[0][:60], hoda[1][:60]),
                                "DigitDB/Test 20000.cdb": hoda_bytes(hoda[0][60:80], hoda[1][60:80])})
    dest = scripts.download_digits(s, tmp_path / "out" / "persian.npz", base=base)
    (x, y), (xt, yt) = scripts.load_digits(persian, dest)
    assert x.shape == (60, 28, 28) and xt.shape == (20, 28, 28) and yt.tolist() == hoda[1][60:80].tolist()
    np.testing.assert_array_equal(x, formats.to_mnist_batch(hoda[0][:60])[0])
    assert [p.name for p in dest.parent.iterdir()] == ["persian.npz"], "raw files and temporary files are gone"


def test_download_of_a_set_without_test_split_holds_one_out(server, raw, tmp_path, isolated, monkeypatch):
    base, folder = server
    kannada, labels = formats.read_idx_pair(raw / KANNADA_X, raw / KANNADA_Y)
    zips = numtadb_zips(tmp_path, kannada[:100], labels[:100])
    s = serve(folder, scripts.get("bengali"), {f"datasets/{p.name}": p.read_bytes() for p in zips})
    monkeypatch.setattr(scripts, "RAW_URL", base)
    (x, y), (xt, yt) = scripts.load_digits(s)  # found nowhere: downloaded into data/
    assert len(y) == 80 and np.bincount(yt).tolist() == [2] * 10
    with np.load(isolated / "bengali.npz") as npz:
        assert sorted(npz.files) == ["x_test", "x_train", "y_test", "y_train"]


def test_a_wrong_hash_or_a_missing_file_saves_nothing(server, raw, tmp_path):
    base, folder = server
    kannada = scripts.get("kannada")
    served = {f.path: (raw / KANNADA_X).read_bytes() for f in kannada.train + kannada.test}
    serve(folder, kannada, served)  # the test images under every name: the registry's hashes are not theirs
    out = tmp_path / "out"
    got, expected = kannada.test[0].blob_sha1, kannada.train[0].blob_sha1
    with pytest.raises(data.DataError, match=f"download of {base}/.*X_kannada_MNIST_train-idx3-ubyte.gz has git blob "
                                             f"SHA-1 {got}, expected {expected}; not saved"):
        scripts.download_digits("kannada", out / "kannada.npz", base=base)
    assert list(out.iterdir()) == []
    with pytest.raises(data.DataError, match="Tibetan digits not found \\(download failed: HTTP Error 404"):
        scripts.download_digits("tibetan", out / "tibetan.npz", base=base)
    assert list(out.iterdir()) == []


def test_any_script_labels_and_values():
    assert scripts.ANY_CLASSES == 60 and scripts.classes_of("any") == 60 and scripts.classes_of("tibetan") == 10
    assert scripts.any_labels("western", [3]).tolist() == [3] and scripts.any_labels("persian", [0, 9]).tolist() == [20, 29]
    logits = np.full((1, 60), -30.0)
    logits[0, [22, 32]] = 0.0  # a Persian 2 and an Arabic 2, equally likely
    values = scripts.value_logits(logits)
    probs = np.exp(values - values.max()) / np.exp(values - values.max()).sum()
    assert values.shape == (1, 10) and probs[0, 2] == pytest.approx(1.0)
    assert values[0, 2] == pytest.approx(np.log(2.0), abs=1e-5), "log-sum-exp over the scripts"


def test_only_persian_and_arabic_write_zero_as_a_dot():
    assert [name for name in scripts.SCRIPTS if scripts.get(name).dot_zero] == ["persian", "arabic"]


def test_read_any_reads_the_value_summed_over_scripts():
    logits = np.full((1, 60), -9.0)
    logits[0, [22, 32, 3]] = [0.0, 0.0, 0.5]  # a 2 in Persian or Arabic outweighs the likelier single Western 3
    values, named = scripts.read_any(logits)
    assert values.tolist() == [2] and named.tolist() == [0], "the value summed over scripts; the script of the top class"


def test_reading_scores_count_a_value_read_in_another_script_as_right():
    labels = np.array([22, 32, 5, 45])  # Persian 2, Arabic 2, Western 5, Bengali 5
    logits = np.full((4, 60), -9.0)
    logits[[0, 1, 2, 3], [32, 32, 0, 45]] = 0.0  # Persian 2 read as Arabic 2; Western 5 read as Western 0
    values, named = scripts.read_any(logits)
    assert values.tolist() == [2, 2, 0, 5] and named.tolist() == [3, 3, 0, 4]
    scores = scripts.reading_scores(labels, values, named)
    assert scores["value_accuracy"] == 0.75 and scores["script_accuracy"] == 0.75  # only the Persian 2 is misnamed
    assert scores["by_script"] == {"western": 0.0, "persian": 1.0, "arabic": 1.0, "bengali": 1.0}


def test_the_any_script_data_joins_every_scripts_own_split():
    any_data = scripts.model_data("any", per_class=3, seed=5)
    assert set(any_data.sources) == set(scripts.SCRIPTS) and any_data.source == any_data.sources["western"]
    for i, name in enumerate(scripts.SCRIPTS):
        own = scripts.model_data(name, per_class=3, seed=5)
        mine = any_data.validation[1] // 10 == i
        np.testing.assert_array_equal(any_data.validation[0][mine], own.validation[0])
        np.testing.assert_array_equal(any_data.validation[1][mine] % 10, own.validation[1])
    assert np.bincount(any_data.train[1]).tolist() == [3] * 60
    (_, y_train), (_, y_test) = scripts.load_digits("any")
    assert y_train.max() == 59 and len(y_test) == sum(len(scripts.load_digits(n)[1][1]) for n in scripts.SCRIPTS)


def test_short_name_drops_the_note_in_brackets():
    assert [scripts.short_name(n) for n in ("western", "arabic", "kannada")] == ["Western", "Arabic", "Kannada"]


def test_local_digits_reads_what_is_here_and_never_downloads(monkeypatch, tmp_path):
    found = scripts.local_digits(("kannada",))  # $DIGITLAB_SCRIPTS holds the offline copies
    assert set(found) == {"kannada"} and found["kannada"][1][0].shape[1:] == (28, 28)
    monkeypatch.setenv(config.SCRIPTS_ENV, str(tmp_path))
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    missing = []
    assert scripts.local_digits(("tibetan",), on_missing=lambda name, exc: missing.append(name)) == {}
    assert missing == ["tibetan"] and not (tmp_path / "data" / "tibetan.npz").exists()
