"""Build a drawing-like evaluation set: MNIST test digits re-drawn on a canvas, and stroke-drawn digits.

A model can score 99% on MNIST and still fail on what users draw: their digits are large or
small, off-centre, slanted, drawn with a thick or thin pen, on a 280x280 canvas, or
photographed dark-on-light. ``build_drawing_set`` makes such images, deterministically from a
seed, and tags each with its kind so accuracy can be broken down by perturbation:

==========  ====================================================================================
kind        how the image is made (sizes are the digit's longer side, as a share of the canvas)
==========  ====================================================================================
canvas      an MNIST test digit upsampled to a pen-like stroke (bicubic, then a contrast curve
            that gives hard anti-aliased edges), 45-75% of the canvas, within 15% of the centre
thick       ``canvas``, pen widened by grey dilation with a disc of radius 3-5% of the digit size
thin        ``canvas``, pen narrowed by grey erosion with a disc of radius 1.5-3% (never erased)
shift       ``canvas`` at 30-50%, pushed 60-100% of the way from the centre to an edge on both axes
scale       ``canvas`` at 15-30% (small) or 85-95% (large) of the canvas
slant       ``canvas`` sheared horizontally by 0.25-0.5 either way (the pen leans 14-27 degrees)
rotate      ``canvas`` rotated by 12-25 degrees either way
photo       ``canvas`` as a photo of paper: dark ink on light, uneven paper, blur and noise
strokes     a digit drawn from coordinates (``digitlab.strokes`` templates), jittered, scaled,
            placed and rasterised with a random pen width, as the drawing pad does
snapshot    ``canvas`` as a phone photo (``render_snapshot``): dark ink on tinted, textured paper,
            a lighting gradient of up to 30%, a soft shadow, sensor noise of sigma up to 15/255,
            saved as JPEG at quality 60
==========  ====================================================================================

Images are uint8 (N, canvas, canvas), light ink on black except ``photo`` and ``snapshot``.
``non_digit_page`` makes pages that hold no digit at all (``NON_DIGITS``: a blank sheet, pure
noise, a sheet with only a shadow), which ``to_mnist`` must decline. Pass them through
``preprocess.to_mnist`` (``prepare``) for digitlab's way, or ``resize_canvas`` for the
"resize the whole canvas to 28x28" way many MNIST demos use.

This module needs numpy, scipy, Pillow and (through ``preprocess``) scikit-image, never TensorFlow.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab import config, preprocess, strokes
from digitlab.config import IMAGE_SIZE, NUM_CLASSES

__all__ = [
    "KINDS", "NON_DIGITS", "CANVAS", "MARGIN", "GRADIENT", "SHADOW_DEPTH", "SHADOW_ONLY_DEPTH", "SENSOR_NOISE",
    "JPEG_QUALITY", "DrawingSet", "build_drawing_set", "redraw", "pen_image", "disc", "thicken", "thin", "slant",
    "rotate", "trim", "place", "render_photo", "render_snapshot", "non_digit_page", "non_digit_pages",
    "paper_texture", "lighting", "soft_shadow", "photograph", "draw_strokes", "to_uint8", "prepare", "resize_canvas",
    "accuracy_by_kind",
]
#: Every kind of drawing the set holds, in the order they are built.
KINDS: tuple[str, ...] = ("canvas", "thick", "thin", "shift", "scale", "slant", "rotate", "photo", "strokes", "snapshot")
#: Pages without a digit that ``non_digit_page`` makes: to be declined, never read as a digit.
NON_DIGITS: tuple[str, ...] = ("blank", "noise", "shadow")
#: Side of the square canvas the drawings are rendered on (the drawing pad's size).
CANVAS = 280
#: Free border kept around every digit, as a share of the canvas.
MARGIN = 0.02
#: Snapshots: the most the light falls across the page (a lighting gradient of 30%).
GRADIENT = 0.30
#: Snapshots: how much of the light a shadow takes, (least, most), on a digit's page and on a page of only a shadow.
SHADOW_DEPTH = (0.10, 0.35)
SHADOW_ONLY_DEPTH = (0.25, 0.50)
#: Snapshots: the largest sigma of the sensor noise, in 0-1 grey levels.
SENSOR_NOISE = 15 / 255
#: Snapshots are saved as JPEG at this quality.
JPEG_QUALITY = 60


@dataclass(frozen=True)
class DrawingSet:
    """The drawing-like set: canvas images, their labels, kinds, and MNIST test index (-1 if none)."""

    images: np.ndarray   # (N, canvas, canvas) uint8
    labels: np.ndarray   # (N,) uint8
    kinds: np.ndarray    # (N,) str, one of KINDS
    source: np.ndarray   # (N,) int, index into the MNIST test set, -1 for stroke-drawn digits

    def __len__(self) -> int:
        return len(self.labels)


def build_drawing_set(
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    per_kind: int = 200,
    seed: int = config.SEED,
    canvas: int = CANVAS,
    kinds: Sequence[str] = KINDS,
    progress: Callable | None = None,
) -> DrawingSet:
    """Return ``per_kind`` drawings of each kind in ``kinds``, the same for the same seed.

    MNIST-based kinds draw distinct test digits (a seeded choice) from ``x_test``/``y_test``;
    ``progress`` may wrap the iterable of kinds (``tqdm``, for instance).
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"kinds {unknown} are not among {list(KINDS)}")
    if per_kind < 1:
        raise ValueError(f"per_kind must be positive, got {per_kind}")
    mnist_kinds = [k for k in kinds if k != "strokes"]
    if per_kind * len(mnist_kinds) > len(y_test):
        raise ValueError(f"{per_kind} x {len(mnist_kinds)} drawings need that many test digits, only {len(y_test)} given")
    rng = np.random.default_rng(seed)
    picks = iter(rng.permutation(len(y_test))[: per_kind * len(mnist_kinds)])
    images, labels, tags, source = [], [], [], []
    for kind in (progress or (lambda it: it))(list(kinds)):
        for _ in range(per_kind):
            if kind == "strokes":
                label = int(rng.integers(NUM_CLASSES))
                images.append(draw_strokes(label, rng, canvas))
                source.append(-1)
            else:
                i = int(next(picks))
                label = int(y_test[i])
                images.append(redraw(x_test[i], kind, rng, canvas))
                source.append(i)
            labels.append(label)
            tags.append(kind)
    return DrawingSet(np.stack(images), np.array(labels, np.uint8), np.array(tags), np.array(source))


