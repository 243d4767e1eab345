"""A drawing pad for a notebook cell: draw a digit with the mouse or a finger, see the prediction live.

The pad records every stroke's points in Python from the canvas events and rasterises them
with ``strokes.rasterize`` at the pen width shown, so it never reads pixels back from the
browser (``get_image_data`` returns blank data or hangs in some front-ends). The drawing then
goes through ``Predictor.read`` (``to_mnist``, then the model) when a stroke ends and,
throttled, while the pen moves.

The handlers are ordinary methods (``_on_mouse_down(x, y)`` ...), so a test or a notebook cell
draws exactly as a mouse does: ``pad.draw_strokes([[(x, y), ...], ...])``. Called by the
widgets, an error in a handler shows its traceback in the pad's output area.
"""
from __future__ import annotations

import functools
import html
import io
import time
import traceback
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas
from PIL import Image

from digitlab.config import IMAGE_SIZE, NUM_CLASSES
from digitlab.predict import Predictor, Reading
from digitlab.preprocess import INK_THRESHOLD
from digitlab.strokes import rasterize

__all__ = [
    "CANVAS_SIZE", "PEN_WIDTH", "THROTTLE", "UNSURE_BELOW", "PREVIEW_SIZE", "RESULT_WIDTH", "LABEL_HEIGHT",
    "BAR_HEIGHT", "DrawingPad", "prediction_html", "probability_bars_html", "png_bytes",
]

#: Side of the canvas in pixels; shown at exactly this size so the pen seen is the pen rasterised.
CANVAS_SIZE = 280
#: Pen diameter in canvas pixels (MNIST strokes are about 2-3 of 28 pixels, i.e. 1/10 of a digit).
PEN_WIDTH = 18.0
#: Least time between predictions while the pen moves, in seconds.
THROTTLE = 0.1
#: Below this top probability the pad says it is unsure and shows the alternatives.
UNSURE_BELOW = 0.6
#: Side of the 28x28 preview of what the model sees, in screen pixels.
PREVIEW_SIZE = 112
#: Width of the prediction and the bars, in screen pixels: fixed, so the pad never moves sideways.
RESULT_WIDTH = 240
#: Height of the prediction (digit and a two-line note), fixed like its width.
LABEL_HEIGHT = 120
#: Height of one probability bar's row; the bars take ``NUM_CLASSES`` rows, shown or not.
BAR_HEIGHT = 15


