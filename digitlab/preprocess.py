"""Turn a drawing or photo of one digit into what MNIST looks like.

MNIST digits were size-normalised to fit a 20x20 box (aspect ratio kept, anti-aliased) and
then placed in a 28x28 field with their centre of mass at the centre, white ink on black.
A model trained on MNIST only recognises drawings prepared the same way, so ``to_mnist``
repeats those steps; ``mnist_steps`` returns every intermediate picture for the notebooks.

Photos and scans first have their ink separated from the paper (``photo_ink``): uneven
lighting and shadows are estimated and taken away, noise is smoothed, and Otsu's threshold
(scikit-image) finds the ink's level. A page with no ink at all (blank, only noise, only a
shadow) raises ``NoInkError`` instead of becoming a digit.

This module needs numpy, scipy, scikit-image and Pillow only, never TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.filters import threshold_otsu

from digitlab.config import IMAGE_SIZE

__all__ = [
    "BOX", "INK_THRESHOLD", "MIN_CONTRAST", "FLAT_SHARE", "PHOTO_SIZE", "PAPER_SIZE", "PAPER_SCALE", "POLARITY_BOX", "POLARITY_TIE", "MIN_LIGHT",
    "DENOISE", "INK_SIGMAS", "MIN_STROKE_CONTRAST", "STROKE_SIGMAS", "STROKE_BLUR", "NOISY", "UNEVEN",
    "NO_INK_REASONS", "NoInkError", "MnistSteps", "to_mnist", "mnist_steps", "ink_map", "is_flat", "photo_ink",
    "ink_contrast", "paper_map", "dark_ink", "ink_bbox", "fit_to_box", "to_unit", "to_model_input",
]

#: Side of the box MNIST fits each digit into (the field it is centred in is ``config.IMAGE_SIZE``).
BOX = 20
#: Ink below this fraction of the strongest ink is ignored when finding the bounding box.
INK_THRESHOLD = 0.2
#: An image whose ink contrast is below this is taken as blank.
MIN_CONTRAST = 0.05
#: A drawing is on flat paper when at least this share of its border is within one grey level of the paper.
FLAT_SHARE = 0.5
#: Photos are looked at about this many pixels across (their shorter side), larger ones shrunk by block means.
PHOTO_SIZE = 140
#: The paper under a photo is estimated on a copy about this many pixels across ...
PAPER_SIZE = 70
#: ... by a closing (dark ink) or opening (light ink) with a square this share of its side: wider than
#: strokes, narrower than shadows.
PAPER_SCALE = 0.25
#: Photos: the ink's polarity is judged against a box blur this share of the shorter side wide ...
POLARITY_BOX = 0.5
#: ... by the side departing this many times further from it, else by the side holding more ink.
POLARITY_TIE = 2.0
#: Photos: paper darker than this (in shadow) is not brightened further when dividing by the light.
MIN_LIGHT = 0.05
#: Photos: sigma of the light Gaussian denoising, in pixels of the ``PHOTO_SIZE`` copy.
DENOISE = 1.0
#: Photos: ink starts this many noise sigmas above the paper.
INK_SIGMAS = 5.0
# The thresholds below separate ink from its absence. They were chosen on snapshots of MNIST training digits,
# tiny dots and pages without ink made by ``robustness`` with one set of seeds, and checked on another.
#: Photos hold ink when a stroke is darker than the paper beside it by this share of the paper's brightness ...
MIN_STROKE_CONTRAST = 0.12
#: ... and by this many sigmas of the noise of that local contrast ...
STROKE_SIGMAS = 10.0
#: ... "beside it" being within a Gaussian blur of this sigma (pixels of the ``PHOTO_SIZE`` copy).
STROKE_BLUR = 3.0
#: A photo without ink is "only noise" when the noise sigma of its grey levels (at ``PHOTO_SIZE``) is at least this ...
NOISY = 0.045
#: ... and "only a shadow" when its paper departs from a plane (a lighting gradient) by an RMS of at least this.
UNEVEN = 0.02
#: Why an image holds no ink, by the ``reason`` of ``NoInkError``.
NO_INK_REASONS = {
    "blank": "image has no ink: it is blank (plain paper or one colour), draw or pass a digit",
    "noise": "image has no ink: it is only noise, no stroke stands out of the grain",
    "shadow": "image has no ink strokes: only a shadow or uneven light on blank paper",
}


class NoInkError(ValueError):
    """Raised when an image holds no ink; ``reason`` is ``"blank"``, ``"noise"`` or ``"shadow"`` (see ``NO_INK_REASONS``)."""

    def __init__(self, reason: str):
        super().__init__(NO_INK_REASONS[reason])
        self.reason = reason


@dataclass(frozen=True)
class MnistSteps:
    """Every stage of ``to_mnist``: ink map, crop, 20x20 fit, and the centred 28x28 result."""

    ink: np.ndarray          # (H, W) float in [0, 1], 1 = ink, background removed
    bbox: tuple[int, int, int, int]  # top, bottom, left, right (exclusive) of the ink in ``ink``
    cropped: np.ndarray      # ink[top:bottom, left:right]
    fitted: np.ndarray       # the crop resized so its longer side is 20 pixels
    centre_of_mass: tuple[float, float]  # of ``fitted`` placed in the field before the shift
    result: np.ndarray       # (28, 28) float32 in [0, 1], centre of mass at the centre


def to_mnist(image) -> np.ndarray:
    """Return a (28, 28) float32 image in [0, 1], white ink on black, prepared like MNIST.

    ``image`` is a numpy array (H, W), (H, W, 3) or (H, W, 4) (alpha is ink) or a PIL image of
    any size and either polarity: a drawing, or a photo or scan of one. Raises NoInkError (a
    ValueError) if it holds no ink.
    """
    return mnist_steps(image).result


def mnist_steps(image) -> MnistSteps:
    """Return every intermediate stage of ``to_mnist`` for ``image`` (see ``to_mnist``)."""
    ink = ink_map(image)
    bbox = ink_bbox(ink)
    top, bottom, left, right = bbox
    cropped = ink[top:bottom, left:right]
    fitted = fit_to_box(cropped, BOX)
    placed = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    h, w = fitted.shape
    oy, ox = (IMAGE_SIZE - h) // 2, (IMAGE_SIZE - w) // 2
    placed[oy:oy + h, ox:ox + w] = fitted
    cy, cx = ndimage.center_of_mass(placed)
    centre = IMAGE_SIZE / 2  # MNIST digits have their mean centre of mass at (14, 14)
    result = ndimage.shift(placed, (centre - cy, centre - cx), order=1, mode="constant", cval=0.0)
    result = np.clip(result / max(float(result.max()), 1e-6), 0.0, 1.0).astype(np.float32)  # MNIST ink peaks at 1
    return MnistSteps(ink, bbox, cropped, fitted, (float(cy), float(cx)), result)


def ink_map(image) -> np.ndarray:
    """Return the ink of ``image`` as (H, W) float32 in [0, 1]: 1 where the pen was, 0 elsewhere.

    Alpha, when present and not constant, is the ink. Otherwise the grey level is used. A
    drawing on flat paper (``is_flat``) takes its polarity from the border (a light border
    means dark ink on light paper) and is scaled from its paper to its strongest ink; anything
    else is taken as a photo or scan and goes through ``photo_ink``. Raises NoInkError if there
    is no ink.
    """
    grey, from_alpha = _grey(image)
    if not (from_alpha or is_flat(grey)):
        return photo_ink(grey)
    paper = float(np.median(_border(grey)))
    if not from_alpha and paper > 0.5:
        grey, paper = 1.0 - grey, 1.0 - paper
    return _drawing_ink(grey, paper)


def is_flat(grey: np.ndarray) -> bool:
    """Return whether ``grey`` is a drawing on flat paper: ``FLAT_SHARE`` of its border within one grey level of its median.

    Drawings from the pad, MNIST digits and clean scans are, however much ink they hold;
    photos, with their noise and uneven light, are not, so they alone pay for background
    removal and denoising.
    """
    border = _border(grey)
    return np.count_nonzero(np.abs(border - np.median(border)) <= 1 / 255) >= FLAT_SHARE * border.size


def photo_ink(grey: np.ndarray) -> np.ndarray:
    """Return the ink of a photo or scan ``grey`` ((H, W) float in [0, 1]) as (H, W) float32 in [0, 1].

    The photo is looked at about ``PHOTO_SIZE`` pixels across (block means, which average the
    noise away), with the ink on the side ``dark_ink`` finds, or on the other side if only
    that one shows strokes. ``ink_contrast`` takes away the paper under the ink (lighting
    gradient, shadow) and lightly denoises. Ink then runs softly from ``INK_SIGMAS`` noise
    sigmas above the paper (0) to the median of the ink that Otsu's threshold separates from
    the paper (1), so anti-aliased edges keep their grey values; the map is enlarged back to
    ``grey``'s size. Raises NoInkError (blank, noise or shadow) when no stroke stands out.
    """
    return _resize(_soft_ink(_stroke_contrast(_shrink(grey, PHOTO_SIZE))), grey.shape)


def _stroke_contrast(grey: np.ndarray) -> np.ndarray:
    """Return the ``ink_contrast`` of photo ``grey`` on the side its strokes are; NoInkError if neither side has any."""
    dark = dark_ink(grey)
    contrast, paper = ink_contrast(grey, dark=dark)
    if _has_strokes(contrast):
        return contrast
    other = ink_contrast(grey, dark=not dark)[0]
    if _has_strokes(other):
        return other
    raise NoInkError(_no_ink_reason(grey - paper, paper))


def _soft_ink(contrast: np.ndarray) -> np.ndarray:
    """Return ``contrast`` as float32 ink in [0, 1]: 0 up to ``INK_SIGMAS`` noise sigmas, 1 from the ink's median level.

    The ink is what Otsu's threshold separates from the paper (above the noise); in between,
    the ramp keeps anti-aliased edges grey.
    """
    sample = _sample(contrast)
    low = max(INK_SIGMAS * _sigma(sample), MIN_CONTRAST)
    strokes = sample[sample > max(float(threshold_otsu(sample)), low)]
    level = float(np.median(strokes)) if strokes.size else float(contrast.max())
    return np.clip((contrast - low) / max(level - low, MIN_CONTRAST), 0.0, 1.0).astype(np.float32)


def ink_contrast(grey: np.ndarray, *, dark: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return how far ``grey`` departs from its paper towards ``dark`` (or light) ink, lightly denoised, and the paper.

    Dark ink is measured as a share of the paper's brightness, since its contrast falls with
    the light; the paper's own level is 0.
    """
    paper = paper_map(grey, dark=dark)
    departure = (paper - grey) / np.maximum(paper, MIN_LIGHT) if dark else grey - paper
    contrast = ndimage.gaussian_filter(departure, DENOISE, truncate=2.0)
    return contrast - np.median(_border(contrast)), paper  # the estimate sits a little off the paper


