"""Hand-drawn non-digits: letters, symbols, scribbles, dots, lines, shapes ... drawn as the pad draws.

The drawing pad reads anything as a digit: a single dot as "0, 93% sure", a letter A as
"4, 89% sure", a scribble as "8, 86% sure". To choose and test a way of declining such
input, ``build_nondigit_set`` draws marks a user might make that are not one digit, each
as the pad draws: strokes in pixels of the 280 px canvas, varied like a hand
(``strokes.jitter_strokes``), rasterised by ``strokes.rasterize`` with a round pen 10-28 px
wide (``PEN_WIDTHS``). A ``NonDigitSet`` keeps the strokes (a few kB a mark), not images:
``Mark.ink`` renders one, ``NonDigitSet.mnist_images`` gives what the model sees.

Kinds (``KINDS``); each lists its templates or styles in a fixed order, and the two parts
take turns through it (``template_names``): even positions (0, 2, ...) go to ``"tune"``,
odd ones to ``"test"``, so a method tuned on one part is measured on shapes it never saw.
Below, "tune | test":

- ``letters`` (``LETTERS``, 1-2 ways of writing each): A F K N R V Y e k n w | E H M P T W a h m r;
- ``symbols`` (``SYMBOLS``): = # % @ ? arrows (left, right, diagonal) smiley heart pi |
  not-equal * divide & ! check star spiral;
- ``scribbles``: a coil of loops, several short curves | a random curve that turns a lot, a tangle;
- ``dots``: a dab (a tap with a slip), three dots, a scatter | one tap (a single point), two dots;
- ``lines``: bowed, dashed | straight, flat or slanted; none steeper than ``MAX_LINE_ANGLE``;
- ``shapes``: triangle, wide rectangle, triangle upside down, zig-zag | square, diamond, house, wave;
- ``crosses``: + upright, + tilted | x, two strokes crossing at any angle and place;
- ``hatching``: parallel strokes, a scribbled blot | crossed strokes, a patch coloured in;
- ``two-digits``: two digits of ``strokes.DIGIT_STROKES`` side by side, each varied by its own
  hand: the pairs "00" to "99" in order, so tune pairs end in an even digit, test pairs in an odd one;
- ``other-script`` (when ``build_nondigit_set`` is given their images): digits of other scripts;
  the first half of each script's images in file order is tune, the second test (in sets stored
  writer by writer this keeps most writers apart).

Each part also draws from its own random stream of the seed. Left out, because a person
could mean a digit by them: letters shaped like digits (``EXCLUDED_LETTERS``: O o D Q C c U u
as 0; I l i j J L t as 1; Z z as 2; S s as 5; b G as 6; B as 8; g q y as 9); circles,
ellipses and polygons of six or more sides (0s); tall rectangles (a boxy 0); a single line
within 40 degrees of vertical (a 1); an up or down arrow (a 1 with flags); $ (an S, a 5); an
infinity sign (an 8 on its side); and the digits of other scripts that look like Western ones
(``LOOKALIKE_DIGITS``). Kept, though the model reads some of them as digits, because no one
writes a digit that way: squares and diamonds (read as 0), "!" (as 1), H M W (as 4).

This module needs numpy, scipy and Pillow only (through ``preprocess``), never TensorFlow.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np

from digitlab import preprocess, strokes
from digitlab.config import IMAGE_SIZE
from digitlab.pen import CANVAS_SIZE
from digitlab.strokes import DIGIT_STROKES, Stroke, arc, bezier

__all__ = [
    "PARTS", "KINDS", "OTHER_SCRIPT", "PEN_WIDTHS", "MAX_LINE_ANGLE", "LETTERS", "SYMBOLS",
    "EXCLUDED_LETTERS", "LOOKALIKE_DIGITS", "Mark", "NonDigitSet",
    "template_names", "build_nondigit_set", "other_script_images", "unlike_western",
]

#: The two disjoint parts: tune a method on the first, measure it on the second.
PARTS = ("tune", "test")
#: The kinds drawn from strokes, in the order ``build_nondigit_set`` draws them.
KINDS = ("letters", "symbols", "scribbles", "dots", "lines", "shapes", "crosses", "hatching", "two-digits")
#: The kind of the other-script digits, which come as images rather than strokes.
OTHER_SCRIPT = "other-script"
#: Smallest and largest pen diameter, canvas pixels (the pad's slider; its default is 18).
PEN_WIDTHS = (10.0, 28.0)
#: Steepest a line may be, degrees from horizontal: a steeper single line reads as a 1.
MAX_LINE_ANGLE = 50.0
#: Attempts at a mark that passes its kind's check before giving up (a few are ever needed).
_TRIES = 200

#: Letters left out, with the digit each can be read as (X and x are crosses). d, f, p and v are not
#: drawn either: p and v would repeat P and V.
EXCLUDED_LETTERS = {
    "O": "0", "o": "0", "D": "0", "Q": "0", "C": "0 (open)", "c": "0 (open)", "U": "0 (open at the top)",
    "u": "0 (open at the top)", "I": "1", "l": "1", "i": "1", "j": "1", "J": "1 or 7", "L": "1 or 4",
    "t": "1 or 4", "Z": "2", "z": "2", "S": "5", "s": "5", "b": "6", "G": "6", "B": "8", "g": "9",
    "q": "9", "y": "4 or 9", "X": "none, but it is a cross (kind 'crosses')", "x": "none, but it is a cross",
}

#: Digits of other scripts left out because they look like a Western digit, with the one they look like.
LOOKALIKE_DIGITS = {
    "arabic": {0: "0 (some are scanned as rings)", 1: "1", 5: "0", 6: "7", 9: "9"},
    "persian": {0: "0 (many are rings)", 1: "1", 5: "0", 6: "4", 9: "9"},
    "bengali": {0: "0", 2: "2", 3: "6", 4: "8", 7: "9"},
    "kannada": {0: "0", 3: "2", 4: "8", 7: "1 or 2"},
    "tibetan": {0: "0", 1: "7", 3: "3", 5: "4", 6: "6"},
}


# --- templates: unit square, x right, y down (like ``strokes.DIGIT_STROKES``) ---------------


def _mirrored(template: list[Stroke]) -> list[Stroke]:
    """Return ``template`` flipped left to right."""
    return [[(1.0 - x, y) for x, y in stroke] for stroke in template]


def _smooth(points: Sequence[Sequence[float]], rounds: int = 3) -> np.ndarray:
    """Return a smooth open curve near the polyline ``points`` (Chaikin's corner cutting), ends kept."""
    p = np.asarray(points, dtype=np.float64)
    for _ in range(rounds):
        cut = np.column_stack([0.75 * p[:-1] + 0.25 * p[1:], 0.25 * p[:-1] + 0.75 * p[1:]]).reshape(-1, 2)
        p = np.vstack([p[:1], cut, p[-1:]])
    return p


def _letter_templates() -> dict[str, list[list[Stroke]]]:
    """Return letter -> ways of writing it -> strokes -> points."""
    p_bowl = arc(0.3, 0.275, 0.38, 0.225, -90, 90)
    return {
        "A": [[[(0.2, 0.95), (0.5, 0.05), (0.8, 0.95)], [(0.33, 0.62), (0.67, 0.62)]],
              [[(0.5, 0.05), (0.2, 0.95)], [(0.5, 0.05), (0.8, 0.95)], [(0.3, 0.6), (0.7, 0.6)]]],
        "E": [[[(0.72, 0.05), (0.28, 0.05), (0.28, 0.95), (0.72, 0.95)], [(0.28, 0.5), (0.65, 0.5)]],
              [[(0.28, 0.05), (0.28, 0.95)], [(0.28, 0.05), (0.72, 0.05)], [(0.28, 0.5), (0.62, 0.5)],
               [(0.28, 0.95), (0.72, 0.95)]]],
        "F": [[[(0.3, 0.05), (0.3, 0.95)], [(0.3, 0.05), (0.75, 0.05)], [(0.3, 0.47), (0.65, 0.47)]],
              [[(0.75, 0.05), (0.3, 0.05), (0.3, 0.95)], [(0.3, 0.47), (0.65, 0.47)]]],
        "H": [[[(0.25, 0.05), (0.25, 0.95)], [(0.75, 0.05), (0.75, 0.95)], [(0.25, 0.5), (0.75, 0.5)]]],
        "K": [[[(0.28, 0.05), (0.28, 0.95)], [(0.75, 0.05), (0.3, 0.55), (0.78, 0.95)]],
              [[(0.28, 0.05), (0.28, 0.95)], [(0.75, 0.05), (0.28, 0.55)], [(0.42, 0.42), (0.78, 0.95)]]],
        "M": [[[(0.15, 0.95), (0.2, 0.05), (0.5, 0.65), (0.8, 0.05), (0.85, 0.95)]],
              [[(0.15, 0.95), (0.15, 0.05), (0.5, 0.55), (0.85, 0.05), (0.85, 0.95)]]],
        "N": [[[(0.25, 0.95), (0.25, 0.05), (0.75, 0.95), (0.75, 0.05)]],
              [[(0.25, 0.95), (0.25, 0.05)], [(0.25, 0.05), (0.75, 0.95), (0.75, 0.05)]]],
        "P": [[[(0.3, 0.95), (0.3, 0.05)] + p_bowl], [[(0.3, 0.05), (0.3, 0.95)], p_bowl]],
        "R": [[[(0.3, 0.95), (0.3, 0.05)] + p_bowl + [(0.78, 0.95)]],
              [[(0.3, 0.05), (0.3, 0.95)], p_bowl + [(0.78, 0.95)]]],
        "T": [[[(0.15, 0.08), (0.85, 0.08)], [(0.5, 0.08), (0.5, 0.95)]],
              [[(0.5, 0.08), (0.5, 0.95)], [(0.12, 0.1), (0.88, 0.06)]]],
        "V": [[[(0.2, 0.05), (0.5, 0.95), (0.8, 0.05)]]],
        "W": [[[(0.05, 0.05), (0.28, 0.95), (0.5, 0.35), (0.72, 0.95), (0.95, 0.05)]],
              [[(0.05, 0.05), (0.27, 0.95), (0.5, 0.1), (0.73, 0.95), (0.95, 0.05)]]],
        "Y": [[[(0.2, 0.05), (0.5, 0.5)], [(0.8, 0.05), (0.5, 0.5), (0.5, 0.95)]],
              [[(0.2, 0.05), (0.5, 0.5), (0.8, 0.05)], [(0.5, 0.5), (0.5, 0.95)]]],
        "a": [[arc(0.45, 0.66, 0.24, 0.26, -30, -390) + [(0.69, 0.4), (0.69, 0.93), (0.76, 0.95)]],
              [[(0.27, 0.45)] + arc(0.47, 0.52, 0.2, 0.13, -160, 0) + [(0.67, 0.95)],
               arc(0.47, 0.79, 0.2, 0.13, -60, -330)]],
        "e": [[[(0.25, 0.64), (0.75, 0.64)] + arc(0.5, 0.64, 0.25, 0.26, 0, -320)]],
        "h": [[[(0.3, 0.05), (0.3, 0.95), (0.3, 0.64)] + arc(0.5, 0.64, 0.2, 0.2, 180, 360) + [(0.7, 0.95)]]],
        "k": [[[(0.3, 0.05), (0.3, 0.95)], [(0.72, 0.42), (0.32, 0.7), (0.75, 0.95)]],
              [[(0.3, 0.05), (0.3, 0.95)], [(0.7, 0.42), (0.3, 0.72)], [(0.45, 0.62), (0.74, 0.95)]]],
        "m": [[[(0.15, 0.95), (0.15, 0.56)] + arc(0.3, 0.56, 0.15, 0.14, 180, 360) + [(0.45, 0.95), (0.45, 0.56)]
               + arc(0.6, 0.56, 0.15, 0.14, 180, 360) + [(0.75, 0.95)]]],
        "n": [[[(0.25, 0.95), (0.25, 0.58)] + arc(0.48, 0.58, 0.23, 0.2, 180, 360) + [(0.71, 0.95)]]],
        "r": [[[(0.35, 0.95), (0.35, 0.4), (0.35, 0.62)] + bezier((0.35, 0.62), (0.42, 0.38), (0.7, 0.42))[1:]]],
        "w": [[[(0.1, 0.4), (0.3, 0.93), (0.5, 0.5), (0.7, 0.93), (0.9, 0.4)]],
              [bezier((0.1, 0.4), (0.16, 0.98), (0.32, 0.9)) + bezier((0.32, 0.9), (0.5, 0.8), (0.5, 0.55))[1:]
               + bezier((0.5, 0.55), (0.5, 0.95), (0.68, 0.9))[1:] + bezier((0.68, 0.9), (0.86, 0.8), (0.9, 0.4))[1:]]],
    }


def _symbol_templates() -> dict[str, list[list[Stroke]]]:
    """Return symbol -> ways of drawing it -> strokes -> points; the order alternates the parts."""
    equals = [[(0.15, 0.38), (0.85, 0.38)], [(0.15, 0.62), (0.85, 0.62)]]
    right = [[(0.05, 0.5), (0.95, 0.5)], [(0.7, 0.3), (0.95, 0.5), (0.7, 0.7)]]
    star = [(0.5 + 0.45 * np.cos(a), 0.53 + 0.45 * np.sin(a)) for a in np.radians(-90 + 144 * np.arange(6))]
    return {
        "equals": [equals],
        "not-equal": [equals + [[(0.65, 0.1), (0.35, 0.9)]]],
        "hash": [[[(0.38, 0.1), (0.3, 0.9)], [(0.68, 0.1), (0.6, 0.9)], [(0.12, 0.35), (0.88, 0.35)],
                  [(0.1, 0.65), (0.86, 0.65)]],
                 [[(0.1, 0.35), (0.9, 0.35)], [(0.1, 0.65), (0.9, 0.65)], [(0.35, 0.1), (0.35, 0.9)],
                  [(0.65, 0.1), (0.65, 0.9)]]],
        "asterisk": [[[(0.5, 0.1), (0.5, 0.9)], [(0.15, 0.3), (0.85, 0.7)], [(0.85, 0.3), (0.15, 0.7)]],
                     [[(0.1, 0.5), (0.9, 0.5)], [(0.5, 0.1), (0.5, 0.9)], [(0.2, 0.2), (0.8, 0.8)],
                      [(0.8, 0.2), (0.2, 0.8)]]],
        "percent": [[[(0.8, 0.1), (0.2, 0.9)], arc(0.27, 0.22, 0.12, 0.14, -90, -450),
                     arc(0.73, 0.78, 0.12, 0.14, -90, -450)]],
        "divide": [[[(0.1, 0.5), (0.9, 0.5)], [(0.5, 0.2)], [(0.5, 0.8)]]],
        "at": [[arc(0.48, 0.52, 0.14, 0.15, -10, -370),
                [(0.63, 0.38), (0.63, 0.62)] + arc(0.5, 0.5, 0.4, 0.42, 20, -300)]],
        "ampersand": [[list(_smooth([(0.82, 0.95), (0.4, 0.45), (0.3, 0.25), (0.4, 0.07), (0.55, 0.1), (0.58, 0.27),
                                     (0.28, 0.55), (0.2, 0.78), (0.35, 0.95), (0.55, 0.9), (0.8, 0.58)]))]],
        "question": [[arc(0.5, 0.28, 0.26, 0.2, -180, 20) + [(0.5, 0.5), (0.5, 0.7)], [(0.5, 0.92)]]],
        "exclamation": [[[(0.5, 0.05), (0.5, 0.68)], [(0.5, 0.92)]]],
        "arrow": [right, _mirrored(right), [[(0.1, 0.9), (0.9, 0.1)], [(0.5, 0.1), (0.9, 0.1), (0.9, 0.5)]]],
        "check": [[[(0.1, 0.55), (0.35, 0.9), (0.9, 0.1)]]],
        "smiley": [[arc(0.5, 0.5, 0.45, 0.45, -90, -450), [(0.35, 0.36)], [(0.65, 0.36)],
                    arc(0.5, 0.52, 0.25, 0.22, 25, 155)]],
        "star": [[star]],
        "heart": [[[(0.5, 0.9)] + arc(0.3, 0.32, 0.2, 0.2, 150, 360) + arc(0.7, 0.32, 0.2, 0.2, 180, 390) + [(0.5, 0.9)]],
                  [[(0.5, 0.3)] + arc(0.3, 0.32, 0.2, 0.2, 360, 150) + [(0.5, 0.9)],
                   [(0.5, 0.3)] + arc(0.7, 0.32, 0.2, 0.2, 180, 390) + [(0.5, 0.9)]]],
        "spiral": [[_spiral(turns)] for turns in (2.0, 3.0)],
        "pi": [[[(0.1, 0.28), (0.9, 0.22)], [(0.35, 0.26), (0.3, 0.92)], bezier((0.65, 0.24), (0.66, 0.95), (0.85, 0.85))]],
    }


def _spiral(turns: float) -> Stroke:
    """Return an Archimedean spiral of ``turns`` turns from the centre outwards."""
    t = np.linspace(0.0, 2 * np.pi * turns, int(36 * turns))
    r = 0.03 + 0.42 * t / t[-1]
    return list(zip(0.5 + r * np.cos(t), 0.5 + r * np.sin(t)))


#: Letter -> ways of writing it -> strokes -> (x, y) points in the unit square (y down).
LETTERS: dict[str, list[list[Stroke]]] = _letter_templates()
#: Symbol name -> ways of drawing it -> strokes -> (x, y) points in the unit square (y down).
SYMBOLS: dict[str, list[list[Stroke]]] = _symbol_templates()


# --- random marks, in the unit square ---------------------------------------------------------


def _unit(lines: Iterable[Sequence[Sequence[float]]], fill: float = 0.9) -> list[np.ndarray]:
    """Return ``lines`` scaled (aspect kept) so their longer side spans ``fill``, centred in the unit square."""
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in lines]
    every = np.concatenate(arrays)
    low, high = every.min(axis=0), every.max(axis=0)
    scale = fill / max(float(np.max(high - low)), 1e-9)
    return [(a - (low + high) / 2) * scale + 0.5 for a in arrays]


