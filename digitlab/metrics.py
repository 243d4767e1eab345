"""Classification metrics on plain numpy arrays: accuracy, confusion matrix, per-class scores, calibration."""
from __future__ import annotations

import numpy as np

from digitlab.config import NUM_CLASSES

__all__ = ["confusion_matrix", "per_class_scores", "report", "calibration_bins"]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Return the (num_classes, num_classes) count matrix: rows are true labels, columns predictions."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Return precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual}


def report(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """Return a JSON-ready summary: accuracy, n, confusion matrix and per-class precision/recall/F1 (a class per column)."""
    y_pred = np.asarray(probabilities).argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, np.shape(probabilities)[1])
    scores = per_class_scores(cm)
    return {
        "accuracy": float(np.mean(y_pred == np.asarray(y_true))),
        "n": int(len(y_true)),
        "errors": int(np.sum(y_pred != np.asarray(y_true))),
        "confusion_matrix": cm.tolist(),
        **{k: [round(float(v), 6) for v in vals] for k, vals in scores.items() if k != "support"},
        "support": [int(v) for v in scores["support"]],
    }


def calibration_bins(y_true: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Return per-bin mean confidence, accuracy and count of the top prediction (reliability diagram data).

    Also returns ``ece``, the expected calibration error: the count-weighted mean gap between
    confidence and accuracy.
    """
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    safe = np.maximum(count, 1)
    conf = np.bincount(which, weights=confidence, minlength=n_bins) / safe
    acc = np.bincount(which, weights=correct, minlength=n_bins) / safe
    ece = float(np.sum(count * np.abs(acc - conf)) / max(len(confidence), 1))
    return {"edges": edges, "confidence": conf, "accuracy": acc, "count": count, "ece": ece}