def paper_map(grey: np.ndarray, *, dark: bool = True) -> np.ndarray:
    """Return the paper under ``grey`` (same shape), whose ink is ``dark`` (or light).

    A morphological closing (dark ink) or opening (light ink) with a square wider than any
    stroke, on a copy shrunk to about ``PAPER_SIZE`` pixels across with a side of
    ``PAPER_SCALE`` of it, removes the strokes and their junctions but keeps lighting gradients
    and soft shadows.
    """
    small = _shrink(grey, PAPER_SIZE)
    side = max(3, round(PAPER_SCALE * min(small.shape))) | 1
    paper = (ndimage.grey_closing if dark else ndimage.grey_opening)(small, size=(side, side))
    return _resize(paper, grey.shape)


def dark_ink(grey: np.ndarray) -> bool:
    """Return whether the ink of photo ``grey`` is darker than its paper.

    Ink departs further from its surroundings (a box blur ``POLARITY_BOX`` of the page wide)
    than anything else on the page: noise, paper texture and the soft edges of shadows depart
    less, and both ways. So the ink is dark when the image falls further below its blur than
    it rises above it (away from the outer 5% of the page, where the blur sees a mirrored
    page). Heavy ink can make paper enclosed by it depart as far; unless one side departs
    ``POLARITY_TIE`` times further, the side holding more ink (the third moment) wins.
    """
    sharp = ndimage.gaussian_filter(grey, DENOISE, truncate=2.0)
    departure = sharp - ndimage.uniform_filter(grey, max(3, round(POLARITY_BOX * min(grey.shape))) | 1)
    edge = round(0.05 * min(grey.shape))
    inside = departure[edge:departure.shape[0] - edge, edge:departure.shape[1] - edge].astype(np.float64)
    below, above = -float(inside.min()), float(inside.max())
    if max(below, above) >= POLARITY_TIE * min(below, above):
        return below > above
    return float(np.sum(inside ** 3)) < 0.0


