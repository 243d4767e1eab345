"""Pen strokes: rasterise them like a canvas does, and digit templates to draw without a hand.

A stroke is the sequence of (x, y) points the pen passed through between pressing and
lifting it, in canvas coordinates (x to the right, y down, pixel ``(row, col)`` covering
``[col, col + 1) x [row, row + 1)``). ``rasterize`` turns strokes into an anti-aliased ink
image with the pen width the user saw, so the drawing pad never reads pixels back from
the browser.

``DIGIT_STROKES`` holds several natural ways of writing each digit (a 1 as a bar or with
a flag, an open or closed 4, a 7 with or without a crossbar ...) in the unit square;
``scale_strokes`` places one on a canvas and ``jitter_strokes`` varies it like a hand
would, so tests and benchmarks can draw many digits. ``arc``, ``bezier`` and ``resample``
build such templates (``digitlab.nondigits`` draws its letters and symbols with them).

This module needs numpy only: no TensorFlow, no widgets.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "Point", "Stroke", "TEMPLATE_STEP", "DIGIT_STROKES", "rasterize", "scale_strokes", "jitter_strokes",
    "arc", "bezier", "resample",
]

Point = tuple[float, float]
Stroke = list[Point]

#: Spacing of the points in the templates, in unit-square coordinates (dense, like mouse events).
TEMPLATE_STEP = 0.02


def rasterize(
    strokes: Sequence[Sequence[Sequence[float]]],
    size: int | tuple[int, int] = (280, 280),
    line_width: float = 18.0,
) -> np.ndarray:
    """Return the ink of ``strokes`` as (height, width) float32 in [0, 1], 1 = ink, anti-aliased.

    Each stroke is drawn as a pen of diameter ``line_width`` moved along its points, with
    round joins and caps, like a canvas with ``lineCap = lineJoin = "round"``; a stroke of
    one point is a dot. ``size`` is ``(height, width)`` or one int for a square. Ink outside
    the image is clipped. Each pixel's value is the pen's coverage of it (a one-pixel ramp
    at the edge of the pen).
    """
    height, width = _size(size)
    if not (np.isfinite(line_width) and line_width > 0):
        raise ValueError(f"line_width must be a positive number, got {line_width!r}")
    image = np.zeros((height, width), dtype=np.float32)
    radius = line_width / 2.0
    for points in _as_point_arrays(strokes):
        if len(points) == 1:
            _stamp_segment(image, points[0], points[0], radius)
        for p, q in zip(points[:-1], points[1:]):
            _stamp_segment(image, p, q, radius)
    return image


def _stamp_segment(image: np.ndarray, p: np.ndarray, q: np.ndarray, radius: float) -> None:
    """Draw the capsule of ``radius`` around segment p-q into ``image`` (max with what is there)."""
    height, width = image.shape
    reach = radius + 1.0
    x0 = max(int(np.floor(min(p[0], q[0]) - reach)), 0)
    x1 = min(int(np.ceil(max(p[0], q[0]) + reach)), width)
    y0 = max(int(np.floor(min(p[1], q[1]) - reach)), 0)
    y1 = min(int(np.ceil(max(p[1], q[1]) + reach)), height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5  # pixel centres
    d = q - p
    length2 = float(d @ d)
    t = 0.0 if length2 == 0 else np.clip(((xs - p[0]) * d[0] + (ys - p[1]) * d[1]) / length2, 0.0, 1.0)
    dist = np.hypot(xs - (p[0] + t * d[0]), ys - (p[1] + t * d[1]))
    coverage = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    window = image[y0:y1, x0:x1]
    np.maximum(window, coverage, out=window)


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    """Return ``size`` as (height, width) of positive ints; ValueError naming it otherwise."""
    dims = (size, size) if np.isscalar(size) else tuple(size)
    if len(dims) != 2 or not all(float(v).is_integer() and v > 0 for v in dims):
        raise ValueError(f"size must be a positive int or (height, width) of positive ints, got {size!r}")
    return int(dims[0]), int(dims[1])


def _as_point_arrays(strokes) -> list[np.ndarray]:
    """Return each non-empty stroke as an (N, 2) float64 array; ValueError for malformed points."""
    arrays = []
    for i, stroke in enumerate(strokes):
        points = np.asarray(stroke, dtype=np.float64)
        if points.size == 0:
            continue
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"stroke {i} must be a sequence of (x, y) points, got shape {points.shape}")
        if not np.isfinite(points).all():
            raise ValueError(f"stroke {i} contains NaN or infinite coordinates")
        arrays.append(points)
    return arrays


def scale_strokes(template: Sequence[Sequence[Point]], size: int | tuple[int, int] = 280, margin: float = 40.0) -> list[Stroke]:
    """Return ``template`` (unit-square coordinates) mapped onto a canvas of ``size``, ``margin`` px from each edge.

    ``size`` is ``(height, width)`` or one int. The unit square becomes the canvas less the
    margins, stretched to the smaller side so digits keep their proportions, and centred.
    """
    height, width = _size(size)
    side = min(height, width) - 2 * margin
    if side <= 0:
        raise ValueError(f"margin {margin} leaves no room on a canvas of size {(height, width)}")
    left, top = (width - side) / 2, (height - side) / 2
    return [[(float(left + x * side), float(top + y * side)) for x, y in stroke] for stroke in _check_template(template)]


def jitter_strokes(
    strokes: Sequence[Sequence[Point]],
    rng: np.random.Generator,
    *,
    rotation: float = 10.0,
    scale: float = 0.1,
    aspect: float = 0.1,
    shear: float = 0.15,
    offset: float = 0.05,
    noise: float = 0.01,
) -> list[Stroke]:
    """Return ``strokes`` varied like another hand would draw them: a random affine map plus wobble.

    About the centre of the strokes' bounding box: rotation up to ``rotation`` degrees, overall
    scale up to ``scale`` (0.1 = +-10%), width-to-height ratio up to ``aspect``, horizontal
    shear up to ``shear``, shift up to ``offset`` of the box's larger side; then a smooth
    per-point wobble with standard deviation ``noise`` of that side. All draws are uniform in
    [-max, max] from ``rng``, so a seeded generator repeats the same drawing.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    arrays = _as_point_arrays(strokes)
    if not arrays:
        return []
    every = np.concatenate(arrays)
    centre = (every.min(axis=0) + every.max(axis=0)) / 2
    extent = max(float(np.ptp(every, axis=0).max()), 1e-9)
    u = lambda m: rng.uniform(-m, m)  # noqa: E731 - one draw in [-m, m]
    angle, zoom, stretch, slant = np.radians(u(rotation)), 1 + u(scale), 1 + u(aspect), u(shear)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = zoom * np.array([[cos, -sin], [sin, cos]]) @ np.array([[stretch, slant], [0.0, 1.0 / stretch]])
    shift = np.array([u(offset), u(offset)]) * extent
    out = []
    for points in arrays:
        moved = (points - centre) @ matrix.T + centre + shift
        moved += _smooth_noise(len(points), rng) * noise * extent
        out.append([(float(x), float(y)) for x, y in moved])
    return out


