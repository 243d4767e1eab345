"""Tests for digitlab.drawing: the pad draws, recognises and shows the result through its handlers."""
import dataclasses
import io
import os
import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from digitlab import config, guard, preprocess, scripts  # noqa: E402
from digitlab.drawing import (  # noqa: E402
    COLOURS, STATES, Answer, DrawingPad, describe, plot_recognitions, probability_bars_html, recognition_html,
)
from digitlab.nondigits import build_nondigit_set  # noqa: E402
from digitlab.predict import Predictor, Recognition  # noqa: E402
from digitlab.strokes import DIGIT_STROKES, jitter_strokes, rasterize, scale_strokes  # noqa: E402

#: Every handwriting variant of every digit, drawn as written and by two jittered hands.
CASES = [(d, v, seed) for d, variants in DIGIT_STROKES.items() for v in range(len(variants)) for seed in (None, 1, 2)]
#: (kind, seed) of marks of the non-digit test part that are plainly no digit and that the shipped
#: model declines at any pen width from 12 to 24: hatching, and a tangled scribble.
NON_DIGITS = [("hatching", 0), ("scribbles", 32)]
#: Probabilities torn between 4 and 9 (with 7 third), for a stand-in model that is unsure.
TORN = [0.02, 0.02, 0.02, 0.02, 0.45, 0.02, 0.02, 0.03, 0.02, 0.38]


