"""Every figure of the workbook: the data, MNIST's normalisation, training curves, evaluation, real pen input, the CNN's view.

Functions take numpy arrays, histories and metric results, never models or widgets. Single
plots follow ``plot_x(data, *, ax=None, **style) -> Axes``; grids of panels return a Figure.
Nothing here shows, saves or changes rcParams, except ``style()``, which each notebook calls
once in its Setup. ``LiveCurves`` redraws one figure in place in a notebook cell's output.
The numbers behind the figures (PCA, normalisation measures, per-class table, confident
mistakes) live in ``digitlab.analysis``, which needs no matplotlib.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from scipy import ndimage

from digitlab import analysis, preprocess, scripts

if TYPE_CHECKING:  # transfer trains models: plots only reads its results
    from digitlab.transfer import CrossScriptMistake, EfficiencyCurve

__all__ = [
    "DIGIT_CMAP",
    "MAX_SIZE",
    "LiveCurves",
    "plot_accuracy_by_group",
    "plot_augmented",
    "plot_class_balance",
    "plot_confident_mistakes",
    "plot_confusion_matrix",
    "plot_cross_script_mistakes",
    "plot_declined",
    "plot_digits_compared",
    "plot_efficiency",
    "plot_efficiencies",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_mean_digits",
    "plot_mnist_steps",
    "plot_normalisation_examples",
    "plot_normalisation_stats",
    "plot_pad_mistakes",
    "plot_pca",
    "plot_pen_accuracy",
    "plot_pixel_histogram",
    "plot_reliability",
    "plot_samples",
    "plot_score_spread",
    "style",
]

#: Colour map for digits: dark ink on white paper.
DIGIT_CMAP = "gray_r"
#: Largest figure, in inches, so notebooks render readably on GitHub.
MAX_SIZE = (8.0, 5.0)
DIGITS = np.arange(10)
HISTORY_METRICS = ("loss", "accuracy")
#: Pixel values from here up count as dark ink in the pixel histogram's title.
DARK_INK = 224


def style() -> None:
    """Return nothing; set the workbook's look (fonts, light grid, no top/right frame) for later figures."""
    mpl.rcParams.update({
        "figure.figsize": (6.0, 4.0),
        "figure.dpi": 100,
        "font.size": 10,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "image.cmap": DIGIT_CMAP,
        "legend.frameon": False,
    })


# --- helpers ---------------------------------------------------------------------------------

def _fit(width: float, height: float) -> tuple[float, float]:
    """Return (width, height) scaled down, aspect kept, to fit within MAX_SIZE."""
    scale = min(1.0, MAX_SIZE[0] / width, MAX_SIZE[1] / height)
    return width * scale, height * scale


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    """Return ``ax``, or the axes of a new figure of ``figsize``."""
    if ax is None:
        _, ax = plt.subplots(figsize=_fit(*figsize), layout="constrained")
    return ax


def _as_images(images) -> np.ndarray:
    """Return images as a float array (N, H, W), dropping a trailing channel axis of 1."""
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 1), got {arr.shape}")
    return arr


