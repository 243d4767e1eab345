"""Tests for digitlab.drawing: the pad draws, predicts and shows the result through its handlers."""
import io
import re

import numpy as np
import pytest
from PIL import Image

from digitlab import preprocess
from digitlab.drawing import DrawingPad, prediction_html, probability_bars_html
from digitlab.predict import Predictor, Reading
from digitlab.strokes import DIGIT_STROKES, jitter_strokes, rasterize, scale_strokes

#: Every handwriting variant of every digit, drawn as written and by two jittered hands.
CASES = [(d, v, seed) for d, variants in DIGIT_STROKES.items() for v in range(len(variants)) for seed in (None, 1, 2)]


class FixedPredictor:
    """Stands in for the model: returns the same probabilities and counts its calls."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, dtype=np.float32)
        self.calls = 0

    def read(self, image):
        self.calls += 1
        return Reading(preprocess.to_mnist(image), self.probabilities)


def confident(digit=3, p=0.9):
    probabilities = np.full(10, (1 - p) / 9)
    probabilities[digit] = p
    return FixedPredictor(probabilities)


@pytest.fixture(scope="module")
def pad(shipped_model):
    return DrawingPad(Predictor(shipped_model))


@pytest.mark.parametrize("digit, variant, seed", CASES)
def test_stroke_drawn_digits_are_recognised(pad, digit, variant, seed):
    strokes = scale_strokes(DIGIT_STROKES[digit][variant], pad.size, margin=40)
    if seed is not None:
        strokes = jitter_strokes(strokes, np.random.default_rng(seed))
    pad.clear()
    pad.draw_strokes(strokes)
    top3 = np.argsort(pad.probabilities)[::-1][:3]
    assert pad.prediction == digit, f"{digit} variant {variant} seed {seed}: top 3 {top3}"
    assert f'data-digit="{digit}"' in pad.label.value


def test_small_off_centre_digits_are_recognised_too(pad):
    for digit in (1, 4, 7):
        pad.clear()
        pad.draw_strokes([[(150 + x * 100, 20 + y * 100) for x, y in s] for s in DIGIT_STROKES[digit][0]])
        assert pad.prediction == digit


def test_an_empty_pad_asks_for_a_digit_and_predicts_nothing():
    predictor = confident()
    pad = DrawingPad(predictor)
    assert pad.strokes == [] and pad.prediction is None and pad.probabilities is None and pad.mnist_image is None
    assert "draw a digit" in pad.label.value and pad.bars.value == ""
    assert predictor.calls == 0


def test_drawing_predicts_and_shows_the_digit_the_bars_and_what_the_model_sees():
    pad = DrawingPad(confident(3))
    pad.draw_strokes([[(100, 50), (180, 60), (120, 140)], [(120, 140), (190, 200), (90, 240)]])
    assert pad.prediction == 3 and pad.probabilities.shape == (10,)
    assert [len(s) for s in pad.strokes] == [3, 3]
    assert 'data-digit="3"' in pad.label.value and "90% sure" in pad.label.value
    assert pad.bars.value.count("<span style=\"width:14px\">") == 10
    assert pad.mnist_image.shape == (28, 28) and pad.mnist_image.max() == pytest.approx(1.0)
    preview = np.asarray(Image.open(io.BytesIO(pad.preview.value)))
    assert preview.shape == (112, 112) and preview.max() == 255


def test_low_confidence_says_unsure_and_names_alternatives():
    pad = DrawingPad(FixedPredictor([0.02, 0.02, 0.02, 0.02, 0.45, 0.02, 0.02, 0.03, 0.02, 0.38]))
    pad.draw_strokes([[(100, 50), (100, 240)]])
    assert pad.prediction == 4
    assert "not sure" in pad.label.value and "9 (38%)" in pad.label.value and "7 (3%)" in pad.label.value


def test_undo_removes_the_last_stroke_and_clear_removes_all():
    predictor = confident(7)
    pad = DrawingPad(predictor)
    pad.draw_strokes([[(60, 60), (220, 60)], [(220, 60), (120, 240)]])
    pad.undo()
    assert pad.strokes == [[(60.0, 60.0), (220.0, 60.0)]] and pad.prediction == 7
    pad.undo()
    assert pad.strokes == [] and pad.prediction is None and "draw a digit" in pad.label.value
    pad.undo()  # nothing left: still fine
    pad.draw_strokes([[(60, 60), (220, 60)]])
    pad.clear()
    assert pad.strokes == [] and pad.prediction is None and pad.mnist_image is None


def test_the_pad_rasterises_what_it_shows_at_the_pen_width_shown():
    pad = DrawingPad(confident())
    pad.draw_strokes([[(40, 140), (240, 140)]])
    assert np.array_equal(pad.ink(), rasterize(pad.strokes, 280, pad.pen.value))
    column = pad.ink()[:, 140]
    assert column.sum() == pytest.approx(pad.pen.value, abs=0.05)
    pad.pen.value = 30
    assert pad.ink()[:, 140].sum() == pytest.approx(30, abs=0.05)
    assert pad.canvas.line_width == 30  # the canvas was redrawn with the new pen


def test_moves_draw_only_while_the_pen_is_down_and_mouse_out_ends_the_stroke():
    pad = DrawingPad(confident())
    pad._on_mouse_move(10, 10)
    pad._on_mouse_up(10, 10)
    assert pad.strokes == []
    pad._on_mouse_down(50, 50)
    pad._on_mouse_move(60, 80)
    pad._on_mouse_move(60, 80)  # repeated point is not recorded twice
    pad._on_mouse_up(300, 80)  # mouse out reports where the pointer left
    pad._on_mouse_move(100, 100)
    assert pad.strokes == [[(50.0, 50.0), (60.0, 80.0), (300.0, 80.0)]]


def test_a_click_is_a_dot():
    pad = DrawingPad(confident())
    pad.draw_strokes([[(140, 140)]])
    assert pad.strokes == [[(140.0, 140.0)]] and pad.prediction == 3
    assert pad.ink()[140, 140] == 1.0


def test_touch_draws_like_the_mouse():
    pad = DrawingPad(confident())
    pad._on_touch_start([(100, 50), (5, 5)])  # a second finger is ignored
    pad._on_touch_move([(100, 150)])
    pad._on_touch_move([])
    pad._on_touch_end([])
    assert pad.strokes == [[(100.0, 50.0), (100.0, 150.0)]] and pad.prediction == 3


def test_prediction_while_drawing_is_throttled():
    stroke = [(100 + i, 50 + 2 * i) for i in range(50)]
    eager, lazy = confident(), confident()
    DrawingPad(eager, throttle=0.0).draw_strokes([stroke])
    DrawingPad(lazy, throttle=60.0).draw_strokes([stroke])
    assert eager.calls == 50  # every move and the pen lifting
    assert lazy.calls == 2  # the first move, then only when the stroke ends


class Broken:
    """A predictor whose model fails on every drawing."""

    def read(self, image):
        raise RuntimeError("model exploded")


def test_errors_in_prediction_are_not_swallowed():
    pad = DrawingPad(Broken())
    with pytest.raises(RuntimeError, match="model exploded"):
        pad.draw_strokes([[(100, 50), (100, 240)]])
    assert pad.output.outputs == ()  # called directly, the error reaches the caller instead


def shown_errors(pad: DrawingPad) -> list[str]:
    """The text the pad's output area holds on stderr."""
    return [o["text"] for o in pad.output.outputs if o.get("name") == "stderr"]