def _rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    """Return ``points`` (n, 2) turned by ``degrees`` about the origin (clockwise on screen)."""
    a = np.radians(degrees)
    return points @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])


def _turning(points: np.ndarray) -> float:
    """Return the total absolute turning of the polyline ``points``, radians."""
    heading = np.unwrap(np.arctan2(*np.diff(points, axis=0).T[::-1]))
    return float(np.abs(np.diff(heading)).sum())


def _curve(rng: np.random.Generator, n_points: int, min_turning: float = 0.0) -> np.ndarray:
    """Return a smooth curve through ``n_points`` random points of the unit square turning at least ``min_turning``."""
    for _ in range(_TRIES):
        curve = _smooth(rng.uniform(0.0, 1.0, (n_points, 2)))
        if _turning(curve) >= min_turning:
            return curve
    raise RuntimeError(f"no random curve of {n_points} points turned {min_turning:.1f} rad in {_TRIES} tries")


def _parallel(rng: np.random.Generator, angle: float) -> list[np.ndarray]:
    """Return 3-7 roughly parallel strokes at ``angle`` degrees from horizontal, ends ragged."""
    n = int(rng.integers(3, 8))
    rows = np.linspace(-0.5, 0.5, n)
    ends = rng.uniform(-0.1, 0.1, (n, 2)) + [-0.5, 0.5]
    return [_rotated(np.array([[x0, y], [x1, y]]), angle) for (x0, x1), y in zip(ends, rows)]


