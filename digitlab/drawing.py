"""A drawing pad for a notebook cell: draw a digit with the mouse or a finger, see the prediction live.

The pad records every stroke's points in Python from the canvas events and rasterises them
with ``strokes.rasterize`` at the pen width shown, so it never reads pixels back from the
browser (``get_image_data`` returns blank data or hangs in some front-ends). The drawing then
goes through ``Predictor.recognise`` (``to_mnist``, the model, and its judgement whether this
is a digit at all) when a stroke ends and, throttled, while the pen moves.

The pad says one of four things (``describe``), always in a box of the same size so nothing
moves: "draw a digit", the digit with its calibrated confidence, "not sure: 4 or 9?", or
"that doesn't look like a digit". ``plot_recognitions`` shows what it says for a few drawings.

A selector above the canvas names each script of ``digitlab.scripts`` with its ten digits;
choosing one switches the pad to that script's model (``Predictor(script=name)``, or a path
given in ``models``). The pad then shows a reading as the script's glyph with its value
(``೭ = 7``) and labels the bars with the glyphs; a script whose model is missing says so in the
pad's output area and the pad keeps reading the script it read before.

The handlers are ordinary methods (``_on_mouse_down(x, y)`` ...), so a test or a notebook cell
draws exactly as a mouse does: ``pad.draw_strokes([[(x, y), ...], ...])``. Called by the
widgets, an error in a handler shows its traceback in the pad's output area.
"""
from __future__ import annotations

import functools
import html
import io
import math
import textwrap
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from ipycanvas import Canvas, hold_canvas
from matplotlib.figure import Figure
from PIL import Image

from digitlab import scripts
from digitlab.config import IMAGE_SIZE, NUM_CLASSES
from digitlab.files import ModelFileError
from digitlab.plots import DIGIT_CMAP, MAX_SIZE
from digitlab.predict import Predictor, Recognition
from digitlab.preprocess import INK_THRESHOLD
from digitlab.strokes import rasterize

__all__ = [
    "CANVAS_SIZE", "PEN_WIDTH", "THROTTLE", "PREVIEW_SIZE", "RESULT_WIDTH", "LABEL_HEIGHT", "BAR_HEIGHT",
    "STATES", "COLOURS", "Answer", "DrawingPad", "describe", "recognition_html", "probability_bars_html",
    "png_bytes", "plot_recognitions", "script_label",
]

#: Side of the canvas in pixels; shown at exactly this size so the pen seen is the pen rasterised.
CANVAS_SIZE = 280
#: Pen diameter in canvas pixels (MNIST strokes are about 2-3 of 28 pixels, i.e. 1/10 of a digit).
PEN_WIDTH = 18.0
#: Least time between predictions while the pen moves, in seconds.
THROTTLE = 0.1
#: Side of the 28x28 preview of what the model sees, in screen pixels.
PREVIEW_SIZE = 112
#: Width of the prediction and the bars, in screen pixels: fixed, so the pad never moves sideways.
RESULT_WIDTH = 240
#: Height of the prediction (a headline and a note), fixed like its width in every state.
LABEL_HEIGHT = 120
#: Height of one probability bar's row; the bars take ``NUM_CLASSES`` rows, shown or not.
BAR_HEIGHT = 15
#: What the pad can say: nothing drawn, a digit, torn between two digits, declined.
STATES = ("blank", "digit", "unsure", "declined")
#: Colour of each state's words, in the pad and in ``plot_recognitions``.
COLOURS = {"blank": "#888", "digit": "#222", "unsure": "#b36b00", "declined": "#a33"}
#: CSS of each state's headline in the pad: a digit large, sentences smaller and moved down to sit mid-box.
_HEADLINE_CSS = {
    "blank": f"font-size:20px;padding-top:{LABEL_HEIGHT // 2 - 10}px",
    "digit": "font-size:80px;font-weight:bold",
    "glyph": "font-size:56px;font-weight:bold;white-space:nowrap",  # a digit of another script, with its value
    "unsure": "font-size:22px;font-weight:bold;padding-top:34px;text-wrap:balance",
    "declined": "font-size:20px;font-weight:bold;padding-top:24px;text-wrap:balance",
}
#: The states that show the probability bars; the others leave their rows empty.
_WITH_BARS = ("digit", "unsure")


class Answer(NamedTuple):
    """What the pad says about a drawing: its state (one of ``STATES``), a headline and a short note."""

    state: str
    headline: str
    note: str


