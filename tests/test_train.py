"""digitlab.train: augmentation, schedule, a short real training run, resume after interruption."""
from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

from digitlab import config, data, model as model_lib, pen, predict, preprocess, scripts, train
from digitlab.files import read_json


def test_augment_batch_keeps_shape_range_and_changes_images(mnist):
    x = mnist[1][0][:32, :, :, None].astype(np.float32) / 255
    out = np.asarray(train.augment_batch(x, seed=3))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert np.abs(out - x).mean() > 0.01
    ink_ratio = out.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    assert 0.15 < ink_ratio.min() and ink_ratio.max() < 2.5, "pen changes must not erase or smear a digit"
    assert 0.7 < np.median(ink_ratio) < 1.4


def test_augment_identity_when_ranges_are_zero(mnist):
    x = mnist[1][0][:4, :, :, None].astype(np.float32) / 255
    still = train.Augmentation(rotation=0.0, scale=(1.0, 1.0), shear=0.0, shift=0.0, pen=0.0)
    np.testing.assert_allclose(np.asarray(train.augment_batch(x, ranges=still)), x, atol=1e-5)


def test_random_affine_draws_maps_within_the_ranges():
    still = train.Augmentation(rotation=0.0, scale=(1.0, 1.0), shear=0.0, shift=0.0, pen=0.0)
    transforms, draws = (np.asarray(t) for t in train.random_affine(5, seed=1, ranges=still))
    np.testing.assert_allclose(transforms, np.tile([1, 0, 0, 0, 1, 0, 0, 0], (5, 1)), atol=1e-6)
    assert draws.shape == (5,) and ((0 <= draws) & (draws < 1)).all()
    shifted, _ = train.random_affine(200, seed=2, ranges=dataclasses.replace(still, shift=2.5))
    offsets = np.asarray(shifted)[:, [2, 5]]
    assert np.abs(offsets).max() <= 2.5 and np.abs(offsets).max() > 2.0


def test_change_pen_thickens_thins_or_keeps_by_draw():
    dot = np.zeros((3, 28, 28, 1), np.float32)
    dot[:, 10, 10] = 1.0
    out = np.asarray(train.change_pen(dot, np.array([0.1, 0.9, 0.5], np.float32), share=0.5))
    assert out[0].sum() == 4, "a 2x2 max filter thickens a dot to a 2x2 square"
    assert out[1].sum() == 0, "a 2x2 min filter erases a one-pixel line"
    np.testing.assert_array_equal(out[2], dot[2])


