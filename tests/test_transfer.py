"""Tests for digitlab.transfer: data-efficiency curves (tiny trainings), the tables, and stand-in models."""
from __future__ import annotations

import os

import numpy as np
import pytest

from digitlab import config, scripts, transfer
from digitlab.files import ModelFileError
from digitlab.transfer import EfficiencyCurve, EfficiencyPoint


@pytest.fixture(scope="module", autouse=True)
def offline():
    """The offline copies of the other scripts' digits (``$DIGITLAB_SCRIPTS``; CI sets it)."""
    if not os.environ.get(config.SCRIPTS_ENV):
        pytest.skip(f"set ${config.SCRIPTS_ENV} to the folder of offline copies (see data/README.md)")


class FixedBatch:
    """Stands in for a Predictor: the same probabilities for every image of a batch."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, np.float32)

    def predict_batch(self, x):
        return np.tile(self.probabilities, (len(x), 1))


def test_efficiency_curve_trains_fine_tuned_and_from_scratch_and_skips_sizes_too_large(shipped_model):
    curve = transfer.efficiency_curve("arabic", sizes=(10, 5000), init=shipped_model, epochs=1)
    model_data = scripts.model_data("arabic")
    counts = np.bincount(model_data.train[1])
    assert curve.script == "arabic" and curve.init == shipped_model.name and curve.epochs == 1
    assert curve.seed == config.SEED and curve.test_images == len(model_data.test[1])
    [point] = curve.points
    assert point.per_class == 10 and point.images_per_class == 10 and point.label() == "10"
    assert 0 <= point.scratch <= 1 and 0 <= point.fine_tuned <= 1
    assert point.gain == pytest.approx(point.fine_tuned - point.scratch)
    assert curve.skipped == (
        (5000, f"the training part has only {counts.min()} images of digit {counts.argmin()}"),)


def test_efficiency_curve_checks_its_arguments_before_training(shipped_model, tmp_path):
    for sizes in ((), (0,), (10.5,), (True,)):
        with pytest.raises(ValueError, match="sizes must be whole numbers"):
            transfer.efficiency_curve("kannada", sizes, init=shipped_model, epochs=1)
    with pytest.raises(ModelFileError, match="model file not found"):
        transfer.efficiency_curve("kannada", (10,), init=tmp_path / "none.keras", epochs=1)
    with pytest.raises(ValueError, match="unknown script 'klingon'"):
        transfer.efficiency_curve("klingon", (10,), init=shipped_model, epochs=1)


def test_the_efficiency_table_has_a_row_per_script_and_size_with_the_gain_and_says_why_a_size_is_missing():
    kannada = EfficiencyCurve("kannada", "digitlab_cnn.keras", 3, 42, 2000, (
        EfficiencyPoint(10, 10.0, 0.8, 0.5), EfficiencyPoint(None, 720.0, 0.97, 0.955)),
        skipped=((1000, "the training part has only 720 images of digit 0"),))
    tibetan = EfficiencyCurve("tibetan", "digitlab_cnn.keras", 3, 42, 2875, (EfficiencyPoint(10, 10.0, 0.6, 0.7),))
    table = transfer.efficiency_table([kannada, tibetan])
    assert table.columns == ("script", "images per digit", "fine-tuned", "from scratch", "gain (points)")
    assert table.rows == (("Kannada", "10", "80.0%", "50.0%", "+30.0"),
                          ("Kannada", "all (720)", "97.0%", "95.5%", "+1.5"),
                          ("Kannada", "1000", "-", "-", "not trained: the training part has only 720 images of digit 0"),
                          ("Tibetan", "10", "60.0%", "70.0%", "-10.0"))


def test_the_reading_table_says_how_often_a_model_is_right_and_how_sure_when_wrong():
    sure_three = FixedBatch(np.eye(10)[3] * 0.9 + 0.01)  # always "3", 91% sure
    torn = FixedBatch(np.full(10, 0.1))
    images = np.zeros((4, 28, 28), np.uint8)
    table = transfer.reading_table(sure_three, {"Kannada": (images, np.array([3, 3, 1, 2])),
                                                "all right": (images, np.array([3, 3, 3, 3]))})
    assert table.columns == ("digits", "images", "read right", "median confidence when wrong", "wrong and >= 90% sure")
    assert table.rows == (("Kannada", 4, "50.0%", "91%", "50.0%"), ("all right", 4, "100.0%", "-", "0.0%"))
    [row] = transfer.reading_table(torn, {"x": (images, np.array([5, 5, 5, 5]))}).rows
    assert row[2:] == ("0.0%", "10%", "0.0%")  # wrong every time, but never sure


def test_accuracies_measures_each_set_with_its_own_reader():
    images = np.zeros((4, 28, 28), np.uint8)
    readers = {"kannada": FixedBatch(np.eye(10)[3]), "tibetan": FixedBatch(np.eye(10)[1])}
    sets = {"kannada": (images, np.array([3, 3, 3, 1])), "tibetan": (images, np.array([3, 3, 3, 1]))}
    assert transfer.accuracies(readers, sets) == {"kannada": 0.75, "tibetan": 0.25}


def test_the_accuracy_table_puts_published_results_beside_ours():
    table = transfer.accuracy_table({"kannada": 0.98125, "tibetan": 0.5}, pad_like={"kannada": 0.9},
                                    notes={"tibetan": "stand-in"})
    assert table.columns[3:6] == ("test accuracy", "drawn as on the pad", "published")
    assert table.rows[0][:6] == ("Kannada", "Kannada-MNIST", "-", "98.1%", "90.0%", "96.8%")
    assert "Prabhu" in table.rows[0][6]
    assert table.rows[1] == ("Tibetan", "TibetanMNIST", "stand-in", "50.0%", "-", "-", "")


def test_script_predictors_load_shipped_models_and_train_stand_ins_for_the_others(shipped_model, tmp_path,
                                                                                  monkeypatch, capsys):
    import shutil

    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")
    stand_ins = tmp_path / "stand-ins"
    found = transfer.script_predictors(("arabic",), init=shipped_model, per_class=10, epochs=1, folder=stand_ins)
    assert "no shipped model for arabic: training small stand-ins" in capsys.readouterr().out
    arabic = found["arabic"]
    assert arabic.script == "arabic" and arabic.model_path == stand_ins / "arabic_cnn.keras"
    assert arabic.card["init_model"]["source_file"] == shipped_model.name
    assert arabic.card["parameters"]["per_class"] == 10
    (tmp_path / "models").mkdir()
    for suffix in (".keras", ".card.json"):  # now shipped: taken as it is, nothing trained
        shutil.copy(stand_ins / f"arabic_cnn{suffix}", tmp_path / "models" / f"arabic_cnn{suffix}")
    [(name, shipped)] = transfer.script_predictors(("arabic",), init=tmp_path / "none.keras").items()
    assert name == "arabic" and shipped.model_path == tmp_path / "models" / "arabic_cnn.keras"
    assert capsys.readouterr().out == ""


class AnyScript:
    """Stands in for the any-script Predictor: reads every image as ``script``'s ``digit``."""

    def __init__(self, script, digit, told=None):
        self.index, self.digit = scripts.SCRIPTS.index(script), digit
        self.told = digit if told is None else told
        self.passes = 0

    def class_logits(self, x):
        self.passes += 1
        return np.zeros((len(x), 60))

    def read_logits(self, logits, within=None):
        """Told the script (``within``), it reads ``told`` there."""
        if within is None:
            return np.tile(np.eye(10)[self.digit], (len(logits), 1)), np.full(len(logits), self.index)
        return np.tile(np.eye(10)[self.told], (len(logits), 1)), np.full(len(logits), scripts.SCRIPTS.index(within))