def describe(recognition: Recognition | None, *, any_script: bool = False, glyphs: bool = True) -> Answer:
    """Return what the pad says about ``recognition`` (None: nothing drawn), in one of the four ``STATES``.

    "blank": "draw a digit" (also when ``recognise`` found no ink); "digit": the digit, noted
    with its calibrated confidence ("98% sure"); "unsure": "not sure: 4 or 9?", noted with the
    two probabilities; "declined": "that doesn't look like a digit", noted with ``recognise``'s
    reason ("not a digit", "too small", "only noise"...), or, when the script guard declined it,
    "that looks like Kannada ೭ = 7", noted "another script: choose Kannada to read it". Four, so
    that "I drew nothing", "it cannot tell which" and "it is not a digit" never look alike. Digits are written as
    ``scripts.written`` writes them in the script read: ``7``, or ``೭ = 7``. With ``any_script``
    (the any-script model) a digit's note also names the script read and a runner-up reading in
    another script ("Arabic, 80% sure; or 0 Western, 15%?"). ``glyphs`` False writes every reading by
    its value alone ("that looks like Kannada 7"), for a font without other scripts' glyphs.
    """
    if recognition is None or recognition.reason == "blank":
        return Answer("blank", "draw a digit", "")
    written = functools.partial(scripts.written, script=recognition.script, glyph=glyphs)
    if recognition.digit is not None:
        sure = f"{_percent(recognition.confidence)} sure"
        if not any_script:
            return Answer("digit", written(recognition.digit), sure)
        note = f"{scripts.short_name(recognition.script)}, {sure}"
        if recognition.runner_up is not None:
            note += f"; or {recognition.other_reading(glyph=glyphs)}?"
        return Answer("digit", written(recognition.digit), note)
    if recognition.candidates:
        first, second = recognition.candidates
        p = recognition.probabilities
        return Answer("unsure", f"not sure: {written(first)} or {written(second)}?",
                      f"{first}: {_percent(p[first])}, {second}: {_percent(p[second])}")
    if recognition.looks_like():
        return Answer("declined", f"that looks like {recognition.looks_like(glyph=glyphs)}",
                      f"{recognition.reason}: choose {scripts.short_name(recognition.runner_up[0])} to read it")
    return Answer("declined", "that doesn't look like a digit", recognition.reason)


def _percent(p: float) -> str:
    """Return ``p`` as a whole percentage, at most 99%: a calibrated model is never certain, so 0.999 reads "99%"."""
    return f"{min(99, round(100 * float(p)))}%"