def test_augmentation_ranges_are_fixed_values():
    ranges = train.Augmentation(rotation=5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ranges.rotation = 1.0
    assert dataclasses.asdict(ranges) == {"rotation": 5.0, "scale": (0.85, 1.12), "shear": 0.25, "shift": 2.5, "pen": 0.5,
                                          "elastic": 0.0}


def test_displace_reads_each_pixel_at_its_shifted_place_and_zero_outside(mnist):
    x = mnist[1][0][:3, :, :, None].astype(np.float32) / 255
    np.testing.assert_allclose(np.asarray(train.displace(x, np.zeros((3, 28, 28, 2), np.float32))), x, atol=1e-6)
    right = np.zeros((3, 28, 28, 2), np.float32)
    right[..., 1] = 1.0  # every pixel reads its right-hand neighbour: the digit moves one pixel left
    moved = np.asarray(train.displace(x, right))
    np.testing.assert_allclose(moved[:, :, :-1], x[:, :, 1:], atol=1e-6)
    assert not moved[:, :, -1].any(), "beyond the edge reads zero"
    half = np.asarray(train.displace(x, right / 2))
    np.testing.assert_allclose(half[:, :, :-1], (x[:, :, :-1] + x[:, :, 1:]) / 2, atol=1e-6)
    far = np.asarray(train.displace(x, right * 40))
    assert not far.any(), "a field pointing far outside reads only background"


def test_elastic_field_is_smooth_bounded_and_differs_per_image():
    field = np.asarray(train.elastic_field(6, 2.0, seed=4))
    assert field.shape == (6, 28, 28, 2)
    # bicubic weights (Keys, a = -0.5) sum to 1 with |weights| at most 1.25 per axis: |field| <= 2 x 1.25^2
    assert 1.0 < np.abs(field).max() <= 2.0 * 1.25 ** 2, "it overshoots its control points, within that bound"
    steps = np.abs(np.diff(field, axis=1)).max(), np.abs(np.diff(field, axis=2)).max()
    # 300 unseeded fields: at most 0.96 px between neighbours; white noise of this size: up to 4
    assert max(steps) < 1.5, "neighbours move alike: strokes bend, they do not tear"
    assert not np.allclose(field[0], field[1]) and not np.allclose(field[..., 0], field[..., 1])


def test_augment_batch_with_elastic_only_bends_the_digits_and_keeps_their_ink(mnist):
    x = mnist[1][0][:16, :, :, None].astype(np.float32) / 255
    still = train.Augmentation(rotation=0.0, scale=(1.0, 1.0), shear=0.0, shift=0.0, pen=0.0)
    bent = np.asarray(train.augment_batch(x, seed=5, ranges=dataclasses.replace(still, elastic=2.0)))
    assert np.abs(bent - x).mean() > 0.02
    ink_ratio = bent.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    # over 1,600 warped digits (100 unseeded batches) the ratio ran 0.70-1.52 and a batch's median 0.94-1.09
    assert 0.5 < ink_ratio.min() and ink_ratio.max() < 2.0, "a warp squeezes or stretches a stroke, never erases it"
    assert 0.85 < np.median(ink_ratio) < 1.15, "and a batch keeps its ink on the whole"


def test_make_dataset_augments_only_when_given_ranges(mnist):
    x, y = mnist[1][0][:8], mnist[1][1][:8]
    plain, labels = next(iter(train.make_dataset(x, y, batch_size=8)))
    assert plain.shape == (8, 28, 28, 1) and labels.shape == (8, 10)
    np.testing.assert_allclose(np.asarray(plain)[..., 0], x / 255, atol=1e-6)
    warped, _ = next(iter(train.make_dataset(x, y, batch_size=8, augmentation=train.Augmentation())))
    assert np.abs(np.asarray(warped) - np.asarray(plain)).mean() > 0.01


def test_compile_for_each_recipe():
    model = train.compile_for(model_lib.build_cnn(widths=(4, 6, 8)), "digitlab",
                              learning_rate=1e-3, weight_decay=1e-5, label_smoothing=0.2)
    assert type(model.optimizer).__name__ == "AdamW" and model.optimizer.weight_decay == pytest.approx(1e-5)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.2)
    ref = train.compile_for(model_lib.build_reference_cnn(), "reference",
                            learning_rate=1e-3, weight_decay=1e-5, label_smoothing=0.2)
    assert type(ref.optimizer).__name__ == "Adam" and ref.loss.get_config()["label_smoothing"] == 0
    with pytest.raises(ValueError, match="recipe must be one of 'digitlab', 'reference'"):
        train.compile_for(ref, "resnet", learning_rate=1e-3, weight_decay=0.0, label_smoothing=0.0)


def test_cosine_schedule_warms_up_then_decays():
    lr = train.cosine_schedule(1e-3, epochs=10, warmup=1)
    values = [lr(e) for e in range(10)]
    assert values[0] == pytest.approx(5e-4)
    assert values[1] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(values[1:], values[2:]))
    assert values[-1] < 0.1e-3


def test_step_schedule_warms_up_then_decays_every_step():
    lr = train.step_schedule(1e-3, epochs=4, steps_per_epoch=10)
    values = [float(lr(step)) for step in range(41)]
    assert values[0] == pytest.approx(2e-5) and values[10] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(values[:10], values[1:11])), "warm-up rises every step"
    assert all(a > b for a, b in zip(values[10:40], values[11:41])), "then it falls every step"
    assert values[40] == pytest.approx(1e-5)
    one_epoch = train.step_schedule(1e-3, epochs=1, steps_per_epoch=10)
    assert float(one_epoch(0)) == pytest.approx(1e-3), "no room for a warm-up: start at the full rate"


