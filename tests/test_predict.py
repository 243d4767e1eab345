"""digitlab.predict: the Predictor on the shipped model."""
from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
from PIL import Image

from digitlab import calibration, data, guard, model as model_lib, predict, preprocess, robustness, scripts, strokes

import keras  # noqa: E402 - after digitlab, which quiets TensorFlow's start-up
import tensorflow as tf  # noqa: E402


@pytest.fixture(scope="module")
def predictor(shipped_model):
    return predict.Predictor()


def test_batch_accuracy_on_test_images(predictor, mnist):
    x, y = mnist[1][0][:2000], mnist[1][1][:2000]
    probs = predictor.predict_batch(x)
    assert probs.shape == (2000, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
    assert np.mean(probs.argmax(axis=1) == y) > 0.99


def test_batch_accepts_floats_and_agrees_with_uint8(predictor, mnist):
    x = mnist[1][0][:16]
    np.testing.assert_allclose(predictor.predict_batch(x), predictor.predict_batch(x / 255.0), atol=1e-5)
    assert predictor.predict_batch(x[:0]).shape == (0, 10)


def test_single_raw_image_like_a_photo(predictor, mnist):
    (x, y) = mnist[1][0][:30], mnist[1][1][:30]
    correct = 0
    for digit, label in zip(x, y):
        photo = Image.fromarray(255 - digit).resize((300, 300), Image.Resampling.BICUBIC)  # dark ink, big
        probs = predictor.predict(photo)
        assert probs.shape == (10,)
        correct += int(probs.argmax() == label)
    assert correct >= 29


def test_single_and_batch_agree(predictor, mnist):
    digit = mnist[1][0][7]
    np.testing.assert_allclose(predictor.predict_prepared(digit / 255.0),
                               predictor.predict_batch(digit[None])[0], atol=1e-5)


def test_read_returns_what_the_model_saw_and_its_answer(predictor, mnist):
    drawing = 255 - np.kron(mnist[1][0][0], np.ones((8, 8), np.uint8))  # dark ink on paper, 224x224
    reading = predictor.read(drawing)
    assert isinstance(reading, predict.Reading)
    np.testing.assert_array_equal(reading.mnist_image, preprocess.to_mnist(drawing))
    assert reading.mnist_image.shape == (28, 28) and reading.probabilities.shape == (10,)
    assert reading.digit == int(np.argmax(reading.probabilities)) == mnist[1][1][0]
    np.testing.assert_array_equal(predictor.predict(drawing), reading.probabilities)
    np.testing.assert_allclose(predictor.predict_prepared(reading.mnist_image), reading.probabilities, atol=1e-6)


def test_blank_drawing_says_no_ink(predictor):
    with pytest.raises(ValueError, match="no ink"):
        predictor.predict(np.zeros((280, 280)))


def test_missing_model_is_named(tmp_path):
    with pytest.raises(model_lib.ModelFileError, match="missing.keras"):
        predict.Predictor(tmp_path / "missing.keras")


# --- calibrated outputs and recognise ---------------------------------------------------------------


def canvas(lines, pen: float = 18.0) -> np.ndarray:
    """The pad's 280x280 picture (dark ink on white) of ``lines`` in canvas pixels."""
    return 1.0 - strokes.rasterize([np.asarray(line, float) for line in lines], 280, pen)


def test_the_shipped_model_is_calibrated(predictor):
    section = predictor.card["calibration"]
    assert section["ece_after"] < section["ece_before"] and 0 < predictor.temperature != 1
    assert section["model_sha256"] == data.sha256(predictor.model_path)
    assert predictor.rule is not None and predictor.gaussians is not None


def test_every_output_applies_the_cards_temperature(predictor, mnist):
    x = mnist[1][0][:64]
    logits, features = predictor.logits_and_features(x)
    assert features.shape == (64, predictor.model.layers[-1].input.shape[-1])
    expected = calibration.softmax(logits, predictor.temperature)
    np.testing.assert_allclose(predictor.predict_batch(x), expected, atol=1e-5)
    np.testing.assert_allclose(predictor.predict_prepared(x[0]), expected[0], atol=1e-5)
    drawing = 255 - np.kron(x[0], np.ones((8, 8), np.uint8))
    read, recognised = predictor.read(drawing), predictor.recognise(drawing)
    np.testing.assert_allclose(read.probabilities, recognised.probabilities, atol=1e-6)
    batch_features = predictor.logits_and_features(recognised.mnist_image[None])[1]
    assert recognised.distance == pytest.approx(float(predictor.gaussians.score(batch_features)[0]), rel=1e-4), \
        "the single-drawing call (LiteRT) gives the batch call's features"
    raw = model_lib.predict_proba(predictor.model, preprocess.to_model_input(x))
    np.testing.assert_allclose(calibration.softmax(np.log(raw), predictor.temperature), expected, atol=1e-4)
    assert not np.allclose(raw, expected, atol=1e-3)  # the temperature does change them


def test_uncalibrated_predictor_gives_the_models_own_probabilities(mnist):
    plain = predict.Predictor(calibrated=False)
    x = mnist[1][0][:32]
    own = model_lib.predict_proba(plain.model, preprocess.to_model_input(x))
    np.testing.assert_allclose(plain.predict_batch(x), own, atol=1e-5)
    assert plain.temperature == 1.0 and plain.rule is None and plain.reasons(*plain.logits_and_features(x)) is None
    assert plain.recognise(canvas([[(140, 140)]])).reason is None  # without the card's rules only blanks are declined


def test_recognise_reads_a_clean_digit(predictor, mnist):
    drawing = 255 - np.kron(mnist[1][0][0], np.ones((10, 10), np.uint8))
    r = predictor.recognise(drawing)
    assert isinstance(r, predict.Recognition) and not r.declined and r.reason is None
    assert r.digit == mnist[1][1][0] and r.confidence == pytest.approx(float(r.probabilities.max()))
    assert r.confidence > 0.9
    np.testing.assert_array_equal(r.mnist_image, preprocess.to_mnist(drawing))
    assert r.distance < predictor.rule.max_distance and r.extent > 0.5 and r.candidates == ()


def test_recognise_declines_a_blank_canvas(predictor):
    r = predictor.recognise(np.ones((280, 280)))
    assert (r.digit, r.reason, r.confidence) == (None, "blank", 0.0) and "no ink" in r.detail
    assert not r.probabilities.any() and r.mnist_image.shape == (28, 28)


def test_recognise_declines_a_dot_as_too_small(predictor):
    r = predictor.recognise(canvas([[(140, 140)]]))
    assert (r.digit, r.reason) == (None, "too small") and r.extent < predictor.rule.min_extent


@pytest.mark.parametrize("script", ["arabic", "persian", "any"])
def test_a_dot_is_a_zero_where_the_script_writes_zero_as_a_dot(script):
    reader = predict.Predictor(script=script)
    r = reader.recognise(canvas([[(140, 140)]]))
    assert (r.digit, r.reason) == (0, None) and scripts.get(r.script).dot_zero
    assert r.extent < reader.rule.min_extent, "the Western pad declines the same dot as too small"


@pytest.mark.parametrize("line", [[(40, 140), (240, 150)], [(60, 100), (220, 160)]])
def test_recognise_declines_a_straight_line(predictor, line):
    r = predictor.recognise(canvas([line]))
    assert (r.digit, r.reason) == (None, "not a digit")


def test_recognise_names_a_page_with_only_a_shadow(predictor):
    shadow = robustness.non_digit_page("shadow", np.random.default_rng(3))
    assert predictor.recognise(shadow).reason == "only a shadow"


def test_recognise_declines_pure_noise(predictor):
    noise = np.random.default_rng(0).uniform(size=(280, 280))
    r = predictor.recognise(noise)
    assert (r.digit, r.reason) == (None, "only noise") and r.detail == preprocess.NO_INK_REASONS["noise"]
    # and noise that reaches the model is declined too (not a digit, or torn between two), whatever preprocess does
    noise = np.random.default_rng(1).uniform(size=(4, 28, 28)).astype(np.float32)
    assert "" not in set(logits_and_reasons(predictor, noise)[2])


def test_recognise_is_unsure_between_two_digits_where_a_4_turns_into_a_9(predictor, mnist):
    (x, y) = mnist[1]
    four, nine = x[np.flatnonzero(y == 4)[1]].astype(float), x[np.flatnonzero(y == 9)[2]].astype(float)

    def blend(w):
        return predictor.recognise((w * four + (1 - w) * nine).astype(np.uint8))

    low, high = 0.0, 1.0  # a 9 at w = 0, a 4 at w = 1: find where the reading turns
    assert blend(low).probabilities.argmax() == 9 and blend(high).probabilities.argmax() == 4
    for _ in range(12):
        mid = (low + high) / 2
        low, high = (low, mid) if blend(mid).probabilities.argmax() == 4 else (mid, high)
    r = blend(high)
    assert r.digit is None and r.reason == "unsure between 4 and 9" and r.candidates == (4, 9)
    assert r.confidence < 0.6


def test_a_stale_ood_file_is_refused(tmp_path, shipped_model):
    import shutil

    for src in (shipped_model, model_lib.card_path(shipped_model)):
        shutil.copy(src, tmp_path / src.name)
    copy = tmp_path / shipped_model.name
    with pytest.raises(model_lib.ModelFileError, match="ood.json: missing"):
        predict.Predictor(copy)
    calibration.save_ood(calibration.ood_path(copy), calibration.ClassGaussians(np.zeros((10, 2)), np.eye(2)))
    with pytest.raises(model_lib.ModelFileError, match="calibrate"):
        predict.Predictor(copy)


def test_a_decline_rule_of_an_older_digitlab_is_refused(tmp_path, shipped_model):
    import shutil

    for src in (shipped_model, calibration.ood_path(shipped_model)):
        shutil.copy(src, tmp_path / src.name)
    card = model_lib.read_card(shipped_model)
    decline = card["calibration"]["decline"]
    decline["max_energy"] = decline.pop("max_uniformity")  # as cards stored it before the uniformity score
    (tmp_path / model_lib.card_path(shipped_model).name).write_text(json.dumps(card))
    with pytest.raises(model_lib.ModelFileError, match="older digitlab .* run `python -m digitlab calibrate` again"):
        predict.Predictor(tmp_path / shipped_model.name)


@pytest.mark.parametrize("build", [model_lib.build_cnn, model_lib.build_reference_cnn])
def test_batch_norms_folded_into_the_convolutions_change_nothing_but_the_work(build):
    model = build()
    rng = np.random.default_rng(0)
    for layer in model.layers:  # statistics far from a new layer's (0, 1), so that a wrong fold would show
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2, w.shape) if i in (0, 3) else rng.normal(0, 0.5, w.shape)
                               for i, w in enumerate(layer.get_weights())])
    x = rng.uniform(size=(8, 28, 28, 1)).astype(np.float32)
    traced = tf.function(predict._logits_and_features(model)).get_concrete_function(tf.TensorSpec((None, 28, 28, 1)))
    logits, features = traced(tf.constant(x))
    np.testing.assert_allclose(calibration.softmax(logits.numpy()), model_lib.predict_proba(model, x), atol=1e-5)
    body = keras.Model(model.inputs[0], model.layers[-1].input)
    np.testing.assert_allclose(features.numpy(), body(x, training=False).numpy(), rtol=1e-4, atol=1e-5)
    assert not {"Rsqrt", "FusedBatchNormV3"} & {op.type for op in traced.graph.get_operations()}