def _has_strokes(contrast: np.ndarray) -> bool:
    """Return whether some stroke in ``contrast`` is darker than the paper beside it, clearly and above the noise.

    Local contrast (the image less its blur) answers to strokes and dots but hardly to the soft
    edges of a shadow; its peak must reach ``MIN_STROKE_CONTRAST`` and ``STROKE_SIGMAS`` times
    its own noise.
    """
    local = contrast - ndimage.gaussian_filter(contrast, STROKE_BLUR, truncate=2.0)
    peak = float(local.max())
    return peak >= MIN_STROKE_CONTRAST and peak >= STROKE_SIGMAS * _sigma(_sample(local))


def _no_ink_reason(contrast: np.ndarray, paper: np.ndarray) -> str:
    """Return why a photo holds no ink: ``"noise"`` (strong grain), ``"shadow"`` (paper far from flat) or ``"blank"``."""
    if _sigma(_sample(contrast)) >= NOISY:
        return "noise"
    small = _sample(paper)
    rows, cols = np.indices(small.shape)
    design = np.stack([np.ones(small.size), rows.ravel(), cols.ravel()], axis=1)
    plane, *_ = np.linalg.lstsq(design, small.ravel(), rcond=None)
    return "shadow" if float(np.std(small.ravel() - design @ plane)) >= UNEVEN else "blank"


