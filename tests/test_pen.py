"""digitlab.pen: reading UCI's pen trajectories, finding and fetching them, drawing them like the pad, scoring."""
from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import subprocess
import sys
import threading
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitlab import config, data, pen, preprocess

#: What ``Z_FIXTURE`` holds once decompressed: long runs fill a 10-bit table, then ratio drops force a CLEAR.
Z_PLAIN = b"a" * 300_000 + (b"a" * 300 + b"b") * 40 + b" ".join(str(i * i).encode() for i in range(150))
#: ``compress -b 10`` (ncompress 4.2.4) of ``Z_PLAIN``: codes widen 9 -> 10 bits, a CLEAR, then widen again.
Z_FIXTURE = base64.b64decode(
    "H52KYQIKHEiwoMGDCBMqXMiwocOHECNKnEixosWLGDNq3Mixo8ePIEOKHEmypMmTKFOqXMmypcuXMGPKnEmzps2bOHPq3Mmzp8+f"
    "QIMKHUq0qNGjSJMqXcq0qdOnUKNKnUq1qtWrWLNq3cq1q9evYMOKHUu2rNmzaNOqXcu2rdu3cOPKnUu3rt27ePPq3cu3r9+/gAML"
    "Hky4sOHDiBMrXsy4sePHkCNLnky5suXLmDNr3sy5s+fPoEOLHk26tOnTqFOrXs26tevXsGPLnk27tu3buHPr3s27t+/fwIMLH068"
    "uPHjyJMrX868ufPn0KNLn069uvXr2LNr3869u/fv4MOLH0++vPnz6NOrX8++vfv38OPLn0+/vv37+PPr38+/v///AAYo4IAEFmjg"
    "gQgmqOCCDDbo4IMQRijhhBRWaOGFGGao4YYcdujhhyCGKOKIJJZo4okopqjiiiy26OKLMMYo44w01mjjjTjmqOOOPPbo449ABink"
    "kEQWaeSRSCap5JJMNunkk1BGKeWUVFZp5ZVYZqnlllx26eWXYIYp5phklmnmmWimqeaabLbp5ptwxinnnHTWaeedeOap55589unn"
    "n4AGKuighBZq6KGIJqrooow26uijkEYq6aSUVmrppZhmqummnHbq6aeghirqqKSWauqpqKaq6qqsturqq7DGKuustNZq66245qrr"
    "rrz26uuvwAYr7LDEFmvsscgmq+yyzDbr7LPQRivttNRWa+212Gar7bbcduvtt+CGK+645JZr7rnopqvuuuy26+678MYr77z01mvv"
    "vfjmq+++/Pbr778AByzwwAQXbPDBCCes8MIMN+zwwxBHLPHEFFds8cUYZ6zxxhx37PHHIIcs8sgkl2zyySinrPLKLLfs8sswxyzz"
    "zDTXbPPNOOes88489+zzz0AHLfTQRBdt9NFIJ6300kw37fTTUEct9dRUV2311VhnrfXWXHft9ddghy322GSXbfbZaKet9tpst+32"
    "23DHLffcdNdt991456333nz37fffgAcu+OCEF2744YgnrvjijDfu+OOQRy755JRXbvnlmGeu+eacd+7556CHLvropJdu+umop676"
    "6qy37vrrsMcu++y012777bjnrvvuvPfu++/ABy/88MQXb/zxyCev/PLMN+/889BHL/301Fdv/fXYZ6/99tx37/334Icv/vjkl2/+"
    "+einr/767Lfv/vvwxy///PTXb//9+Oev//789+////////////+/qBgrirGiGCuKsaIYK4qxohgrirGiGCuKsaIYK4qxohgrirGi"
    "GCsCBAAAYsIIHEiwoMGDCBMqXMiwocOHECNKnEixosWLGANi3Mixo8ePIEOKHOlQI8mTKFOqXMlypcmWMGPKnEkT5cuaOHPq3Lnz"
    "Js+fQIMK3ehzqNGjSJEWTcq0qdOYS59KnUqVY9SqWLNqTXh1q9evVLuCHUvWqNiyaNPiPKu2rVuVbN/KnesxLt27eCXazcu3L8K9"
    "fgP7BSy48F3ChhO7Ray4cVnGjiN7hSy5clXKljM7FQMDRAwQNEDk8GwDhIwaIGaUpjHaRmgcn2PA6BxDRmwaoWPYGB0jR2kZp03X"
    "+I1j9AwZoVV/pjEbNI3lOELXkDG6xo3SNoLbuA7iBvXu0UFE/5yjue/YMJB7hlHcc4zhnoGjru3bs2reuHNPj22juW7Ynl2XW3S8"
    "5aCaaemhZptupskAw2gyzABDaMjB8NlpzcnQ34U3TGgaDg+algODEgY3QwwHHsdaaqolRwOAqjU3g3efzRBdcr6Nxlx9NMgH2gzw"
    "4dYeDdmFRsN1y5XXWQ0TflZDDOHVcFx1R5Y2XHDWcVdDDt/1F16Rn7nWnA3DheldaDbg0F6H8HkX3A0z1HfDcKPdcANu3XH5GWzN"
    "4SADgNG5Jp5ro6l5YHnB6VlaDjuK1l9oOYCI3my0pWfheszlBkN/vLHHYAyyBQdqhKWBihtvugkKqpqx2eZfhLbFVwOetV3HG3X1"
    "oegjijTAh2KavMWpXgzP2XAbc7QR+ZxnL4b3Hn2eScnde9nNVwMO0xr7nW425maDa/wpGaBusd057HXtxXBDDr76KSqBpWK7m2fl"
    "0WpgrL31R1ukADqoG4UTruggnL+FqiCKDNrGqWm9eQicvw==")
