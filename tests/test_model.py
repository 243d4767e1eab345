"""digitlab.model: architectures, atomic save with card, history beside it, clear errors on bad model files."""
from __future__ import annotations

import zipfile

import h5py
import keras
import numpy as np
import pytest

from digitlab import model as model_lib
from digitlab.files import write_json_atomic


@pytest.fixture(scope="module")
def cnn():
    return model_lib.build_cnn()


def test_build_cnn_outputs_probabilities(cnn):
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    probs = np.asarray(cnn(x, training=False))
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert any(isinstance(layer, model_lib.FusedBatchNormalization) for layer in cnn.layers)
    assert not any(isinstance(layer, model_lib.FusedBatchNormalization)
                   for layer in model_lib.build_cnn(fused_norm=False).layers)


def test_block3_stride_sets_the_last_blocks_grid():
    assert model_lib.build_cnn(widths=(4, 4, 4)).get_layer("block3b_relu").output.shape[1:3] == (4, 4)
    assert model_lib.build_cnn(widths=(4, 4, 4), block3_stride=1).get_layer("block3b_relu").output.shape[1:3] == (7, 7)


def test_fused_batch_norm_matches_keras_in_training_and_inference():
    x = np.random.default_rng(1).normal(2.0, 3.0, (16, 7, 7, 5)).astype(np.float32)
    fused = model_lib.FusedBatchNormalization(momentum=0.9)
    plain = keras.layers.BatchNormalization(momentum=0.9)
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 5))
        layer.beta.assign(np.linspace(-1, 1, 5))
    np.testing.assert_allclose(np.asarray(fused(x, training=True)), np.asarray(plain(x, training=True)), atol=1e-4)
    np.testing.assert_allclose(np.asarray(fused.moving_mean), np.asarray(plain.moving_mean), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fused.moving_variance), np.asarray(plain.moving_variance), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(fused(x)), np.asarray(plain(x)), atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_precise_batch_norm_sets_the_moving_mean_to_the_images_mean(fused):
    model = model_lib.build_cnn(widths=(4, 4, 4), fused_norm=fused)
    x = np.random.default_rng(2).random((10, 28, 28, 1)).astype(np.float32)
    conv = keras.Model(model.input, model.get_layer("block1a_conv").output)
    weights = [np.asarray(w).copy() for w in model.weights if "moving" not in w.path]
    drops = {layer.name: layer.rate for layer in model.layers if "drop" in layer.name}

    assert model_lib.precise_batch_norm(model, x, batch_size=4) == 6  # batches of 4, 4 and 2
    bn = model.get_layer("block1a_bn")
    np.testing.assert_allclose(np.asarray(bn.moving_mean), np.asarray(conv(x)).mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)
    assert bn.momentum == 0.9 and {layer.name: layer.rate for layer in model.layers if "drop" in layer.name} == drops
    assert all(np.array_equal(a, np.asarray(w)) for a, w in zip(weights, [w for w in model.weights if "moving" not in w.path]))
    last = np.asarray(model.get_layer("block3b_bn").moving_variance).copy()
    model_lib.precise_batch_norm(model, x, batch_size=4)  # dropout off: the same statistics again
    np.testing.assert_allclose(np.asarray(model.get_layer("block3b_bn").moving_variance), last, rtol=1e-5)


def test_precise_batch_norm_reads_uint8_mnist_images_as_the_model_does():
    model = model_lib.build_cnn(widths=(4, 4, 4))
    x = (np.random.default_rng(3).random((6, 28, 28)) * 255).astype(np.uint8)
    model_lib.precise_batch_norm(model, x, batch_size=4)
    from_uint8 = np.asarray(model.get_layer("block2a_bn").moving_mean).copy()
    model_lib.precise_batch_norm(model, (x / 255.0).astype(np.float32)[..., None], batch_size=4)
    np.testing.assert_allclose(np.asarray(model.get_layer("block2a_bn").moving_mean), from_uint8, rtol=1e-5, atol=1e-7)
    assert np.abs(from_uint8).max() < 50, "scaled to [0, 1] like every model input, not left at 0-255"