class FixedPredictor:
    """Stands in for the model: names the most probable of the same probabilities every time, and counts its calls."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, dtype=np.float32)
        self.calls = 0

    def recognise(self, image):
        self.calls += 1
        digit = int(np.argmax(self.probabilities))
        confidence = float(self.probabilities[digit])
        return Recognition(digit, confidence, self.probabilities, None, preprocess.to_mnist(image))


class UnsurePredictor(FixedPredictor):
    """Stands in for a model torn between 4 and 9: declines with the reason ``recognise`` gives then."""

    def __init__(self):
        super().__init__(TORN)

    def recognise(self, image):
        self.calls += 1
        return torn(preprocess.to_mnist(image))


def confident(digit=3, p=0.9):
    probabilities = np.full(10, (1 - p) / 9)
    probabilities[digit] = p
    return FixedPredictor(probabilities)


def recognition(digit=None, reason=None, *, confidence=0.98, script="western"):
    """A ``Recognition`` of a blank 28x28 image naming ``digit`` (read as ``script``), or declining for ``reason``."""
    probabilities = (np.eye(10)[digit or 0] * confidence).astype(np.float32)
    return Recognition(digit, confidence, probabilities, reason, np.zeros((28, 28), np.float32), script=script)


def torn(mnist_image=None, script="western"):
    """The ``Recognition`` of an image (default blank) torn between 4 and 9, as ``recognise`` returns it."""
    image = np.zeros((28, 28), np.float32) if mnist_image is None else mnist_image
    return Recognition(None, 0.45, np.asarray(TORN, np.float32), "unsure between 4 and 9", image, (4, 9),
                       script=script)


def non_digit(kind, seed):
    """The first mark of ``kind`` in the non-digit test part drawn from ``seed``."""
    return build_nondigit_set(1, seed=seed, part="test", kinds=(kind,))[0]


@pytest.fixture(scope="module")
def predictor(shipped_model):
    return Predictor(shipped_model)


@pytest.fixture(scope="module")
def pad(predictor):
    return DrawingPad(predictor)


@pytest.mark.parametrize("digit, variant, seed", CASES)
def test_stroke_drawn_digits_are_recognised(pad, digit, variant, seed):
    strokes = scale_strokes(DIGIT_STROKES[digit][variant], pad.size, margin=40)
    if seed is not None:
        strokes = jitter_strokes(strokes, np.random.default_rng(seed))
    pad.clear()
    pad.draw_strokes(strokes)
    top3 = np.argsort(pad.probabilities)[::-1][:3]
    assert pad.prediction == digit, f"{digit} variant {variant} seed {seed}: top 3 {top3}, {pad.answer}"
    assert f'data-digit="{digit}"' in pad.label.value and pad.answer.state == "digit"


def test_small_off_centre_digits_are_recognised_too(pad):
    for digit in (1, 4, 7):
        pad.clear()
        pad.draw_strokes([[(150 + x * 100, 20 + y * 100) for x, y in s] for s in DIGIT_STROKES[digit][0]])
        assert pad.prediction == digit


def test_an_empty_pad_asks_for_a_digit_and_predicts_nothing():
    predictor = confident()
    pad = DrawingPad(predictor)
    assert pad.strokes == [] and pad.prediction is None and pad.probabilities is None and pad.mnist_image is None
    assert pad.recognition is None and pad.answer == Answer("blank", "draw a digit", "")
    assert 'data-state="blank"' in pad.label.value and "draw a digit" in pad.label.value and pad.bars.value == ""
    assert predictor.calls == 0


def test_drawing_predicts_and_shows_the_digit_the_bars_and_what_the_model_sees():
    pad = DrawingPad(confident(3))
    pad.draw_strokes([[(100, 50), (180, 60), (120, 140)], [(120, 140), (190, 200), (90, 240)]])
    assert pad.prediction == 3 and pad.probabilities.shape == (10,)
    assert [len(s) for s in pad.strokes] == [3, 3]
    assert pad.answer == Answer("digit", "3", "90% sure")
    assert 'data-state="digit" data-digit="3"' in pad.label.value and "90% sure" in pad.label.value
    assert pad.bars.value.count('class="digitlab-bar-label"') == 10
    assert pad.mnist_image.shape == (28, 28) and pad.mnist_image.max() == pytest.approx(1.0)
    preview = np.asarray(Image.open(io.BytesIO(pad.preview.value)))
    assert preview.shape == (112, 112) and preview.max() == 255


def test_a_model_torn_between_two_digits_says_not_sure_and_names_both():
    pad = DrawingPad(UnsurePredictor())
    pad.draw_strokes([[(100, 50), (100, 240)]])
    assert pad.prediction is None and pad.answer == Answer("unsure", "not sure: 4 or 9?", "4: 45%, 9: 38%")
    assert 'data-state="unsure"' in pad.label.value and 'data-digit=""' in pad.label.value
    assert "not sure: 4 or 9?" in pad.label.value and "4: 45%, 9: 38%" in pad.label.value
    assert pad.bars.value.count('class="digitlab-bar-label"') == 10  # the bars show how close the two are


@pytest.mark.parametrize("kind, seed", NON_DIGITS)
def test_a_mark_that_is_plainly_no_digit_is_declined(predictor, kind, seed):
    mark = non_digit(kind, seed)
    pad = DrawingPad(predictor, pen_width=mark.pen_width)
    pad.draw_strokes(mark.strokes)
    assert pad.prediction is None, f"{mark} read as {pad.answer}"
    assert pad.answer == Answer("declined", "that doesn't look like a digit", "not a digit")
    assert 'data-state="declined"' in pad.label.value and "that doesn't look like a digit" in pad.label.value
    assert pad.bars.value == "" and pad.mnist_image.max() == pytest.approx(1.0)  # no bars; what was declined shows


def test_a_dot_is_declined_as_too_small(predictor):
    pad = DrawingPad(predictor)
    pad.draw_strokes([[(140, 140)]])
    assert pad.answer == Answer("declined", "that doesn't look like a digit", "too small")
    assert "too small" in pad.label.value and pad.bars.value == ""


def test_the_pad_asks_for_a_digit_again_when_cleared(predictor):
    pad = DrawingPad(predictor)
    pad.draw_strokes(scale_strokes(DIGIT_STROKES[7][0], pad.size))
    assert pad.answer.state == "digit" and re.fullmatch(r"\d+% sure", pad.answer.note)
    pad.clear()
    assert pad.recognition is None and pad.answer.state == "blank"
    assert "draw a digit" in pad.label.value and pad.bars.value == ""


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


def test_the_ink_kept_between_updates_is_the_ink_drawn_anew():
    pad = DrawingPad(confident())
    rng = np.random.default_rng(0)

    def same():
        assert np.array_equal(pad.ink(), rasterize(pad.strokes, 280, pad.pen.value))

    for _ in range(3):  # strokes growing point by point, checked after every point
        pad._on_mouse_down(*rng.uniform(20, 260, 2))
        same()  # a dot
        for point in rng.uniform(20, 260, (6, 2)):
            pad._on_mouse_move(*point)
            same()
        pad._on_mouse_up(*point)
    pad.undo()
    pad.draw_strokes([[(30, 30), (60, 200)]])  # a new stroke where the undone one was kept
    same()
    pad.pen.value = 25
    same()
    pad.ink()[:] = 0  # the caller's copy: the pad's own ink is untouched
    same()
    pad.clear()
    assert pad.ink().max() == 0


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

    def recognise(self, image):
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
    """The width and height set on the outer element of ``recognition_html``."""
    opening = re.match(r'<div class="digitlab-prediction" data-state="\w+" data-digit="\d?" data-script="\w*" '
                       r'style="([^"]*)"', html)
    style = opening.group(1)
    return re.search(r"(?:^|;)width:(\d+px)", style).group(1), re.search(r"(?:^|;)height:(\d+px)", style).group(1)


def looks(pad: DrawingPad) -> tuple:
    """The sizes of the pad's result: of the prediction box's HTML, and of the label and bars widgets."""
    layouts = (pad.label.layout, pad.bars.layout)
    return box_size(pad.label.value), *((layout.width, layout.height) for layout in layouts)


def test_the_prediction_box_keeps_its_size_in_every_state(predictor):
    real, torn = DrawingPad(predictor), DrawingPad(UnsurePredictor())
    shown = {real.answer.state: looks(real)}
    real.draw_strokes(scale_strokes(DIGIT_STROKES[7][0], real.size))
    shown[real.answer.state] = looks(real)
    real.clear()
    real.draw_strokes(non_digit(*NON_DIGITS[0]).strokes)
    shown[real.answer.state] = looks(real)
    torn.draw_strokes([[(100, 50), (100, 240)]])
    shown[torn.answer.state] = looks(torn)
    assert sorted(shown) == sorted(STATES)
    assert len(set(shown.values())) == 1 and None not in shown["blank"][1] + shown["blank"][2]
    assert box_size(recognition_html(recognition(7, script="tibetan"))) == shown["digit"][0]  # "༧ = 7" too


@pytest.mark.parametrize("recognised, answer", [
    (None, ("blank", "draw a digit", "")),
    (recognition(reason="blank"), ("blank", "draw a digit", "")),
    (recognition(7), ("digit", "7", "98% sure")),
    (recognition(1, confidence=0.9996), ("digit", "1", "99% sure")),  # never a certain-sounding 100%
    (torn(), ("unsure", "not sure: 4 or 9?", "4: 45%, 9: 38%")),
    (recognition(7, script="kannada"), ("digit", "೭ = 7", "98% sure")),  # another script: its glyph and the value
    (torn(script="persian"), ("unsure", "not sure: ۴ = 4 or ۹ = 9?", "4: 45%, 9: 38%")),
    *((recognition(reason=reason), ("declined", "that doesn't look like a digit", reason))
      for reason in ("not a digit", "too small", "only noise", "only a shadow")),
])
def test_describe_says_one_of_four_things(recognised, answer):
    assert describe(recognised) == Answer(*answer)


def test_describe_without_glyphs_writes_every_reading_by_its_value():
    kannada_7 = Recognition(None, 0.9, np.eye(10, dtype=np.float32)[1], guard.REASON, np.zeros((28, 28), np.float32),
                            runner_up=("kannada", 7, 0.998))
    assert describe(kannada_7).headline == "that looks like Kannada ೭ = 7"
    assert describe(kannada_7, glyphs=False) == Answer("declined", "that looks like Kannada 7",
                                                       "another script: choose Kannada to read it")
    assert describe(torn(script="persian"), glyphs=False).headline == "not sure: 4 or 9?"
    kannada_1 = dataclasses.replace(recognition(1, script="kannada"), runner_up=("persian", 1, 0.15))
    assert describe(kannada_1, any_script=True) == Answer("digit", "೧ = 1", "Kannada, 98% sure; or ۱ = 1 Persian, 15%?")
    assert describe(kannada_1, any_script=True, glyphs=False) == Answer("digit", "1", "Kannada, 98% sure; or 1 Persian, 15%?")


def test_html_helpers():
    assert 'data-state="blank" data-digit=""' in recognition_html(None)
    assert "that doesn't look like a digit</div>" in recognition_html(recognition(reason="not a digit"))
    assert len({COLOURS[state] for state in STATES}) == 4
    bars = probability_bars_html(np.eye(10)[5])
    assert bars.count("width:100.0px") == 1 and bars.count("width:0.0px") == 9
    assert bar_labels(bars) == list("0123456789")
    assert bar_labels(probability_bars_html(np.eye(10)[5], "bengali")) == list("০১২৩৪৫৬৭৮৯")
    glyph = recognition_html(recognition(7, script="kannada"))
    assert 'data-digit="7" data-script="kannada"' in glyph and ">೭&nbsp;=&nbsp;7</div>" in glyph


def test_plot_recognitions_titles_each_drawing_with_what_the_pad_says():
    ink = rasterize([[(100, 50), (100, 240)]], 280, 18)
    recognitions = [None, recognition(7), torn(), recognition(reason="too small")]
    fig = plot_recognitions([ink] * 4, recognitions, ncols=3)
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:4]] == [
        "draw a digit", "7 — 98% sure", "not sure: 4 or 9?\n4: 45%, 9: 38%",
        "that doesn't look\nlike a digit\ntoo small"]
    assert [ax.title.get_color() for ax in axes[:4]] == [COLOURS[state] for state in STATES]
    assert [len(ax.images) for ax in axes] == [1, 1, 1, 1, 0, 0] and not axes[5].axison
    assert np.array_equal(axes[0].images[0].get_array(), ink)
    assert fig.get_size_inches()[0] <= 8
    plt.close(fig)
    with pytest.raises(ValueError, match="aligned"):
        plot_recognitions([ink], [])


def test_plot_recognitions_writes_other_scripts_by_value_for_fonts_without_their_glyphs():
    ink = rasterize([[(100, 50), (100, 240)]], 280, 18)
    kannada_7 = Recognition(None, 0.9, np.eye(10, dtype=np.float32)[1], guard.REASON, np.zeros((28, 28), np.float32),
                            runner_up=("kannada", 7, 0.998))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of a glyph missing from its font
        fig = plot_recognitions([ink] * 3, [kannada_7, recognition(7, script="tibetan"), torn(script="persian")])
        fig.canvas.draw()
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "that looks like\nKannada 7\nanother script: choose\nKannada to read it", "7 — 98% sure",
        "not sure: 4 or 9?\n4: 45%, 9: 38%"]
    plt.close(fig)


def test_the_pad_displays_as_its_widget_with_a_text_fallback():
    pad = DrawingPad(confident())
    bundle = pad._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == pad.widget.model_id
    assert "run the notebook" in bundle["text/plain"]
    assert pad.canvas.layout.width == "280px" and pad.canvas.layout.height == "280px"  # shown at real size


def bar_labels(bars: str) -> list[str]:
    """The label of each probability bar, in order."""
    return re.findall(r'<span class="digitlab-bar-label" title="\d" style="[^"]*">([^<]*)</span>', bars)


# --- other scripts ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kannada_model(tmp_path_factory):
    """A tiny Kannada model (10 images per digit, one epoch, uncalibrated): it reads badly, but as a Kannada model."""
    from digitlab import config, train

    if not os.environ.get(config.SCRIPTS_ENV):
        pytest.skip(f"set ${config.SCRIPTS_ENV} to the folder of offline copies (see data/README.md)")
    out = tmp_path_factory.mktemp("kannada") / "kannada_cnn.keras"
    return train.train(script="kannada", per_class=10, epochs=1, out=out, verbose=0).path


def test_the_script_selector_names_each_script_with_its_digits():
    pad = DrawingPad(confident())
    labels = [label for label, _ in pad.script_selector.options]
    assert labels[0] == "Western (MNIST)  0123456789" and labels[1] == "Kannada  ೦೧೨೩೪೫೬೭೮೯"
    assert [value for _, value in pad.script_selector.options] == [*scripts.SCRIPTS, scripts.ANY]
    assert all(scripts.get(name).digits in label for label, name in pad.script_selector.options[:-1])
    assert labels[-1] == "Any script (names the script it reads)"
    assert pad.script == pad.script_selector.value == "western"
    assert pad.widget.children[0] is pad.script_selector  # on top, across the pad


def test_choosing_a_script_reads_the_drawing_with_its_model_in_its_glyphs(kannada_model):
    western = confident(3)
    pad = DrawingPad(western, models={"kannada": kannada_model})
    pad.draw_strokes([[(100, 50), (180, 60), (120, 140)], [(120, 140), (190, 200), (90, 240)]])
    pad.script_selector.value = "kannada"  # as the reader chooses it
    kannada = pad.predictor
    assert pad.script == "kannada" and kannada.script == "kannada" and kannada.model_path == kannada_model
    assert pad.recognition.script == "kannada" and pad.answer.state == "digit"  # uncalibrated: it names a digit
    digit = pad.prediction
    assert pad.answer.headline == f"{scripts.get('kannada').digits[digit]} = {digit}"
    assert f'data-digit="{digit}" data-script="kannada"' in pad.label.value
    assert bar_labels(pad.bars.value) == list(scripts.get("kannada").digits)
    assert pad.output.outputs == ()
    pad.select_script("western")
    assert pad.predictor is western and pad.prediction == 3 and bar_labels(pad.bars.value) == list("0123456789")
    pad.select_script("kannada")
    assert pad.predictor is kannada  # loaded once


def test_the_pad_readies_every_predictor_for_single_drawings_before_the_first_stroke(shipped_model, kannada_model):
    given, kannada = Predictor(shipped_model), Predictor(kannada_model, script="kannada")
    assert "_one" not in vars(given) and "_one" not in vars(kannada)
    pad = DrawingPad(given, models={"kannada": kannada})
    assert "_one" in vars(given), "the predictor the pad was given would convert on the first stroke"
    pad.select_script("kannada")
    assert "_one" in vars(kannada)
    assert "_one" in vars(DrawingPad(script="kannada", models={"kannada": kannada_model}).predictor)


def test_a_pad_can_start_in_another_script(kannada_model):
    pad = DrawingPad(script="kannada", models={"kannada": kannada_model})
    assert pad.script == pad.script_selector.value == pad.predictor.script == "kannada"
    with pytest.raises(ValueError, match="the predictor reads kannada digits, not western"):
        DrawingPad(pad.predictor, script="western")
    with pytest.raises(ValueError, match="unknown script 'klingon'"):
        DrawingPad(confident(), models={"klingon": kannada_model})
    loaded = DrawingPad(confident(), models={"kannada": pad.predictor})  # a Predictor already loaded, not a file
    loaded.select_script("kannada")
    assert loaded.predictor is pad.predictor
    with pytest.raises(ValueError, match="the predictor given for persian reads kannada digits"):
        DrawingPad(confident(), models={"persian": pad.predictor})


def test_a_script_without_a_model_is_said_once_and_the_pad_keeps_reading_as_before(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)  # no shipped model of any other script
    western = confident(3)
    pad = DrawingPad(western, models={"tibetan": tmp_path / "missing.keras"})
    pad.draw_strokes([[(100, 50), (100, 240)]])
    pad.script_selector.value = "persian"
    [message] = pad.output.outputs
    assert message["name"] == "stdout" and "Traceback" not in message["text"]
    assert "Persian digits cannot be read yet: no Persian model at" in message["text"]
    assert "python -m digitlab train --script persian" in message["text"]
    assert "still reads Western (MNIST) digits" in message["text"]
    assert pad.script == pad.script_selector.value == "western" and pad.predictor is western and pad.prediction == 3
    pad.select_script("tibetan")  # a model path given for it, but no file there
    [message] = pad.output.outputs
    assert "Tibetan digits cannot be read yet: model file not found" in message["text"]
    assert pad.script == "western"


def test_in_any_script_mode_the_pad_names_the_script_read_and_a_runner_up():
    arabic_5 = Recognition(5, 0.8, np.eye(10, dtype=np.float32)[5], None, np.zeros((28, 28), np.float32),
                           script="arabic", runner_up=("western", 0, 0.15))
    assert describe(arabic_5) == Answer("digit", "٥ = 5", "80% sure")  # a one-script pad says no more
    assert describe(arabic_5, any_script=True) == Answer("digit", "٥ = 5", "Arabic, 80% sure; or 0 Western, 15%?")
    alone = Recognition(5, 0.8, arabic_5.probabilities, None, arabic_5.mnist_image, script="arabic")
    assert describe(alone, any_script=True).note == "Arabic, 80% sure"
    html = recognition_html(arabic_5, any_script=True)
    assert 'data-script="arabic"' in html and "or 0 Western, 15%?" in html
    assert box_size(html) == box_size(recognition_html(None)), "the same box in any-script mode"


def test_any_script_mode_without_its_model_is_said_and_the_pad_stays(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    pad = DrawingPad(confident(3))
    pad.select_script("any")
    [message] = pad.output.outputs
    assert "Any script's digits cannot be read yet: no any-script model at" in message["text"]
    assert pad.script == "western"


def test_a_digit_of_another_script_on_a_one_script_pad_is_named_with_the_script_to_choose():
    kannada_7 = Recognition(None, 0.9, np.eye(10, dtype=np.float32)[1], guard.REASON, np.zeros((28, 28), np.float32),
                            runner_up=("kannada", 7, 0.998))
    assert describe(kannada_7) == Answer("declined", "that looks like Kannada ೭ = 7",
                                         "another script: choose Kannada to read it")
    assert describe(Recognition(None, 0.9, kannada_7.probabilities, "not a digit", kannada_7.mnist_image,
                                runner_up=("kannada", 7, 0.998))).headline == "that doesn't look like a digit"