@pytest.mark.slow
def test_short_training_beats_chance_and_saves_everything(tmp_path, mnist_path):
    seen = []
    result = train.train(epochs=2, fraction=0.25, data_path=mnist_path, out=tmp_path / "m.keras", verbose=0,
                         on_epoch_end=lambda h: seen.append(len(h["loss"])), widths=(16, 32, 64), learning_rate=3e-3)
    assert seen == [1, 2]
    assert result.model.get_layer("block3b_conv").filters == 64
    assert read_json(model_lib.card_path(result.path)) == json.loads(json.dumps(result.card))
    parameters = result.card["parameters"]
    assert parameters["augment"] and parameters["augment_ranges"] == dataclasses.asdict(train.Augmentation())
    assert (parameters["widths"], parameters["learning_rate"], parameters["weight_decay"]) == ((16, 32, 64), 3e-3, 1e-4)
    assert (parameters["label_smoothing"], parameters["dropout"]) == (0.1, 0.3)
    assert result.card["test_accuracy"] > 0.6, "two epochs on 5,500 images clearly beat chance (0.1)"
    assert result.card["test_images"] == 10000
    assert result.card["training_data"]["sha256"] == __import__("digitlab").data.sha256(mnist_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.history.json", "m.keras"]
    history = json.loads((tmp_path / "m.history.json").read_text())
    assert len(history["val_accuracy"]) == 2 and history["learning_rate"][0] > history["learning_rate"][1] > 0
    assert (parameters["schedule"], parameters["block3_stride"], parameters["fused_norm"]) == ("step", 2, True)
    assert parameters["precise_bn"], "training ends by recomputing the batch-norm statistics"
    split = train.prepare_data(mnist_path, fraction=0.25, val_fraction=0.1, seed=config.SEED)
    before = np.asarray(result.model.get_layer("block2b_bn").moving_mean).copy()
    model_lib.precise_batch_norm(result.model, preprocess.to_model_input(split.x_train))
    np.testing.assert_allclose(np.asarray(result.model.get_layer("block2b_bn").moving_mean), before, rtol=1e-4, atol=1e-5)


def _bn_means(model: keras.Model) -> np.ndarray:
    return np.concatenate([np.asarray(layer.moving_mean) for layer in model.layers
                           if isinstance(layer, keras.layers.BatchNormalization)])


def test_precise_saved_model_recomputes_statistics_and_test_score_from_the_card(tmp_path, mnist_path, fake_npz):
    out = tmp_path / "old.keras"
    old = train.train(epochs=1, fraction=0.05, data_path=mnist_path, out=out, verbose=0, widths=(8, 8, 8),
                      precise_bn=False)
    assert not old.card["parameters"]["precise_bn"]
    with pytest.raises(ValueError, match="is not the file the model was trained on"):
        train.precise_saved_model(out, data_path=fake_npz)
    assert np.array_equal(_bn_means(model_lib.load_model(out)), _bn_means(old.model)), "a refusal changes nothing"

    card = train.precise_saved_model(out, data_path=mnist_path)
    model = model_lib.load_model(out)
    assert not np.allclose(_bn_means(model), _bn_means(old.model))
    assert card == read_json(model_lib.card_path(out)) and card["parameters"]["precise_bn"]
    assert card["precise_bn"]["images"] == card["training_data"]["train_images"] == old.card["training_data"]["train_images"]
    _, (x_test, y_test) = data.load_mnist(mnist_path)
    probs = model_lib.predict_proba(model, preprocess.to_model_input(x_test))
    assert card["test_errors"] == int((probs.argmax(1) != y_test).sum()) and card["test_images"] == len(y_test)
    assert read_json(model_lib.history_path(out)) == old.history, "the training history stays"


class _RecordWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([np.asarray(w).copy() for w in self.model.trainable_weights])


def test_ema_ends_on_the_average_of_the_weights_over_the_steps(tmp_path, mnist_path, monkeypatch):
    recorder, original_fit = _RecordWeights(), keras.Model.fit

    def fit_recording(self, *args, callbacks=None, **kwargs):
        assert any(isinstance(c, keras.callbacks.SwapEMAWeights) for c in callbacks), "validated on the average"
        return original_fit(self, *args, callbacks=[*callbacks, recorder], **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit_recording)
    result = train.train(epochs=1, fraction=0.05, data_path=mnist_path, verbose=0, widths=(8, 8, 8), ema=0.9,
                         precise_bn=False)
    assert result.card["parameters"]["ema"] == 0.9 and len(recorder.steps) > 5
    average = recorder.steps[0]
    for weights in recorder.steps[1:]:
        average = [0.9 * a + 0.1 * w for a, w in zip(average, weights)]
    last = recorder.steps[-1]
    for got, want in zip(result.model.trainable_weights, average):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(w, r) for w, r in zip(average, last)), "the average is not the last step's weights"


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_training_keeps_old_model_and_resumes(tmp_path, mnist_path, monkeypatch):
    out = tmp_path / "m.keras"
    old = model_lib.save_model(model_lib.build_reference_cnn(), out, {"version": "old"})
    old_bytes = old.read_bytes()
    original_fit = keras.Model.fit

    def fit_with_interrupt(self, *args, callbacks=None, **kwargs):
        return original_fit(self, *args, callbacks=[*callbacks, _Interrupt()], **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit_with_interrupt)
    kwargs = dict(recipe="reference", epochs=3, fraction=0.05, data_path=mnist_path, out=out, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train.train(**kwargs)
    assert out.read_bytes() == old_bytes and model_lib.read_card(out) == {"version": "old"}
    assert train.checkpoint_dir(out).exists()

    monkeypatch.setattr(keras.Model, "fit", original_fit)
    epochs_run = []
    result = train.train(**kwargs, on_epoch_end=lambda h: epochs_run.append(len(h["loss"])))
    assert epochs_run == [3], "the resumed run continues at the third epoch with the earlier history"
    assert len(json.loads(model_lib.history_path(out).read_text())["loss"]) == 3
    assert result.card["recipe"] == "reference" and out.read_bytes() != old_bytes
    assert "learning_rate" not in result.card["parameters"], "digitlab's hyperparameters do not apply to the reference"
    assert not (tmp_path / "checkpoints").exists()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="recipe must be"):
        train.train(recipe="resnet")
    with pytest.raises(ValueError, match="epochs and batch_size must be positive"):
        train.train(epochs=0)
    with pytest.raises(ValueError, match="schedule must be one of 'step', 'epoch'"):
        train.train(schedule="daily")
    with pytest.raises(ValueError, match="augmentation ranges were given .* augment=True"):
        train.train(recipe="reference", augmentation=train.Augmentation(rotation=5.0))
    with pytest.raises(ValueError, match="ema is the weight average's momentum .* got 1.0"):
        train.train(ema=1.0)
    with pytest.raises(ValueError, match="for recipe 'digitlab' only; got 0.99 for 'reference'"):
        train.train(recipe="reference", ema=0.99)