def redraw(digit: np.ndarray, kind: str, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """Return one MNIST digit (28, 28) re-drawn as a ``kind`` drawing on a (canvas, canvas) uint8 image."""
    if kind == "scale":
        small = rng.random() < 0.5
        size = rng.uniform(0.15, 0.30) if small else rng.uniform(0.85, 0.95)
    else:
        size = rng.uniform(0.30, 0.50) if kind == "shift" else rng.uniform(0.45, 0.75)
    pen = pen_image(digit, size * canvas)
    side = max(pen.shape)
    if kind == "thick":
        pen = thicken(pen, max(1, round(rng.uniform(0.03, 0.05) * side)))
    elif kind == "thin":
        pen = thin(pen, max(1, round(rng.uniform(0.015, 0.03) * side)))
    elif kind == "slant":
        pen = slant(pen, rng.choice([-1, 1]) * rng.uniform(0.25, 0.5))
    elif kind == "rotate":
        pen = rotate(pen, rng.choice([-1, 1]) * rng.uniform(12, 25))
    push = rng.uniform(0.6, 1.0, size=2) * rng.choice([-1, 1], size=2) if kind == "shift" else rng.uniform(-0.15, 0.15, size=2)
    page = place(pen, canvas, push)
    if kind == "photo":
        return render_photo(page, rng)
    return render_snapshot(page, rng) if kind == "snapshot" else to_uint8(page)


def pen_image(digit: np.ndarray, size: float) -> np.ndarray:
    """Return the digit's ink cropped and upsampled so its longer side is ``size`` pixels, float in [0, 1].

    ``digit`` is an MNIST image, uint8 or float in [0, 1] (see ``preprocess.to_unit``).
    Bicubic upsampling of 28x28 pixels gives soft blurry strokes; a contrast curve (ink below
    35% dropped, above 65% full) turns them into the hard-edged strokes of a canvas pen.
    """
    ink = preprocess.to_unit(digit)
    top, bottom, left, right = preprocess.ink_bbox(ink)
    crop = ink[top:bottom, left:right]
    scale = size / max(crop.shape)
    shape = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    up = np.asarray(Image.fromarray(crop, mode="F").resize(shape, Image.Resampling.BICUBIC))
    return np.clip((up - 0.35) / 0.3, 0.0, 1.0).astype(np.float32)


def disc(radius: int) -> np.ndarray:
    """Return a boolean (2r+1, 2r+1) disc, the footprint of a round pen tip of ``radius`` pixels."""
    r = np.arange(-radius, radius + 1)
    return r[:, None] ** 2 + r[None, :] ** 2 <= radius ** 2 + 0.5


def thicken(pen: np.ndarray, radius: int) -> np.ndarray:
    """Return ``pen`` drawn with a pen wider by ``radius`` on each side (grey dilation, padded to fit)."""
    padded = np.pad(pen, radius)
    return ndimage.grey_dilation(padded, footprint=disc(radius))


def thin(pen: np.ndarray, radius: int) -> np.ndarray:
    """Return ``pen`` drawn with a pen narrower by up to ``radius`` per side (grey erosion).

    The radius is reduced until at least a quarter of the ink survives, so no digit vanishes.
    """
    total = float(pen.sum())
    for r in range(radius, 0, -1):
        eroded = ndimage.grey_erosion(pen, footprint=disc(r))
        if eroded.sum() >= 0.25 * total:
            return eroded
    return pen


def slant(pen: np.ndarray, shear: float) -> np.ndarray:
    """Return ``pen`` sheared horizontally: a row ``d`` pixels above the middle moves ``shear * d`` right."""
    h, w = pen.shape
    extra = int(np.ceil(abs(shear) * h))
    # output (r, c) reads input (r, c - extra/2 + shear * (r - h/2)): the top leans right for shear > 0
    matrix = np.array([[1.0, 0.0], [shear, 1.0]])
    offset = (0.0, -extra / 2 - shear * h / 2)
    return trim(ndimage.affine_transform(pen, matrix, offset=offset, output_shape=(h, w + extra), order=1))


def rotate(pen: np.ndarray, degrees: float) -> np.ndarray:
    """Return ``pen`` rotated anticlockwise by ``degrees``, enlarged so nothing is cut off."""
    return trim(np.clip(ndimage.rotate(pen, degrees, reshape=True, order=1), 0.0, 1.0))


def trim(pen: np.ndarray) -> np.ndarray:
    """Return ``pen`` without the empty rows and columns around its ink."""
    top, bottom, left, right = preprocess.ink_bbox(pen, threshold=0.01)
    return pen[top:bottom, left:right]


def place(pen: np.ndarray, canvas: int, push: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Return a (canvas, canvas) float page with ``pen`` on it, moved ``push`` (y, x) of the free room from the centre.

    ``push`` runs from -1 (touching the top or left margin) to 1 (bottom or right margin). A pen
    larger than the canvas less its margins is first shrunk to fit.
    """
    room = canvas - 2 * round(MARGIN * canvas)
    if max(pen.shape) > room:
        scale = room / max(pen.shape)
        size = (max(1, int(pen.shape[1] * scale)), max(1, int(pen.shape[0] * scale)))
        pen = np.asarray(Image.fromarray(pen.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))
    h, w = pen.shape
    page = np.zeros((canvas, canvas), np.float32)
    y = round((canvas - h) / 2 + float(np.clip(push[0], -1, 1)) * (room - h) / 2)
    x = round((canvas - w) / 2 + float(np.clip(push[1], -1, 1)) * (room - w) / 2)
    page[y:y + h, x:x + w] = np.clip(pen, 0.0, 1.0)
    return page


def render_photo(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``page`` as a uint8 photo of paper: dark ink on light, a lighting gradient, blur and noise."""
    n = page.shape[0]
    paper = rng.uniform(0.82, 0.95)
    ink = rng.uniform(0.05, 0.30)
    gy, gx = rng.uniform(-0.04, 0.04, size=2)
    ramp = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    light = paper + gy * ramp[:, None] + gx * ramp[None, :]
    blurred = ndimage.gaussian_filter(page, sigma=rng.uniform(0.5, 1.5) * n / CANVAS)
    photo = light - (light - ink) * blurred + rng.normal(0.0, 0.02, size=page.shape)
    return to_uint8(photo)


def render_snapshot(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``page`` (ink in [0, 1]) as a uint8 phone photo of the digit drawn in dark ink on paper.

    Black or blue ink (reflecting 5-35% of the light) on tinted, textured paper (72-95%), the
    pen's edge softened by the lens, lit by ``lighting`` and darkened by a ``soft_shadow`` that
    takes ``SHADOW_DEPTH`` of the light, then ``photograph``-ed (sensor noise, JPEG).
    """
    n = page.shape[0]
    alpha = ndimage.gaussian_filter(page, rng.uniform(0.5, 1.5) * n / CANVAS)[..., None]
    ink = rng.uniform(0.05, 0.35) * (np.ones(3) if rng.random() < 0.5 else np.array([0.4, 0.5, 1.4]))
    reflectance = _paper(n, rng) * (1 - alpha) + ink * alpha
    return photograph(reflectance * _light(n, rng, SHADOW_DEPTH)[..., None], rng)


def non_digit_page(kind: str, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """Return a (canvas, canvas) uint8 page with no digit on it, of a ``kind`` in ``NON_DIGITS``.

    ``blank``: a snapshot of empty paper (texture, lighting gradient, noise, JPEG); ``shadow``:
    the same with a soft shadow taking ``SHADOW_ONLY_DEPTH`` of the light; ``noise``: pure
    noise, grey levels drawn around mid-grey (Gaussian, sigma 0.12-0.3, or uniform over 0-1).
    """
    if kind not in NON_DIGITS:
        raise ValueError(f"kind {kind!r} is not among {list(NON_DIGITS)}")
    if kind == "noise":
        return _static(canvas, rng)
    depth = SHADOW_ONLY_DEPTH if kind == "shadow" else None
    return photograph(_paper(canvas, rng) * _light(canvas, rng, depth)[..., None], rng)


def non_digit_pages(*, per_kind: int = 50, seed: int = config.SEED, canvas: int = CANVAS) -> tuple[np.ndarray, np.ndarray]:
    """Return ``per_kind`` pages of each of ``NON_DIGITS`` as uint8 (N, canvas, canvas) and their kinds, the same for the same seed."""
    rng = np.random.default_rng(seed)
    kinds = np.repeat(NON_DIGITS, per_kind)
    return np.stack([non_digit_page(k, rng, canvas) for k in kinds]), kinds


def paper_texture(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return (n, n) relative brightness changes of paper: fine grain and coarse clouds of 0.5-2% and 0.5-3%."""
    fine = ndimage.gaussian_filter(rng.normal(size=(n, n)), rng.uniform(0.7, 1.5) * n / CANVAS)
    coarse = ndimage.gaussian_filter(rng.normal(size=(n, n)), rng.uniform(4, 12) * n / CANVAS)
    return fine / fine.std() * rng.uniform(0.005, 0.02) + coarse / coarse.std() * rng.uniform(0.005, 0.03)


def lighting(n: int, rng: np.random.Generator, gradient: float = GRADIENT) -> np.ndarray:
    """Return an (n, n) light field, 1 on its bright side, falling by up to ``gradient`` across the page in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:n, 0:n] / max(n - 1, 1)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    return 1.0 - rng.uniform(0, gradient) * ramp


def soft_shadow(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return an (n, n) shadow in [0, 1]: a straight or round edge, blurred over 7-18% of the page (10-90% of the shade).

    Half the time the shadow covers the side of a line through the middle part of the page,
    otherwise a disc (radius 25-60% of the page) centred on the page.
    """
    y, x = np.mgrid[0:n, 0:n] / n
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        inside = np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5) - rng.uniform(-0.2, 0.3)
    else:
        cy, cx = rng.uniform(0, 1, size=2)
        inside = rng.uniform(0.25, 0.6) - np.hypot(y - cy, x - cx)
    return 1 / (1 + np.exp(-2 * inside / rng.uniform(0.03, 0.08)))


def photograph(scene: np.ndarray, rng: np.random.Generator, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Return the (n, n, 3) light of ``scene`` as a uint8 grey photo: sensor noise (sigma up to ``SENSOR_NOISE``), then JPEG."""
    noisy = scene + rng.normal(0.0, rng.uniform(0, SENSOR_NOISE), size=scene.shape)
    return _jpeg(to_uint8(noisy), quality)


def _paper(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return the (n, n, 3) reflectance of a sheet of paper: a warm tint reflecting 72-95% of the light, textured."""
    tint = rng.uniform(0.72, 0.95) * np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 1.0)])
    return tint * (1 + paper_texture(n, rng))[..., None]


