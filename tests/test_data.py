"""digitlab.data: lookup order, both file formats, every error path, the atomic download."""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import http.server
import os
import struct
import subprocess
import sys
import termios
import threading
import traceback
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from conftest import fake_arrays
from digitlab import config, data


def write_idx(folder: Path, arrays: dict, *, gz: bool) -> None:
    """Write ``arrays`` as the four original IDX files into ``folder``."""
    for key, name in data.IDX_NAMES.items():
        arr = arrays[key]
        header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
        raw = header + arr.tobytes()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def test_loads_npz_from_path_argument(fake_npz):
    (x, y), (xt, yt) = data.load_mnist(fake_npz)
    expected = fake_arrays()
    assert x.shape == (60, 28, 28) and x.dtype == np.uint8 and y.shape == (60,)
    assert xt.shape == (20, 28, 28) and yt.dtype == np.uint8
    np.testing.assert_array_equal(x, expected["x_train"])
    np.testing.assert_array_equal(yt, expected["y_test"])


@pytest.mark.parametrize("gz", [True, False])
def test_loads_idx_folder(tmp_path, gz):
    arrays = fake_arrays()
    write_idx(tmp_path, arrays, gz=gz)
    (x, y), (xt, yt) = data.load_mnist(tmp_path)
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, arrays["y_test"])


def test_lookup_order_env_then_repo_file(isolated_data, fake_npz, tmp_path, monkeypatch):
    repo_copy = isolated_data / "mnist.npz"
    np.savez(repo_copy, **fake_arrays(n_train=30))
    assert data.find_mnist() == repo_copy
    monkeypatch.setenv(config.DATA_ENV, str(fake_npz))
    assert data.find_mnist() == fake_npz
    other = tmp_path / "other.npz"
    np.savez(other, **fake_arrays(n_train=40))
    assert data.find_mnist(other) == other
    assert len(data.load_mnist(other)[0][0]) == 40


def test_missing_explicit_path_is_an_error_not_a_fallback(isolated_data, tmp_path, monkeypatch):
    np.savez(isolated_data / "mnist.npz", **fake_arrays())
    with pytest.raises(data.DataError, match="path argument does not exist: .*nope.npz"):
        data.load_mnist(tmp_path / "nope.npz")
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "gone.npz"))
    with pytest.raises(data.DataError, match=r"\$DIGITLAB_DATA does not exist: .*gone.npz"):
        data.load_mnist()


def test_no_data_no_network_lists_every_way(isolated_data, monkeypatch):
    def offline(url, dest, progress=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "fetch", offline)
    with pytest.raises(data.DataError) as info:
        data.load_mnist()
    message = str(info.value)
    for hint in ("load_mnist('path", "--data", "$DIGITLAB_DATA", str(isolated_data / "mnist.npz"), data.MNIST_URL):
        assert hint in message
    assert list(isolated_data.iterdir()) == [], "a failed download must leave nothing behind"