def test_the_any_script_reading_counts_values_and_scripts_and_finds_the_colliding_glyphs():
    images = np.arange(4 * 28 * 28).reshape(4, 28, 28) % 255
    reader = AnyScript("western", 0, told=5)
    as_western_0 = transfer.any_script_reading(reader, "arabic", images, np.array([5, 5, 0, 1]))
    assert reader.passes == 1, "both readings come from one pass of the model"
    assert as_western_0.value_right == 0.25 and as_western_0.script_right == 0.0
    assert as_western_0.value_right_told == 0.5, "told it is Arabic, it reads the 5s right"
    assert as_western_0.elsewhere().tolist() == [True, True, False, True]
    assert as_western_0.confusions() == {"western": 3}
    own = transfer.any_script_reading(AnyScript("western", 0), "western", images, np.array([0, 0, 3, 0]))
    assert (own.value_right, own.script_right, own.confusions()) == (0.75, 1.0, {})
    table = transfer.any_script_table([as_western_0, own])
    assert table.rows == (("Arabic (Eastern Arabic-Indic)", 4, "25.0%", "50.0%", "0.0%", "Western (MNIST) 3"),
                          ("Western (MNIST)", 4, "75.0%", "75.0%", "100.0%", "-"))
    found = transfer.cross_script_mistakes([as_western_0, own], {"arabic": images, "western": images}, per_script=2)
    assert [m.caption() for m in found] == ["arabic 5 -> western 0"] * 2
    np.testing.assert_array_equal(found[1].image, images[1])