class DrawingPad:
    """A canvas to draw a digit on, with undo/clear/pen/script, what the pad says, its probabilities and 28x28 input.

    Display it by leaving it as a cell's last expression. ``strokes`` and ``recognition`` (the
    ``Predictor.recognise`` of the drawing, or None when nothing is drawn) hold the state;
    ``answer``, ``prediction``, ``probabilities`` and ``mnist_image`` read it.

    ``script`` (a name of ``scripts.SCRIPTS``, or ``scripts.ANY`` for the any-script model, which
    names the script it reads) is the script read at first: None takes the
    ``predictor``'s (Western for one that names none). ``predictor`` None loads that script's
    model. ``models`` maps script names to the models to read them with instead of the shipped
    ones (``config.script_model``): model files, or ``Predictor``s already loaded.
    """

    def __init__(
        self,
        predictor: Predictor | None = None,
        *,
        script: str | None = None,
        models: Mapping[str, str | os.PathLike | Predictor] | None = None,
        size: int = CANVAS_SIZE,
        pen_width: float = PEN_WIDTH,
        throttle: float = THROTTLE,
    ):
        self.models = {scripts.check_name(name, any_ok=True): model for name, model in (models or {}).items()}
        for name, model in self.models.items():
            if isinstance(model, Predictor) and model.script != name:
                raise ValueError(f"models: the predictor given for {name} reads {model.script} digits")
        reads = getattr(predictor, "script", None)
        self.script = scripts.check_name(script or reads or "western", any_ok=True)
        if reads is not None and reads != self.script:
            raise ValueError(f"the predictor reads {reads} digits, not {self.script}: pass script={reads!r}")
        self.predictor = _warmed(predictor) if predictor is not None else self._load(self.script)
        self._predictors = {self.script: self.predictor}  # loaded once each, so switching back is instant
        self.size = size
        self.throttle = throttle
        self.strokes: list[list[tuple[float, float]]] = []
        self._ink: np.ndarray | None = None  # what ink() rasterised last, at _ink_width, of the strokes in _inked
        self._ink_width = 0.0
        self._inked: list[tuple[list[tuple[float, float]], int]] = []  # (stroke, points rasterised)
        self.recognition: Recognition | None = None
        self._pen_down = False
        self._last_predicted = -np.inf

        self.canvas = Canvas(width=size, height=size, layout=widgets.Layout(
            width=f"{size}px", height=f"{size}px", min_width=f"{size}px"))
        self.pen = widgets.FloatSlider(value=pen_width, min=6, max=40, step=1, description="pen width",
                                       readout_format=".0f", layout=widgets.Layout(width=f"{size}px"))
        self.undo_button = widgets.Button(description="Undo", icon="undo", tooltip="remove the last stroke")
        self.clear_button = widgets.Button(description="Clear", icon="eraser", tooltip="start again")
        self.script_selector = widgets.Dropdown(
            options=[(script_label(name), name) for name in (*scripts.SCRIPTS, scripts.ANY)], value=self.script,
            description="script", style={"description_width": "initial"}, layout=widgets.Layout(width="auto"))
        self.label = widgets.HTML(layout=widgets.Layout(width=f"{RESULT_WIDTH}px", height=f"{LABEL_HEIGHT}px"))
        self.bars = widgets.HTML(layout=widgets.Layout(width=f"{RESULT_WIDTH}px", height=f"{NUM_CLASSES * BAR_HEIGHT}px"))
        self.preview = widgets.Image(format="png", width=PREVIEW_SIZE, height=PREVIEW_SIZE)
        self.output = widgets.Output()
        self.widget = self._layout()
        self._connect()
        self._redraw()
        self._show()

    def _layout(self) -> widgets.Box:
        """Return the pad's widgets arranged: script on top, canvas and controls left, reading right, errors below."""
        frame = widgets.Box([self.canvas], layout=widgets.Layout(
            border="1px solid #999", width=f"{self.size + 2}px", height=f"{self.size + 2}px"))
        buttons = widgets.HBox([self.undo_button, self.clear_button])
        controls = widgets.VBox([frame, buttons, self.pen])
        caption = f"<small>what the model sees ({IMAGE_SIZE}x{IMAGE_SIZE})</small>"
        seen = widgets.VBox([widgets.HTML(caption), self.preview])
        result = widgets.VBox([self.label, self.bars, seen], layout=widgets.Layout(margin="0 0 0 16px"))
        pad = widgets.VBox([self.script_selector, widgets.HBox([controls, result]), self.output],
                           layout=widgets.Layout(width="fit-content"))
        pad.add_class("digitlab-pad")  # for browser tests and custom CSS
        return pad

    def _connect(self) -> None:
        """Wire canvas, touch, buttons, slider and script selector to the handlers; errors show in ``self.output``."""
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
        self.script_selector.observe(report(lambda change: self._on_script(change["new"])), names="value")

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
    def answer(self) -> Answer:
        """Return what the pad says about the drawing (see ``describe``)."""
        return describe(self.recognition, any_script=self.script == scripts.ANY)

    @property
    def prediction(self) -> int | None:
        """Return the recognised digit, or None when nothing is drawn or the pad declines to name one."""
        return None if self.recognition is None else self.recognition.digit

    @property
    def probabilities(self) -> np.ndarray | None:
        """Return the (10,) calibrated probabilities of the drawing, or None when nothing is drawn."""
        return None if self.recognition is None else self.recognition.probabilities

    @property
    def mnist_image(self) -> np.ndarray | None:
        """Return the (28, 28) image the model saw, or None when nothing is drawn."""
        return None if self.recognition is None else self.recognition.mnist_image

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """Return the widget's display data, with a text fallback for viewers without widgets (GitHub)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "DrawingPad (a live widget: run the notebook in Jupyter to draw)"
        return bundle

    # --- drawing -----------------------------------------------------------------------------

    def _on_mouse_down(self, x: float, y: float) -> None:
        """Start a stroke at (x, y) and show a dot there."""
        self._pen_down = True
        point = (float(x), float(y))  # plain floats: numpy's do not go through the widget's JSON
        self.strokes.append([point])
        self.canvas.fill_circle(*point, self.pen.value / 2)

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
        self.canvas.stroke_line(x0, y0, *point)
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
        """Draw ``strokes`` (canvas coordinates; each a list of (x, y) or an (n, 2) array) as a mouse would."""
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
        """Return the drawing as (size, size) float32 ink in [0, 1], rasterised at the pen width shown.

        While a stroke grows only its new segments are rasterised onto the ink kept from the last
        call (``rasterize`` composes segments by maximum, so the result is the same as drawing all
        of them anew), which keeps an update's cost flat however long the drawing. The kept ink is
        used only while every stroke it drew is still there, the same list, no shorter, at the same
        pen width; anything else (undo, clear, a new pen width) rasterises everything again.
        """
        width, drawn = self.pen.value, self._inked
        if self._ink is None or width != self._ink_width or len(drawn) > len(self.strokes) or any(
                stroke is not self.strokes[i] or len(stroke) < n for i, (stroke, n) in enumerate(drawn)):
            self._ink, self._ink_width, drawn = np.zeros((self.size, self.size), np.float32), width, []
        new = [stroke[max(n - 1, 0):] for stroke, n in drawn if len(stroke) > n]
        new += self.strokes[len(drawn):]
        if new:
            np.maximum(self._ink, rasterize(new, self.size, width), out=self._ink)
        self._inked = [(stroke, len(stroke)) for stroke in self.strokes]
        return self._ink.copy()

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

    # --- scripts -----------------------------------------------------------------------------

    def select_script(self, name: str) -> None:
        """Read ``name``'s digits from now on, as choosing it in the selector does (see ``_on_script``)."""
        self.script_selector.value = scripts.check_name(name, any_ok=True)

    def _on_script(self, name: str) -> None:
        """Switch to the model of script ``name`` and read the drawing again; a missing model is said, not raised.

        The model comes from ``models`` or is the script's shipped one. When it is missing (or
        unusable) the output area says so in one message, the selector goes back, and the pad
        keeps reading the script it read before.
        """
        if name == self.script:
            return
        try:
            predictor = self._predictors.get(name) or self._load(name)
        except ModelFileError as exc:
            self.output.outputs = ()
            self.output.append_stdout(f"{_mode_name(name)} digits cannot be read yet: {exc}\n"
                                      f"The pad still reads {_mode_name(self.script)} digits.\n")
            self.script_selector.value = self.script
            return
        self.output.outputs = ()
        self.script, self.predictor = name, self._predictors.setdefault(name, predictor)
        self._update()

    def _load(self, name: str) -> Predictor:
        """Return a ``Predictor`` of script ``name``: the one in ``models``, or the file there, or the shipped model."""
        model = self.models.get(name)
        return _warmed(model if isinstance(model, Predictor) else Predictor(model, script=name))

    # --- prediction --------------------------------------------------------------------------

    def _update(self) -> None:
        """Recognise the drawing (or forget the recognition when there is no ink) and show the result."""
        self._last_predicted = time.perf_counter()
        ink = self.ink()
        self.recognition = None if ink.max() <= INK_THRESHOLD else self.predictor.recognise(ink)
        self._show()

    def _show(self) -> None:
        """Show what the pad says, the probability bars (for a digit or two) and the 28x28 image."""
        self.label.value = recognition_html(self.recognition, any_script=self.script == scripts.ANY)
        shows_bars = self.answer.state in _WITH_BARS
        self.bars.value = probability_bars_html(self.probabilities, self.recognition.script) if shows_bars else ""
        image = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32) if self.mnist_image is None else self.mnist_image
        self.preview.value = png_bytes(image, PREVIEW_SIZE)