def _polygon(corners: Sequence[Sequence[float]], rng: np.random.Generator, wobble: float = 0.04) -> list[np.ndarray]:
    """Return one closed stroke round ``corners``, each moved by up to ``wobble``, from a random corner."""
    points = np.asarray(corners, dtype=np.float64) + rng.uniform(-wobble, wobble, (len(corners), 2))
    points = np.roll(points, int(rng.integers(len(points))), axis=0)
    return [np.vstack([points, points[:1]])]


def _scribbles() -> dict[str, Callable[[np.random.Generator], list]]:
    """Return style -> draw(rng) for scribbles."""
    def coil(rng):  # loops in a row, like a child's "eeee" or a telephone cord
        loops, size = int(rng.integers(3, 7)), rng.uniform(0.25, 0.5)
        t = np.linspace(0.0, 2 * np.pi * loops, 24 * loops)
        return _unit([np.column_stack([t / (2 * np.pi) - size * np.sin(t), -size * rng.uniform(0.8, 1.6) * np.cos(t)])])

    def several(rng):
        return _unit([_curve(rng, 3) * rng.uniform(0.3, 0.5) + rng.uniform(0, 0.6, 2) for _ in range(rng.integers(2, 5))])

    return {
        "coil": coil,
        "curve": lambda rng: [_curve(rng, int(rng.integers(7, 11)), min_turning=3 * np.pi)],  # no simple 2, 7 or S
        "several": several,
        "tangle": lambda rng: [_curve(rng, int(rng.integers(10, 17)))],
    }