def _blank(ax: Axes) -> None:
    """Hide an image panel's ticks, grid and frame but keep its labels usable."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _image_grid(
    images, ncols: int, *, titles: Sequence[str] | None = None, row_labels: Sequence[str] | None = None,
    panel: float = 0.8, suptitle: str | None = None, **imshow,
) -> Figure:
    """Return a figure showing ``images`` row by row in ``ncols`` columns, with optional titles."""
    images = list(images)
    nrows = max(1, math.ceil(len(images) / ncols))
    extra = 0.3 * (titles is not None) + 0.3 * (suptitle is not None)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=_fit(ncols * panel, nrows * (panel + 0.15 * (titles is not None)) + extra),
        squeeze=False, layout="constrained",
    )
    imshow = {"cmap": DIGIT_CMAP, **imshow}
    for i, ax in enumerate(axes.flat):
        _blank(ax)
        if i < len(images):
            ax.imshow(images[i], **imshow)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    for label, ax in zip(row_labels or (), axes[:, 0]):
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _digit_indices(labels: np.ndarray, per_digit: int) -> list[np.ndarray]:
    """Return, for each digit 0-9, the indices of its first ``per_digit`` examples."""
    labels = np.asarray(labels)
    return [np.flatnonzero(labels == d)[:per_digit] for d in DIGITS]


# --- the data --------------------------------------------------------------------------------

def plot_class_balance(splits: Mapping[str, np.ndarray], *, ax: Axes | None = None, **style) -> Axes:
    """Return axes with grouped bars: the share (%) of each digit in every split, e.g. train and test."""
    ax = _axes(ax, (6.5, 3.5))
    width = 0.8 / len(splits)
    for i, (name, labels) in enumerate(splits.items()):
        share = 100 * np.bincount(np.asarray(labels, dtype=int), minlength=10) / len(labels)
        ax.bar(DIGITS + (i - (len(splits) - 1) / 2) * width, share, width, label=f"{name} ({len(labels):,})", **style)
    ax.axhline(10, color="k", lw=0.8, ls="--", label="uniform (10%)")
    ax.set_xticks(DIGITS, [str(d) for d in DIGITS])
    ax.set(xlabel="digit", ylabel="share of the split (%)", title="How often each digit occurs")
    ax.set_ylim(0, 1.3 * ax.get_ylim()[1])
    ax.legend(loc="upper center", ncols=len(splits) + 1, fontsize=8)
    return ax


def plot_samples(images: np.ndarray, labels: np.ndarray, *, per_digit: int = 12) -> Figure:
    """Return a grid with one row per digit 0-9 showing its first ``per_digit`` images."""
    rows = _digit_indices(labels, per_digit)
    images = _as_images(images)
    grid = [images[idx[j]] if j < len(idx) else np.zeros(images.shape[1:]) for idx in rows for j in range(per_digit)]
    return _image_grid(grid, per_digit, row_labels=[str(d) for d in DIGITS], panel=0.48)


def plot_mean_digits(images: np.ndarray, labels: np.ndarray) -> Figure:
    """Return a row of ten panels: the pixel-wise mean image of each digit 0-9."""
    images, labels = _as_images(images), np.asarray(labels)
    means = [images[labels == d].mean(axis=0) for d in DIGITS]
    return _image_grid(means, 10, titles=[str(d) for d in DIGITS], panel=0.8)


def plot_pixel_histogram(images: np.ndarray, *, ax: Axes | None = None, bin_width: int = 8, **style) -> Axes:
    """Return axes with the histogram (log scale) of the 0-255 pixel values of uint8 ``images``."""
    values = np.asarray(images)
    if values.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0-255), got {values.dtype}")
    counts = np.bincount(values.ravel(), minlength=256)
    edges = np.arange(0, 256 + bin_width, bin_width)
    binned = np.add.reduceat(counts, edges[:-1])
    ax = _axes(ax, (6.0, 3.5))
    ax.stairs(binned, np.minimum(edges, 256), fill=True, **style)
    ax.set_yscale("log")
    share = counts / counts.sum()
    blank, dark = share[0], share[DARK_INK:].sum()
    ax.set(xlabel="pixel value (0 = paper, 255 = full ink)", ylabel="pixels",
           title=f"{blank:.0%} blank (0), {dark:.0%} dark ink (>= {DARK_INK}), {1 - blank - dark:.0%} grey edges")
    return ax


def plot_pca(images: np.ndarray, labels: np.ndarray, *, ax: Axes | None = None, **style) -> Axes:
    """Return axes with a scatter of the images' 2-D PCA projection, one colour per digit, a label per class mean.

    Each digit's label is drawn at its class mean; where labels would overlap (class means close
    together, such as 4, 7 and 9) they are pushed apart and a thin line joins each to its mean.
    """
    points, explained = analysis.pca_2d(images)
    labels = np.asarray(labels)
    ax = _axes(ax, (6.5, 5.0))
    colours = plt.get_cmap("tab10")
    for d in DIGITS:
        pts = points[labels == d]
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.4, color=colours(d), label=str(d), **style)
    ax.set(xlabel=f"PC 1 ({explained[0]:.0%} of variance)", ylabel=f"PC 2 ({explained[1]:.0%} of variance)",
           title=f"{len(labels):,} images projected on two principal components")
    ax.legend(title="digit", markerscale=3, loc="center left", bbox_to_anchor=(1, 0.5))
    means = {int(d): points[labels == d].mean(axis=0) for d in DIGITS if np.any(labels == d)}
    _label_points(ax, means, colours)
    return ax


def _label_points(ax: Axes, anchors: Mapping[int, np.ndarray], colours) -> None:
    """Label each anchor (data coordinates) with its key in a circle, moving labels apart where they would overlap.

    The figure is laid out once without rendering so that label sizes and the data-to-pixel
    transform are final; labels are then spread in pixels and placed as offsets in points,
    which stay right at any resolution.
    """
    marks = []
    for key, (x, y) in anchors.items():
        ax.plot([x], [y], "o", ms=3, color="k", zorder=3)
        mark = ax.annotate(str(key), (x, y), xytext=(0, 0), textcoords="offset points", fontsize=13,
                           weight="bold", ha="center", va="center", zorder=4,
                           bbox=dict(boxstyle="circle,pad=0.15", fc="white", ec=colours(key), lw=1.5),
                           arrowprops=dict(arrowstyle="-", color=colours(key), lw=1.2, shrinkA=0, shrinkB=0))
        mark.set_in_layout(False)
        marks.append(mark)
    if not marks:
        return
    fig = ax.figure
    fig.draw_without_rendering()
    boxes = [m.get_bbox_patch().get_window_extent() for m in marks]
    half = np.array([(b.width / 2, b.height / 2) for b in boxes])
    start = ax.transData.transform(np.array(list(anchors.values()), dtype=float))
    frame = ax.get_window_extent()
    placed = _spread_boxes(start, half, ((frame.x0, frame.y0), (frame.x1, frame.y1)), gap=3.0)
    for mark, offset in zip(marks, (placed - start) * 72 / fig.dpi):
        mark.xyann = tuple(offset)


def _spread_boxes(centres: np.ndarray, half_sizes: np.ndarray, bounds=None, *, gap: float = 2.0,
                 max_steps: int = 500) -> np.ndarray:
    """Return new centres (N, 2) for boxes so that no two overlap, each moved as little as simple repulsion allows.

    Boxes are axis-aligned, given by centre and half width/height (same units, e.g. pixels).
    Overlapping pairs are pushed apart along the line joining their centres (a fixed direction
    per box where centres coincide) until they are ``gap`` apart; ``bounds`` ((x0, y0), (x1, y1))
    keeps every box inside a frame.
    """
    pos = np.array(centres, dtype=float).reshape(-1, 2)
    half = np.array(half_sizes, dtype=float).reshape(-1, 2)
    n = len(pos)
    lo, hi = (None, None) if bounds is None else (np.asarray(bounds[0], float) + half, np.asarray(bounds[1], float) - half)
    for _ in range(max_steps):
        moved = False
        for i in range(n):
            for j in range(i + 1, n):
                d = pos[j] - pos[i]
                need = half[i] + half[j] + gap - np.abs(d)
                if np.any(need <= 0):
                    continue
                if np.hypot(*d) < 1e-9:
                    angle = 2 * math.pi * j / n
                    d = np.array([math.cos(angle), math.sin(angle)])
                u = d / np.hypot(*d)
                # the shortest move along u that clears the pair in x or in y
                step = min(need[k] / abs(u[k]) for k in (0, 1) if abs(u[k]) > 1e-9)
                pos[i] -= u * (step / 2 + 0.01)
                pos[j] += u * (step / 2 + 0.01)
                moved = True
        if lo is not None:
            pos = np.clip(pos, lo, np.maximum(lo, hi))
        if not moved:
            break
    return pos


# --- how MNIST is normalised ------------------------------------------------------------------

def plot_normalisation_examples(images: np.ndarray, *, n: int = 6) -> Figure:
    """Return a row of ``n`` digits, each with its ink box (red), the 20x20 box (dashed) and centre of mass."""
    m = analysis.normalisation_measures(np.asarray(images)[:n])
    images = _as_images(np.asarray(images)[:n])
    field, box = images.shape[1], preprocess.BOX
    titles = [f"box {b - t}x{r - left}\nstroke {s:.1f} px" for (t, b, left, r), s in zip(m["bbox"], m["stroke_width"])]
    fig = _image_grid(images, n, titles=titles, panel=1.3)
    for ax, (top, bottom, left, right), (cy, cx) in zip(fig.axes, m["bbox"], m["centre_of_mass"]):
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, ec="tab:red", lw=1))
        ax.add_patch(Rectangle(((field - box) / 2 - 0.5,) * 2, box, box, fill=False, ec="tab:blue", ls="--", lw=1))
        ax.plot([cx], [cy], "o", color="tab:orange", ms=5)
        ax.plot([field / 2], [field / 2], "+", color="tab:blue", ms=10)
    return fig


def plot_normalisation_stats(images: np.ndarray) -> Figure:
    """Return three histograms over ``images``: longer side of the ink box, centre-of-mass offset, stroke width."""
    m = analysis.normalisation_measures(images)
    offset = np.hypot(*(m["centre_of_mass"] - np.shape(images)[1] / 2).T)
    fig, axes = plt.subplots(1, 3, figsize=(8.0, 2.8), layout="constrained")
    top, bottom, left, right = m["bbox"].T
    longer = np.maximum(bottom - top, right - left)
    axes[0].hist(longer, bins=np.arange(longer.min() - 0.5, longer.max() + 1.5))
    axes[0].set(xlabel="longer side of ink box (px)", ylabel="images", title=f"{np.mean(longer == 20):.1%} exactly 20")
    axes[1].hist(offset, bins=30)
    axes[1].set(xlabel="centre of mass to field centre (px)", title=f"median {np.median(offset):.2f} px")
    axes[2].hist(m["stroke_width"], bins=30)
    axes[2].set(xlabel="stroke width (px)", title=f"median {np.median(m['stroke_width']):.1f} px")
    return fig


def plot_mnist_steps(steps: preprocess.MnistSteps) -> Figure:
    """Return four panels of ``preprocess.mnist_steps``: ink with its box, crop, 20-pixel fit, centred 28x28 result."""
    top, bottom, left, right = steps.bbox
    result_cy, result_cx = ndimage.center_of_mass(steps.result)
    h, w = steps.ink.shape
    titles = [f"1. ink ({h}x{w})", "2. cropped to the ink",
              f"3. fitted into 20x20: {steps.fitted.shape[0]}x{steps.fitted.shape[1]}", "4. centred in 28x28"]
    fig = _image_grid([steps.ink, steps.cropped, steps.fitted, steps.result], 4, titles=titles, panel=1.9)
    first, crop, fit, last = fig.axes
    for ax in fig.axes:
        for spine in ax.spines.values():
            spine.set(visible=True, color="0.7")
    first.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, ec="tab:red"))
    for spine in crop.spines.values():
        spine.set_color("tab:red")
    pad_y, pad_x = [(preprocess.BOX - n) / 2 for n in steps.fitted.shape]
    fit.set(xlim=(-0.5 - pad_x, steps.fitted.shape[1] - 0.5 + pad_x), ylim=(steps.fitted.shape[0] - 0.5 + pad_y, -0.5 - pad_y))
    fit.add_patch(Rectangle((-0.5 - pad_x, -0.5 - pad_y), preprocess.BOX, preprocess.BOX, fill=False, ec="tab:blue", ls="--", lw=1.5))
    last.plot([result_cx], [result_cy], "o", color="tab:orange", ms=5, label="centre of mass")
    centre = steps.result.shape[0] / 2
    last.plot([centre], [centre], "+", color="tab:blue", ms=12, label="field centre")
    return fig


def plot_augmented(originals: np.ndarray, variants: Sequence[np.ndarray]) -> Figure:
    """Return a grid: the original images in the first row, each augmented copy of them in a row below."""
    originals = _as_images(originals)
    rows = [originals] + [_as_images(v) for v in variants]
    if any(r.shape != originals.shape for r in rows):
        raise ValueError(f"every variant must have the originals' shape {originals.shape}")
    labels = ["original"] + [f"augmented {i + 1}" for i in range(len(variants))]
    return _image_grid([img for r in rows for img in r], len(originals), row_labels=labels, panel=0.7, vmin=0, vmax=1)


# --- training curves ---------------------------------------------------------------------------

def _percent(value: float, _pos=None) -> str:
    """Return a tick label for a fraction: 0.005 -> '0.5%'."""
    return f"{100 * value:.3g}%"


def _curve_lines(axes: Sequence[Axes], epochs: int | None, loss_floor: float | None = None) -> dict[str, Line2D]:
    """Return empty train and validation lines, keyed by history name, on a loss axes and an error-rate axes.

    The second axes shows 1 - accuracy on a log scale, so the last tenths of a percent (where a
    good model spends most of its epochs) stay as readable as the first ten percent.
    """
    loss_ax, error_ax = axes
    lines = {}
    for ax, metric in zip(axes, HISTORY_METRICS):
        for prefix, label, ls in (("", "train", "-"), ("val_", "validation", "--")):
            (lines[prefix + metric],) = ax.plot([], [], ls, marker="o", ms=3, label=label)
        if epochs:
            ax.set_xlim(0.5, epochs + 0.5)
    if loss_floor is not None:
        loss_ax.axhline(loss_floor, color="0.35", ls=(0, (5, 3)), lw=1, label=f"lowest possible ({loss_floor:.2f})")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    error_ax.set_yscale("log")
    error_ax.yaxis.set_major_locator(mpl.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    error_ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(_percent))
    error_ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    error_ax.set(xlabel="epoch", ylabel="error rate (log scale)", title="error rate = 1 - accuracy")
    for ax in axes:
        ax.legend(fontsize=8)
    return lines


def _draw_history(fig: Figure, lines: Mapping[str, Line2D], history: Mapping[str, Sequence[float]]) -> None:
    """Set the lines' data from ``history`` and rescale the axes; the title gives the best validation accuracy.

    Accuracy is drawn as error rate (1 - accuracy); an error of exactly 0 has no place on the
    log scale and is left out.
    """
    for key, line in lines.items():
        values = np.asarray(history.get(key, []), dtype=float)
        if key.endswith("accuracy"):
            values = 1 - values
            values[values <= 0] = np.nan
        line.set_data(np.arange(1, len(values) + 1), values)
    for ax in fig.axes:
        ax.relim()
        ax.autoscale_view(scalex=ax.get_autoscalex_on())
    val = history.get("val_accuracy") or []
    if val:
        best = int(np.argmax(val))
        fig.suptitle(f"after {len(val)} epochs: best validation accuracy {val[best]:.2%} (epoch {best + 1})")


def plot_history(history: Mapping[str, Sequence[float]], *, epochs: int | None = None,
                 loss_floor: float | None = None) -> Figure:
    """Return loss and error rate (1 - accuracy, log scale) per epoch, train and validation, from a ``train`` history.

    ``loss_floor`` draws the lowest loss the model can reach as a dashed line (with label
    smoothing it is above 0: see ``analysis.label_smoothing_floor``).
    """
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.2), layout="constrained")
    _draw_history(fig, _curve_lines(axes, epochs, loss_floor), history)
    return fig


class LiveCurves:
    """Training curves that redraw in place, in the notebook cell's output, after every epoch.

    Pass an instance as ``on_epoch_end`` to ``digitlab.train.train``: each call with the history
    so far updates one figure (an IPython display handle) instead of printing a new one. The
    figure is the one ``plot_history`` draws: loss (with ``loss_floor`` dashed) and error rate.
    """

    def __init__(self, epochs: int | None = None, *, loss_floor: float | None = None):
        self.figure = Figure(figsize=(8.0, 3.2), layout="constrained")  # not pyplot's: shown only via the handle
        self.lines = _curve_lines(self.figure.subplots(1, 2), epochs, loss_floor)
        self.handle = None

    def __call__(self, history: Mapping[str, Sequence[float]]) -> None:
        """Return nothing; redraw the curves from ``history`` and update the displayed figure."""
        _draw_history(self.figure, self.lines, history)
        if self.handle is None:
            self.handle = display(self.figure, display_id=True)
        else:
            self.handle.update(self.figure)


# --- evaluation --------------------------------------------------------------------------------

def plot_confusion_matrix(cm: np.ndarray, *, normalize: bool = False, ax: Axes | None = None, cmap: str = "Blues") -> Axes:
    """Return axes with the confusion matrix (rows true, columns predicted), each non-zero cell annotated.

    With ``normalize`` each row is shown as percentages of that true digit. Colours are on a log
    scale so that a handful of errors stands out next to the full diagonal; zero cells stay blank.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    values = 100 * cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm.astype(float)
    shown = np.ma.masked_equal(values, 0)
    lo, hi = (shown.min(), shown.max()) if shown.count() else (1, 1)
    ax = _axes(ax, (5.5, 4.8))
    image = ax.imshow(shown, cmap=cmap, norm=mpl.colors.LogNorm(vmin=lo, vmax=max(hi, lo * 1.01)))
    ax.grid(False)
    for (i, j), v in np.ndenumerate(values):
        if v:
            text = f"{v:.1f}" if normalize else f"{int(v)}"
            dark = image.norm(v) > 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    n = cm.shape[0]
    ax.set_xticks(range(n), [str(k) for k in range(n)])
    ax.set_yticks(range(n), [str(k) for k in range(n)])
    what = "% of each true digit" if normalize else f"counts, {int(cm.sum() - np.trace(cm))} errors in {int(cm.sum()):,}"
    ax.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix ({what})")
    return ax