Z_SHA256 = hashlib.sha256(Z_PLAIN).hexdigest()

#: A small valid file: a "7" (bar, then the stem down to its foot) and a two-stroke "1", y up.
SMALL = """\
.INCLUDE        dene.doc
.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 3  1
.PEN_DOWN
   0  100
  60  100
  20    0
.PEN_UP
.DT 100

.SEGMENT DIGIT    1-2 ? "1"
.COMMENT 1 4  2
.PEN_DOWN
  30    0
  30  100
.PEN_UP
.PEN_DOWN
  20  90
  30  100
.PEN_UP
.DT 100
"""


@pytest.fixture(scope="session")
def digits() -> pen.PenDigits:
    """The real trajectories (``$DIGITLAB_PEN`` in CI), found like any user's."""
    return pen.load_pen_digits()


@pytest.fixture
def small(tmp_path) -> Path:
    path = tmp_path / "small.tra"
    path.write_text(SMALL)
    return path


@pytest.fixture
def isolated_pen(isolated_data, monkeypatch) -> Path:
    """No ``$DIGITLAB_PEN`` and an empty ``data/``, so ``find_pen_digits``'s own search is tested."""
    monkeypatch.delenv(config.PEN_ENV, raising=False)
    return isolated_data


# --- reading --------------------------------------------------------------------------------


def test_real_file_has_every_digit_of_30_writers(digits):
    assert len(digits) == 7494
    assert np.bincount(digits.labels).tolist() == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    per_writer = np.bincount(digits.writers)[1:]
    assert len(per_writer) == 30 and per_writer.min() == 247 and per_writer.max() == 250
    assert np.bincount([len(d.strokes) for d in digits]).tolist() == [0, 5564, 1921, 9]


def test_real_digits_label_writer_strokes(digits):
    first = digits[0]  # .SEGMENT DIGIT 0 ? "8" / .COMMENT 8 12 224 at the top of the file
    assert (first.label, first.writer, len(first.strokes), first.line) == (8, 12, 1, 6)
    assert first.strokes[0].shape == (78, 2) and first.strokes[0].dtype == np.float64
    assert first.strokes[0][:2].tolist() == [[267, 333], [267, 336]]
    assert [(d.label, d.writer, len(d.strokes)) for d in digits[1:8]] == [
        (2, 26, 1), (1, 11, 1), (4, 14, 1), (1, 10, 1), (6, 27, 1), (4, 1, 2), (0, 18, 2)]


