"""Tests for digitlab.strokes: rasterising pen strokes and the digit templates."""
import numpy as np
import pytest

from digitlab.strokes import DIGIT_STROKES, jitter_strokes, rasterize, scale_strokes


def test_no_strokes_give_a_blank_image_of_the_asked_size():
    for strokes in ([], [[]], [[], []]):
        image = rasterize(strokes, size=(30, 40))
        assert image.shape == (30, 40) and image.dtype == np.float32
        assert not image.any()


def test_a_horizontal_line_is_as_thick_as_the_pen():
    for width in (4.0, 10.0, 18.0):
        image = rasterize([[(20, 50.0), (80, 50.0)]], size=100, line_width=width)
        column = image[:, 50]
        assert column.sum() == pytest.approx(width, abs=0.05)  # coverage adds up to the pen width
        assert column[50] == 1.0 and column[49] == 1.0  # the centre is solid ink
        assert image.max() <= 1.0 and image.min() >= 0.0


def test_a_wider_pen_puts_down_more_ink():
    stroke = [[(10, 10), (60, 70), (90, 20)]]
    thin, thick = (rasterize(stroke, size=100, line_width=w).sum() for w in (6.0, 18.0))
    assert thick > 2.5 * thin


def test_a_single_point_is_a_round_dot():
    image = rasterize([[(50, 50)]], size=100, line_width=20.0)
    assert image.sum() == pytest.approx(np.pi * 10**2, rel=0.02)
    rows, cols = np.nonzero(image > 0.5)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (40, 59, 40, 59)


def test_edges_are_anti_aliased():
    image = rasterize([[(10, 50.3), (90, 50.3)]], size=100, line_width=6.0)
    values = np.unique(np.round(image[:, 50], 3))
    assert ((values > 0) & (values < 1)).sum() == 2  # one partly covered pixel on each side


def test_ink_outside_the_canvas_is_clipped():
    image = rasterize([[(-50, 10), (150, 10)], [(500, 500)]], size=(20, 100), line_width=8.0)
    assert image.shape == (20, 100)
    assert image[10].min() == 1.0  # the line crosses the whole width
    assert not image[16:].any()  # the off-canvas dot leaves nothing


def test_image_is_in_canvas_coordinates_x_right_y_down():
    image = rasterize([[(70, 20)]], size=(100, 200), line_width=4.0)
    row, col = np.unravel_index(image.argmax(), image.shape)
    assert (row, col) in {(19, 69), (19, 70), (20, 69), (20, 70)}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="line_width"):
        rasterize([[(1, 1)]], line_width=0)
    with pytest.raises(ValueError, match="size"):
        rasterize([[(1, 1)]], size=(10, 0))
    with pytest.raises(ValueError, match="stroke 1"):
        rasterize([[(1, 1)], [(1, 2, 3)]])
    with pytest.raises(ValueError, match="stroke 0 .*NaN"):
        rasterize([[(np.nan, 1)]])


def test_templates_cover_every_digit_in_the_unit_square():
    assert sorted(DIGIT_STROKES) == list(range(10))
    for digit, variants in DIGIT_STROKES.items():
        assert len(variants) >= 2, digit
        for variant in variants:
            points = np.concatenate([np.asarray(s) for s in variant])
            assert points.shape[1] == 2 and all(len(s) >= 2 for s in variant)
            assert points.min() >= 0.0 and points.max() <= 1.0, digit
            assert np.ptp(points[:, 1]) > 0.8, digit  # every digit is written full height


def test_templates_have_dense_points_like_mouse_events():
    for variants in DIGIT_STROKES.values():
        for variant in variants:
            for stroke in variant:
                gaps = np.hypot(*np.diff(np.asarray(stroke), axis=0).T)
                assert gaps.max() <= 0.021


def test_scale_strokes_maps_the_unit_square_inside_the_margins():
    placed = scale_strokes([[(0.0, 0.0), (1.0, 1.0)], [(0.5, 0.25)]], 280, 40)
    assert placed == [[(40.0, 40.0), (240.0, 240.0)], [(140.0, 90.0)]]
    wide = scale_strokes([[(0.0, 0.0), (1.0, 1.0)]], (100, 200), 10)
    assert wide == [[(60.0, 10.0), (140.0, 90.0)]]  # square area, centred
    with pytest.raises(ValueError, match="margin"):
        scale_strokes([[(0.0, 0.0)]], 50, 30)


def test_jitter_is_seeded_small_and_keeps_the_structure():
    strokes = scale_strokes(DIGIT_STROKES[4][0], 280, 40)
    a = jitter_strokes(strokes, np.random.default_rng(1))
    b = jitter_strokes(strokes, np.random.default_rng(1))
    c = jitter_strokes(strokes, np.random.default_rng(2))
    assert a == b and a != c
    assert [len(s) for s in a] == [len(s) for s in strokes]
    moved = np.concatenate([np.asarray(s) for s in a]) - np.concatenate([np.asarray(s) for s in strokes])
    assert 0 < np.abs(moved).max() < 60  # within rotation/scale/offset of a 200 px digit
    still = jitter_strokes(strokes, np.random.default_rng(1), rotation=0, scale=0, aspect=0, shear=0,
                           offset=0, noise=0)
    assert np.allclose(np.concatenate(still), np.concatenate(strokes))


def test_jitter_needs_a_generator():
    with pytest.raises(TypeError, match="rng"):
        jitter_strokes([[(0, 0), (1, 1)]], 42)
