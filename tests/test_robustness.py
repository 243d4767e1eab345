"""Tests for digitlab.robustness: the drawing-like set is deterministic and each kind is what it says."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitlab import preprocess, robustness as rb

PER_KIND = 6


@pytest.fixture(scope="module")
def test_split(mnist):
    return mnist[1]


@pytest.fixture(scope="module")
def drawings(test_split) -> rb.DrawingSet:
    return rb.build_drawing_set(*test_split, per_kind=PER_KIND, seed=7)


def bar(height: int = 60, width: int = 8) -> np.ndarray:
    """A vertical pen stroke on a little page, with room around it."""
    pen = np.zeros((height + 20, width + 40), np.float32)
    pen[10:10 + height, 20:20 + width] = 1.0
    return pen


def ink_centroid(img: np.ndarray) -> np.ndarray:
    """(row, col) of the ink's centre of mass."""
    return np.array(ndimage.center_of_mass(img))


def tilt_degrees(img: np.ndarray) -> float:
    """Angle of the ink's long axis from vertical, positive when the top leans right."""
    rows, cols = np.nonzero(img > 0.5)
    cov = np.cov(np.stack([rows, cols]))
    return float(np.degrees(0.5 * np.arctan2(-2 * cov[0, 1], cov[0, 0] - cov[1, 1])))


def test_same_seed_same_set_and_other_seed_differs(test_split, drawings):
    again = rb.build_drawing_set(*test_split, per_kind=PER_KIND, seed=7)
    other = rb.build_drawing_set(*test_split, per_kind=PER_KIND, seed=8)
    for field in ("images", "labels", "kinds", "source"):
        np.testing.assert_array_equal(getattr(again, field), getattr(drawings, field))
    assert not np.array_equal(other.images, drawings.images)


def test_shapes_kinds_and_labels(test_split, drawings):
    x_test, y_test = test_split
    n = PER_KIND * len(rb.KINDS)
    assert drawings.images.shape == (n, rb.CANVAS, rb.CANVAS) and drawings.images.dtype == np.uint8
    assert len(drawings) == n
    assert {k: int(np.sum(drawings.kinds == k)) for k in rb.KINDS} == {k: PER_KIND for k in rb.KINDS}
    mnist = drawings.source >= 0
    np.testing.assert_array_equal(mnist, drawings.kinds != "strokes")
    np.testing.assert_array_equal(drawings.labels[mnist], y_test[drawings.source[mnist]])
    assert len(set(drawings.source[mnist])) == mnist.sum(), "each MNIST digit is used once"
    assert drawings.labels.max() <= 9


def test_every_drawing_has_ink_and_prepares_to_mnist(drawings):
    prepared = rb.prepare(drawings.images)
    assert prepared.shape == (len(drawings), 28, 28) and prepared.dtype == np.float32
    assert (prepared.reshape(len(drawings), -1).max(axis=1) > 0.5).all()


def test_only_photos_are_dark_on_light(drawings):
    border = np.concatenate([drawings.images[:, 0], drawings.images[:, -1]], axis=1)
    light = np.median(border, axis=1) > 128
    np.testing.assert_array_equal(light, np.isin(drawings.kinds, ["photo", "snapshot"]))


def test_scale_kind_is_small_or_large_and_canvas_kind_is_medium(drawings):
    def side(img):
        top, bottom, left, right = preprocess.ink_bbox(img / 255.0)
        return max(bottom - top, right - left) / rb.CANVAS

    for img in drawings.images[drawings.kinds == "scale"]:
        assert side(img) < 0.32 or side(img) > 0.8
    for img in drawings.images[drawings.kinds == "canvas"]:
        assert 0.4 < side(img) < 0.8


def test_shift_kind_moves_the_digit_towards_an_edge(drawings):
    centre = (rb.CANVAS - 1) / 2
    for img in drawings.images[drawings.kinds == "shift"]:
        offset = np.abs(ink_centroid(img.astype(float)) - centre)
        assert offset.min() > 0.1 * rb.CANVAS
    for img in drawings.images[drawings.kinds == "canvas"]:
        assert np.abs(ink_centroid(img.astype(float)) - centre).max() < 0.2 * rb.CANVAS