def test_real_seven_is_upright_with_y_up_and_upright_on_the_canvas(digits):
    seven = digits[14]
    assert seven.label == 7
    stem = seven.strokes[0]  # from the bar's left end, right along the bar, down to the foot
    height = np.ptp(np.concatenate(seven.strokes)[:, 1])
    assert stem[0, 1] - stem[-1, 1] > 0.6 * height, "the bar (start) must have larger y than the foot (end)"
    on_canvas = pen.to_canvas(seven.strokes)[0]
    assert on_canvas[0, 1] < 90 and on_canvas[-1, 1] > 190, "bar near the top of the canvas, foot near the bottom"


def test_small_file_and_array_views(small):
    digits = pen.read_pen_digits(small)
    assert len(digits) == 2 and digits.source == small
    assert digits.labels.tolist() == [7, 1] and digits.labels.dtype == np.uint8
    assert digits.writers.tolist() == [3, 4]
    assert [d.line for d in digits] == [5, 14]
    assert digits[1].strokes[1].tolist() == [[20, 90], [30, 100]]
    assert isinstance(digits[1:], pen.PenDigits) and digits[1:].labels.tolist() == [1]
    assert digits[np.array([False, True])].writers.tolist() == [4]
    assert digits.of_writers([3]).labels.tolist() == [7]
    assert "2 digits by 2 writers" in repr(digits) and "2 strokes, 4 points" in repr(digits[1])


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("  60  100", "  60  1o0", r"small.tra:9: bad point '60  1o0'"),
        ("  20    0", "  20  0  5", r"small.tra:10: bad point"),
        ("  60  100", "  60  inf", r"small.tra:9: bad point"),
        (".PEN_UP\n.DT 100\n\n.SEGMENT", ".DT 100\n\n.SEGMENT", r"small.tra:7: .PEN_DOWN without .PEN_UP"),
        ("  30  100\n.PEN_UP\n.DT", "  30  100\n.DT", r"small.tra:20: .PEN_DOWN without .PEN_UP"),
        ("  30  100\n.PEN_UP\n.PEN_DOWN", "  30  100\n.PEN_DOWN", r"small.tra:19: .PEN_DOWN while the pen is already"),
        (".PEN_DOWN\n   0  100\n  60  100\n  20    0\n.PEN_UP\n", "", r"small.tra:5: this digit has no strokes"),
        ('? "7"', '? "x"', r"small.tra:5: unknown label"),
        ('? "1"', '? "10"', r"small.tra:14: unknown label"),
        (".COMMENT 7 3  1\n", "", r"small.tra:5: this digit has no .COMMENT"),
        (".COMMENT 7 3  1", ".COMMENT 9 3  1", r"small.tra:6: .COMMENT says digit 9 but its .SEGMENT says 7"),
        (".COMMENT 7 3  1", ".COMMENT 7 x  1", r"small.tra:6: bad number"),
        (".PEN_UP\n.DT 100\n\n", ".PEN_UP\n 5 5\n.DT 100\n\n", r"small.tra:12: point '5 5' outside .PEN_DOWN"),
        (".COMMENT 1 4  2\n", ".COMMENT 1 4  2\n.PEN_UP\n", r"small.tra:16: .PEN_UP without .PEN_DOWN"),
        (".DT 100\n\n.SEGMENT", ".WHAT 100\n\n.SEGMENT", r"small.tra:12: unknown keyword '.WHAT'"),
        ("DIGIT\n\n", "DIGIT\n 1 2\n", r"small.tra:4: '1' before the first .SEGMENT"),
    ],
)
def test_malformed_input_names_file_and_line(tmp_path, old, new, message):
    assert SMALL.count(old) >= 1
    path = tmp_path / "small.tra"
    path.write_text(SMALL.replace(old, new, 1))
    with pytest.raises(pen.PenDataError, match=message):
        pen.read_pen_digits(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(pen.PenDataError, match="gone.tra: no such file"):
        pen.read_pen_digits(tmp_path / "gone.tra")
    (tmp_path / "empty.tra").write_text(".LEXICON \"0\"\n")
    with pytest.raises(pen.PenDataError, match="empty.tra: holds no digits"):
        pen.read_pen_digits(tmp_path / "empty.tra")
    (tmp_path / "binary.tra").write_bytes(b"\x1f\x9d\x90\xff")
    with pytest.raises(pen.PenDataError, match="binary.tra: cannot read it as a pendigits text file"):
        pen.read_pen_digits(tmp_path / "binary.tra")
    assert issubclass(pen.PenDataError, data.DataError)


# --- finding, fetching, decompressing -----------------------------------------------------


def test_unlzw_widens_codes_and_handles_clear():
    assert pen.unlzw(Z_FIXTURE) == Z_PLAIN
    assert pen.unlzw(Z_FIXTURE[:3]) == b""
    with pytest.raises(ValueError, match="not a .Z file"):
        pen.unlzw(b"PK\x03\x04")
    with pytest.raises(ValueError, match="need block mode"):
        pen.unlzw(b"\x1f\x9d\x10")
    with pytest.raises(ValueError, match="corrupt .Z data: code"):
        pen.unlzw(Z_FIXTURE[:3] + b"\xff\xff\xff\xff")


def zip_of(member: str, payload: bytes) -> bytes:
    """Return a zip archive holding ``payload`` as ``member``, like UCI's."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("pendigits.names", "about")
        zf.writestr(member, payload)
    return buffer.getvalue()


def test_lookup_order_argument_env_repo_file(isolated_pen, small, tmp_path, monkeypatch):
    repo_copy = isolated_pen / "pendigits-orig.tra"
    repo_copy.write_text(SMALL)
    assert pen.find_pen_digits() == repo_copy
    monkeypatch.setenv(config.PEN_ENV, str(small))
    assert pen.find_pen_digits() == small
    other = tmp_path / "other.tra"
    other.write_text(SMALL)
    assert pen.find_pen_digits(other) == other
    assert pen.load_pen_digits(other).source == other
    assert config.PEN_ENV == "DIGITLAB_PEN"


def test_missing_explicit_path_is_an_error_not_a_fallback(isolated_pen, tmp_path, monkeypatch):
    (isolated_pen / "pendigits-orig.tra").write_text(SMALL)
    with pytest.raises(pen.PenDataError, match="given by path argument does not exist: .*nope.tra"):
        pen.find_pen_digits(tmp_path / "nope.tra")
    monkeypatch.setenv(config.PEN_ENV, str(tmp_path / "gone.tra"))
    with pytest.raises(pen.PenDataError, match=r"given by \$DIGITLAB_PEN does not exist: .*gone.tra"):
        pen.load_pen_digits()


def test_offline_without_a_file_says_how_to_provide_it(isolated_pen, monkeypatch):
    def offline(url, dest, progress=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "fetch", offline)
    with pytest.raises(pen.PenDataError) as info:
        pen.load_pen_digits()
    message = str(info.value)
    for hint in ("load_pen_digits('path", "$DIGITLAB_PEN", str(isolated_pen / "pendigits-orig.tra"), pen.PEN_URL):
        assert hint in message
    assert list(isolated_pen.iterdir()) == [], "a failed download must leave nothing behind"
    with pytest.raises(pen.PenDataError, match="download disabled"):
        pen.find_pen_digits(download=False)


def test_download_unpacks_checks_and_keeps_the_file(isolated_pen, monkeypatch):
    calls = []

    def fake_fetch(url, dest, progress=None):
        calls.append(url)
        Path(dest).write_bytes(zip_of("pendigits-orig.tra.Z", Z_FIXTURE))

    monkeypatch.setattr(data, "fetch", fake_fetch)
    with pytest.raises(pen.PenDataError, match="has SHA-256 .*, expected a66225d6.*; not saved"):
        pen.find_pen_digits()
    assert list(isolated_pen.iterdir()) == []
    monkeypatch.setattr(pen, "PEN_SHA256", Z_SHA256)
    found = pen.find_pen_digits()
    assert found == isolated_pen / "pendigits-orig.tra" and found.read_bytes() == Z_PLAIN
    assert pen.find_pen_digits() == found and calls == [pen.PEN_URL, pen.PEN_URL], "a stored download is reused"


@pytest.fixture
def server(tmp_path):
    """A local HTTP server of ``tmp_path / "served"``; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_from_local_http_server(tmp_path, server):
    served, base = server
    (served / "pen.zip").write_bytes(zip_of("pendigits-orig.tra.Z", Z_FIXTURE))
    (served / "other.zip").write_bytes(zip_of("pendigits-orig.tes.Z", Z_FIXTURE))
    (served / "text.zip").write_bytes(b"not a zip")
    dest = pen.download_pen_digits(tmp_path / "out" / "pendigits-orig.tra", url=f"{base}/pen.zip",
                                   expected_sha256=Z_SHA256)
    assert dest.read_bytes() == Z_PLAIN
    cases = [
        ("pen.zip", "0" * 64, "has SHA-256 .* expected 0000.*; not saved"),
        ("missing.zip", None, "download from .*missing.zip failed: HTTP Error 404"),
        ("other.zip", None, r"^archive from .*other.zip holds no pendigits-orig.tra.Z \(it has \['pendigits.names'"),
        ("text.zip", None, "text.zip is not a zip archive"),
    ]
    for i, (name, sha, message) in enumerate(cases):
        folder = tmp_path / f"out{i}"
        with pytest.raises(pen.PenDataError, match=message):
            pen.download_pen_digits(folder / "pendigits-orig.tra", url=f"{base}/{name}", expected_sha256=sha)
        assert not any(folder.iterdir()), f"{name}: nothing may be left behind"


# --- drawing like the pad --------------------------------------------------------------------


def test_pad_constants_are_the_drawing_pads():
    from digitlab import drawing

    assert (pen.CANVAS_SIZE, pen.PEN_WIDTH) == (drawing.CANVAS_SIZE, drawing.PEN_WIDTH)


def test_to_canvas_flips_scales_uniformly_and_centres():
    tall = [np.array([[10.0, 0.0], [10.0, 200.0]]), np.array([[0.0, 200.0], [50.0, 200.0]])]
    a, b = pen.to_canvas(tall, size=280, margin=49)
    points = np.concatenate([a, b])
    assert np.ptp(points[:, 1]) == pytest.approx(182) and np.ptp(points[:, 0]) == pytest.approx(182 / 4)
    assert (points.min(axis=0) + points.max(axis=0)) / 2 == pytest.approx([140, 140])
    assert a[0, 1] > a[1, 1], "the tablet's bottom (y = 0) is the canvas's bottom (large y)"
    assert b[:, 1] == pytest.approx([49, 49]), "the top bar sits on the top margin"
    dot = pen.to_canvas([np.array([[5.0, 5.0]])], size=100, margin=10)
    assert dot[0].tolist() == [[50, 50]]
    with pytest.raises(ValueError, match="no points"):
        pen.to_canvas([])
    with pytest.raises(ValueError, match="leaves no room"):
        pen.to_canvas(tall, size=100, margin=50)


def test_render_is_the_pads_ink_in_both_polarities(small):
    seven = pen.read_pen_digits(small)[0]
    light = pen.render(seven, polarity="light-on-dark")
    dark = pen.render(seven)
    assert light.shape == dark.shape == (280, 280) and light.dtype == np.float32
    np.testing.assert_array_equal(dark, 1 - light)
    assert dark[0, 0] == 1.0 and light.max() == 1.0
    thin, thick = (pen.render(seven, pen_width=w, polarity="light-on-dark").sum() for w in (10, 28))
    assert 2 < thick / thin < 3.5
    np.testing.assert_allclose(preprocess.to_mnist(dark), preprocess.to_mnist(light), atol=1e-5)
    images = pen.prepare(pen.read_pen_digits(small), polarity="light-on-dark")
    assert images.shape == (2, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], preprocess.to_mnist(light), atol=1e-6)
    with pytest.raises(ValueError, match="polarity must be one of"):
        pen.render(seven, polarity="inverted")