def test_model_or_stand_in_returns_an_existing_model_untouched(tmp_path):
    existing = tmp_path / "m.keras"
    existing.write_bytes(b"anything")
    assert train.model_or_stand_in(existing) == existing


@pytest.mark.slow
def test_model_or_stand_in_trains_when_missing(tmp_path, mnist_path, monkeypatch, capsys):
    monkeypatch.setenv("DIGITLAB_DATA", str(mnist_path))
    path = train.model_or_stand_in(tmp_path / "gone.keras", epochs=1, fraction=0.05)
    assert path.exists() and path.name == "stand_in.keras" and tmp_path not in path.parents
    assert "gone.keras not found: training a small stand-in (1 epochs on 5% of the images)" in capsys.readouterr().out
    assert model_lib.read_card(path)["epochs"] == 1


@pytest.fixture
def few_pen_digits(monkeypatch):
    """The real pen digits file, cut to two digits per writer so drawing them is quick."""
    digits = pen.load_pen_digits()
    keep = np.concatenate([np.flatnonzero(digits.writers == w)[:2] for w in np.unique(digits.writers)])
    monkeypatch.setattr(pen, "read_pen_digits", lambda path: digits[keep])
    return digits[keep]


def test_pen_training_data_draws_only_the_training_writers(few_pen_digits):
    x, y, info = train.pen_training_data(None, copies=2, seed=0)
    writers, validation, test = pen.split_by_writer(few_pen_digits)
    assert x.shape == (2 * len(writers), 28, 28) and x.dtype == np.uint8 and x.max() == 255
    np.testing.assert_array_equal(y, np.tile(writers.labels, 2))
    assert info["writers"] == sorted(set(writers.writers.tolist())) and info["images"] == len(y)
    assert not set(info["writers"]) & set(validation.writers.tolist() + test.writers.tolist())
    assert not np.array_equal(x[:len(writers)], x[len(writers):]), "each copy is drawn anew (pen width, jitter)"


