"""digitlab.preprocess: MNIST-style normalisation of drawings and photos."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitlab import preprocess, robustness as rb


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
    with pytest.raises(preprocess.NoInkError, match="no ink") as caught:
        preprocess.to_mnist(blank)
    assert caught.value.reason == "blank" and isinstance(caught.value, ValueError)


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


# --- photos and scans ------------------------------------------------------------------------


def old_ink_map(grey: np.ndarray) -> np.ndarray:
    """``ink_map`` before photos were handled: polarity from the border, scaled from paper to strongest ink."""
    paper = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    if paper > 0.5:
        grey, paper = 1.0 - grey, 1.0 - paper
    return np.clip((grey - paper) / (float(grey.max()) - paper), 0.0, 1.0).astype(np.float32)


def old_to_mnist(photo: np.ndarray) -> np.ndarray:
    """What ``to_mnist`` made of a photo before: the old ink map through the same crop, fit and centring."""
    ink = old_ink_map(preprocess.to_unit(photo))
    return preprocess.mnist_steps(np.round(ink * 255).astype(np.uint8)).result


def digit_page(digit: np.ndarray, size: float = 180, push=(0.05, -0.1)) -> np.ndarray:
    """An MNIST digit redrawn with a hard-edged pen on a 280x280 page, ink in [0, 1]."""
    return rb.place(rb.pen_image(digit, size), rb.CANVAS, push)


def snapshot(page: np.ndarray, seed: int) -> np.ndarray:
    """``page`` as a phone photo: tinted paper, lighting gradient, soft shadow, sensor noise, JPEG 60."""
    return rb.render_snapshot(page, np.random.default_rng(seed))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def clean_fixtures(mnist) -> dict[str, np.ndarray]:
    """Drawings on flat paper as the pad, MNIST and clean scans give them, grey in [0, 1]."""
    x = mnist[1][0]
    heavy = rb.to_uint8(rb.place(rb.thicken(rb.pen_image(x[10], 260), 20), 280))  # ink over more than half the page
    return {
        "mnist": x[0] / 255.0,
        "canvas": canvas_digit(x[1]),
        "pad": rb.to_uint8(digit_page(x[2])) / 255.0,
        "strokes": rb.draw_strokes(5, np.random.default_rng(0)) / 255.0,
        "dark on light": 1.0 - rb.to_uint8(digit_page(x[3], 120)) / 255.0,
        "grey paper": 0.9 - 0.8 * canvas_digit(x[4]),
        "heavy ink": heavy / 255.0,
    }


def test_clean_drawings_give_exactly_what_they_gave_before(clean_fixtures):
    assert (clean_fixtures["heavy ink"] > 0).mean() > 0.5
    for name, grey in clean_fixtures.items():
        assert preprocess.is_flat(grey), name
        np.testing.assert_array_equal(preprocess.ink_map(grey), old_ink_map(preprocess.to_unit(grey)), err_msg=name)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_photo_with_gradient_shadow_noise_and_jpeg_gives_the_clean_digit(mnist, seed):
    for digit in mnist[1][0][10 + 3 * seed:13 + 3 * seed]:
        page = digit_page(digit)
        photo = snapshot(page, seed)
        assert not preprocess.is_flat(photo / 255.0)
        clean = preprocess.to_mnist(rb.to_uint8(page))
        assert correlation(preprocess.to_mnist(photo), clean) > 0.9
        assert correlation(preprocess.to_mnist(photo), clean) > correlation(old_to_mnist(photo), clean) + 0.1


def test_the_ink_map_of_a_photo_keeps_its_size_clean_paper_and_soft_edges(mnist):
    page = digit_page(mnist[1][0][20])
    ink = preprocess.ink_map(snapshot(page, 5))
    assert ink.shape == page.shape and ink.dtype == np.float32
    assert ink.min() == 0.0 and ink.max() == 1.0
    assert ink[ndimage.binary_dilation(page > 0.05, iterations=8) == 0].max() < preprocess.INK_THRESHOLD
    assert ((ink > 0.05) & (ink < 0.95)).sum() > 0.05 * (ink > 0.05).sum()  # anti-aliased, not only 0 and 1


def test_light_ink_on_dark_paper_photos_are_read_too(mnist):
    page = digit_page(mnist[1][0][21])
    photo = 255 - snapshot(page, 6)  # chalk on a blackboard, say
    assert not preprocess.dark_ink(photo / 255.0)
    assert preprocess.dark_ink(snapshot(page, 6) / 255.0)
    assert correlation(preprocess.to_mnist(photo), preprocess.to_mnist(rb.to_uint8(page))) > 0.9


@pytest.mark.parametrize("kind, reason, message", [
    ("blank", "blank", "it is blank"), ("noise", "noise", "only noise"), ("shadow", "shadow", "only a shadow"),
])
def test_pages_without_a_digit_are_declined_with_the_reason(kind, reason, message):
    rng = np.random.default_rng(11)  # thresholds were chosen on other seeds
    for _ in range(4):
        with pytest.raises(preprocess.NoInkError, match=message) as caught:
            preprocess.to_mnist(rb.non_digit_page(kind, rng))
        assert caught.value.reason == reason


@pytest.mark.parametrize("radius", [2, 4])
def test_a_tiny_dot_is_passed_through_not_declined(radius):
    page = np.zeros((rb.CANVAS, rb.CANVAS), np.float32)
    page[150:150 + 2 * radius, 90:90 + 2 * radius] = rb.disc(radius)[1:, 1:]
    for image in (rb.to_uint8(page), snapshot(page, radius)):  # drawn on the pad, and photographed
        out = preprocess.to_mnist(image)
        assert out.max() == pytest.approx(1.0)


def test_paper_map_follows_a_lighting_gradient_under_the_ink(mnist):
    light = rb.lighting(140, np.random.default_rng(3), gradient=0.3)
    ink = rb.pen_image(mnist[1][0][22], 100)
    page = 0.9 * light
    page[20:20 + ink.shape[0], 20:20 + ink.shape[1]] *= 1 - 0.8 * ink
    assert preprocess.dark_ink(page)
    np.testing.assert_allclose(preprocess.paper_map(page.astype(np.float32), dark=True), 0.9 * light, atol=0.03)