def test_a_model_that_is_not_a_chain_of_layers_runs_as_keras_built_it():
    inputs = keras.Input((28, 28, 1))
    a = keras.layers.Conv2D(4, 3, name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, name="b")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([a, b]))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled))
    x = np.random.default_rng(1).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    logits, _ = predict._logits_and_features(model)(tf.constant(x))
    np.testing.assert_allclose(calibration.softmax(logits.numpy()), model_lib.predict_proba(model, x), atol=1e-5)


@pytest.fixture(scope="module")
def persian_or_arabic_2(tmp_path_factory):
    """An any-script model that reads every image as a Persian 2 (60%) or an Arabic 2 (40%)."""
    model = model_lib.build_cnn(widths=(4, 8, 8), classes=60)
    kernel, bias = model.layers[-1].get_weights()
    bias[:] = -20.0
    bias[[22, 32]] = np.log([0.6, 0.4])
    model.layers[-1].set_weights([np.zeros_like(kernel), bias])
    return model_lib.save_model(model, tmp_path_factory.mktemp("any") / "any.keras", {"script": "any"})


def test_the_any_script_model_reads_values_summed_over_scripts(persian_or_arabic_2, mnist):
    reader = predict.Predictor(persian_or_arabic_2, script="any")
    probs = reader.predict_batch(mnist[1][0][:4])
    assert probs.shape == (4, 10) and probs[:, 2] == pytest.approx(1.0, abs=1e-5)
    assert reader.read_batch(mnist[1][0][:4])[1].tolist() == [2] * 4  # SCRIPTS[2] is persian
    together = reader.read_batch(mnist[1][0][:4])
    np.testing.assert_allclose(together[0], probs)
    np.testing.assert_array_equal(together[1], [2] * 4)
    logits = reader.class_logits(mnist[1][0][:4])
    assert logits.shape == (4, 60)
    np.testing.assert_allclose(reader.read_logits(logits)[0], probs)
    arabic, where = reader.read_batch(mnist[1][0][:4], within="arabic")
    assert arabic[:, 2] == pytest.approx(1.0, abs=1e-5) and where.tolist() == [3] * 4, "told: that script's classes alone"
    western = reader.read_batch(mnist[1][0][:4], within="western")[0]
    np.testing.assert_allclose(western, 0.1, atol=1e-6)  # none of its Western classes stands out
    with pytest.raises(ValueError, match="unknown script .latin."):
        reader.read_batch(mnist[1][0][:4], within="latin")
    r = reader.recognise(255 - np.kron(mnist[1][0][0], np.ones((8, 8), np.uint8)))
    assert (r.digit, r.script) == (2, "persian") and r.probabilities.shape == (10,)
    assert r.runner_up[:2] == ("arabic", 2) and r.runner_up[2] == pytest.approx(0.4, abs=1e-3)
    with pytest.raises(model_lib.ModelFileError, match="its card says it reads any digits, not western"):
        predict.Predictor(persian_or_arabic_2)


