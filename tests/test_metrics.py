"""digitlab.metrics: confusion matrix, per-class scores, report, calibration."""
from __future__ import annotations

import numpy as np
import pytest

from digitlab import metrics


def one_hot(labels, n=10, p=1.0):
    out = np.full((len(labels), n), (1 - p) / (n - 1))
    out[np.arange(len(labels)), labels] = p
    return out


def test_confusion_matrix_counts():
    cm = metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.confusion_matrix([0, 1], [0])


def test_per_class_scores():
    cm = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    s = metrics.per_class_scores(cm)
    np.testing.assert_allclose(s["precision"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(s["recall"], [0.5, 1.0, 2 / 3])
    np.testing.assert_allclose(s["f1"], [0.5, 2 / 3, 0.8])
    empty = metrics.per_class_scores(np.zeros((2, 2), int))
    assert empty["f1"].tolist() == [0.0, 0.0]


def test_report_is_json_ready():
    y = np.array([0, 1, 2, 3, 3])
    probs = one_hot([0, 1, 2, 3, 5], p=0.9)
    r = metrics.report(y, probs)
    assert r["accuracy"] == pytest.approx(0.8) and r["n"] == 5 and r["errors"] == 1
    assert r["confusion_matrix"][3][5] == 1 and r["support"][3] == 2
    assert r["recall"][3] == pytest.approx(0.5)


def test_calibration_bins_and_ece():
    y = np.array([0, 0, 0, 0])
    probs = one_hot([0, 0, 1, 1], p=0.95)  # 95% confident, half right
    c = metrics.calibration_bins(y, probs, n_bins=10)
    assert c["count"][9] == 4 and c["count"].sum() == 4
    assert c["accuracy"][9] == pytest.approx(0.5) and c["confidence"][9] == pytest.approx(0.95)
    assert c["ece"] == pytest.approx(0.45)