class DrawingPad:
    """A canvas to draw a digit on, with clear/undo/pen width, the prediction, its probabilities and the 28x28 input.

    Display it by leaving it as a cell's last expression. ``strokes`` and ``reading`` (the
    ``Predictor.read`` of the drawing, or None) hold the state; ``prediction``, ``probabilities``
    and ``mnist_image`` read it.
    """

    def __init__(
        self,
        predictor: Predictor | None = None,
        *,
        size: int = CANVAS_SIZE,
        pen_width: float = PEN_WIDTH,
        throttle: float = THROTTLE,
        unsure_below: float = UNSURE_BELOW,
    ):
        self.predictor = predictor if predictor is not None else Predictor()
        self.size = size
        self.throttle = throttle
        self.unsure_below = unsure_below
        self.strokes: list[list[tuple[float, float]]] = []
        self.reading: Reading | None = None
        self._pen_down = False
        self._last_predicted = -np.inf

        self.canvas = Canvas(width=size, height=size, layout=widgets.Layout(
            width=f"{size}px", height=f"{size}px", min_width=f"{size}px"))
        self.pen = widgets.FloatSlider(value=pen_width, min=6, max=40, step=1, description="pen width",
                                       readout_format=".0f", layout=widgets.Layout(width=f"{size}px"))
        self.undo_button = widgets.Button(description="Undo", icon="undo", tooltip="remove the last stroke")
        self.clear_button = widgets.Button(description="Clear", icon="eraser", tooltip="start again")
        self.label = widgets.HTML(layout=widgets.Layout(width=f"{RESULT_WIDTH}px", height=f"{LABEL_HEIGHT}px"))
        self.bars = widgets.HTML(layout=widgets.Layout(width=f"{RESULT_WIDTH}px", height=f"{NUM_CLASSES * BAR_HEIGHT}px"))
        self.preview = widgets.Image(format="png", width=PREVIEW_SIZE, height=PREVIEW_SIZE)
        self.output = widgets.Output()
        self.widget = self._layout()
        self._connect()
        self._redraw()
        self._show()

    def _layout(self) -> widgets.Box:
        """Return the pad's widgets arranged: canvas and controls left, prediction right, errors below."""
        frame = widgets.Box([self.canvas], layout=widgets.Layout(
            border="1px solid #999", width=f"{self.size + 2}px", height=f"{self.size + 2}px"))
        controls = widgets.VBox([frame, widgets.HBox([self.undo_button, self.clear_button]), self.pen])
        caption = f"<small>what the model sees ({IMAGE_SIZE}x{IMAGE_SIZE})</small>"
        seen = widgets.VBox([widgets.HTML(caption), self.preview])
        result = widgets.VBox([self.label, self.bars, seen], layout=widgets.Layout(margin="0 0 0 16px"))
        pad = widgets.VBox([widgets.HBox([controls, result]), self.output], layout=widgets.Layout(width="fit-content"))
        pad.add_class("digitlab-pad")  # for browser tests and custom CSS
        return pad

    def _connect(self) -> None:
        """Wire canvas, touch, buttons and slider to the handlers; errors show in ``self.output``."""
        report = self._reporting
        self.canvas.on_mouse_down(report(self._on_mouse_down))
        self.canvas.on_mouse_move(report(self._on_mouse_move))
        self.canvas.on_mouse_up(report(self._on_mouse_up))
        self.canvas.on_mouse_out(report(self._on_mouse_up))
        self.canvas.on_touch_start(report(self._on_touch_start))
        self.canvas.on_touch_move(report(self._on_touch_move))
        self.canvas.on_touch_end(report(self._on_touch_end))
        self.canvas.on_touch_cancel(report(self._on_touch_end))
        self.undo_button.on_click(report(lambda _: self.undo()))
        self.clear_button.on_click(report(lambda _: self.clear()))
        self.pen.observe(report(lambda _: self._changed()), names="value")

    def _reporting(self, handler: Callable[..., None]) -> Callable[..., None]:
        """Return ``handler`` made to show the traceback of any exception it raises in ``self.output``.

        ipywidgets' event dispatchers catch a callback's exception and log it to the kernel's
        console or the last cell run, never to the pad; ``Output.capture`` depends on a front
        end to route it. This puts the full traceback where the user is looking.
        """

        @functools.wraps(handler)
        def reporting(*args) -> None:
            try:
                handler(*args)
            except Exception as exc:  # noqa: BLE001 - shown in full in the pad, not hidden
                self.output.outputs = ()  # the latest error only, not one per mouse move
                self.output.append_stderr("".join(traceback.format_exception(exc)))

        return reporting

    @property
    def prediction(self) -> int | None:
        """Return the predicted digit, or None when nothing is drawn."""
        return None if self.reading is None else self.reading.digit

    @property
    def probabilities(self) -> np.ndarray | None:
        """Return the (10,) probabilities of the drawing, or None when nothing is drawn."""
        return None if self.reading is None else self.reading.probabilities

    @property
    def mnist_image(self) -> np.ndarray | None:
        """Return the (28, 28) image the model saw, or None when nothing is drawn."""
        return None if self.reading is None else self.reading.mnist_image

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """Return the widget's display data, with a text fallback for viewers without widgets (GitHub)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "DrawingPad (a live widget: run the notebook in Jupyter to draw)"
        return bundle

    # --- drawing -----------------------------------------------------------------------------

    def _on_mouse_down(self, x: float, y: float) -> None:
        """Start a stroke at (x, y) and show a dot there."""
        self._pen_down = True
        self.strokes.append([(float(x), float(y))])
        self.canvas.fill_circle(x, y, self.pen.value / 2)

    def _on_mouse_move(self, x: float, y: float) -> None:
        """Extend the current stroke to (x, y) while the pen is down; predict at most every ``throttle`` s."""
        if self._extend(x, y) and time.perf_counter() - self._last_predicted >= self.throttle:
            self._update()

    def _on_mouse_up(self, x: float, y: float) -> None:
        """End the current stroke at (x, y) and predict; does nothing when the pen is up (mouse out)."""
        if not self._pen_down:
            return
        self._extend(x, y)
        self._pen_down = False
        self._update()

    def _extend(self, x: float, y: float) -> bool:
        """Return whether the pen is down and moved: then (x, y) is added to the stroke and drawn."""
        if not self._pen_down:
            return False
        stroke = self.strokes[-1]
        (x0, y0), point = stroke[-1], (float(x), float(y))
        if point == (x0, y0):
            return False
        stroke.append(point)
        self.canvas.stroke_line(x0, y0, x, y)
        return True

    def _on_touch_start(self, touches: Sequence[tuple[float, float]]) -> None:
        """Start a stroke at the first finger."""
        if touches:
            self._on_mouse_down(*touches[0])

    def _on_touch_move(self, touches: Sequence[tuple[float, float]]) -> None:
        """Extend the stroke to the first finger."""
        if touches:
            self._on_mouse_move(*touches[0])

    def _on_touch_end(self, touches: Sequence[tuple[float, float]]) -> None:
        """End the stroke where the finger left (or at its last point when the event has none)."""
        if self._pen_down:
            self._on_mouse_up(*(touches[0] if touches else self.strokes[-1][-1]))

    def draw_strokes(self, strokes: Sequence[Sequence[tuple[float, float]]]) -> None:
        """Draw ``strokes`` (canvas coordinates) through the mouse handlers, as a user's mouse would."""
        for stroke in strokes:
            if len(stroke) == 0:
                raise ValueError("draw_strokes got an empty stroke: each stroke needs at least one (x, y) point")
            with hold_canvas():
                self._on_mouse_down(*stroke[0])
                for x, y in stroke[1:]:
                    self._on_mouse_move(x, y)
                self._on_mouse_up(*stroke[-1])

    def undo(self) -> None:
        """Remove the last stroke and predict again."""
        if self.strokes:
            self.strokes.pop()
        self._changed()

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes.clear()
        self._changed()

    def ink(self) -> np.ndarray:
        """Return the drawing as (size, size) float32 ink in [0, 1], rasterised at the pen width shown."""
        return rasterize(self.strokes, self.size, self.pen.value)

    def _changed(self) -> None:
        """Redraw the canvas from ``strokes`` (after undo, clear or a new pen width) and predict."""
        self._pen_down = False
        self._redraw()
        self._update()

    def _redraw(self) -> None:
        """Paint the canvas from ``strokes``: white paper, black round pen of the current width."""
        with hold_canvas():
            self.canvas.clear()
            self.canvas.fill_style = "white"
            self.canvas.fill_rect(0, 0, self.size, self.size)
            self.canvas.fill_style = self.canvas.stroke_style = "black"
            self.canvas.line_width = self.pen.value
            self.canvas.line_cap = self.canvas.line_join = "round"
            for stroke in self.strokes:
                if len(stroke) == 1:
                    self.canvas.fill_circle(*stroke[0], self.pen.value / 2)
                else:
                    self.canvas.stroke_lines(stroke)

    # --- prediction --------------------------------------------------------------------------

    def _update(self) -> None:
        """Predict the drawing (or forget the prediction when there is no ink) and show the result."""
        self._last_predicted = time.perf_counter()
        ink = self.ink()
        self.reading = None if ink.max() <= INK_THRESHOLD else self.predictor.read(ink)
        self._show()

    def _show(self) -> None:
        """Show the prediction, the probability bars and the 28x28 image from the current state."""
        self.label.value = prediction_html(self.probabilities, self.unsure_below)
        self.bars.value = "" if self.probabilities is None else probability_bars_html(self.probabilities)
        image = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32) if self.mnist_image is None else self.mnist_image
        self.preview.value = png_bytes(image, PREVIEW_SIZE)