def test_a_one_script_model_names_no_runner_up(predictor, mnist):
    r = predictor.recognise(255 - np.kron(mnist[1][0][0], np.ones((8, 8), np.uint8)))
    assert r.runner_up is None and predictor.read_batch(mnist[1][0][:2])[1].tolist() == [0, 0]
    with pytest.raises(ValueError, match="needs the any-script model"):
        predictor.read_batch(mnist[1][0][:2], within="western")


def test_single_drawings_are_converted_for_on_first_use_or_warm_up(shipped_model, mnist):
    batch_only = predict.Predictor()
    batch_only.predict_batch(mnist[1][0][:4])
    assert "_one" not in vars(batch_only), "a Predictor used for batches alone converted its model for single drawings"
    warmed = predict.Predictor()
    assert warmed.warm_up() is warmed and "_one" in vars(warmed)
    assert "_many" not in vars(warmed), "a Predictor used for single drawings alone converted its model for batches"
    one = warmed._one
    warmed.predict_prepared(mnist[1][0][0])
    assert warmed._one is one, "converted again"


def test_a_reference_recipe_model_reads_as_keras_does(tmp_path, mnist):
    # Its layers run unfolded: the LiteRT conversion once kept their weights as variables and read NaN.
    path = model_lib.save_model(model_lib.build_reference_cnn(), tmp_path / "reference.keras", {})
    reader, x = predict.Predictor(path), mnist[1][0][:5]
    expected = model_lib.predict_proba(reader.model, preprocess.to_model_input(x))
    np.testing.assert_allclose(reader.predict_batch(x), expected, atol=1e-5)
    np.testing.assert_allclose(reader.predict_prepared(x[0]), expected[0], atol=1e-5)