def test_precise_batch_norm_leaves_a_model_without_batch_norm_alone():
    assert model_lib.precise_batch_norm(model_lib.build_reference_cnn(), np.zeros((3, 28, 28, 1), np.float32)) == 0


def test_hyperparameters_are_keywords():
    small = model_lib.build_cnn(widths=(8, 16, 32), dropout=0.1)
    assert small.get_layer("block3b_conv").filters == 32
    assert small.get_layer("drop").rate == pytest.approx(0.1)
    assert small.count_params() < model_lib.build_cnn().count_params()
    with pytest.raises(TypeError):
        model_lib.build_cnn(0.3)


def test_models_are_built_uncompiled(cnn):
    assert not cnn.compiled and not model_lib.build_reference_cnn().compiled  # train.compile_for compiles


def test_reference_cnn_is_the_keras_recipe():
    ref = model_lib.build_reference_cnn()
    convs = [layer.filters for layer in ref.layers if layer.__class__.__name__ == "Conv2D"]
    assert convs == [32, 64]
    assert ref.output_shape == (None, 10)
    assert ref.count_params() == 34826  # the published parameter count of the simple convnet


def test_save_load_round_trip_with_card(tmp_path, cnn):
    path = model_lib.save_model(cnn, tmp_path / "m.keras", {"test_accuracy": 0.5})
    assert path.exists() and model_lib.card_path(path).name == "m.card.json"
    assert model_lib.read_card(path) == {"test_accuracy": 0.5}
    loaded = model_lib.load_model(path)
    x = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(cnn(x)), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.keras"]


def test_saved_file_holds_the_weights_without_the_optimizers_state(tmp_path):
    model = model_lib.build_cnn(widths=(4, 4, 8))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.random.default_rng(2).random((8, 28, 28, 1), dtype=np.float32)
    model.fit(x, np.eye(10, dtype=np.float32)[np.arange(8)], epochs=1, verbose=0)  # the optimizer now has moments
    path = model_lib.save_model(model, tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as f, h5py.File(f) as weights:
        assert "optimizer" not in weights and "layers" in weights
    np.testing.assert_allclose(np.asarray(model_lib.load_model(path)(x)), np.asarray(model(x)), atol=1e-6)
    assert model.optimizer is not None  # the caller's model is left compiled


def test_failed_save_keeps_previous_model(tmp_path, cnn, monkeypatch):
    path = model_lib.save_model(cnn, tmp_path / "m.keras", {"version": 1})
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(type(cnn), "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        model_lib.save_model(cnn, path, {"version": 2})
    assert path.read_bytes() == before
    assert model_lib.read_card(path) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.keras"]


def test_legacy_h5_name_is_refused(tmp_path, cnn):
    with pytest.raises(model_lib.ModelFileError, match=r"m.h5: .*\.keras format"):
        model_lib.save_model(cnn, tmp_path / "m.h5")


def test_missing_and_corrupt_model_files_are_named(tmp_path):
    with pytest.raises(model_lib.ModelFileError, match="model file not found: .*absent.keras"):
        model_lib.load_model(tmp_path / "absent.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(model_lib.ModelFileError, match="corrupt.keras: corrupt or unreadable model file"):
        model_lib.load_model(corrupt)
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    with pytest.raises(model_lib.ModelFileError, match="weights.bin: not a .keras model file"):
        model_lib.load_model(other)


def test_read_history_beside_the_model(tmp_path):
    path = tmp_path / "m.keras"
    assert model_lib.read_history(path) == {}
    write_json_atomic(model_lib.history_path(path), {"loss": [1.0, 0.5]})
    assert model_lib.read_history(path) == {"loss": [1.0, 0.5]}


def test_shipped_model_has_its_history(shipped_model):
    history = model_lib.read_history(shipped_model)
    assert len(history["val_accuracy"]) == model_lib.read_card(shipped_model)["epochs"]


def test_shipped_model_is_small_and_documented(shipped_model):
    assert shipped_model.stat().st_size <= 5 * 1024 * 1024
    card = model_lib.read_card(shipped_model)
    assert card["test_images"] == 10000 and card["test_accuracy"] >= 0.993
    assert card["training_data"]["train_images"] + card["training_data"]["validation_images"] >= 24345
    assert len(card["training_data"]["sha256"]) == 64