def test_the_pads_ink_of_a_real_digit_is_its_render(digits):
    from digitlab import drawing

    pad = drawing.DrawingPad(predictor=object())  # only its ink is compared: no model needed
    digit = digits[6]  # a two-stroke 4
    pad.strokes = [[tuple(p) for p in stroke] for stroke in pen.to_canvas(digit.strokes)]
    np.testing.assert_array_equal(1 - pad.ink(), pen.render(digit))


# --- splits, evaluation, training data ---------------------------------------------------------


def test_split_by_writer_holds_out_whole_writers(digits):
    train, validation, test = pen.split_by_writer(digits)
    parts = [set(np.unique(p.writers)) for p in (train, validation, test)]
    assert [len(p) for p in parts] == [20, 5, 5]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(train) + len(validation) + len(test) == len(digits)
    assert sorted(d.line for p in (train, validation, test) for d in p) == [d.line for d in digits]
    again = pen.split_by_writer(digits)[2]
    assert set(again.writers) == parts[2], "the same seed holds out the same writers"
    assert set(pen.split_by_writer(digits, seed=1)[2].writers) != parts[2]
    with pytest.raises(ValueError, match="30 writers cannot give 20 validation, 10 test"):
        pen.split_by_writer(digits, n_validation=20, n_test=10)