def test_thicken_adds_ink_around_the_stroke():
    pen = bar()
    thick = rb.thicken(pen, 3)
    assert thick.shape == (pen.shape[0] + 6, pen.shape[1] + 6)
    assert thick.sum() > 1.5 * pen.sum()
    assert (thick > 0.5).sum(axis=1).max() == 8 + 2 * 3  # the bar is 3 px wider each side


def test_thin_removes_ink_but_never_all_of_it():
    pen = bar()
    thinner = rb.thin(pen, 2)
    assert (thinner > 0.5).sum(axis=1).max() == 8 - 2 * 2
    assert 0.25 * pen.sum() <= thinner.sum() < pen.sum()
    hairline = bar(width=2)
    assert rb.thin(hairline, 3).sum() >= 0.25 * hairline.sum()


def test_slant_leans_the_top_right_for_positive_shear():
    pen = bar()
    assert abs(tilt_degrees(pen)) < 1
    right, left = rb.slant(pen, 0.4), rb.slant(pen, -0.4)
    assert tilt_degrees(right) == pytest.approx(np.degrees(np.arctan(0.4)), abs=3)
    assert tilt_degrees(left) == pytest.approx(-np.degrees(np.arctan(0.4)), abs=3)
    assert right.sum() == pytest.approx(pen.sum(), rel=0.05)


def test_rotate_turns_the_stroke_by_the_angle():
    turned = rb.rotate(bar(), 20)
    assert abs(tilt_degrees(turned)) == pytest.approx(20, abs=3)
    assert turned.max() <= 1.0


def test_place_centres_pushes_and_shrinks():
    pen = np.ones((40, 20), np.float32)
    centred = rb.place(pen, 280)
    assert centred.shape == (280, 280) and centred.sum() == pen.sum()
    np.testing.assert_allclose(ink_centroid(centred), [139.5, 139.5], atol=1)
    corner = rb.place(pen, 280, (1, -1))
    margin = round(rb.MARGIN * 280)
    rows, cols = np.nonzero(corner)
    assert rows.max() == 280 - margin - 1 and cols.min() == margin
    huge = rb.place(np.ones((400, 100), np.float32), 280)
    rows, cols = np.nonzero(huge)
    assert rows.max() - rows.min() + 1 <= 280 - 2 * margin


def test_photo_inverts_polarity_but_to_mnist_sees_the_same_digit(test_split):
    page = rb.place(rb.pen_image(test_split[0][0], 180), 280)
    photo = rb.render_photo(page, np.random.default_rng(0))
    assert photo.dtype == np.uint8 and np.median(photo[0]) > 180
    assert photo[page > 0.9].mean() < 100
    a, b = preprocess.to_mnist(rb.to_uint8(page)), preprocess.to_mnist(photo)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_pen_image_has_the_requested_size_and_harder_edges_than_plain_upsampling(test_split):
    digit = test_split[0][0]
    pen = rb.pen_image(digit, 150)
    assert max(pen.shape) == 150
    top, bottom, left, right = preprocess.ink_bbox(digit / 255.0)
    crop = Image.fromarray(digit[top:bottom, left:right].astype(np.float32) / 255, mode="F")
    plain = np.clip(np.asarray(crop.resize(pen.shape[::-1], Image.Resampling.BICUBIC)), 0, 1)

    def grey_share(img):  # share of inked pixels that are neither paper nor full ink
        return ((img > 0.05) & (img < 0.95)).sum() / (img > 0.05).sum()

    assert grey_share(pen) < 0.5 * grey_share(plain)
    assert pen.sum() == pytest.approx(plain.sum(), rel=0.1)  # same amount of ink