def test_an_error_in_a_canvas_event_shows_in_the_output_area():
    pad = DrawingPad(Broken())
    for event in ("mouse_down", "mouse_up"):  # the messages the browser sends for a click
        pad.canvas._handle_custom_msg({"event": event, "x": 140.0, "y": 140.0}, [])
    [text] = shown_errors(pad)
    assert "Traceback" in text and "RuntimeError: model exploded" in text and "_on_mouse_up" in text


def test_an_error_in_a_button_or_slider_event_shows_in_the_output_area():
    pad = DrawingPad(Broken())
    pad.strokes[:] = [[(100.0, 50.0), (100.0, 240.0)], [(60.0, 60.0), (220.0, 60.0)]]
    pad.undo_button.click()
    assert len(shown_errors(pad)) == 1 and "model exploded" in shown_errors(pad)[0]
    pad.pen.value = 25
    assert len(shown_errors(pad)) == 1, "the output area keeps the latest error, not one per event"


def test_draw_strokes_rejects_an_empty_stroke():
    with pytest.raises(ValueError, match="empty stroke"):
        DrawingPad(confident()).draw_strokes([[]])


def box_size(html: str) -> tuple[str, str]:
    """The width and height set on the outer element of ``prediction_html``."""
    style = re.match(r'<div class="digitlab-prediction" data-digit="\d?" style="([^"]*)"', html).group(1)
    return re.search(r"(?:^|;)width:(\d+px)", style).group(1), re.search(r"(?:^|;)height:(\d+px)", style).group(1)


def test_the_prediction_box_keeps_its_size_in_every_state():
    unsure = np.array([0.02, 0.02, 0.02, 0.02, 0.45, 0.02, 0.02, 0.03, 0.02, 0.38])
    states = [prediction_html(None), prediction_html(np.eye(10)[3]), prediction_html(unsure)]
    assert "draw a digit" in states[0] and "100% sure" in states[1] and "not sure" in states[2]
    assert {box_size(html) for html in states} == {box_size(states[0])}
    pad = DrawingPad(confident())
    sizes = {(pad.label.layout.width, pad.label.layout.height, pad.bars.layout.width, pad.bars.layout.height)}
    pad.draw_strokes([[(100, 50), (100, 240)]])
    sizes.add((pad.label.layout.width, pad.label.layout.height, pad.bars.layout.width, pad.bars.layout.height))
    assert len(sizes) == 1 and None not in sizes.pop()


def test_html_helpers():
    assert 'data-digit=""' in prediction_html(None)
    bars = probability_bars_html(np.eye(10)[5])
    assert bars.count("width:100.0px") == 1 and bars.count("width:0.0px") == 9


def test_the_pad_displays_as_its_widget_with_a_text_fallback():
    pad = DrawingPad(confident())
    bundle = pad._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == pad.widget.model_id
    assert "run the notebook" in bundle["text/plain"]
    assert pad.canvas.layout.width == "280px" and pad.canvas.layout.height == "280px"  # shown at real size