class ConstantPredictor:
    """Says "7" with probability 0.6 for every image, and counts the images it was shown."""

    def __init__(self):
        self.seen = 0

    def predict_batch(self, x):
        assert x.shape[1:] == (28, 28) and x.dtype == np.float32
        self.seen += len(x)
        probabilities = np.full((len(x), 10), 0.4 / 9, dtype=np.float32)
        probabilities[:, 7] = 0.6
        return probabilities


def test_evaluate_reports_every_pen_and_the_details(small):
    digits = pen.read_pen_digits(small)  # a 7 by writer 3 and a 1 by writer 4
    predictor = ConstantPredictor()
    report = pen.evaluate(predictor, digits, pen_widths=(10, 28))
    assert list(report.accuracy) == [(10.0, "dark-on-light"), (10.0, "light-on-dark"), (28.0, "dark-on-light"),
                                     (28.0, "light-on-dark"), (18.0, "dark-on-light")]
    assert set(report.accuracy.values()) == {0.5} and predictor.seen == 5 * 2
    assert (report.pen_width, report.polarity) == (18.0, "dark-on-light")
    assert report.images.shape == (2, 28, 28) and report.probabilities.shape == (2, 10)
    assert report.per_writer == {3: 1.0, 4: 0.0}
    assert report.per_digit[[1, 7]].tolist() == [0.0, 1.0]
    assert report.confusion[1, 7] == 1 and report.confusion[7, 7] == 1 and report.confusion.sum() == 2
    assert report.mistakes().tolist() == [1]
    summary = json.loads(json.dumps(report.to_dict()))
    assert summary["n"] == 2 and summary["per_writer"] == {"3": 1.0, "4": 0.0} and len(summary["accuracy"]) == 5