def test_stroke_digits_are_deterministic_and_centred():
    a = rb.draw_strokes(4, np.random.default_rng(3))
    b = rb.draw_strokes(4, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (rb.CANVAS, rb.CANVAS) and a.max() == 255
    assert np.abs(ink_centroid(a.astype(float)) - 139.5).max() < 0.3 * rb.CANVAS


def test_resize_canvas_shrinks_the_whole_canvas_as_it_is():
    canvas = np.zeros((2, 280, 280), np.uint8)
    canvas[:, :100, :100] = 255
    small = rb.resize_canvas(canvas)
    assert small.shape == (2, 28, 28) and small.dtype == np.float32
    assert small[:, :9, :9].min() > 0.99 and small[:, 12:, 12:].max() < 0.01


def test_accuracy_by_kind():
    probs = np.eye(10)[[1, 2, 3, 3]]
    result = rb.accuracy_by_kind(np.array([1, 2, 3, 4]), probs, np.array(["thin", "thick", "thin", "thick"]))
    assert result == {"all": 0.75, "thick": 0.5, "thin": 1.0}
    assert list(result) == ["all", "thick", "thin"]  # KINDS order


def test_bad_requests_say_what_is_wrong(test_split):
    with pytest.raises(ValueError, match="'blurry'"):
        rb.build_drawing_set(*test_split, per_kind=2, kinds=["blurry"])
    with pytest.raises(ValueError, match="per_kind"):
        rb.build_drawing_set(*test_split, per_kind=0)
    with pytest.raises(ValueError, match="test digits"):
        rb.build_drawing_set(test_split[0][:5], test_split[1][:5], per_kind=2)


def test_snapshots_are_noisy_jpeg_photos_of_dark_ink_on_lit_paper(test_split):
    page = rb.place(rb.pen_image(test_split[0][0], 180), 280)
    photo = rb.render_snapshot(page, np.random.default_rng(0))
    assert photo.shape == page.shape and photo.dtype == np.uint8
    paper, ink = photo[page == 0], photo[page > 0.9]
    assert ink.mean() < 0.5 * paper.mean()
    assert np.ptp(photo[page == 0]) > 40  # lighting, shadow and noise: the paper is far from flat
    a, b = preprocess.to_mnist(rb.to_uint8(page)), preprocess.to_mnist(photo)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_snapshot_noise_is_up_to_15_grey_levels_and_jpeg_quality_60():
    assert rb.SENSOR_NOISE == 15 / 255 and rb.JPEG_QUALITY == 60 and rb.GRADIENT == 0.30
    flat = np.full((64, 64, 3), 0.5)
    sigmas = [np.std(rb.photograph(flat, np.random.default_rng(seed)).astype(float)) for seed in range(20)]
    assert max(sigmas) < 15 and max(sigmas) > 3  # JPEG smooths some of the sensor noise away


def test_lighting_falls_by_at_most_the_gradient_and_shadows_are_soft():
    rng = np.random.default_rng(4)
    for _ in range(10):
        light = rb.lighting(100, rng)
        assert light.max() == pytest.approx(1.0) and light.min() >= 1 - rb.GRADIENT - 1e-9
        shadow = rb.soft_shadow(100, rng)
        assert shadow.min() >= 0 and shadow.max() <= 1
        assert np.abs(np.diff(shadow, axis=0)).max() < 0.2  # no hard edge: at most a 20% step per pixel
    texture = rb.paper_texture(100, rng)
    assert 0.003 < texture.std() < 0.05


@pytest.mark.parametrize("kind", rb.NON_DIGITS)
def test_non_digit_pages_are_uint8_pages_of_the_canvas_size_and_hold_no_ink(kind):
    page = rb.non_digit_page(kind, np.random.default_rng(1))
    assert page.shape == (rb.CANVAS, rb.CANVAS) and page.dtype == np.uint8
    again = rb.non_digit_page(kind, np.random.default_rng(1))
    np.testing.assert_array_equal(page, again)
    assert rb.non_digit_page(kind, np.random.default_rng(1), canvas=100).shape == (100, 100)


def test_non_digit_pages_look_their_kind():
    pages, kinds = rb.non_digit_pages(per_kind=3, seed=2)
    assert pages.shape == (9, rb.CANVAS, rb.CANVAS) and pages.dtype == np.uint8
    assert list(kinds) == ["blank"] * 3 + ["noise"] * 3 + ["shadow"] * 3
    spread = {k: np.mean([ndimage.gaussian_filter(p.astype(float), 20).std() for p in pages[kinds == k]]) for k in rb.NON_DIGITS}
    grain = {k: np.mean([np.std(p.astype(float) - ndimage.gaussian_filter(p.astype(float), 2)) for p in pages[kinds == k]])
             for k in rb.NON_DIGITS}
    assert grain["noise"] > 4 * max(grain["blank"], grain["shadow"])  # pure noise is grainy
    assert spread["shadow"] > spread["blank"]  # a shadow darkens part of the page
    np.testing.assert_array_equal(rb.non_digit_pages(per_kind=3, seed=2)[0], pages)
    with pytest.raises(ValueError, match="'smudge'"):
        rb.non_digit_page("smudge", np.random.default_rng(0))