def test_prepare_data_mixes_pen_digits_into_training_only(few_pen_digits):
    plain = train.prepare_data(None, fraction=0.01, val_fraction=0.1, seed=0)
    mixed = train.prepare_data(None, fraction=0.01, val_fraction=0.1, seed=0, pen_copies=1)
    assert len(mixed.y_train) == len(plain.y_train) + mixed.pen["images"] and plain.pen is None
    np.testing.assert_array_equal(mixed.x_val, plain.x_val)
    np.testing.assert_array_equal(mixed.y_test, plain.y_test)


def test_training_targets_one_hot_for_digits_uniform_for_non_digits():
    targets = train.training_targets(np.array([3, train.NOT_A_DIGIT, 0]))
    assert targets.shape == (3, 10) and targets.dtype == np.float32
    assert targets[0].argmax() == 3 and targets[0].max() == 1 and targets[2, 0] == 1
    np.testing.assert_allclose(targets[1], np.full(10, 0.1))
    with pytest.raises(ValueError, match="classes 0-9 or NOT_A_DIGIT"):
        train.training_targets(np.array([1, 10]))
    with pytest.raises(ValueError, match="got -2"):
        train.training_targets(np.array([-2]))


def test_nondigit_training_data_is_the_tune_part_only():
    x, info = train.nondigit_training_data(2, seed=0)
    kinds = len(info["by_kind"])
    assert x.shape == (info["images"], 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert info["part"] == "tune" and kinds >= 8 and info["images"] >= 2 * kinds
    from digitlab import nondigits
    tune, _ = nondigits.build_nondigit_set(2, seed=0, part="tune").mnist_images()
    test, _ = nondigits.build_nondigit_set(2, seed=0, part="test").mnist_images()
    assert np.abs(x[:4].astype(np.float32) / 255 - tune[:4]).max() < 0.01, "the tune part's marks, drawn as the model sees them"
    assert not any(np.abs(x.astype(np.float32) / 255 - t).max() < 0.01 for t in test)


def test_prepare_data_adds_non_digits_to_training_only():
    plain = train.prepare_data(None, fraction=0.01, val_fraction=0.1, seed=0)
    mixed = train.prepare_data(None, fraction=0.01, val_fraction=0.1, seed=0, nondigits_per_kind=1)
    added = len(mixed.y_train) - len(plain.y_train)
    assert added == mixed.nondigits["images"] > 0 and plain.nondigits is None
    assert (mixed.y_train[-added:] == train.NOT_A_DIGIT).all()
    np.testing.assert_array_equal(mixed.x_val, plain.x_val)


@pytest.mark.parametrize("kwargs, match", [
    (dict(nondigits_per_kind=-1), "nondigits_per_kind must be 0"),
    (dict(nondigits_per_kind=1, nondigit_scripts=("klingon",)), "unknown script.*klingon"),
    (dict(nondigit_scripts=("kannada",)), "nondigits_per_kind is 0"),
])
def test_train_refuses_bad_non_digit_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.train(epochs=1, **kwargs)


# --- other scripts: training on a script's digits, fine-tuning, what Predictor reads ----------------

TINY = dict(epochs=1, per_class=10, widths=(4, 8, 8), batch_size=50, verbose=0)


@pytest.fixture(scope="module")
def kannada_model(tmp_path_factory):
    """A Kannada model trained from scratch for one epoch on 10 images per digit: what its card and Predictor say."""
    return train.train(script="kannada", out=tmp_path_factory.mktemp("kannada") / "kannada.keras", **TINY)


def test_prepare_data_reads_a_scripts_digits_split_like_mnist():
    split = train.prepare_data(None, script="kannada", fraction=0.5, val_fraction=0.1, seed=3, per_class=20)
    (x_all, y_all), (x_test, y_test) = scripts.load_digits("kannada")
    x_all, y_all = data.subset(x_all, y_all, 0.5, seed=3)
    _, (x_val, _) = data.train_val_split(x_all, y_all, val_fraction=0.1, seed=3)
    np.testing.assert_array_equal(split.x_val, x_val)
    np.testing.assert_array_equal(split.x_test, x_test)
    assert np.bincount(split.y_train).tolist() == [20] * 10 and split.script == "kannada"
    assert split.source == scripts.find_digits("kannada")
    western = train.prepare_data(None, fraction=0.01, val_fraction=0.1, seed=0)
    assert western.script == "western" and western.source == data.find_mnist() and len(western.y_test) == 10000


def test_a_script_model_card_names_its_script_data_and_start(kannada_model):
    card = kannada_model.card
    assert card["script"] == "kannada" and card["init_model"] is None
    source = scripts.find_digits("kannada")
    trained_on = card["training_data"]
    assert (trained_on["source_file"], trained_on["sha256"]) == (source.name, data.sha256(source))
    assert trained_on["train_label_counts"] == [10] * 10 and trained_on["train_images"] == 100
    assert card["parameters"]["per_class"] == 10 and card["parameters"]["learning_rate"] == train.LEARNING_RATE
    assert card["test_images"] == len(scripts.load_digits("kannada")[1][1])
    assert read_json(model_lib.card_path(kannada_model.path)) == json.loads(json.dumps(card))


def test_fine_tuning_starts_from_the_init_model_and_keeps_its_architecture(kannada_model, tmp_path):
    init = kannada_model.path
    still = train.train(script="kannada", init=init, learning_rate=1e-9, weight_decay=0.0, augment=False,
                        **{**TINY, "widths": (16, 16, 16)})
    kernel = "block1a_conv"
    np.testing.assert_allclose(still.model.get_layer(kernel).kernel.numpy(),
                               kannada_model.model.get_layer(kernel).kernel.numpy(), atol=1e-6)
    assert still.model.get_layer("block3b_conv").filters == 8, "the init model's architecture, not widths"
    card = still.card
    assert card["init_model"] == {"source_file": "kannada.keras", "sha256": data.sha256(init)}
    assert "widths" not in card["parameters"], "architecture hyperparameters do not apply to a fine-tuned model"
    tuned = train.train(script="kannada", init=init, out=tmp_path / "tuned.keras", **TINY)
    assert tuned.card["parameters"]["learning_rate"] == train.FINE_TUNE_LEARNING_RATE
    assert not np.allclose(tuned.model.get_layer(kernel).kernel.numpy(),
                           kannada_model.model.get_layer(kernel).kernel.numpy()), "every layer is trained"


def test_an_init_model_of_another_shape_is_refused(tmp_path):
    five = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    path = model_lib.save_model(five, tmp_path / "five.keras")
    with pytest.raises(ValueError, match=r"init model .*five.keras: reads \(28, 28, 1\) images into 5 classes"):
        train.load_init(path)


def test_predictor_reads_a_script_model_as_that_script_only(kannada_model, tmp_path, monkeypatch):
    reader = predict.Predictor(kannada_model.path, script="kannada")
    x_test, _ = scripts.load_digits("kannada")[1]
    r = reader.recognise(255 - np.kron(x_test[0], np.ones((8, 8), np.uint8)))
    assert r.script == "kannada" and r.digit is not None and r.probabilities.shape == (10,)
    assert reader.recognise(np.ones((280, 280))).script == "kannada"
    with pytest.raises(model_lib.ModelFileError, match="its card says it reads kannada digits, not western"):
        predict.Predictor(kannada_model.path)
    with pytest.raises(ValueError, match="unknown script 'klingon': choose one of western, .*, tibetan, any"):
        predict.Predictor(script="klingon")
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    with pytest.raises(model_lib.ModelFileError, match="--script kannada --out .*kannada_cnn.keras"):
        predict.Predictor(script="kannada")
    with pytest.raises(model_lib.ModelFileError, match="no any-script model at .*--script any"):
        predict.Predictor(script="any")
    for src in (kannada_model.path, model_lib.card_path(kannada_model.path)):
        (tmp_path / src.name.replace("kannada.", "kannada_cnn.")).write_bytes(src.read_bytes())
    assert predict.Predictor(script="kannada").model_path == tmp_path / "kannada_cnn.keras"


@pytest.mark.parametrize("kwargs, match", [
    (dict(script="klingon"), "unknown script 'klingon': choose one of western, kannada"),
    (dict(script="kannada", pen_copies=1), "pen digits are Western digits, for script 'western' only"),
    (dict(script="kannada", nondigits_per_kind=1, nondigit_scripts=("kannada",)), "kannada is the script the model"),
    (dict(per_class=0), "per_class must be None"),
    (dict(restyle=-0.1), "restyle must be a share between 0 and 1"),
    (dict(balance=100), "balance repeats each script's images up to a count, for script 'any' only"),
    (dict(script="any", balance=-1), "balance repeats .* got -1"),
    (dict(init="nowhere.keras"), "model file not found: nowhere.keras"),
])
def test_train_refuses_bad_script_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.train(epochs=1, **kwargs)


def test_training_targets_of_the_any_script_model():
    targets = train.training_targets(np.array([59, train.NOT_A_DIGIT]), classes=60)
    assert targets.shape == (2, 60) and targets[0, 59] == 1 and targets[1] == pytest.approx(np.full(60, 1 / 60))
    with pytest.raises(ValueError, match="labels must be classes 0-9"):
        train.training_targets(np.array([10]))


def test_a_digit_model_fine_tuned_into_the_any_script_model_keeps_its_body(tmp_path):
    ten = model_lib.build_cnn(widths=(4, 8, 8))
    path = model_lib.save_model(ten, tmp_path / "ten.keras")
    sixty = train.load_init(path, classes=60)
    assert sixty.output_shape == (None, 60) and sixty.layers[-1].activation is keras.activations.softmax
    np.testing.assert_array_equal(sixty.get_layer("block1a_conv").kernel.numpy(), ten.get_layer("block1a_conv").kernel.numpy())
    assert train.load_init(model_lib.save_model(sixty, tmp_path / "sixty.keras"), classes=60).output_shape == (None, 60)


def test_balance_scripts_repeats_each_smaller_script_up_to_the_count():
    y = np.concatenate([np.arange(10), [10, 11, 12]])  # ten Western digits, three Kannada
    x = np.arange(len(y))[:, None, None] * np.ones((1, 28, 28))
    xb, yb = train.balance_scripts(x, y, 8, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(yb[:len(y)], y)  # the originals first, in order
    assert np.bincount(yb // 10).tolist() == [10, 8]
    extra = yb[len(y):]
    assert extra[:3].tolist() == [10, 11, 12] and len(set(extra[3:])) == 2  # a whole copy, then a sample of two
    np.testing.assert_array_equal(xb[:, 0, 0], [np.flatnonzero(y == label)[0] for label in yb])  # images go with labels
    again = train.balance_scripts(x, y, 8, rng=np.random.default_rng(0))[1]
    np.testing.assert_array_equal(again, yb)


def test_the_any_script_split_balanced_keeps_validation_and_test():
    plain, balanced = (train.prepare_data(None, script="any", fraction=1.0, val_fraction=0.1, seed=42, per_class=3,
                                          balance=b) for b in (0, 45))
    assert np.bincount(balanced.y_train // 10).tolist() == [45] * 6
    assert balanced.balanced["images_before"] == dict.fromkeys(scripts.SCRIPTS, 30) and plain.balanced is None
    assert balanced.balanced["logit_shift"] == pytest.approx(dict.fromkeys(scripts.SCRIPTS, np.log(30 / 45)))
    np.testing.assert_array_equal(balanced.y_val, plain.y_val)
    np.testing.assert_array_equal(balanced.y_test, plain.y_test)


def test_shift_classifier_moves_each_classs_log_probability_by_its_shift():
    model = model_lib.build_cnn(widths=(4, 8, 8), classes=3)
    x = np.random.default_rng(0).uniform(size=(5, 28, 28, 1)).astype(np.float32)
    before = np.log(model.predict(x, verbose=0))
    train.shift_classifier(model, np.array([0.0, 1.0, -2.0]))
    moved = np.log(model.predict(x, verbose=0)) - before
    np.testing.assert_allclose(moved - moved[:, :1], np.tile([0.0, 1.0, -2.0], (5, 1)), atol=1e-4)
    with pytest.raises(ValueError, match="not a Dense classifier with a bias for 4 classes"):
        train.shift_classifier(model, np.zeros(4))


def test_train_the_any_script_model(tmp_path):
    result = train.train(script="any", out=tmp_path / "any.keras", **{**TINY, "per_class": 3})
    card = result.card
    assert result.model.output_shape == (None, 60) and card["script"] == "any"
    assert set(card["training_data"]["sources"]) == set(scripts.SCRIPTS)
    assert card["training_data"]["train_label_counts"] == [3] * 60
    assert set(card["any_script"]) == {"value_accuracy", "script_accuracy", "by_script"}
    assert card["test_images"] == len(scripts.load_digits("any")[1][1])
    with pytest.raises(ValueError, match="none can be non-digits"):
        train.train(script="any", nondigits_per_kind=1, nondigit_scripts=("kannada",), **TINY)