def _smooth_noise(n: int, rng: np.random.Generator, window: int = 5) -> np.ndarray:
    """Return (n, 2) noise of unit standard deviation that varies smoothly from point to point."""
    raw = rng.normal(0.0, 1.0, (n + window - 1, 2))
    kernel = np.ones(window) / np.sqrt(window)  # moving sum scaled back to unit variance
    return np.stack([np.convolve(raw[:, k], kernel, mode="valid") for k in range(2)], axis=1)


def _check_template(template) -> list[np.ndarray]:
    arrays = _as_point_arrays(template)
    if not arrays:
        raise ValueError("template has no points")
    return arrays


# --- digit templates ----------------------------------------------------------------------
# Unit square, x right, y down. Angles in degrees, 0 = right, 90 = down (screen convention),
# so increasing angles turn clockwise on screen. Strokes run in the order and direction most
# people write them.


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Return points on an ellipse from angle ``start`` to ``end`` (degrees, screen convention)."""
    n = max(2, int(abs(end - start) / 6) + 1)
    a = np.radians(np.linspace(start, end, n))
    return [(cx + rx * np.cos(t), cy + ry * np.sin(t)) for t in a]


def bezier(p0: Point, p1: Point, p2: Point) -> Stroke:
    """Return points on the quadratic Bezier curve from ``p0`` to ``p2`` pulled towards ``p1``."""
    t = np.linspace(0.0, 1.0, 16)[:, None]
    points = (1 - t) ** 2 * np.array(p0) + 2 * (1 - t) * t * np.array(p1) + t**2 * np.array(p2)
    return [tuple(p) for p in points]


def _eight(top: float, bottom: float, width_top: float, width_bottom: float) -> Stroke:
    """Return one-stroke 8: from the upper right, the top loop anticlockwise, the bottom clockwise."""
    t = np.linspace(0.35, 0.35 - 2 * np.pi - 0.25, 120)
    upper = np.cos(t) > 0
    y = np.where(upper, 0.5 - (0.5 - top) * np.cos(t), 0.5 - (bottom - 0.5) * np.cos(t))
    x = 0.5 + np.where(upper, width_top, width_bottom) * np.sin(2 * t)
    return list(zip(x, y))


def resample(stroke: Stroke, step: float = TEMPLATE_STEP) -> Stroke:
    """Return ``stroke`` with points every ``step`` along its length (corners kept), rounded to 4 places."""
    points = np.asarray(stroke, dtype=np.float64)
    out = [points[0]]
    for p, q in zip(points[:-1], points[1:]):
        n = max(1, int(np.ceil(np.hypot(*(q - p)) / step)))
        out.extend(p + (q - p) * k / n for k in range(1, n + 1))
    return [(round(float(x), 4), round(float(y), 4)) for x, y in out]


def _digit_templates() -> dict[int, list[list[Stroke]]]:
    """Return the raw templates: digit -> variants -> strokes -> points."""
    upper_two = arc(0.5, 0.3, 0.27, 0.22, -165, 25)
    upper_three = arc(0.47, 0.28, 0.25, 0.2, -160, 90)
    lower_three = arc(0.47, 0.7, 0.28, 0.24, -95, 155)
    belly_five = arc(0.47, 0.66, 0.27, 0.26, -135, 150)
    six_loop = arc(0.5, 0.72, 0.23, 0.22, 180, -175)
    nine_loop = arc(0.48, 0.3, 0.23, 0.21, 5, -355)
    return {
        0: [
            [arc(0.5, 0.5, 0.28, 0.44, -95, -470)],                       # oval, closed at the top
            [[_rot(p, 0.5, 0.5, 15) for p in arc(0.5, 0.5, 0.22, 0.45, -95, -465)]],  # narrow, slanted
            [arc(0.5, 0.5, 0.33, 0.42, -80, -420)],                       # round, left open at the top
        ],
        1: [
            [[(0.5, 0.05), (0.5, 0.95)]],                                  # a bar
            [[(0.38, 0.19), (0.56, 0.05), (0.56, 0.95)]],                  # with a short flag
            [[(0.36, 0.19), (0.53, 0.05), (0.53, 0.95)], [(0.33, 0.95), (0.73, 0.95)]],  # flag and base
            [[(0.6, 0.05), (0.42, 0.95)]],                                 # slanted bar
        ],
        2: [
            [upper_two + [(0.22, 0.93), (0.8, 0.93)]],                     # curve, diagonal, base
            [upper_two + arc(0.3, 0.82, 0.11, 0.11, 160, -170) + [(0.8, 0.92)]],  # curly foot
            [arc(0.48, 0.3, 0.25, 0.24, -170, 30) + bezier((0.7, 0.45), (0.3, 0.75), (0.22, 0.93))[1:]
             + [(0.78, 0.92)]],                                            # curved neck
        ],
        3: [
            [upper_three + lower_three],                                   # two bumps
            [[(0.25, 0.07), (0.75, 0.07), (0.45, 0.42)] + arc(0.47, 0.68, 0.28, 0.26, -110, 155)],  # flat top
        ],
        4: [
            [[(0.33, 0.05), (0.2, 0.62), (0.82, 0.62)], [(0.65, 0.1), (0.65, 0.95)]],  # open
            [[(0.63, 0.05), (0.18, 0.63), (0.82, 0.63)], [(0.63, 0.05), (0.63, 0.95)]],  # closed
        ],
        5: [
            [[(0.3, 0.08), (0.28, 0.45)] + belly_five, [(0.3, 0.08), (0.75, 0.08)]],  # bar added last
            [[(0.75, 0.08), (0.3, 0.08), (0.28, 0.45)] + belly_five],       # one stroke
        ],
        6: [
            [arc(0.72, 0.62, 0.45, 0.57, -100, -180) + six_loop],         # curved stem into a loop
            [[(0.62, 0.05), (0.3, 0.6)] + arc(0.51, 0.73, 0.22, 0.21, 190, -165)],  # straight stem
        ],
        7: [
            [[(0.2, 0.1), (0.8, 0.1), (0.4, 0.95)]],                       # two segments
            [[(0.2, 0.1), (0.8, 0.1), (0.4, 0.95)], [(0.35, 0.52), (0.75, 0.52)]],  # crossbar
            [[(0.2, 0.18), (0.22, 0.1)] + bezier((0.8, 0.1), (0.58, 0.45), (0.46, 0.95))],  # curved stem
        ],
        8: [
            [_eight(0.07, 0.95, 0.2, 0.25)],                                # one stroke
            [arc(0.5, 0.28, 0.19, 0.2, -90, -450), arc(0.5, 0.71, 0.25, 0.24, -90, -450)],  # two loops
        ],
        9: [
            [nine_loop + [(0.71, 0.32), (0.69, 0.95)]],                    # loop and straight stem
            [nine_loop + bezier((0.71, 0.32), (0.72, 0.95), (0.35, 0.9))[1:]],  # stem curling left
            [nine_loop + [(0.71, 0.32), (0.58, 0.95)]],                    # slanted stem
        ],
    }


def _rot(p: Point, cx: float, cy: float, degrees: float) -> Point:
    """Return ``p`` rotated about (cx, cy) by ``degrees`` (clockwise on screen)."""
    a = np.radians(degrees)
    x, y = p[0] - cx, p[1] - cy
    return (cx + x * np.cos(a) - y * np.sin(a), cy + x * np.sin(a) + y * np.cos(a))


#: Digit -> handwriting variants -> strokes -> (x, y) points in the unit square (y down).
DIGIT_STROKES: dict[int, list[list[Stroke]]] = {
    digit: [[resample(s) for s in variant] for variant in variants]
    for digit, variants in _digit_templates().items()
}
