"""Style normalisation: thin a digit to its skeleton and redraw it with a round pen.

Digit sets differ in style as much as in glyphs: stroke width, scan artefacts, MADBase's
hollow outline strokes, HODA's blob zero. A model trained on one set's images learns that
set's style, which a drawing on the pad does not have. ``redraw`` keeps only a digit's shape
(its skeleton, ``skimage.morphology.skeletonize``) and draws it again with an even pen, so
every set looks drawn by the same hand; ``as_pad_drawing`` draws the skeleton on the pad's
canvas with the pad's pen (``strokes.rasterize``) and prepares it as the pad does
(``preprocess.to_mnist``), to measure a model on pad-like drawings made from test images.

Needs numpy, scipy and scikit-image only, never TensorFlow.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from digitlab import preprocess, strokes
from digitlab.config import IMAGE_SIZE
from digitlab.pen import CANVAS_SIZE, PEN_WIDTH as PAD_PEN_WIDTH

__all__ = ["INK_LEVEL", "MAX_GAP", "PEN_WIDTH", "BLOB_RADIUS", "RESTYLE_WIDTHS", "skeleton", "redraw", "restyle", "as_pad_drawing"]

#: Share of an image's brightest ink above which a pixel counts as stroke before thinning.
INK_LEVEL = 0.35
#: Widest enclosed gap, in pixels, that ``skeleton`` fills as part of the stroke rather than keeping as a loop.
MAX_GAP = 3
#: Pen diameter of ``redraw`` in pixels of a 28x28 image (MNIST's strokes are about 2-3 pixels wide).
PEN_WIDTH = 2.4
#: Half-thickness, in pixels of a 28x28 image, above which a part of a digit is a blob rather than a
#: stroke (Arabic's and Persian's dot of a 0, scaled up by ``to_mnist``, as on the pad): kept as a blob.
BLOB_RADIUS = 3.0
#: Range of pen diameters (pixels of a 28x28 image) ``restyle`` draws with: thin pad strokes to MNIST's thick ones.
RESTYLE_WIDTHS = (1.6, 3.4)


def skeleton(image: np.ndarray, ink_level: float = INK_LEVEL) -> np.ndarray:
    """Return the (H, W) bool one-pixel-wide skeleton of a digit image (ink bright, uint8 or float).

    Pixels above ``ink_level`` of the image's brightest are the stroke; enclosed gaps at most
    ``MAX_GAP`` pixels wide (a hollow outline stroke, scan speckle) are filled first, so an outline
    is thinned to one line rather than two, while a loop's hole (a 0, a 6) stays open. An image
    without ink gives an all-False skeleton.
    """
    return skeletonize(_stroke(image, ink_level))


def _stroke(image: np.ndarray, ink_level: float = INK_LEVEL) -> np.ndarray:
    """Return the (H, W) bool stroke ``skeleton`` thins: ink above ``ink_level`` of the brightest, narrow gaps filled."""
    unit = preprocess.to_unit(np.asarray(image))
    if unit.ndim != 2:
        raise ValueError(f"image must be one (H, W) image, got shape {unit.shape}")
    peak = float(unit.max())
    if peak <= 0:
        return np.zeros(unit.shape, bool)
    stroke = unit > ink_level * peak
    holes = ndimage.binary_fill_holes(stroke) & ~stroke
    parts, count = ndimage.label(holes)
    depth = ndimage.maximum(ndimage.distance_transform_edt(holes), parts, range(1, count + 1)) if count else []
    fill = np.isin(parts, 1 + np.flatnonzero(np.asarray(depth) <= MAX_GAP / 2))  # gaps, not a real loop's hole
    return stroke | fill


def _bones(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the skeleton and the blobs' discs: (H, W) bool, and (K, 3) rows (y, x, radius) in pixels.

    A skeleton pixel farther than ``BLOB_RADIUS`` from the stroke's edge lies inside a blob; its
    disc (the medial-axis disc) is kept so the blob is redrawn as a blob, not as the branching
    tree a filled shape thins to.
    """
    stroke = _stroke(image)
    bones = skeletonize(stroke)
    depth = ndimage.distance_transform_edt(stroke)
    ys, xs = np.nonzero(bones & (depth > BLOB_RADIUS))
    return bones, np.stack([ys, xs, depth[ys, xs]], axis=1).astype(np.float32)