def test_batches_of_any_length_match_keras_row_by_row(predictor, mnist):
    x = mnist[1][0][:2 * predict.CHUNK + 3]  # two full chunks and a padded one
    probs = predictor.predict_batch(x)
    raw = model_lib.predict_proba(predictor.model, preprocess.to_model_input(x))
    np.testing.assert_allclose(probs, calibration.softmax(np.log(raw), predictor.temperature), atol=1e-4)
    np.testing.assert_allclose(predictor.predict_batch(x[-3:]), probs[-3:], atol=1e-5)  # padding changes no row


def test_predictors_made_one_after_another_do_not_warn_of_retracing(shipped_model, mnist, caplog):
    with caplog.at_level("WARNING", logger="tensorflow"):
        for _ in range(6):
            predict.Predictor().predict_batch(mnist[1][0][:2])
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_converting_for_litert_logs_no_warning(shipped_model, mnist, caplog):
    # In a notebook, Python warnings reach the cell's output: the converter's deprecation notice did, every time.
    with caplog.at_level(logging.WARNING):
        predict.Predictor(shipped_model).predict_batch(mnist[1][0][:3])
    assert not [r for r in caplog.records if r.name == "absl"], caplog.text
    assert logging.getLogger("absl").level == logging.NOTSET  # put back as it was