def _light(n: int, rng: np.random.Generator, shadow_depth: tuple[float, float] | None) -> np.ndarray:
    """Return the (n, n) light on the page: ``lighting``, and a ``soft_shadow`` taking ``shadow_depth`` of it (if given)."""
    light = lighting(n, rng)
    return light if shadow_depth is None else light * (1 - rng.uniform(*shadow_depth) * soft_shadow(n, rng))


def _static(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return an (n, n) uint8 page of pure noise around mid-grey, half the time saved as JPEG."""
    if rng.random() < 0.7:
        noise = rng.normal(rng.uniform(0.3, 0.7), rng.uniform(0.12, 0.3), size=(n, n))
    else:
        noise = rng.uniform(0, 1, size=(n, n))
    page = to_uint8(ndimage.gaussian_filter(noise, rng.uniform(0, 0.5)))
    return _jpeg(page, JPEG_QUALITY) if rng.random() < 0.5 else page


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Return uint8 ``image`` (grey or RGB) after a round trip through JPEG at ``quality``, as grey."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("L"))


def draw_strokes(label: int, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """Return a (canvas, canvas) uint8 drawing of ``label`` made from stroke coordinates.

    A random handwriting variant from ``strokes.DIGIT_STROKES``, 35-75% of the canvas, varied
    by ``jitter_strokes``, rasterised with a pen 10-26 px wide (per 280 px of canvas) and
    placed within 30% of the centre.
    """
    variants = strokes.DIGIT_STROKES[label]
    template = variants[int(rng.integers(len(variants)))]
    margin = canvas * (1 - rng.uniform(0.35, 0.75)) / 2
    drawn = strokes.jitter_strokes(strokes.scale_strokes(template, canvas, margin=margin), rng)
    pen = strokes.rasterize(drawn, canvas, line_width=rng.uniform(10, 26) * canvas / CANVAS)
    return to_uint8(place(trim(pen), canvas, rng.uniform(-0.3, 0.3, size=2)))


def to_uint8(page: np.ndarray) -> np.ndarray:
    """Return a float image in [0, 1] as uint8 (0-255), clipped."""
    return np.round(np.clip(page, 0.0, 1.0) * 255).astype(np.uint8)


def prepare(images: np.ndarray, progress: Callable | None = None) -> np.ndarray:
    """Return canvas images as (N, 28, 28) float32 MNIST-format digits, each through ``to_mnist`` (digitlab's way)."""
    return np.stack([preprocess.to_mnist(im) for im in (progress or (lambda it: it))(images)])


def resize_canvas(images: np.ndarray) -> np.ndarray:
    """Return canvas images as (N, 28, 28) float32 in [0, 1], each whole canvas resized by PIL (the naive way).

    This is what many MNIST demos do with a drawing: shrink the canvas to 28x28 as it is,
    with no cropping, centring or polarity check.
    """
    small = [np.asarray(Image.fromarray(im).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)) for im in images]
    return preprocess.to_unit(np.stack(small))


def accuracy_by_kind(labels: np.ndarray, probabilities: np.ndarray, kinds: np.ndarray) -> dict[str, float]:
    """Return accuracy over all images (key ``"all"``) and for each kind present, in ``KINDS`` order."""
    correct = np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)
    kinds = np.asarray(kinds)
    out = {"all": float(correct.mean())}
    out.update({k: float(correct[kinds == k].mean()) for k in KINDS if np.any(kinds == k)})
    return out