def _warmed(predictor):
    """Return ``predictor``, its single-drawing call made ready now if it is a ``Predictor`` (``warm_up``), so the first stroke does not wait.

    A stand-in with only ``recognise`` (as tests pass) is returned as it is.
    """
    return predictor.warm_up() if isinstance(predictor, Predictor) else predictor


def recognition_html(recognition: Recognition | None, *, any_script: bool = False) -> str:
    """Return HTML of what the pad says about ``recognition`` (see ``describe``, and its ``any_script``): a headline and a note.

    The outer element carries ``data-state`` (one of ``STATES``), ``data-digit`` (the digit's
    value, or empty when none is named) and ``data-script`` (the script read; empty when nothing
    is drawn) so tests and page scripts can read them, and has the same fixed size in every
    state so the pad's layout never moves. A digit of another script (``೭ = 7``) is written
    smaller than a Western one, to fit the same box.
    """
    state, headline, note = describe(recognition, any_script=any_script)
    digit = "" if recognition is None or recognition.digit is None else str(recognition.digit)
    script = "" if recognition is None else recognition.script
    css = _HEADLINE_CSS["glyph" if state == "digit" and script != "western" else state]
    headline, note = html.escape(headline, quote=False), html.escape(note, quote=False)
    headline = headline.replace(" = ", "&nbsp;=&nbsp;")  # a line may break between two readings, not inside one
    return (f'<div class="digitlab-prediction" data-state="{state}" data-digit="{digit}" data-script="{script}" '
            f'style="width:{RESULT_WIDTH}px;height:{LABEL_HEIGHT}px;overflow:hidden;line-height:1.1;'
            f'color:{COLOURS[state]}"><div class="digitlab-headline" style="{css}">{headline}</div>'
            f'<div class="digitlab-note" style="font-size:14px;margin-top:4px">{note}</div></div>')