def _dots() -> dict[str, Callable[[np.random.Generator], list]]:
    """Return style -> draw(rng) for dots: taps of the pen, as points spread over the unit square."""
    def spaced(rng, n):  # n taps at least 0.3 apart
        for _ in range(_TRIES):
            points = rng.uniform(0.1, 0.9, (n, 2))
            gaps = np.hypot(*(points[:, None] - points[None]).transpose(2, 0, 1))
            if gaps[np.triu_indices(n, 1)].min() >= 0.3:
                return [p[None] for p in points]
        raise RuntimeError(f"no {n} taps 0.3 apart in {_TRIES} tries")

    def dab(rng):  # a tap with a little slip of the pen
        a = rng.uniform(0, 2 * np.pi)
        return [np.array([[0.5, 0.5], [0.5, 0.5] + rng.uniform(0.02, 0.06) * np.array([np.cos(a), np.sin(a)])])]

    return {
        "dab": dab,
        "tap": lambda rng: [np.array([[0.5, 0.5]])],
        "trio": lambda rng: spaced(rng, 3),
        "pair": lambda rng: spaced(rng, 2),
        "scatter": lambda rng: [p[None] for p in rng.uniform(0.05, 0.95, (int(rng.integers(4, 10)), 2))],
    }


def _lines() -> dict[str, Callable[[np.random.Generator], list]]:
    """Return style -> draw(rng) for lines no steeper than ``MAX_LINE_ANGLE`` (a steep line is a 1)."""
    def along(angle, ts):  # points at ``ts`` (-0.5 to 0.5) along a line through the centre at ``angle``
        return 0.5 + np.outer(ts, [np.cos(np.radians(angle)), np.sin(np.radians(angle))])

    def angle(rng, low=0.0, high=MAX_LINE_ANGLE - 8):
        return rng.uniform(low, high) * rng.choice([-1, 1])

    def bowed(rng):
        start, end = along(angle(rng), [-0.5, 0.5])
        bulge = (start + end) / 2 + rng.uniform(0.08, 0.2) * rng.choice([-1, 1]) * np.array([0.0, 1.0])
        return [bezier(tuple(start), tuple(bulge), tuple(end))]

    def dashed(rng):
        n = int(rng.integers(3, 7))
        cuts = np.linspace(-0.5, 0.5, 2 * n)
        line = angle(rng)
        return [along(line, cuts[i:i + 2]) for i in range(0, 2 * n, 2)]

    return {
        "bowed": bowed,
        "flat": lambda rng: [along(angle(rng, high=12), [-0.5, 0.5])],
        "dashed": dashed,
        "slanted": lambda rng: [along(angle(rng, low=15), [-0.5, 0.5])],
    }