def test_download_checks_sha256_and_renames_into_place(isolated_data, fake_npz, monkeypatch):
    payload = fake_npz.read_bytes()
    calls = []

    def fake_fetch(url, dest, progress=None):
        calls.append(url)
        Path(dest).write_bytes(payload)

    monkeypatch.setattr(data, "fetch", fake_fetch)
    with pytest.raises(data.DataError, match="SHA-256 .* expected 731c5ac6.*; not saved"):
        data.load_mnist()  # the fake payload is not the real mnist.npz
    assert list(isolated_data.iterdir()) == []
    monkeypatch.setattr(data, "MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    (x, _), _ = data.load_mnist()
    assert x.shape == (60, 28, 28)
    assert [p.name for p in isolated_data.iterdir()] == ["mnist.npz"]
    assert calls == [data.MNIST_URL, data.MNIST_URL]
    data.load_mnist()
    assert len(calls) == 2, "a stored download is reused"


def test_download_from_local_http_server(tmp_path, fake_npz):
    served = tmp_path / "served"
    served.mkdir()
    (served / "mnist.npz").write_bytes(fake_npz.read_bytes())
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/mnist.npz"
        dest = data.download_mnist(tmp_path / "out" / "mnist.npz", url=url, expected_sha256=data.sha256(fake_npz))
        assert dest.read_bytes() == fake_npz.read_bytes()
        with pytest.raises(data.DataError, match="download from .*missing.npz failed"):
            data.download_mnist(tmp_path / "out2" / "mnist.npz", url=url.replace("mnist", "missing"))
        assert not any((tmp_path / "out2").iterdir())
    finally:
        server.shutdown()
        server.server_close()


def test_truncated_npz_names_the_file(tmp_path, fake_npz):
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(fake_npz.read_bytes()[:5000])
    with pytest.raises(data.DataError, match="truncated.npz: corrupt or truncated"):
        data.load_mnist(bad)


def test_npz_missing_arrays(tmp_path):
    bad = tmp_path / "partial.npz"
    arrays = fake_arrays()
    del arrays["y_test"]
    np.savez(bad, **arrays)
    with pytest.raises(data.DataError, match=r"partial.npz: not an MNIST npz, missing arrays \['y_test'\]"):
        data.load_mnist(bad)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(x_train=a["x_train"][:, :27]), r"x_train has shape \(60, 27, 28\)"),
        (lambda a: a.update(y_test=a["y_test"][:-1]), "20 test images but 19 labels"),
        (lambda a: a.update(y_train=a["y_train"] + 5), "labels outside 0-9"),
        (lambda a: a.update(x_test=a["x_test"].astype(np.float32)), "float32/uint8, expected uint8"),
        (lambda a: a.update(y_train=a["y_train"].reshape(6, 10)), r"y_train has shape \(6, 10\)"),
    ],
)
def test_malformed_arrays_are_refused(tmp_path, change, message):
    arrays = fake_arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(data.DataError, match=f"bad.npz: .*{message}"):
        data.load_mnist(path)


def test_idx_errors_name_the_file(tmp_path):
    arrays = fake_arrays()
    write_idx(tmp_path, arrays, gz=False)
    images = tmp_path / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte: header says .* but .* bytes follow"):
        data.load_mnist(tmp_path)
    images.write_bytes(b"\x00\x00\x09\x03garbage")
    with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte: not an unsigned-byte IDX"):
        data.load_mnist(tmp_path)
    images.unlink()
    with pytest.raises(data.DataError, match=r"IDX file t10k-images-idx3-ubyte\[.gz\] is missing"):
        data.load_mnist(tmp_path)


def test_corrupt_gzip_idx(tmp_path):
    write_idx(tmp_path, fake_arrays(), gz=True)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:20])
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte.gz: cannot read IDX"):
        data.load_mnist(tmp_path)


def test_train_val_split_is_stratified_disjoint_and_seeded():
    y = np.repeat(np.arange(10, dtype=np.uint8), 50)
    x = np.arange(len(y) * 784, dtype=np.uint32).reshape(-1, 28, 28)
    (xt, yt), (xv, yv) = data.train_val_split(x, y, val_fraction=0.2, seed=1)
    assert len(yv) == 100 and len(yt) == 400
    assert np.bincount(yv).tolist() == [10] * 10
    assert not set(xt[:, 0, 0]) & set(xv[:, 0, 0])
    (_, _), (xv2, _) = data.train_val_split(x, y, val_fraction=0.2, seed=1)
    np.testing.assert_array_equal(xv, xv2)
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_split(x, y, val_fraction=1.5)


def test_subset_fraction():
    x, y = np.zeros((100, 28, 28)), np.arange(100) % 10
    xs, ys = data.subset(x, y, 0.25)
    assert len(ys) == 25
    assert data.subset(x, y, 1.0)[1] is y
    with pytest.raises(ValueError, match="fraction"):
        data.subset(x, y, 0)


