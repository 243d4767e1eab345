"""Tests for digitlab.analysis: the numbers behind the figures, computed without matplotlib."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from digitlab import analysis


def test_importing_analysis_does_not_import_matplotlib():
    code = "import sys, digitlab.analysis; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_all_names_exist():
    assert sorted(analysis.__all__) == sorted(set(analysis.__all__))
    for name in analysis.__all__:
        assert hasattr(analysis, name), name


def test_pca_recovers_a_plane_and_its_variance():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(200, 2))
    coords = np.linalg.qr(noise - noise.mean(axis=0))[0] * [3.0, 1.0]   # centred, uncorrelated, variance 9:1
    basis = np.linalg.qr(rng.normal(size=(784, 2)))[0].T   # two orthonormal directions in pixel space
    images = 0.5 + (coords @ basis).reshape(200, 28, 28)   # pixel values within [0.41, 0.59]
    points, explained = analysis.pca_2d(images)
    np.testing.assert_allclose(explained, [0.9, 0.1], rtol=1e-5)
    np.testing.assert_allclose(np.abs(points), np.abs(coords), atol=1e-5)   # the same up to sign


def test_pca_scales_uint8_images_to_unit_range():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    points_uint8, explained_uint8 = analysis.pca_2d(images)
    points_float, explained_float = analysis.pca_2d(images / 255.0)
    np.testing.assert_allclose(np.abs(points_uint8), np.abs(points_float), atol=1e-4)
    np.testing.assert_allclose(explained_uint8, explained_float, rtol=1e-4)


def test_normalisation_measures_of_a_bar(bar_digit):
    m = analysis.normalisation_measures(bar_digit[None])
    np.testing.assert_array_equal(m["bbox"], [[4, 24, 13, 15]])
    np.testing.assert_allclose(m["centre_of_mass"], [[13.5, 13.5]])
    assert m["stroke_width"][0] == pytest.approx(2 * 40 / 44)   # area 40, outline 2 * (20 + 2)


def test_normalisation_measures_accept_a_channel_axis(bar_digit):
    m = analysis.normalisation_measures(bar_digit[None, ..., None] / 255.0)
    np.testing.assert_array_equal(m["bbox"], [[4, 24, 13, 15]])
    with pytest.raises(ValueError, match="shape"):
        analysis.normalisation_measures(bar_digit)


def test_label_smoothing_floor_is_the_entropy_of_the_smoothed_target():
    # 0.1 over 10 classes: the true class gets 0.91, each other class 0.01
    expected = -(0.91 * math.log(0.91) + 9 * 0.01 * math.log(0.01))
    assert analysis.label_smoothing_floor(0.1) == pytest.approx(expected)
    assert analysis.label_smoothing_floor(0.1) == pytest.approx(0.5003, abs=1e-4)
    assert analysis.label_smoothing_floor(0.0) == 0.0
    assert analysis.label_smoothing_floor(1.0) == pytest.approx(math.log(10))   # uniform target
    with pytest.raises(ValueError, match="smoothing"):
        analysis.label_smoothing_floor(1.5)


def test_label_smoothing_floor_matches_keras_loss_at_the_target():
    keras = pytest.importorskip("keras")
    target = np.full((1, 10), 0.01, np.float32)
    target[0, 3] = 0.91   # the smoothed one-hot of digit 3: the best possible prediction
    one_hot = np.eye(10, dtype=np.float32)[[3]]
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(one_hot, target)
    assert float(loss) == pytest.approx(analysis.label_smoothing_floor(0.1), abs=1e-5)


CM = np.array([[5, 0, 1], [0, 8, 0], [2, 0, 4]])


def test_per_class_table_rows():
    table = analysis.per_class_table(CM)
    assert table.columns == ("digit", "precision", "recall", "F1", "support")
    digit0 = table.rows[0]
    assert digit0[0] == "0" and digit0[4] == 6
    assert digit0[1:4] == pytest.approx((5 / 7, 5 / 6, 2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6)))
    assert table.rows[-1][0] == "macro avg" and table.rows[-1][4] == 20
    lines = str(table).splitlines()
    assert lines[0].split() == ["digit", "precision", "recall", "F1", "support"]
    assert lines[1].split() == ["0", "0.714", "0.833", "0.769", "6"]
    html = table._repr_html_()
    assert html.count("<tr>") == 1 + 4 and "<th>precision</th>" in html


def test_table_escapes_html_and_pretty_prints_as_text():
    table = analysis.Table(("name", "value"), (("<b>", 0.5), ("x", 2)))
    assert "&lt;b&gt;" in table._repr_html_() and "<b>" not in table._repr_html_()
    assert str(table).splitlines()[1].split() == ["<b>", "0.500"]


def test_most_confident_mistakes_come_first(three_mistakes):
    np.testing.assert_array_equal(analysis.most_confident_mistakes(*three_mistakes), [3, 0, 2])
    np.testing.assert_array_equal(analysis.most_confident_mistakes(*three_mistakes, n=1), [3])


def test_most_confident_mistakes_none_when_all_right():
    assert analysis.most_confident_mistakes(np.array([0, 1]), np.eye(2)).size == 0


def test_images_are_scaled_by_dtype_not_by_value():
    bright = np.full((2, 28, 28), 255.0)   # floats are taken as [0, 1]: 0-255 floats are refused, not guessed
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        analysis.pca_2d(bright)
    faint = np.zeros((1, 28, 28), np.uint8)
    faint[0, 4:24, 13:15] = 1   # uint8 is always divided by 255, however faint
    assert analysis.normalisation_measures(faint)["stroke_width"][0] == 0   # nothing reaches half dark
