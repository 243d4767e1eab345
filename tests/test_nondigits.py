"""Tests for digitlab.nondigits: hand-drawn non-digits, drawn as the pad draws, in two disjoint parts."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from digitlab import nondigits as nd
from digitlab.pen import CANVAS_SIZE

N_PER_KIND = 4


@pytest.fixture(scope="module")
def parts() -> dict[str, nd.NonDigitSet]:
    """A few marks of every kind, in each part."""
    return {part: nd.build_nondigit_set(N_PER_KIND, seed=3, part=part) for part in nd.PARTS}


@pytest.fixture(scope="module")
def rendered(parts) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each part's ``mnist_images()``, rendered once."""
    return {part: marks.mnist_images() for part, marks in parts.items()}


def fake_script(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Small MNIST-format images with some ink each, and labels 0-9 in turn."""
    x = np.zeros((n, 28, 28), dtype=np.uint8)
    x[:, 8:20, 10:18] = (np.arange(n) % 200 + 50)[:, None, None]
    return x, (np.arange(n) % 10).astype(np.uint8)


def steepness(points: np.ndarray) -> float:
    """Return the angle of the main axis of ``points`` from horizontal, in degrees (0-90)."""
    values, vectors = np.linalg.eigh(np.cov(points.T))
    dx, dy = vectors[:, np.argmax(values)]
    return float(np.degrees(np.arctan2(abs(dy), abs(dx))))


def test_every_kind_is_drawn_on_the_pad_canvas_with_a_pad_pen(parts):
    for marks in parts.values():
        kinds, counts = np.unique(marks.kinds, return_counts=True)
        assert sorted(kinds) == sorted(nd.KINDS) and set(counts) == {N_PER_KIND}
        for mark in marks:
            assert nd.PEN_WIDTHS[0] <= mark.pen_width <= nd.PEN_WIDTHS[1] and mark.image is None
            points = np.concatenate(mark.strokes)
            assert all(s.dtype == np.float32 and s.ndim == 2 and s.shape[1] == 2 for s in mark.strokes)
            assert points.min() >= mark.pen_width / 2 and points.max() <= CANVAS_SIZE - mark.pen_width / 2


def test_every_mark_has_ink_that_stays_on_the_canvas(parts):
    for mark in parts["test"][::3]:
        ink = mark.ink()
        assert ink.shape == (CANVAS_SIZE, CANVAS_SIZE) and ink.dtype == np.float32
        assert ink.max() == 1.0, mark  # solid pen somewhere
        border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
        assert not border.any(), f"{mark} touches the edge: ink was clipped"


def test_mnist_images_are_in_mnist_format(parts, rendered):
    for part, (images, inked) in rendered.items():
        assert images.shape == (len(parts[part]), 28, 28) and images.dtype == np.float32
        assert inked.dtype == bool and inked.all()
        assert np.allclose(images.max(axis=(1, 2)), 1.0) and images.min() >= 0.0


def test_a_mark_without_ink_is_flagged_and_left_blank(parts):
    blank = nd.Mark(nd.OTHER_SCRIPT, "other-script:none/0#0", image=np.zeros((28, 28), np.float32))
    marks = nd.NonDigitSet([blank, parts["tune"][0]], part="tune", seed=0)
    images, inked = marks.mnist_images()
    assert inked.tolist() == [False, True]
    assert not images[0].any() and images[1].any()
    with pytest.raises(ValueError, match="no ink"):
        blank.mnist()


def test_the_parts_share_no_template():
    for kind in nd.KINDS:
        tune, test = (set(nd.template_names(kind, part)) for part in nd.PARTS)
        assert tune and test and not tune & test, kind
    many = {part: nd.build_nondigit_set(20, seed=1, part=part) for part in nd.PARTS}
    ids = {part: set(marks.templates) for part, marks in many.items()}
    assert not ids["tune"] & ids["test"]
    names = {part: {t.split("/")[0] for t in marks.templates} for part, marks in many.items()}
    assert not names["tune"] & names["test"]  # not even another way of writing the same letter


#: The split as the module's docstring gives it: kind -> (tune, test).
DOCUMENTED_SPLIT = {
    "letters": ("A F K N R V Y e k n w", "E H M P T W a h m r"),
    "symbols": ("equals hash percent at question arrow smiley heart pi",
                "not-equal asterisk divide ampersand exclamation check star spiral"),
    "scribbles": ("coil several", "curve tangle"),
    "dots": ("dab trio scatter", "tap pair"),
    "lines": ("bowed dashed", "flat slanted"),
    "shapes": ("triangle rectangle triangle-down zigzag", "square diamond house wave"),
    "crosses": ("plus tilted", "saltire skewed"),
    "hatching": ("hatch blot", "crosshatch zigfill"),
}


def test_the_split_is_the_documented_rule():
    for kind, names in DOCUMENTED_SPLIT.items():
        assert tuple(nd.template_names(kind, "tune")) == tuple(names[0].split()), kind
        assert tuple(nd.template_names(kind, "test")) == tuple(names[1].split()), kind
    tune, test = (nd.template_names("two-digits", part) for part in nd.PARTS)
    assert len(tune) == len(test) == 50 and set(tune) | set(test) == {f"{a}{b}" for a in range(10) for b in range(10)}
    assert {pair[1] for pair in tune} == set("02468") and {pair[1] for pair in test} == set("13579")
    assert set(DOCUMENTED_SPLIT) | {"two-digits"} == set(nd.KINDS)


def test_the_same_seed_draws_the_same_marks():
    first, again, other = (nd.build_nondigit_set(3, seed=s, part="tune") for s in (5, 5, 6))
    assert first.templates.tolist() == again.templates.tolist()
    for a, b in zip(first, again):
        assert a.pen_width == b.pen_width and all(np.array_equal(p, q) for p, q in zip(a.strokes, b.strokes))
    assert any(not np.array_equal(a.strokes[0], b.strokes[0]) for a, b in zip(first, other))
    test = nd.build_nondigit_set(3, seed=5, part="test")
    assert not any(a.pen_width == b.pen_width for a, b in zip(first, test))  # the parts have their own streams


def test_no_line_is_near_vertical():
    for part in nd.PARTS:
        for mark in nd.build_nondigit_set(100, seed=2, part=part, kinds=["lines"]):
            assert steepness(np.concatenate(mark.strokes)) <= nd.MAX_LINE_ANGLE, mark  # >= 40 degrees off vertical


def test_two_digits_stand_apart_as_two_blobs():
    for part in nd.PARTS:
        for mark in nd.build_nondigit_set(8, seed=4, part=part, kinds=["two-digits"]):
            columns = (mark.ink() > 0).any(axis=0).astype(int)
            starts = np.flatnonzero(np.diff(columns) == 1)
            assert len(starts) == 2, f"{mark}: ink in {len(starts)} column groups, not two"
            assert len(mark.template.split(":")[1]) == 2


def test_other_script_images_come_from_the_part_s_half_and_the_kept_ones():
    x, y = fake_script()
    keep = y % 2 == 0
    images, indices = nd.other_script_images(x, n=8, seed=0, part="tune", keep=keep)
    assert images.shape == (8, 28, 28) and images.dtype == np.float32
    assert np.array_equal(images, x[indices] / np.float32(255))
    assert (indices < 20).all() and keep[indices].all() and len(set(indices)) == 8
    _, test = nd.other_script_images(x, n=10, seed=0, part="test")
    assert (test >= 20).all()
    assert len(nd.other_script_images(x, n=40, seed=0)[1]) == 40
    with pytest.raises(ValueError, match="only 10"):
        nd.other_script_images(x, n=11, seed=0, part="test", keep=keep)


def test_other_scripts_join_the_set_without_their_western_lookalikes():
    x, y = fake_script()
    marks = {part: nd.build_nondigit_set(10, seed=0, part=part, kinds=[], scripts={"arabic": (x, y)})
             for part in nd.PARTS}
    for part, part_marks in marks.items():
        assert len(part_marks) == 10 and set(part_marks.kinds) == {nd.OTHER_SCRIPT}
        labels = [int(t.split("/")[1].split("#")[0]) for t in part_marks.templates]
        assert not set(labels) & set(nd.LOOKALIKE_DIGITS["arabic"])
        mark = part_marks[0]
        assert mark.mnist() is mark.image and mark.ink().shape == (CANVAS_SIZE, CANVAS_SIZE)
    assert not set(marks["tune"].templates) & set(marks["test"].templates)
    both = nd.build_nondigit_set(5, seed=0, part="test", kinds=[], scripts={"arabic": (x, y), "tibetan": (x, y)})
    assert [t.split(":")[1].split("/")[0] for t in both.templates] == ["arabic"] * 3 + ["tibetan"] * 2


def test_no_letter_that_reads_as_a_digit_is_drawn():
    assert not set(nd.LETTERS) & set(nd.EXCLUDED_LETTERS)
    for table in (nd.LETTERS, nd.SYMBOLS):
        for name, variants in table.items():
            points = np.concatenate([np.asarray(s, float).reshape(-1, 2) for v in variants for s in v])
            assert points.min() >= -0.01 and points.max() <= 1.01, f"{name} leaves the unit square"


def test_a_set_indexes_like_an_array(parts):
    marks = parts["tune"]
    dots = marks[marks.kinds == "dots"]
    assert isinstance(dots, nd.NonDigitSet) and len(dots) == N_PER_KIND and set(dots.kinds) == {"dots"}
    assert isinstance(marks[0], nd.Mark) and len(marks[:5]) == 5 and dots.part == "tune"
    assert "dots 4" in repr(dots) and "pen" in repr(dots[0])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="part"):
        nd.build_nondigit_set(1, seed=0, part="train")
    with pytest.raises(ValueError, match="unknown kinds"):
        nd.build_nondigit_set(1, seed=0, part="tune", kinds=["faces"])
    with pytest.raises(ValueError, match="n_per_kind"):
        nd.build_nondigit_set(-1, seed=0, part="tune")
    with pytest.raises(ValueError, match="klingon"):
        nd.unlike_western(np.arange(10), "klingon")
    with pytest.raises(ValueError, match="28, 28"):
        nd.other_script_images(np.zeros((4, 28)), n=1, seed=0)


def test_all_lists_the_public_names():
    defined = {n for n, obj in vars(nd).items() if not n.startswith("_")
               and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == nd.__name__}
    assert defined <= set(nd.__all__) and all(hasattr(nd, n) for n in nd.__all__)