def _shapes() -> dict[str, Callable[[np.random.Generator], list]]:
    """Return style -> draw(rng) for shapes; no circles or tall rectangles (0s)."""
    def rectangle(rng):
        half = rng.uniform(0.18, 0.32)  # height 0.36-0.64 of a width of 1: always wide
        return _polygon([(0.0, 0.5 - half), (1.0, 0.5 - half), (1.0, 0.5 + half), (0.0, 0.5 + half)], rng)

    def zigzag(rng):
        teeth, depth = int(rng.integers(3, 7)), rng.uniform(0.15, 0.3)
        x = np.linspace(0.0, 1.0, 2 * teeth + 1)
        return [np.column_stack([x, 0.5 + depth * (-1) ** np.arange(len(x))])]

    def wave(rng):
        x = np.linspace(0.0, 1.0, 60)
        periods, phase = rng.uniform(1.5, 3.0), rng.uniform(0, 2 * np.pi)
        return [np.column_stack([x, 0.5 + rng.uniform(0.08, 0.22) * np.sin(2 * np.pi * periods * x + phase)])]

    return {
        "triangle": lambda rng: _polygon([(rng.uniform(0.3, 0.7), 0.05), (0.95, 0.9), (0.05, 0.9)], rng),
        "square": lambda rng: _polygon([(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)], rng),
        "rectangle": rectangle,
        "diamond": lambda rng: _polygon([(0.5, 0.02), (0.95, 0.5), (0.5, 0.98), (0.05, 0.5)], rng),
        "triangle-down": lambda rng: _polygon([(0.05, 0.1), (0.95, 0.1), (rng.uniform(0.3, 0.7), 0.95)], rng),
        "house": lambda rng: [np.array([(0.15, 0.95), (0.15, 0.45), (0.5, 0.08), (0.85, 0.45), (0.85, 0.95),
                                        (0.15, 0.95)]), np.array([(0.15, 0.45), (0.85, 0.45)])],
        "zigzag": zigzag,
        "wave": wave,
    }


def _crosses() -> dict[str, Callable[[np.random.Generator], list]]:
    """Return style -> draw(rng) for crosses: two strokes crossing."""
    def plus(rng, tilt=0.0):  # the arms cross up to 0.12 away from their middles
        across = np.array([[-0.5, 0.0], [0.5, 0.0]]) * rng.uniform(0.75, 1.0) + [rng.uniform(-0.12, 0.12), 0.0]
        down = np.array([[0.0, -0.5], [0.0, 0.5]]) * rng.uniform(0.75, 1.0) + [0.0, rng.uniform(-0.12, 0.12)]
        return _unit([_rotated(a, tilt) for a in (across, down)][::rng.choice([-1, 1])])

    def skewed(rng):
        first = rng.uniform(0, 180)
        return _unit(_rotated(np.array([[-rng.uniform(0.25, 0.5), 0], [rng.uniform(0.25, 0.5), 0]]), a)
                     for a in (first, first + rng.uniform(35, 145)))

    def saltire(rng):
        corners = np.array([[(0, 0), (1, 1)], [(1, 0), (0, 1)]], dtype=np.float64)
        return _unit(corners + rng.uniform(-0.08, 0.08, corners.shape))

    return {
        "plus": plus,
        "saltire": saltire,
        "tilted": lambda rng: plus(rng, rng.uniform(12, 30) * rng.choice([-1, 1])),
        "skewed": skewed,
    }