def redraw(images: np.ndarray, pen_width: float = PEN_WIDTH) -> np.ndarray:
    """Return (N, 28, 28) float32 images in [0, 1]: each digit's skeleton redrawn with a round pen ``pen_width`` pixels wide.

    The pen is anti-aliased like ``strokes.rasterize``'s (coverage ramps over one pixel at its
    edge). The digit stays where it was; its style (stroke width, outline) is gone. A blob (a part
    thicker than ``BLOB_RADIUS``, e.g. the dot of an Arabic 0) stays a blob of its own size.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be a batch (N, H, W), got shape {images.shape}")
    if not (np.isfinite(pen_width) and pen_width > 0):
        raise ValueError(f"pen_width must be a positive number, got {pen_width!r}")
    out = np.zeros(images.shape, np.float32)
    grid = np.indices(images.shape[1:]).reshape(2, -1).T.astype(np.float32)
    for i, image in enumerate(images):
        bones, discs = _bones(image)
        if bones.any():
            distance = ndimage.distance_transform_edt(~bones)
            out[i] = np.clip(pen_width / 2 + 0.5 - distance, 0.0, 1.0)
        if len(discs):
            reach = discs[:, 2] + 0.5 - np.linalg.norm(grid[:, None] - discs[None, :, :2], axis=2)
            out[i] = np.maximum(out[i], np.clip(reach.max(axis=1), 0.0, 1.0).reshape(out[i].shape))
    return out


def restyle(images: np.ndarray, share: float, *, rng: np.random.Generator,
            widths: tuple[float, float] = RESTYLE_WIDTHS) -> np.ndarray:
    """Return a copy of uint8 ``images`` with a random ``share`` of them redrawn (``redraw``) at random pen widths.

    Training augmentation that teaches shapes rather than a dataset's style: the chosen images
    lose their stroke width and outlines and come back drawn by an even pen of a width drawn
    uniformly from ``widths`` (blobs stay blobs, see ``redraw``); the others stay as they were.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, got {share!r}")
    out = np.array(images, np.uint8, copy=True)
    chosen = np.flatnonzero(rng.random(len(out)) < share)
    for i, width in zip(chosen, rng.uniform(*widths, size=len(chosen))):
        out[i] = np.round(redraw(out[i:i + 1], float(width))[0] * 255).astype(np.uint8)
    return out


def as_pad_drawing(images: np.ndarray, pen_width: float = PAD_PEN_WIDTH, canvas: int = CANVAS_SIZE) -> np.ndarray:
    """Return (N, 28, 28) float32 MNIST-format images: each digit's skeleton drawn on the pad's canvas and prepared as the pad does.

    Every skeleton pixel becomes a point of the canvas (``canvas / 28`` pixels apart), joined to
    its skeleton neighbours by the pad's round pen of ``pen_width`` canvas pixels
    (``strokes.rasterize``); a blob (see ``redraw``) is drawn as the pad draws a dot pressed
    and scribbled: discs of its own size. ``preprocess.to_mnist`` then crops, scales and centres
    it exactly as it does a drawing. An image without ink stays blank.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be a batch (N, H, W), got shape {images.shape}")
    out = np.zeros((len(images), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for i, image in enumerate(images):
        scale = canvas / image.shape[0]
        bones, discs = _bones(image)
        segments = _skeleton_segments(bones, scale)
        if segments:
            ink = strokes.rasterize(segments, canvas, pen_width)
            for y, x, radius in discs:
                dot = [[(x * scale + scale / 2, y * scale + scale / 2)]]
                ink = np.maximum(ink, strokes.rasterize(dot, canvas, max(pen_width, 2 * radius * scale)))
            out[i] = preprocess.to_mnist(ink)
    return out


def _skeleton_segments(bones: np.ndarray, scale: float) -> list[np.ndarray]:
    """Return the skeleton as two-point strokes in canvas pixels (x, y): one per pair of 8-connected pixels, a dot for a lone one."""
    ys, xs = np.nonzero(bones)
    centres = np.stack([xs, ys], axis=1).astype(np.float32) * scale + scale / 2
    index = {(int(y), int(x)): k for k, (y, x) in enumerate(zip(ys, xs))}
    segments = []
    for k, (y, x) in enumerate(zip(ys, xs)):
        neighbours = [index[(y + dy, x + dx)] for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)) if (y + dy, x + dx) in index]
        segments += [centres[[k, j]] for j in neighbours]
        if not neighbours and not _has_earlier_neighbour(index, y, x):
            segments.append(centres[[k]])
    return segments


def _has_earlier_neighbour(index: dict, y: int, x: int) -> bool:
    """Return True if pixel (y, x) is joined to a skeleton pixel scanned before it (so it is already drawn)."""
    return any((y + dy, x + dx) in index for dy, dx in ((0, -1), (-1, -1), (-1, 0), (-1, 1)))
