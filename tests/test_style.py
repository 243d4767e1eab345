"""digitlab.style: skeletons, redrawing with an even pen, pad-like drawings of dataset images."""
from __future__ import annotations

import numpy as np
import pytest

from digitlab import style


def _bar(width: int) -> np.ndarray:
    """A 28x28 vertical bar, ``width`` pixels wide, as uint8."""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 14 - width // 2:14 - width // 2 + width] = 255
    return image


def test_skeleton_of_a_thick_bar_is_one_pixel_wide():
    bones = style.skeleton(_bar(7))
    rows = bones[8:20]
    assert (rows.sum(axis=1) == 1).all(), "one skeleton pixel per row of the bar"
    assert 12 <= np.flatnonzero(bones.any(axis=0)).mean() <= 15


def test_a_hollow_stroke_is_thinned_to_one_line_and_a_loop_stays_open():
    outline = _bar(5)
    outline[6:22, 13] = 0  # MADBase-like: the stroke is an outline with a one-pixel gap inside
    assert (style.skeleton(outline)[8:20].sum(axis=1) == 1).all()
    ring = np.zeros((28, 28), np.uint8)
    yy, xx = np.mgrid[:28, :28]
    ring[(np.hypot(yy - 14, xx - 14) > 6) & (np.hypot(yy - 14, xx - 14) < 9)] = 255
    bones = style.skeleton(ring)
    assert not bones[12:17, 12:17].any(), "a zero's hole is a real loop, not a gap to fill"


def test_redraw_gives_the_same_pen_whatever_the_stroke_width():
    thin, thick = style.redraw(np.stack([_bar(2), _bar(6)]))
    assert thin.dtype == np.float32 and 0 <= thin.min() and thin.max() <= 1
    widths = [(img[14] > 0.5).sum() for img in (thin, thick)]
    assert widths[0] == widths[1] and 2 <= widths[0] <= 4, widths
    assert not style.redraw(np.zeros((1, 28, 28), np.uint8)).any()


def test_as_pad_drawing_looks_like_the_pad_prepares_a_drawing(mnist):
    from digitlab import preprocess

    x = mnist[1][0][:5]
    drawn = style.as_pad_drawing(x)
    assert drawn.shape == (5, 28, 28) and drawn.max() == pytest.approx(1.0, abs=0.05)
    for image in drawn:  # centred and scaled by to_mnist: the ink's box fits the 20x20 box like MNIST
        top, bottom, left, right = preprocess.ink_bbox(image)
        assert max(bottom - top, right - left) in range(17, 23)
    assert np.corrcoef(drawn.ravel(), x.ravel().astype(np.float32))[0, 1] > 0.5, "the same shapes"


def test_a_blob_stays_a_blob_of_its_own_size():
    yy, xx = np.mgrid[:28, :28]
    dot = (((yy - 14) ** 2 + (xx - 14) ** 2) <= 7 ** 2).astype(np.uint8) * 255  # an Arabic 0, scaled up as on the pad
    redrawn, = style.redraw(dot[None])
    assert abs(int((redrawn > 0.5).sum()) - int((dot > 0).sum())) < 0.1 * (dot > 0).sum(), "not thinned to a tree"
    drawn, = style.as_pad_drawing(dot[None])
    assert (drawn[14, 8:20] > 0.5).all(), "a filled dot on the pad too"


def test_restyle_redraws_the_chosen_share_and_keeps_the_rest():
    images = np.stack([_bar(6)] * 200)
    out = style.restyle(images, 0.5, rng=np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == images.shape and images[0].max() == 255  # the input is untouched
    changed = (out != images).any(axis=(1, 2))
    assert 70 < changed.sum() < 130, changed.sum()
    widths = (out[changed][:, 14] > 127).sum(axis=1)
    assert widths.max() <= 4 and widths.min() >= 1, "redrawn with a pen of 1.6-3.4 pixels, not the 6-pixel bar"
    again = style.restyle(images, 0.5, rng=np.random.default_rng(0))
    assert np.array_equal(out, again), "seeded"
    assert np.array_equal(style.restyle(images, 0.0, rng=np.random.default_rng(0)), images)
    with pytest.raises(ValueError, match="share must be between 0 and 1, got 1.5"):
        style.restyle(images, 1.5, rng=np.random.default_rng(0))


@pytest.mark.parametrize("fn, arg, match", [
    (style.skeleton, np.zeros((2, 28, 28)), "one \\(H, W\\) image"),
    (style.redraw, np.zeros((28, 28)), "batch"),
    (style.as_pad_drawing, np.zeros((28, 28)), "batch"),
])
def test_bad_shapes_are_named(fn, arg, match):
    with pytest.raises(ValueError, match=match):
        fn(arg)


def test_redraw_refuses_a_bad_pen():
    with pytest.raises(ValueError, match="pen_width"):
        style.redraw(np.zeros((1, 28, 28)), pen_width=0)