def _hatching() -> dict[str, Callable[[np.random.Generator], list]]:
    """Return style -> draw(rng) for hatching and filled patches."""
    def crosshatch(rng):
        first = rng.uniform(0, 180)
        return _unit(_parallel(rng, first) + _parallel(rng, first + rng.uniform(50, 90)))

    def zigfill(rng):  # colouring a patch in: back and forth, moving on a little each time
        passes = int(rng.integers(6, 13))
        x = np.arange(passes) % 2 * rng.uniform(1.0, 2.0) + rng.uniform(-0.05, 0.05, passes)
        return _unit([_rotated(np.column_stack([x, np.linspace(0.0, 1.0, passes)]), rng.uniform(0, 180))])

    return {
        "hatch": lambda rng: _unit(_parallel(rng, rng.uniform(0, 180))),
        "crosshatch": crosshatch,
        "blot": lambda rng: _unit([_smooth(rng.normal(0.0, 1.0, (int(rng.integers(20, 40)), 2)), rounds=2)],
                                  fill=rng.uniform(0.4, 0.8)),
        "zigfill": zigfill,
    }


def _two_digits(style: str, rng: np.random.Generator) -> tuple[str, list[np.ndarray]]:
    """Return ``(style, strokes)``: the digits named by ``style`` ("37"), each varied by its own hand, side by side.

    The gap between them is 0.5-0.9 of a digit's height, so on the canvas it is wider than
    any pen and the two never touch.
    """
    left, right = ([np.asarray(s) for s in strokes.jitter_strokes(_pick(DIGIT_STROKES[int(d)], rng), rng)] for d in style)
    gap = rng.uniform(0.5, 0.9)
    shift = max(s[:, 0].max() for s in left) + gap - min(s[:, 0].min() for s in right)
    return style, _unit(left + [s + [shift, rng.uniform(-0.08, 0.08)] for s in right])


def _pick(options: Sequence, rng: np.random.Generator):
    """Return one of ``options``, uniformly."""
    return options[int(rng.integers(len(options)))]


# --- kinds, placement on the canvas -------------------------------------------------------------


def _steepness(points: np.ndarray) -> float:
    """Return the angle of the main axis of ``points`` (n, 2) from horizontal, degrees 0-90."""
    _, _, axes = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)
    return float(np.degrees(np.arctan2(abs(axes[0, 1]), abs(axes[0, 0]))))


def _not_steep(lines: list[np.ndarray]) -> bool:
    """Return whether ``lines`` together lie no steeper than ``MAX_LINE_ANGLE``."""
    return _steepness(np.concatenate(lines)) <= MAX_LINE_ANGLE


def _anything(lines: list[np.ndarray]) -> bool:
    """Return True: every drawing of this kind will do."""
    return True


@dataclass(frozen=True)
class _Kind:
    """How one kind is drawn: its styles in their fixed order, and how a drawing goes on the canvas."""

    styles: tuple[str, ...]
    draw: Callable[[str, np.random.Generator], tuple[str, list]]  # style -> (template name, unit-square strokes)
    sides: tuple[float, float] = (110.0, 230.0)  # canvas pixels the unit square spans
    jitter: Mapping[str, float] = field(default_factory=dict)  # options of ``strokes.jitter_strokes``
    accept: Callable[[list[np.ndarray]], bool] = _anything  # a check of the strokes on the canvas


def _by_style(table: Mapping[str, Callable], style: str, rng: np.random.Generator) -> tuple[str, list]:
    """Return ``(style, strokes)`` drawn by ``table[style]``."""
    return style, table[style](rng)


def _by_variant(table: Mapping[str, list], style: str, rng: np.random.Generator) -> tuple[str, list]:
    """Return ``("style/k", strokes)``: a random one, number k, of the ways of writing ``style``."""
    k = int(rng.integers(len(table[style])))
    return f"{style}/{k}", table[style][k]


def _generated(table: Mapping[str, Callable], **options) -> _Kind:
    """Return the kind whose styles are ``table``'s keys, each drawn by its function."""
    return _Kind(tuple(table), partial(_by_style, table), **options)


_KINDS: dict[str, _Kind] = {
    "letters": _Kind(tuple(LETTERS), partial(_by_variant, LETTERS), sides=(120.0, 230.0)),
    "symbols": _Kind(tuple(SYMBOLS), partial(_by_variant, SYMBOLS), sides=(120.0, 230.0)),
    "scribbles": _generated(_scribbles(), sides=(120.0, 240.0)),
    "dots": _generated(_dots()),
    "lines": _generated(_lines(), sides=(70.0, 240.0), accept=_not_steep),
    "shapes": _generated(_shapes()),
    "crosses": _generated(_crosses(), sides=(90.0, 220.0)),
    "hatching": _generated(_hatching(), sides=(100.0, 220.0)),
    "two-digits": _Kind(tuple(f"{a}{b}" for a in range(10) for b in range(10)), _two_digits, sides=(180.0, 260.0),
                        jitter={"rotation": 0.0, "scale": 0.0, "aspect": 0.0, "shear": 0.0}),  # each digit has its own
}


