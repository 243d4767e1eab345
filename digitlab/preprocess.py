"""Turn a drawing or photo of one digit into what MNIST looks like.

MNIST digits were size-normalised to fit a 20x20 box (aspect ratio kept, anti-aliased) and
then placed in a 28x28 field with their centre of mass at the centre, white ink on black.
A model trained on MNIST only recognises drawings prepared the same way, so ``to_mnist``
repeats those steps; ``mnist_steps`` returns every intermediate picture for the notebooks.

This module needs numpy, scipy and Pillow only, never TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digitlab.config import IMAGE_SIZE

__all__ = [
    "BOX", "INK_THRESHOLD", "MIN_CONTRAST", "MnistSteps", "to_mnist", "mnist_steps", "ink_map", "ink_bbox",
    "fit_to_box", "to_unit", "to_model_input",
]

#: Side of the box MNIST fits each digit into (the field it is centred in is ``config.IMAGE_SIZE``).
BOX = 20
#: Ink below this fraction of the strongest ink is ignored when finding the bounding box.
INK_THRESHOLD = 0.2
#: An image whose ink contrast is below this is taken as blank.
MIN_CONTRAST = 0.05


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
    any size and either polarity. Raises ValueError if it holds no ink.
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

    Alpha, when present and not constant, is the ink. Otherwise the grey level is used, and
    polarity comes from the border: a light border means dark ink on light paper.
    """
    arr = _as_float_array(image)
    if arr.ndim == 3:
        if arr.shape[2] == 4 and np.ptp(arr[..., 3]) > MIN_CONTRAST:
            grey, from_alpha = arr[..., 3], True
        else:
            grey, from_alpha = arr[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32), False
    else:
        grey, from_alpha = arr, False
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if not from_alpha and background > 0.5:
        grey, background = 1.0 - grey, 1.0 - background
    contrast = float(grey.max()) - background
    if contrast < MIN_CONTRAST:
        raise ValueError("image has no ink: it is blank (uniform), draw or pass a digit")
    return np.clip((grey - background) / contrast, 0.0, 1.0).astype(np.float32)


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