def test_real_mnist_matches_its_description(mnist):
    (x, y), (xt, yt) = mnist
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert x.shape[1:] == (28, 28) and len(x) == len(y) >= 24345
    assert np.bincount(yt, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_a_file_that_is_not_an_npz_gets_our_message_not_numpys_pickle_advice(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(data.DataError, match="notes.npz: not an npz file") as info:
        data.load_mnist(text)
    objects = tmp_path / "objects.npz"
    np.savez(objects, **{**fake_arrays(), "x_train": np.array([1, "a"], dtype=object)})
    with pytest.raises(data.DataError, match="objects.npz: .*Python objects .*never loaded") as info2:
        data.load_mnist(objects)
    for error in (info.value, info2.value):
        shown = "".join(traceback.format_exception(error))
        assert "allow_pickle" not in shown and "During handling" not in shown


def test_a_failed_download_is_one_clean_error_without_a_chain(isolated_data, monkeypatch):
    def offline(url, dest, progress=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "fetch", offline)
    with pytest.raises(data.DataError, match="failed: <urlopen error no network>") as info:
        data.load_mnist()
    assert "During handling" not in "".join(traceback.format_exception(info.value))


def test_notebook_shows_the_message_not_a_traceback(tmp_path):
    """In a real kernel a DataError shows as its message alone: what is wrong and what to do."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        f"import os, pathlib, digitlab as dl\nos.environ['DIGITLAB_DATA'] = {str(tmp_path / 'gone.npz')!r}\n"
        "dl.data.load_mnist()",
        f"del os.environ['DIGITLAB_DATA']\ndl.config.DATA_DIR = pathlib.Path({str(tmp_path)!r})\n"
        "dl.data.MNIST_URL = 'http://127.0.0.1:9/mnist.npz'\ndl.data.load_mnist()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    (missing,), (offline,) = [cell.outputs for cell in nb.cells]
    assert missing.output_type == "error" and missing.traceback == [
        f"DataError: MNIST file given by $DIGITLAB_DATA does not exist: {tmp_path / 'gone.npz'} "
        "(name an mnist.npz file or a folder with the four IDX files)"
    ]
    first, *ways = offline.traceback
    assert first.startswith("DataError: MNIST not found (download from http://127.0.0.1:9/mnist.npz failed")
    assert [w.split(".")[0].strip() for w in ways] == ["1", "2", "3", "4"]
    assert not any("Traceback" in line or "gaierror" in line or "URLError" in line for line in offline.traceback)


DOWNLOAD_IN_A_TERMINAL = """
import pathlib, sys, digitlab.config as c, digitlab.data as d
c.DATA_DIR = pathlib.Path(sys.argv[1])
d.MNIST_URL = 'http://127.0.0.1:9/mnist.npz'
try:
    d.load_mnist()
except d.DataError:
    print('failed', file=sys.stderr)
def slow_fetch(url, dest, progress):
    progress(1000, 2000)
    raise OSError('cut off')
d.fetch = slow_fetch
try:
    d.load_mnist()
except d.DataError:
    print('cut off', file=sys.stderr)
"""


def test_download_bar_appears_only_once_bytes_arrive(tmp_path):
    """On a terminal, a download that fails at once leaves no bar remnants; one that starts shows its bar."""
    main, other = os.openpty()
    fcntl.ioctl(other, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a terminal 80 columns wide
    env = {k: v for k, v in os.environ.items() if k != config.DATA_ENV}
    subprocess.run([sys.executable, "-c", DOWNLOAD_IN_A_TERMINAL, str(tmp_path)], stderr=other, env=env,
                   timeout=120, check=True)
    os.close(other)
    shown = os.read(main, 1 << 16).decode()
    os.close(main)
    before, after = shown.split("failed", 1)
    assert before == "", "a download that fails at once shows no bar"
    assert "downloading mnist.npz" in after and "cut off" in after