def _place(unit: list, rng: np.random.Generator, pen_width: float, kind: _Kind) -> list[np.ndarray]:
    """Return unit-square strokes drawn on the canvas: sized, put anywhere, varied by hand, ink kept on it."""
    side = rng.uniform(*kind.sides)
    room = (CANVAS_SIZE - side) / 2
    dx, dy = rng.uniform(-0.7, 0.7, 2) * room
    dense = [strokes.resample([tuple(p) for p in stroke]) for stroke in unit]
    placed = [[(x + dx, y + dy) for x, y in s] for s in strokes.scale_strokes(dense, CANVAS_SIZE, room)]
    return _fit_inside(strokes.jitter_strokes(placed, rng, **kind.jitter), pen_width)


def _fit_inside(lines: list, pen_width: float, size: int = CANVAS_SIZE) -> list[np.ndarray]:
    """Return ``lines`` as float32 arrays, shrunk and moved as little as needed to keep all ink on the canvas."""
    arrays = [np.asarray(s, dtype=np.float64) for s in lines]
    every = np.concatenate(arrays)
    low, high = every.min(axis=0), every.max(axis=0)
    reach = pen_width / 2 + 2  # the pen's radius and its anti-aliased edge
    factor = min(1.0, (size - 2 * reach) / max(float(np.max(high - low)), 1e-9))
    centre, half = (low + high) / 2, (high - low) * factor / 2
    target = np.clip(centre, reach + half, size - reach - half)
    return [((a - centre) * factor + target).astype(np.float32) for a in arrays]


def _stream(seed: int, part: str, name: str) -> np.random.Generator:
    """Return the random stream of ``name`` (a kind or a script) in ``part`` for ``seed``."""
    return np.random.default_rng([seed, PARTS.index(part), zlib.crc32(name.encode())])


def _check_part(part: str) -> None:
    """Raise ValueError unless ``part`` is one of ``PARTS``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")


def _check_kinds(kinds: Iterable[str]) -> None:
    """Raise ValueError naming any of ``kinds`` that is not in ``KINDS``."""
    unknown = [k for k in kinds if k not in _KINDS]
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; the kinds are {KINDS}")


def template_names(kind: str, part: str) -> tuple[str, ...]:
    """Return the names of the templates (letters, symbols, styles, digit pairs) ``kind`` draws in ``part``.

    Every other one of the kind's fixed order: positions 0, 2, 4 ... for "tune", 1, 3, 5 ...
    for "test", so the parts never share one.
    """
    _check_part(part)
    _check_kinds([kind])
    return _KINDS[kind].styles[PARTS.index(part)::2]


# --- the set ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Mark:
    """One non-digit: its kind and template, and its pad strokes and pen, or a ready MNIST-format image."""

    kind: str
    template: str
    """``kind:name``, plus ``/k`` for the k-th way of writing a letter or symbol, ``/digit#index`` for an image."""
    strokes: tuple[np.ndarray, ...] = ()
    """Each stroke's (n, 2) float32 points in canvas pixels, y down, as the pad records them."""
    pen_width: float = 0.0
    image: np.ndarray | None = None
    """(28, 28) float32 in [0, 1], MNIST-format, for marks that come as images (other scripts); else None."""

    def ink(self) -> np.ndarray:
        """Return the (280, 280) float32 ink in [0, 1] the pad holds (an image mark: its pixels enlarged)."""
        if self.image is None:
            return strokes.rasterize(self.strokes, CANVAS_SIZE, self.pen_width)
        factor = CANVAS_SIZE // self.image.shape[0]
        return np.kron(self.image, np.ones((factor, factor), dtype=np.float32))

    def mnist(self) -> np.ndarray:
        """Return the (28, 28) float32 image the model sees (``preprocess.to_mnist`` of the ink); ValueError if no ink."""
        if self.image is None:
            return preprocess.to_mnist(self.ink())
        if not self.image.any():
            raise ValueError(f"{self.template}: the image has no ink")
        return self.image

    def __repr__(self) -> str:
        drawn = f"{len(self.strokes)} strokes, pen {self.pen_width:.1f}" if self.image is None else "image"
        return f"Mark({self.template!r}, {drawn})"