def plot_confident_mistakes(images: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray, *,
                            n: int = 12, ncols: int = 6) -> Figure:
    """Return a gallery of the ``n`` most confident mistakes, titled ``pred 3 / true 5`` with the probability."""
    idx = analysis.most_confident_mistakes(y_true, probabilities, n)
    probabilities, y_true = np.asarray(probabilities), np.asarray(y_true)
    titles = [f"pred {probabilities[i].argmax()} / true {y_true[i]}\np = {probabilities[i].max():.2f}" for i in idx]
    return _image_grid(_as_images(images)[idx], ncols, titles=titles, panel=1.2)


def plot_reliability(bins: Mapping[str, np.ndarray], *, ax: Axes | None = None, **style) -> Axes:
    """Return a reliability diagram from ``metrics.calibration_bins``: accuracy vs confidence per bin, with counts."""
    edges, count = np.asarray(bins["edges"]), np.asarray(bins["count"])
    used = count > 0
    ax = _axes(ax, (5.0, 4.5))
    bars = ax.bar(edges[:-1][used], bins["accuracy"][used], np.diff(edges)[used], align="edge",
                  edgecolor="white", label="accuracy", **style)
    ax.plot(bins["confidence"][used], bins["accuracy"][used], "o", color="tab:orange", label="mean confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    for bar, c in zip(bars, count[used]):
        ax.annotate(f"{c:,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence (top probability)", ylabel="accuracy",
           title=f"Reliability diagram (ECE {bins['ece']:.2%}; numbers are images per bin)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=3, fontsize=8)
    return ax


# --- real pen input ------------------------------------------------------------------------------

def _error_bars(ax: Axes, x: np.ndarray, accuracy: np.ndarray, width: float, label: str | None = None, **style):
    """Return the bars of the error rates (1 - ``accuracy``) at ``x``, each annotated with its accuracy."""
    bars = ax.bar(x, 1 - accuracy, width, label=label, **style)
    for bar, a in zip(bars, accuracy):
        ax.annotate(f"{a:.1%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    return bars


def _error_axis(ax: Axes, reference: Mapping[str, float] | None, highest: float) -> None:
    """Return nothing; draw each ``reference`` accuracy as an error-rate line (dashed, dotted, ...), y axis in %."""
    for (name, value), ls in zip((reference or {}).items(), ("--", ":", "-.")):
        ax.axhline(1 - value, color="0.3", ls=ls, lw=1, label=f"{name} ({value:.2%})")
    top = max([highest, *(1 - v for v in (reference or {}).values())], default=0.0)
    ax.set_ylim(0, 1.3 * top if top > 0 else 0.01)
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(_percent))
    ax.set_ylabel("error rate = 1 - accuracy")


def plot_pen_accuracy(accuracy: Mapping[tuple[float, str], float], *, ax: Axes | None = None,
                      reference: Mapping[str, float] | None = None, **style) -> Axes:
    """Return axes with the error rate per pen width, one bar per polarity, from ``pen.PenReport.accuracy``.

    ``accuracy`` maps ``(pen_width, polarity)`` to accuracy. Bars show the error rate
    (1 - accuracy) so that 99.5% and 99.8% look different; each is labelled with its accuracy.
    ``reference`` draws other accuracies (e.g. ``{"MNIST test": 0.996}``) as dashed or dotted lines.
    """
    widths = sorted({float(w) for w, _ in accuracy})
    polarities = list(dict.fromkeys(p for _, p in accuracy))
    ax = _axes(ax, (6.5, 3.5))
    x, bar = np.arange(len(widths)), 0.8 / max(len(polarities), 1)
    for i, polarity in enumerate(polarities):
        shown = [w for w in widths if (w, polarity) in accuracy]
        values = np.array([accuracy[(w, polarity)] for w in shown], dtype=float)
        _error_bars(ax, x[[widths.index(w) for w in shown]] + (i - (len(polarities) - 1) / 2) * bar, values, bar,
                    label=polarity, **style)
    _error_axis(ax, reference, max((1 - v for v in accuracy.values()), default=0.0))
    ax.set_xticks(x, [f"{w:g} px" for w in widths])
    ax.set(xlabel="pen width on the 280 px canvas", title="Real pen digits: error rate per pen (labels: accuracy)")
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    return ax


def plot_accuracy_by_group(accuracies: Mapping[object, float] | Sequence[float], *, ax: Axes | None = None,
                           title: str = "Accuracy by group", xlabel: str = "",
                           reference: Mapping[str, float] | None = None, **style) -> Axes:
    """Return axes with one error-rate bar (1 - accuracy) per group, labelled with its accuracy.

    ``accuracies`` maps a group (a writer, a digit) to its accuracy; a plain sequence is taken
    as groups 0, 1, 2, ... (``PenReport.per_digit``). ``reference`` draws other accuracies (the
    whole set, MNIST's test set) as dashed or dotted lines to compare each group with.
    """
    groups = dict(accuracies) if isinstance(accuracies, Mapping) else dict(enumerate(accuracies))
    values = np.array(list(groups.values()), dtype=float)
    ax = _axes(ax, (6.5, 3.5))
    x = np.arange(len(groups))
    _error_bars(ax, x, values, 0.7, **style)
    _error_axis(ax, reference, float(np.max(1 - values, initial=0.0)))
    ax.set_xticks(x, [str(g) for g in groups])
    ax.set(xlabel=xlabel, title=title)
    if reference:
        ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_pad_mistakes(canvases: Sequence[np.ndarray], images: np.ndarray, y_true: np.ndarray,
                      probabilities: np.ndarray, *, ncols: int = 6) -> Figure:
    """Return each mistake twice: on the pad (black ink on white, as ``pen.render`` draws it) and the 28x28 the model saw.

    The four arguments are aligned, one entry per mistake in the order shown (``PenReport.mistakes()``
    gives them most confident first): ``canvases`` as the pad shows them (0 = ink, 1 = paper),
    ``images`` in MNIST format (1 = ink), true labels and predicted probabilities. Rows alternate
    between the pad and the model's view; each pad panel is titled ``pred 3 / true 5`` with the
    probability. With no mistakes the figure says so.
    """
    canvases = [np.asarray(c, dtype=np.float32) for c in canvases]
    y_true, probabilities = np.asarray(y_true), np.asarray(probabilities)
    images = _as_images(images)
    if not len(images) == len(y_true) == len(probabilities) == len(canvases):
        raise ValueError(f"canvases, images, labels and probabilities must be aligned, got {len(canvases)}, "
                         f"{len(images)}, {len(y_true)} and {len(probabilities)}")
    if not canvases:
        fig, ax = plt.subplots(figsize=(4.0, 1.0), layout="constrained")
        _blank(ax)
        ax.text(0.5, 0.5, "no mistakes to show", ha="center", va="center", transform=ax.transAxes)
        return fig
    ncols = min(ncols, len(canvases))
    panels, titles, row_labels = [], [], []
    for start in range(0, len(canvases), ncols):
        chunk = range(start, min(start + ncols, len(canvases)))
        blank = [None] * (ncols - len(chunk))  # the last row's empty places
        panels += [canvases[i] for i in chunk] + blank + [1 - images[i] for i in chunk] + blank
        titles += [f"pred {probabilities[i].argmax()} / true {y_true[i]}\np = {probabilities[i].max():.2f}"
                   for i in chunk] + [""] * (len(blank) + ncols)
        row_labels += ["on the pad", "model sees"]
    # both rows as dark ink on white: the model's images (1 = ink) are drawn inverted, 1 - image
    fig = _image_grid([np.ones((1, 1)) if p is None else p for p in panels], ncols, titles=titles,
                      row_labels=row_labels, panel=1.2, cmap="gray", vmin=0, vmax=1,
                      suptitle=f"{len(canvases)} mistake{'s' * (len(canvases) != 1)}, most confident first")
    for ax, panel in zip(fig.axes, panels):
        if panel is None:
            ax.images[0].remove()
        for spine in ax.spines.values():  # a thin frame: the edge of the canvas, and of the 28x28 field
            spine.set(visible=panel is not None, color="0.75")
    return fig


def plot_digits_compared(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], *, per_digit: int = 2) -> Figure:
    """Return a grid with a column per digit 0-9 and ``per_digit`` rows per named set of ``(images, labels)``.

    Rows are labelled with the set's name, so e.g. MNIST test digits sit above pen digits of
    the same class. Images are scaled by dtype (uint8 / 255) and shown on one grey scale.
    """
    panels, labels = [], []
    for name, (images, y) in sets.items():
        images, rows = _as_images(preprocess.to_unit(images)), _digit_indices(y, per_digit)
        for j in range(per_digit):
            panels += [images[idx[j]] if j < len(idx) else np.zeros(images.shape[1:]) for idx in rows]
            labels.append(name if j == 0 else "")
    titles = [str(d) for d in DIGITS] + [""] * (len(panels) - 10)
    return _image_grid(panels, 10, titles=titles, row_labels=labels, panel=0.6, vmin=0, vmax=1)


# --- what the CNN sees ---------------------------------------------------------------------------

def plot_filters(kernels: np.ndarray, *, ncols: int = 8) -> Figure:
    """Return one panel per filter of a conv kernel (kh, kw, in, out), first input channel, red + / blue -."""
    kernels = np.asarray(kernels)
    if kernels.ndim != 4:
        raise ValueError(f"kernels must have shape (height, width, in_channels, filters), got {kernels.shape}")
    filters = np.moveaxis(kernels[:, :, 0, :], -1, 0)
    limit = float(np.abs(filters).max()) or 1.0
    return _image_grid(filters, ncols, cmap="RdBu_r", vmin=-limit, vmax=limit, panel=0.8,
                       suptitle=f"{len(filters)} first-layer filters ({kernels.shape[0]}x{kernels.shape[1]})")


def plot_feature_maps(maps: np.ndarray, *, image: np.ndarray | None = None, n: int = 15, ncols: int = 8) -> Figure:
    """Return the ``n`` most active channels of one image's feature maps (H, W, C), strongest first, on one colour scale.

    All maps share one colour scale, shown by the colour bar, so their brightness compares
    across channels. With ``image`` the input digit comes first (in its own grey scale), so
    the maps can be compared with it.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"feature maps must have shape (height, width, channels), got {maps.shape}")
    order = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:n]
    panels, titles = [maps[:, :, c] for c in order], [f"channel {c}" for c in order]
    shown = maps[:, :, order]
    low, high = float(shown.min()), float(shown.max())
    high = high if high > low else low + 1.0
    if image is not None:
        panels, titles = [_as_images(np.asarray(image)[None])[0], *panels], ["input", *titles]
    fig = _image_grid(panels, ncols, titles=titles, cmap="viridis", vmin=low, vmax=high, panel=0.9,
                      suptitle=f"{len(order)} most active of {maps.shape[2]} channels ({maps.shape[0]}x{maps.shape[1]})")
    grid = list(fig.axes)
    if image is not None:
        digit = grid[0].images[0]
        digit.set_cmap(DIGIT_CMAP)
        digit.set_clim(float(panels[0].min()), float(panels[0].max()))
    if len(order):
        first_map = grid[1 if image is not None else 0].images[0]
        fig.colorbar(first_map, ax=grid, shrink=0.8, pad=0.02, aspect=25, label="activation")
    return fig


def plot_cross_script_mistakes(mistakes: Sequence[CrossScriptMistake], *, ncols: int = 6) -> Figure:
    """Return a grid of digits read as a wrong value of another script, each titled ``arabic 5 -> western 0``.

    The colliding glyphs of ``transfer.cross_script_mistakes``: what the any-script model meets
    when scripts share shapes. Titles name the scripts, so no font needs their glyphs.
    """
    if not mistakes:
        fig, ax = plt.subplots(figsize=(4, 0.8))
        _blank(ax)
        ax.text(0.5, 0.5, "no digit read as a wrong value of another script", ha="center", va="center")
        return fig
    titles = [m.caption().replace(" -> ", "\n-> ") for m in mistakes]
    return _image_grid([preprocess.to_unit(m.image) for m in mistakes], min(ncols, len(mistakes)), titles=titles,
                       panel=1.1, vmin=0, vmax=1)


def plot_declined(by_kind: Mapping[str, float], *, digits: Mapping[str, float] | None = None, ax: Axes | None = None,
                  title: str = "What the model declines", **style) -> Axes:
    """Return axes with one horizontal bar per kind of non-digit: the share declined, labelled.

    ``by_kind`` maps a kind (``DeclineReport.by_kind``) to its share declined; ``digits`` maps a
    set of real digits ("pen", "MNIST") to its share declined, drawn as bars of another colour
    below the kinds, so the two sides of the trade-off show on one scale.
    """
    rows = [(str(k), float(v), False) for k, v in by_kind.items()]
    rows += [(f"real digits: {k}", float(v), True) for k, v in (digits or {}).items()]
    ax = _axes(ax, (6.5, 0.3 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    colours = ["tab:orange" if real else "tab:blue" for _, _, real in rows]
    ax.barh(y, [v for _, v, _ in rows], color=colours, **style)
    for yi, (_, v, _) in zip(y, rows):
        ax.text(min(v, 1.0) + 0.01, yi, f"{v:.1%}", va="center", fontsize=8)
    ax.set_yticks(y, [name for name, _, _ in rows])
    ax.set_xlim(0, 1.12)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set(xlabel="share declined", title=title)
    return ax


def plot_score_spread(scores: Mapping[str, Mapping[str, np.ndarray]], *, names: Sequence[str] = ("energy", "uniformity"),
                      thresholds: Mapping[str, float] | None = None, bins: int = 60) -> Figure:
    """Return one panel per score of ``names``: each set's values as a histogram outline (share of the set, log scale).

    ``scores`` is ``declining.score_values``'s ``{set: {score: values}}``; ``thresholds`` maps a
    score to the rule's threshold, drawn as a dashed line. A score that tells non-digits from
    digits shows their humps apart; where they overlap, any threshold declines real digits too.
    """
    fig, axes = plt.subplots(1, len(names), figsize=_fit(4.3 * len(names), 3.3), squeeze=False)
    for ax, name in zip(axes[0], names):
        values = {label: np.asarray(v[name], np.float64) for label, v in scores.items()}
        edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
        for label, v in values.items():
            ax.stairs(np.histogram(v, edges)[0] / max(len(v), 1), edges, label=f"{label} ({len(v):,})", linewidth=1.5)
        if thresholds and name in thresholds:
            ax.axvline(thresholds[name], color="black", linestyle="--", linewidth=1, label="the rule's threshold")
        ax.set_yscale("log")
        ax.set(title=name, xlabel=f"{name} (higher: less like a digit)", ylabel="share of the set")
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]}
    fig.legend(handles.values(), handles.keys(), fontsize=8, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


# --- other scripts -------------------------------------------------------------------------------

def plot_efficiency(curve: EfficiencyCurve, *, ax: Axes | None = None, **style) -> Axes:
    """Return axes with test accuracy against training images per digit (log x axis): fine-tuned and from scratch.

    ``curve`` is ``transfer.efficiency_curve``'s result: one line for the models fine-tuned from
    its ``init``, one for those trained from scratch, a point per size; sizes the script had too
    few images for are named under the title.
    """
    ax = _axes(ax, (5.0, 3.5))
    _draw_efficiency(ax, curve, **style)
    title = f"{scripts.get(curve.script).display_name}: {_epochs(curve.epochs)} each"
    if curve.skipped:
        title += "\n(too few images for " + ", ".join(str(n) for n, _ in curve.skipped) + " per digit)"
    ax.set(ylabel=f"test accuracy ({curve.test_images:,} digits)", title=title)
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_efficiencies(curves: Sequence[EfficiencyCurve], **style) -> Figure:
    """Return one figure with a panel per script's ``curve`` (at most three a row), sharing the accuracy axis and one legend.

    What a notebook shows to compare scripts: each panel as ``plot_efficiency`` draws it, titled
    with the script's short name and epochs, its test-set size under the title (the "all" tick
    says how many images per digit the script has).
    """
    if not curves:
        raise ValueError("plot_efficiencies needs at least one curve")
    cols, rows = min(3, len(curves)), math.ceil(len(curves) / 3)
    fig, axes = plt.subplots(rows, cols, figsize=(MAX_SIZE[0], min(MAX_SIZE[1], 0.9 + 2.9 * rows)), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, curve in zip(axes.flat, curves):
        _draw_efficiency(ax, curve, **style)
        ax.set_title(f"{scripts.short_name(curve.script)}: {_epochs(curve.epochs)}\n{curve.test_images:,} test digits",
                     fontsize=9)
        ax.tick_params(axis="x", labelsize=8, labelrotation=45)
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=8)
    return fig


def _draw_efficiency(ax: Axes, curve: EfficiencyCurve, **style) -> None:
    """Draw ``curve``'s two lines on ``ax`` (log x axis, a tick per size, percent y axis), untitled."""
    x = [p.images_per_class for p in curve.points]
    ax.plot(x, [p.fine_tuned for p in curve.points], "o-", label=f"fine-tuned from {curve.init}", **style)
    ax.plot(x, [p.scratch for p in curve.points], "s--", label="from scratch", **style)
    ax.set_xscale("log")
    ax.set_xticks(x, [p.label() for p in curve.points])
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(_percent))
    ax.set_xlabel("training images per digit")


def _epochs(n: int) -> str:
    """Return ``1 epoch`` or ``n epochs``."""
    return f"{n} epoch{'s' * (n != 1)}"