def _shrink(image: np.ndarray, size: int) -> np.ndarray:
    """Return ``image`` shrunk by block means to about ``size`` pixels across its shorter side (as it is if smaller)."""
    factor = max(1, round(min(image.shape) / size))
    return np.asarray(Image.fromarray(image, mode="F").reduce(factor)) if factor > 1 else image


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return ``image`` resized (bilinear) to ``shape`` (height, width)."""
    if image.shape == shape:
        return image
    return np.asarray(Image.fromarray(image, mode="F").resize(shape[::-1], Image.Resampling.BILINEAR))


def _drawing_ink(grey: np.ndarray, paper: float) -> np.ndarray:
    """Return ``grey`` (ink lighter than ``paper``) scaled from the paper (0) to its strongest ink (1)."""
    contrast = float(grey.max()) - paper
    if contrast < MIN_CONTRAST:
        raise NoInkError("blank")
    return np.clip((grey - paper) / contrast, 0.0, 1.0).astype(np.float32)


def _grey(image) -> tuple[np.ndarray, bool]:
    """Return ``image`` as a grey (H, W) float32 array, and whether it came from the alpha channel."""
    arr = _as_float_array(image)
    if arr.ndim == 2:
        return arr, False
    if arr.shape[2] == 4 and np.ptp(arr[..., 3]) > MIN_CONTRAST:
        return arr[..., 3], True
    return arr[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32), False


def _border(image: np.ndarray) -> np.ndarray:
    """Return the pixels along the four edges of ``image`` (corners twice), where the paper shows."""
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def _sample(image: np.ndarray) -> np.ndarray:
    """Return about 70x70 evenly spaced pixels of ``image``, enough for robust statistics and fast."""
    step = max(1, min(image.shape) // 70)
    return image[::step, ::step]


def _sigma(values: np.ndarray) -> float:
    """Return the noise sigma of ``values``: 1.4826 times their median absolute deviation (ink barely moves it)."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def ink_bbox(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int]:
    """Return (top, bottom, left, right), bottom and right exclusive, of the ink above ``threshold``."""
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    if rows.size == 0:
        raise ValueError("image has no ink above the threshold: draw or pass a digit")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fit_to_box(patch: np.ndarray, box: int = BOX) -> np.ndarray:
    """Return ``patch`` resized (anti-aliased) so its longer side is ``box``, aspect ratio kept."""
    h, w = patch.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(patch.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    out = np.clip(np.asarray(resized, dtype=np.float32), 0.0, None)
    peak = out.max()
    return out / peak if peak > 0 else out


def _as_float_array(image) -> np.ndarray:
    """Return ``image`` as a float32 array scaled to [0, 1]; TypeError/ValueError if unusable."""
    if isinstance(image, Image.Image):
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "L")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if min(arr.shape[:2]) < 2:
        raise ValueError(f"image is too small: {arr.shape[:2]}")
    return to_unit(arr)


def to_unit(x) -> np.ndarray:
    """Return ``x`` as a float32 array in [0, 1], scaled according to its dtype, not its values.

    - ``uint8``: divided by 255, always (an image whose brightest pixel is 1 stays nearly black);
    - other integer dtypes: divided by 255 when every value fits in 0-255, else by 65535
      (16-bit images); values outside 0-65535 raise ValueError;
    - ``bool``: 0 and 1;
    - floats: taken as already in [0, 1] (clipped to it); values further than ``1e-3`` outside,
      such as a float image still in 0-255, raise ValueError, as do NaN and infinity.

    Raises TypeError for anything that is not a real numeric or bool array.
    """
    arr = np.asarray(x)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / _integer_scale(arr)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"image must be a numeric array (integer, float or bool), got dtype {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError("image contains NaN or infinite values")
    low, high = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
    if low < -1e-3 or high > 1.0 + 1e-3:
        raise ValueError(f"float images must hold values in [0, 1], got {low:g} to {high:g}: "
                         "divide 0-255 values by 255 first, or pass them as uint8")
    return np.clip(arr, 0.0, 1.0)


def _integer_scale(arr: np.ndarray) -> float:
    """Return what integer pixels are divided by: 255 for 8-bit values (always for uint8), 65535 for 16-bit."""
    if arr.dtype == np.uint8 or arr.size == 0:
        return 255.0
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or high > 65535:
        raise ValueError(f"integer images must hold values in 0-255 (8-bit) or 0-65535 (16-bit), got {low} to {high}")
    return 255.0 if high <= 255 else 65535.0


def to_model_input(x: np.ndarray) -> np.ndarray:
    """Return MNIST-format images (N, 28, 28), uint8 or float in [0, 1], as float32 (N, 28, 28, 1) in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected MNIST-format images of shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}), got {x.shape}")
    return to_unit(x)[..., None]