@pytest.fixture(scope="module")
def kannada_drawings():
    """Kannada test digits drawn dark on light at ten times their size, as a page or canvas would hold them."""
    _, (x, y) = scripts.load_digits("kannada")
    return [255 - np.kron(d, np.ones((10, 10), np.uint8)) for d in x[:120]], y[:120]


def test_the_western_pad_declines_kannada_digits_as_another_script(predictor, kannada_drawings):
    drawings, labels = kannada_drawings
    got = [predictor.recognise(d) for d in drawings]
    guarded = [r for r in got if r.reason == guard.REASON]
    wrong = np.array([r.probabilities.argmax() for r in got]) != labels
    named, turned_away = (np.array([r.digit is not None for r in got]), np.array([r.reason == guard.REASON for r in got]))
    assert np.sum(named & wrong) <= 0.6 * np.sum((named | turned_away) & wrong)  # 15 against 31 when written
    assert all(r.digit is None and r.runner_up[0] != "western" and r.runner_up[2] >= predictor.guard_rule["threshold"]
               for r in guarded)
    assert sum(r.runner_up[0] == "kannada" for r in guarded) >= 0.8 * len(guarded)
    assert guarded[0].looks_like().startswith(scripts.short_name(guarded[0].runner_up[0]) + " ")
    # recognise's guard and the batch path's agree on what recognise saw
    batch = predictor.guard_declines(*logits_and_reasons(predictor, np.stack([r.mnist_image for r in got])))
    assert all(batch[i] for i, r in enumerate(got) if r.reason == guard.REASON)
    assert not any(batch[i] for i, r in enumerate(got) if r.reason is None or r.candidates)


def test_the_guard_tells_another_script_where_the_pad_was_unsure(shipped_model, kannada_drawings):
    torn = predict.Predictor(shipped_model)
    torn.rule = dataclasses.replace(torn.rule, min_gap=0.9)  # a rule unsure of nearly every drawing
    got = [torn.recognise(d) for d in kannada_drawings[0][:60]]
    overruled = [r for r in got if r.reason == guard.REASON and np.diff(np.sort(r.probabilities)[-2:])[0] < 0.9]
    assert overruled and any(r.candidates for r in got)  # unsure, where the guard is not sure or agrees with one
    assert all(r.digit is None and r.candidates == () and r.runner_up[1] not in np.argsort(r.probabilities)[-2:]
               for r in overruled)  # another value than both digits the rule was unsure between
    batch = torn.guard_declines(*logits_and_reasons(torn, np.stack([r.mnist_image for r in got])))
    assert [bool(b) for b in batch] == [r.reason == guard.REASON for r in got]  # the batch path agrees


def logits_and_reasons(predictor: predict.Predictor, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` with the ``predictor``'s logits of it and its decline rule's reasons: what ``guard_declines`` takes."""
    logits, features = predictor.logits_and_features(x)
    return x, logits, predictor.reasons(logits, features)


def test_the_guard_leaves_western_digits_read(predictor, mnist):
    x, y = mnist[1]
    declined = predictor.guard_declines(*logits_and_reasons(predictor, x[:2000]))
    assert declined.sum() <= 3  # 5 of the 10,000 test digits on the benchmark
    assert predictor.recognise(255 - np.kron(x[0], np.ones((10, 10), np.uint8))).digit == y[0]


def test_a_guard_calibrated_with_another_any_script_model_is_refused(tmp_path, shipped_model):
    import shutil

    for src in (shipped_model, calibration.ood_path(shipped_model)):
        shutil.copy(src, tmp_path / src.name)
    card = model_lib.read_card(shipped_model)
    card["calibration"]["script_guard"]["sha256"] = "0" * 64
    (tmp_path / model_lib.card_path(shipped_model).name).write_text(json.dumps(card))
    copy = predict.Predictor(tmp_path / shipped_model.name)  # the guard loads on first use: the pad's warm-up
    with pytest.raises(model_lib.ModelFileError, match="not the any-script model .* calibrate` again"):
        copy.warm_up()


def test_every_guard_of_the_shipped_any_script_model_shares_one_predictor(predictor):
    kannada = predict.Predictor(script="kannada")
    assert predictor.guard is not None and kannada.guard is predictor.guard


def test_without_calibration_there_is_no_guard(shipped_model, mnist):
    raw = predict.Predictor(calibrated=False)
    assert raw.guard is None and raw.guard_declines(mnist[1][0][:3], np.zeros((3, 10)), np.full(3, "")) is None