def probability_bars_html(probabilities: np.ndarray, script: str = "western") -> str:
    """Return HTML with one horizontal bar per digit, its length the probability, the top digit highlighted.

    Each bar is labelled with the digit in ``script``'s glyphs (its value shows on hover).
    """
    glyphs = scripts.get(script).digits
    best = int(np.argmax(probabilities))
    rows = []
    for digit, p in enumerate(probabilities):
        colour = "#1f77b4" if digit == best else "#aaa"
        rows.append(
            f'<div style="display:flex;align-items:center;height:{BAR_HEIGHT}px;font:12px monospace">'
            f'<span class="digitlab-bar-label" title="{digit}" style="width:20px;font-size:14px">{glyphs[digit]}</span>'
            f'<span style="display:inline-block;height:10px;width:{100 * float(p):.1f}px;background:{colour}"></span>'
            f'<span style="margin-left:4px;color:#666">{float(p):.2f}</span></div>'
        )
    return f'<div class="digitlab-bars">{"".join(rows)}</div>'


def script_label(name: str) -> str:
    """Return how the script selector names script ``name``: its display name and its ten digits (``ANY``: what it does)."""
    if name == scripts.ANY:
        return "Any script (names the script it reads)"
    s = scripts.get(name)
    return f"{s.display_name}  {s.digits}"


def _mode_name(name: str) -> str:
    """Return how the pad's messages name a script it reads (``ANY``: "Any script's")."""
    return "Any script's" if name == scripts.ANY else scripts.get(name).display_name


def png_bytes(image: np.ndarray, size: int) -> bytes:
    """Return a grey PNG of ``image`` (values in [0, 1]) enlarged to ``size`` pixels without smoothing."""
    pixels = (np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST).save(buffer, format="PNG")
    return buffer.getvalue()


def plot_recognitions(
    inks: Sequence[np.ndarray], recognitions: Sequence[Recognition | None], *, ncols: int = 5,
) -> Figure:
    """Return a gallery of drawings as the pad shows them, each titled with what the pad says about it.

    ``inks`` are (H, W) canvases in [0, 1] (1 = ink, as ``DrawingPad.ink`` and ``Mark.ink``
    give them), aligned with their ``recognitions`` (``Predictor.recognise``, or None for an
    empty canvas). The titles are ``describe``'s words in the state's colour: "7 — 98% sure",
    "not sure: 4 or 9?" with the two probabilities, "that doesn't look like a digit" with the reason,
    other scripts' readings by value ("that looks like Kannada 7").
    """
    if len(inks) != len(recognitions):
        raise ValueError(f"inks and recognitions must be aligned, got {len(inks)} and {len(recognitions)}")
    ncols = max(1, min(ncols, len(inks)))
    nrows = max(1, math.ceil(len(inks) / ncols))
    panel = min(1.5, MAX_SIZE[0] / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * panel, nrows * (panel + 0.5)), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(inks):]:
        ax.axis("off")
    for ax, ink, recognition in zip(axes.flat, inks, recognitions):
        answer = describe(recognition, glyphs=False)  # matplotlib's default font has no other scripts' glyphs
        ax.imshow(ink, cmap=DIGIT_CMAP, vmin=0.0, vmax=1.0)
        ax.set_title(_caption(answer), fontsize=8, color=COLOURS[answer.state])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():  # the edge of the canvas
            spine.set(visible=True, color="0.75")
    return fig


def _caption(answer: Answer) -> str:
    """Return the pad's words as a short title: "7 — 98% sure", or the headline wrapped with its note below."""
    if answer.state == "digit":
        return f"{answer.headline} — {answer.note}"
    return "\n".join([*textwrap.wrap(answer.headline, 18), *textwrap.wrap(answer.note, 24)]).strip()