def prediction_html(probabilities: np.ndarray | None, unsure_below: float = UNSURE_BELOW) -> str:
    """Return HTML with the predicted digit in large type, or "draw a digit", or the unsure alternatives.

    The outer element carries ``data-digit`` (the digit, or empty) so tests and page scripts can
    read it, and has the same fixed size in every state so the pad's layout never moves.
    """
    if probabilities is None:
        return _prediction_box("", f'<div style="font-size:20px;color:#888;line-height:{LABEL_HEIGHT}px">draw a digit</div>')
    order = np.argsort(probabilities)[::-1]
    best, p = int(order[0]), float(probabilities[order[0]])
    if p >= unsure_below:
        note = f"{p:.0%} sure"
    else:
        others = ", ".join(f"{int(d)} ({probabilities[d]:.0%})" for d in order[1:3])
        note = f"not sure ({p:.0%}); maybe {others}"
    colour = "#222" if p >= unsure_below else "#b36b00"
    return _prediction_box(str(best), f'<div style="font-size:80px;font-weight:bold;color:{colour}">{best}</div>'
                                      f'<div style="font-size:14px;color:{colour}">{html.escape(note)}</div>')


def _prediction_box(digit: str, content: str) -> str:
    """Return ``content`` in the prediction's outer element: ``data-digit`` and a fixed size."""
    return (f'<div class="digitlab-prediction" data-digit="{digit}" style="width:{RESULT_WIDTH}px;'
            f'height:{LABEL_HEIGHT}px;overflow:hidden;line-height:1">{content}</div>')


def probability_bars_html(probabilities: np.ndarray) -> str:
    """Return HTML with one horizontal bar per digit, its length the probability, the top digit highlighted."""
    best = int(np.argmax(probabilities))
    rows = []
    for digit, p in enumerate(probabilities):
        colour = "#1f77b4" if digit == best else "#aaa"
        rows.append(
            f'<div style="display:flex;align-items:center;height:{BAR_HEIGHT}px;font:12px monospace">'
            f'<span style="width:14px">{digit}</span>'
            f'<span style="display:inline-block;height:10px;width:{100 * float(p):.1f}px;background:{colour}"></span>'
            f'<span style="margin-left:4px;color:#666">{float(p):.2f}</span></div>'
        )
    return f'<div class="digitlab-bars">{"".join(rows)}</div>'


def png_bytes(image: np.ndarray, size: int) -> bytes:
    """Return a grey PNG of ``image`` (values in [0, 1]) enlarged to ``size`` pixels without smoothing."""
    pixels = (np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()
