"""The numbers behind the workbook's figures: PCA, MNIST's normalisation, per-digit scores, confident mistakes.

Plain numpy, no matplotlib: the CLI and tests use these without drawing anything, and
``digitlab.plots`` draws what they compute. ``Table`` shows as an HTML table in notebooks and
as aligned text elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np

from digitlab import config, metrics, preprocess

__all__ = [
    "Table",
    "label_smoothing_floor",
    "most_confident_mistakes",
    "normalisation_measures",
    "pca_2d",
    "per_class_table",
]


def _unit_images(images) -> np.ndarray:
    """Return images as float32 (N, H, W) in [0, 1], scaled by dtype (``preprocess.to_unit``: uint8 / 255, floats as they are)."""
    x = preprocess.to_unit(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 1), got {x.shape}")
    return x


# --- the data --------------------------------------------------------------------------------

def pca_2d(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the images projected on their first two principal components (N, 2), and the share of variance each explains."""
    x = _unit_images(images).reshape(len(images), -1)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    variance = s**2
    return x @ vt[:2].T, variance[:2] / variance.sum()


def normalisation_measures(images: np.ndarray) -> dict[str, np.ndarray]:
    """Return per image: ``bbox`` of the ink (top, bottom, left, right; exclusive), ``centre_of_mass`` (row, col), ``stroke_width`` (pixels).

    The box holds every non-zero pixel. The stroke width is estimated as ink area divided by
    half the ink's outline length (2A/P, ink taken where the pixel is at least half dark), which
    is the width of a long stroke and slightly less for short ones.
    """
    x = _unit_images(images)
    ink = x > 0
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    n, h, w = x.shape
    bbox = np.stack([np.argmax(rows, axis=1), h - np.argmax(rows[:, ::-1], axis=1),
                     np.argmax(cols, axis=1), w - np.argmax(cols[:, ::-1], axis=1)], axis=1)
    ys, xs = np.mgrid[:h, :w]
    mass = np.maximum(x.sum(axis=(1, 2)), 1e-12)
    centre = np.stack([(x * ys).sum(axis=(1, 2)) / mass, (x * xs).sum(axis=(1, 2)) / mass], axis=1)
    dark = np.pad(x >= 0.5, ((0, 0), (1, 1), (1, 1)))
    outline = (dark[:, 1:] != dark[:, :-1]).sum(axis=(1, 2)) + (dark[:, :, 1:] != dark[:, :, :-1]).sum(axis=(1, 2))
    stroke = 2 * dark.sum(axis=(1, 2)) / np.maximum(outline, 1)
    return {"bbox": bbox, "centre_of_mass": centre, "stroke_width": stroke}


# --- training ----------------------------------------------------------------------------------

def label_smoothing_floor(smoothing: float, num_classes: int = config.NUM_CLASSES) -> float:
    """Return the least cross-entropy (nats) a model can reach on targets smoothed by ``smoothing``.

    Keras smooths a one-hot target to ``1 - smoothing + smoothing / K`` for the true class and
    ``smoothing / K`` for each other class. Cross-entropy against that target is smallest when the
    prediction equals it, and the minimum is the target's own entropy: the loss never reaches 0.
    """
    if not 0 <= smoothing <= 1:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing}")
    other = smoothing / num_classes
    target = np.array([1 - smoothing + other] + [other] * (num_classes - 1))
    target = target[target > 0]
    return float(-(target * np.log(target)).sum())


# --- evaluation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Table:
    """Rows under column headers; shows as an HTML table in notebooks and as aligned text elsewhere."""

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]

    def cells(self) -> list[list[str]]:
        """Return the rows as strings: floats with three decimals, everything else as ``str``."""
        return [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in self.rows]

    def __str__(self) -> str:
        table = [list(self.columns)] + self.cells()
        widths = [max(len(r[i]) for r in table) for i in range(len(self.columns))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in table)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in self.cells())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


def per_class_table(cm: np.ndarray) -> Table:
    """Return a Table of precision, recall, F1 and support per digit, with a macro-average row."""
    scores = metrics.per_class_scores(np.asarray(cm))
    names = ("precision", "recall", "f1")
    rows = [(str(d), *(float(scores[k][d]) for k in names), int(scores["support"][d])) for d in range(len(cm))]
    rows.append(("macro avg", *(float(np.mean(scores[k])) for k in names), int(np.sum(scores["support"]))))
    return Table(("digit", "precision", "recall", "F1", "support"), tuple(rows))


def most_confident_mistakes(y_true: np.ndarray, probabilities: np.ndarray, n: int = 12) -> np.ndarray:
    """Return the indices of up to ``n`` wrongly predicted images, the most confident prediction first."""
    probabilities = np.asarray(probabilities)
    predicted, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != np.asarray(y_true))
    return wrong[np.argsort(-confidence[wrong], kind="stable")][:n]
