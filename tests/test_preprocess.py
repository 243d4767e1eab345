"""digitlab.preprocess: MNIST-style normalisation of drawings and photos."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitlab import preprocess


def canvas_digit(digit: np.ndarray, size: int = 280, offset=(40, 90), scale: int = 6) -> np.ndarray:
    """Return an MNIST digit drawn large and off-centre on a black canvas, float in [0, 1]."""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)) / 255
    canvas = np.zeros((size, size), np.float32)
    canvas[offset[0]:offset[0] + big.shape[0], offset[1]:offset[1] + big.shape[1]] = big[: size - offset[0], : size - offset[1]]
    return canvas


def bar(h: int, w: int, size=(200, 300), top=30, left=50) -> np.ndarray:
    img = np.zeros(size, np.float32)
    img[top:top + h, left:left + w] = 1.0
    return img


def ink_extent(img: np.ndarray, threshold: float = 0.3) -> tuple[int, int]:
    rows = np.flatnonzero((img > threshold).any(axis=1))
    cols = np.flatnonzero((img > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_output_shape_range_dtype(mnist):
    out = preprocess.to_mnist(canvas_digit(mnist[1][0][0]))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0, abs=0.05)


def test_centre_of_mass_is_at_the_centre(mnist):
    for digit in mnist[1][0][:20]:
        cy, cx = ndimage.center_of_mass(preprocess.to_mnist(canvas_digit(digit)))
        assert abs(cy - 14) < 0.35 and abs(cx - 14) < 0.35


def test_longer_side_fits_20_pixels_and_aspect_is_kept():
    tall = preprocess.to_mnist(bar(150, 30))
    h, w = ink_extent(tall)
    assert 19 <= h <= 21 and 3 <= w <= 5
    wide = preprocess.to_mnist(bar(20, 100))
    h, w = ink_extent(wide)
    assert 19 <= w <= 21 and 3 <= h <= 5


def test_mnist_digits_survive_almost_unchanged(mnist):
    x = mnist[1][0][:200]
    out = np.stack([preprocess.to_mnist(d) for d in x])
    assert np.abs(out - x / 255.0).mean() < 0.08


@pytest.mark.parametrize("form", ["gray", "rgb", "rgba", "pil_l", "pil_rgb", "pil_rgba", "uint8", "bool", "uint16"])
def test_every_input_form_gives_the_same_digit(mnist, form):
    ink = canvas_digit(mnist[1][0][3])
    reference = preprocess.to_mnist(ink)
    paper = 1.0 - ink  # dark ink on white paper
    u8 = (paper * 255).astype(np.uint8)
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., 3] = (ink * 255).astype(np.uint8)  # canvas: transparent background, black pen
    image = {
        "gray": paper,
        "rgb": np.repeat(paper[..., None], 3, axis=2),
        "rgba": rgba,
        "pil_l": Image.fromarray(u8),
        "pil_rgb": Image.fromarray(u8).convert("RGB"),
        "pil_rgba": Image.fromarray(rgba, "RGBA"),
        "uint8": u8,
        "bool": ink > 0.5,
        "uint16": (paper * 65535).astype(np.uint16),
    }[form]
    out = preprocess.to_mnist(image)
    tolerance = 0.1 if form == "bool" else 0.02
    assert np.abs(out - reference).mean() < tolerance


def test_polarity_is_detected_from_the_border():
    ink = bar(120, 25)
    light_paper = 0.9 - 0.8 * ink  # grey ink on light-grey paper, like a photo
    np.testing.assert_allclose(preprocess.to_mnist(light_paper), preprocess.to_mnist(ink), atol=1e-5)
    steps = preprocess.mnist_steps(light_paper)
    assert steps.ink[0, 0] == 0.0 and steps.ink.max() == pytest.approx(1.0)


@pytest.mark.parametrize("blank", [np.zeros((50, 50)), np.full((40, 60, 3), 255, np.uint8), np.zeros((30, 30, 4))])
def test_blank_image_raises_no_ink(blank):
    with pytest.raises(ValueError, match="no ink"):
        preprocess.to_mnist(blank)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.zeros((5, 5, 2)), ValueError, r"shape \(H, W\), \(H, W, 3\) or \(H, W, 4\)"),
        (np.zeros(10), ValueError, "shape"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "numeric array"),
        (np.full((10, 10), np.nan), ValueError, "NaN"),
        (np.zeros((1, 10)), ValueError, "too small"),
    ],
)
def test_bad_input_is_named(bad, error, message):
    with pytest.raises(error, match=message):
        preprocess.to_mnist(bad)


def test_steps_show_each_stage():
    steps = preprocess.mnist_steps(bar(100, 40, top=10, left=20))
    assert steps.bbox == (10, 110, 20, 60)
    assert steps.cropped.shape == (100, 40)
    assert steps.fitted.shape == (20, 8)
    assert steps.result.shape == (28, 28)


def test_to_model_input_shapes_and_scaling():
    x = preprocess.to_model_input(np.full((3, 28, 28), 255, np.uint8))
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0
    assert preprocess.to_model_input(np.zeros((28, 28))).shape == (1, 28, 28, 1)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        preprocess.to_model_input(np.zeros((2, 32, 32)))


@pytest.mark.parametrize(
    "x, expected",
    [
        (np.array([[0, 1]], np.uint8), [[0.0, 1 / 255]]),  # a uint8 image whose maximum is 1 stays dark
        (np.array([[0, 255]], np.uint8), [[0.0, 1.0]]),
        (np.array([[0, 255]], np.int64), [[0.0, 1.0]]),  # 8-bit values in a wide integer type
        (np.array([[0, 1]], np.uint16), [[0.0, 1 / 255]]),
        (np.array([[0, 65535]], np.uint16), [[0.0, 1.0]]),  # 16-bit images
        (np.array([[False, True]]), [[0.0, 1.0]]),
        (np.array([[0.0, 1.0]]), [[0.0, 1.0]]),
        (np.array([[0.25, 1.0]], np.float16), [[0.25, 1.0]]),
        (np.array([[-1e-4, 1.0 + 1e-4]]), [[0.0, 1.0]]),  # rounding errors are clipped
    ],
)
def test_to_unit_scales_by_dtype(x, expected):
    out = preprocess.to_unit(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.array([[0.0, 255.0]]), ValueError, r"in \[0, 1\], got 0 to 255: divide 0-255 values by 255"),
        (np.array([[-0.5, 0.5]]), ValueError, r"in \[0, 1\]"),
        (np.array([[0, 70000]], np.int32), ValueError, "0-65535"),
        (np.array([[-1, 5]], np.int16), ValueError, "0-255"),
        (np.array([[np.inf, 0.0]]), ValueError, "NaN or infinite"),
        (np.array([["a"]]), TypeError, "numeric array"),
        (np.array([[1j]]), TypeError, "numeric array"),
    ],
)
def test_to_unit_refuses_what_it_cannot_scale(bad, error, message):
    with pytest.raises(error, match=message):
        preprocess.to_unit(bad)


def test_to_model_input_scales_by_dtype_and_refuses_0_255_floats():
    dim = np.zeros((28, 28), np.uint8)
    dim[10:18, 12:16] = 1  # faint ink, maximum 1
    assert preprocess.to_model_input(dim).max() == pytest.approx(1 / 255)
    with pytest.raises(ValueError, match="divide 0-255 values by 255"):
        preprocess.to_model_input(np.full((2, 28, 28), 255.0))


def test_preprocess_does_not_import_tensorflow():
    import subprocess

    code = "import digitlab.preprocess, sys; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