class NonDigitSet(Sequence):
    """Non-digits of one part: a sequence of ``Mark`` with array views ``kinds`` and ``templates``.

    An int index gives one ``Mark``; a slice, an index array or a boolean mask gives another
    ``NonDigitSet``, so ``marks[marks.kinds == "dots"]`` works as with numpy arrays.
    """

    def __init__(self, marks: Iterable[Mark], *, part: str, seed: int):
        self.marks = tuple(marks)
        self.part, self.seed = part, seed

    def __len__(self) -> int:
        return len(self.marks)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> Mark | NonDigitSet:
        if isinstance(index, (int, np.integer)):
            return self.marks[index]
        chosen = np.arange(len(self))[index if isinstance(index, slice) else np.asarray(index)]
        return NonDigitSet((self.marks[i] for i in chosen), part=self.part, seed=self.seed)

    def __iter__(self) -> Iterator[Mark]:
        return iter(self.marks)

    def __repr__(self) -> str:
        kinds, counts = np.unique(self.kinds, return_counts=True)
        listed = ", ".join(f"{k} {c}" for k, c in zip(kinds, counts))
        return f"NonDigitSet({self.part!r}, seed {self.seed}: {listed or 'empty'})"

    @cached_property
    def kinds(self) -> np.ndarray:
        """The marks' kinds, (N,) str."""
        return np.array([m.kind for m in self.marks], dtype=str)

    @cached_property
    def templates(self) -> np.ndarray:
        """The marks' template ids, (N,) str (see ``Mark.template``)."""
        return np.array([m.template for m in self.marks], dtype=str)

    def mnist_images(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(images, inked)``: (N, 28, 28) float32 images the model sees, and (N,) bool.

        ``inked`` is False for a mark without ink, where ``to_mnist`` refuses: its image is
        left blank, so drop those (``images[inked]``) before predicting.
        """
        images = np.zeros((len(self), IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        inked = np.zeros(len(self), dtype=bool)
        for i, mark in enumerate(self.marks):
            try:
                images[i] = mark.mnist()
            except ValueError:  # no ink: flagged in ``inked``, not hidden
                continue
            inked[i] = True
        return images, inked


def build_nondigit_set(
    n_per_kind: int,
    *,
    seed: int,
    part: str,
    kinds: Sequence[str] = KINDS,
    scripts: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> NonDigitSet:
    """Return ``n_per_kind`` hand-drawn marks of each of ``kinds`` (and of other scripts), from ``part``'s templates.

    Each mark takes a template of its kind in ``part`` (``template_names``), a pen width in
    ``PEN_WIDTHS``, a size and place on the canvas and a hand's variation, all from a random
    stream of ``seed``, ``part`` and its kind: the same arguments give the same marks.
    ``scripts`` maps a script's name (a key of ``LOOKALIKE_DIGITS``) to its MNIST-format
    ``(images, labels)``; ``n_per_kind`` images of ``part``'s half, shared evenly among
    the scripts and none that looks like a Western digit, become marks of kind ``"other-script"``.
    """
    _check_part(part)
    _check_kinds(kinds)
    if n_per_kind < 0:
        raise ValueError(f"n_per_kind must be 0 or more, got {n_per_kind}")
    marks = [m for kind in kinds for m in _marks_of(kind, n_per_kind, _stream(seed, part, kind), part)]
    if scripts:
        marks += _script_marks(scripts, n_per_kind, seed=seed, part=part)
    return NonDigitSet(marks, part=part, seed=seed)


def _marks_of(kind: str, n: int, rng: np.random.Generator, part: str) -> list[Mark]:
    """Return ``n`` marks of ``kind`` drawn from ``part``'s templates."""
    names = template_names(kind, part)
    return [_mark(kind, _pick(names, rng), rng) for _ in range(n)]


def _mark(kind: str, style: str, rng: np.random.Generator) -> Mark:
    """Return one mark of ``kind`` in ``style`` that passes the kind's check."""
    spec, pen_width = _KINDS[kind], float(rng.uniform(*PEN_WIDTHS))
    for _ in range(_TRIES):
        name, unit = spec.draw(style, rng)
        lines = _place(unit, rng, pen_width, spec)
        if spec.accept(lines):
            return Mark(kind, f"{kind}:{name}", tuple(lines), pen_width)
    raise RuntimeError(f"no acceptable {kind} in style {style!r} in {_TRIES} tries")


def _script_marks(scripts: Mapping[str, tuple[np.ndarray, np.ndarray]], n: int, *, seed: int, part: str) -> list[Mark]:
    """Return ``n`` other-script marks of ``part``, shared evenly among ``scripts``, lookalikes left out."""
    marks = []
    for (name, (x, y)), count in zip(scripts.items(), map(len, np.array_split(np.arange(n), len(scripts)))):
        y = np.asarray(y)
        run = int(_stream(seed, part, name).integers(2**32))
        images, indices = other_script_images(x, n=count, seed=run, part=part, keep=unlike_western(y, name))
        marks += [Mark(OTHER_SCRIPT, f"{OTHER_SCRIPT}:{name}/{y[i]}#{i}", image=image)
                  for image, i in zip(images, indices)]
    return marks


def unlike_western(labels: np.ndarray, script: str) -> np.ndarray:
    """Return the (N,) bool mask of ``labels`` (digits 0-9 of ``script``) that look like no Western digit.

    ``LOOKALIKE_DIGITS`` says which digits of each script are left out; ValueError for a script
    it does not list.
    """
    if script not in LOOKALIKE_DIGITS:
        raise ValueError(f"no list of Western lookalikes for script {script!r}; known: {sorted(LOOKALIKE_DIGITS)}")
    return ~np.isin(np.asarray(labels), list(LOOKALIKE_DIGITS[script]))


def other_script_images(
    x: np.ndarray, *, n: int, seed: int, part: str | None = None, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, indices)``: ``n`` of the MNIST-format images ``x`` as (n, 28, 28) float32 in [0, 1], and their indices.

    Drawn without repetition by ``seed`` from the images where ``keep`` ((N,) bool, e.g.
    ``unlike_western``) is True, in ``part``'s half of ``x``: the first half in file order for
    "tune", the second for "test" (in sets stored writer by writer this keeps most writers
    apart), all of ``x`` for None. ValueError if fewer than ``n`` are left.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be MNIST-format images (N, 28, 28), got shape {x.shape}")
    pool = np.arange(len(x)) if keep is None else np.flatnonzero(np.broadcast_to(np.asarray(keep, bool), len(x)))
    if part is not None:
        _check_part(part)
        pool = pool[(pool >= len(x) // 2) == (part == "test")]
    if not 0 <= n <= len(pool):
        raise ValueError(f"asked for {n} images, but only {len(pool)} are left to draw from")
    chosen = np.sort(np.random.default_rng(seed).choice(pool, n, replace=False))
    return preprocess.to_unit(x[chosen]), chosen