@pytest.mark.slow
def test_shipped_model_reads_a_held_out_writer(digits, shipped_model):
    from digitlab.predict import Predictor

    test = pen.split_by_writer(digits)[2]
    writer = int(test.writers[0])
    sample = test.of_writers([writer])[:100]
    report = pen.evaluate(Predictor(shipped_model), sample)
    assert len(report.accuracy) == 6 and report.per_writer.keys() == {writer}
    assert min(report.accuracy.values()) > 0.8, report.accuracy  # chance is 0.1
    assert report.accuracy[(18.0, "dark-on-light")] == report.accuracy[(18.0, "light-on-dark")]


def test_training_images_render_each_digit_once(digits):
    sample = digits[:12]
    x, y = pen.training_images(sample, rng=np.random.default_rng(0))
    assert x.shape == (12, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert y.dtype == np.uint8 and y.tolist() == sample.labels.tolist()
    again, _ = pen.training_images(sample, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(x, again)
    other, _ = pen.training_images(sample, rng=np.random.default_rng(1))
    assert np.abs(x.astype(int) - other).mean() > 1, "another seed: other pens and jitter"
    plain, _ = pen.training_images(sample, rng=np.random.default_rng(0), pen_widths=(18,), jitter=False)
    np.testing.assert_array_equal(plain, np.round(pen.prepare(sample) * 255).astype(np.uint8))


def test_public_names_and_no_tensorflow_on_import():
    assert all(hasattr(pen, name) for name in pen.__all__)
    code = "import sys, digitlab.pen; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "digitlab.pen must not import TensorFlow"
