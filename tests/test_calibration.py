"""digitlab.calibration: temperature, Mahalanobis, uniformity and energy scores, the decline rule, the files beside a model."""
from __future__ import annotations

import importlib
import inspect
import json

import numpy as np
import pytest

from conftest import fake_arrays
from digitlab import calibration as cal, data, metrics, model as model_lib, scripts
from digitlab.config import NUM_CLASSES


def synthetic_logits(n: int, temperature: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits, and labels drawn from ``softmax(logits / temperature)``: the temperature that calibrates them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, (n, NUM_CLASSES))
    p = cal.softmax(logits, temperature).astype(np.float64)
    labels = (p.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    return logits.astype(np.float32), labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_a_known_temperature(true_t):
    logits, labels = synthetic_logits(20_000, true_t)
    t = cal.fit_temperature(logits, labels)
    assert t == pytest.approx(true_t, rel=0.05)
    assert cal.nll(logits, labels, t) <= min(cal.nll(logits, labels, t * 0.9), cal.nll(logits, labels, t * 1.1))
    assert cal.ece(labels, cal.softmax(logits, t)) < 0.015 < cal.ece(labels, cal.softmax(logits, true_t * 3))


def test_log_probabilities_give_the_same_temperature_as_logits():
    logits, labels = synthetic_logits(5_000, 2.0, seed=1)
    log_probs = np.log(cal.softmax(logits).astype(np.float64))  # logits less a constant per image
    assert cal.fit_temperature(log_probs, labels) == pytest.approx(cal.fit_temperature(logits, labels), rel=1e-3)


def test_fit_temperature_refuses_mismatched_arrays():
    with pytest.raises(ValueError, match="logits"):
        cal.fit_temperature(np.zeros((5, 10)), np.zeros(4, int))


def test_ece_is_the_metrics_calibration_error_with_15_bins():
    logits, labels = synthetic_logits(2_000, 1.0, seed=2)
    probs = cal.softmax(logits)
    assert cal.ece(labels, probs) == metrics.calibration_bins(labels, probs, n_bins=15)["ece"]
    assert cal.N_BINS == 15


def test_scores_order_confident_above_uncertain():
    logits = np.array([[10.0] + [0.0] * 9, [1.0] * 10])
    assert cal.max_probability(logits)[0] < cal.max_probability(logits)[1]
    assert cal.energy(logits)[0] < cal.energy(logits)[1]
    np.testing.assert_allclose(cal.energy(logits)[1], -np.log(10 * np.e))
    huge = np.array([[1000.0, 999.0] + [0.0] * 8])
    np.testing.assert_allclose(cal.energy(huge, 2.0), -2.0 * (500.0 + np.log1p(np.exp(-0.5))), rtol=1e-12)  # no overflow
    np.testing.assert_allclose(cal.uniformity(logits)[1], -np.log(10))  # flat: the least digit-like it can be
    assert cal.uniformity(logits)[0] < cal.uniformity(logits)[1]
    np.testing.assert_allclose(cal.uniformity(logits + 7.0), cal.uniformity(logits))  # blind to a common offset
    np.testing.assert_allclose(cal.uniformity(huge), [(1999.0 - 10 * (1000.0 + np.log1p(np.exp(-1.0)))) / 10], rtol=1e-12)
    np.testing.assert_allclose(cal.top_two_gap(np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])), [0.5, 0.05], atol=1e-7)


def test_class_gaussians_score_is_the_distance_to_the_nearest_mean():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 10, (NUM_CLASSES, 4))
    labels = np.repeat(np.arange(NUM_CLASSES), 200)
    features = means[labels] + rng.normal(0, 1, (len(labels), 4)) * [1, 2, 0.5, 1]
    g = cal.ClassGaussians.fit(features, labels)
    np.testing.assert_allclose(g.means, means, atol=0.3)
    x = means[3] + [0.5, -1.0, 0.2, 0.0]
    diff = x - g.means
    expected = np.einsum("cd,de,ce->c", diff, g.precision, diff)
    np.testing.assert_allclose(g.distances(x)[0], expected, rtol=1e-4)
    assert g.score(x)[0] == pytest.approx(expected.min(), rel=1e-4) and expected.argmin() == 3
    assert g.score(means[3] + 30)[0] > 100 * g.score(x)[0]  # far from every digit
    with pytest.raises(ValueError, match="every digit"):
        cal.ClassGaussians.fit(features[labels < 9], labels[labels < 9])


def test_roc_auc_and_declined_at():
    digits, others = np.arange(100.0), np.arange(100.0) + 1000
    assert cal.roc_auc(digits, others) == 1.0 and cal.roc_auc(others, digits) == 0.0
    assert cal.roc_auc(digits, digits) == 0.5  # ties count half
    assert cal.declined_at(digits, np.array([50.0, 96.5, 99.5, 2000.0]), 0.02) == 0.5  # above 97.02


def test_decline_rule_reasons_in_order_and_round_trip():
    rule = cal.DeclineRule(max_distance=100.0, max_uniformity=-5.0, min_gap=0.2, min_extent=0.15)
    reasons = rule.reasons(distance=[10, 500, 10, 10, 500], uniformity=[-9, -9, 0, -9, -9], gap=[0.9, 0.9, 0.9, 0.1, 0.1],
                           extent=[0.5, 0.5, 0.5, 0.5, 0.1])
    assert reasons.tolist() == ["", "not a digit", "not a digit", "unsure", "too small"]
    assert cal.DeclineRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


def test_choose_decline_keeps_every_set_within_its_budget():
    rng = np.random.default_rng(0)

    def scores(n, shift):
        return cal.Scores(rng.normal(50 + shift, 10, n), rng.normal(-10 + shift / 10, 1, n), np.zeros(n),
                          rng.uniform(0, 1, n))

    validation = {"mnist": scores(5000, 0), "pen": scores(1000, 15)}
    budgets = {"mnist": 0.002, "pen": 0.02}
    rule = cal.choose_decline(validation, budgets)
    declined = {k: np.mean(s.declined(rule)) for k, s in validation.items()}
    assert all(declined[k] <= budgets[k] for k in budgets)
    assert max(declined[k] / budgets[k] for k in budgets) > 0.8  # and uses the budget of the tighter set
    looser = cal.choose_decline(validation, {"mnist": 0.01, "pen": 0.05})
    assert looser.max_distance < rule.max_distance and looser.min_gap > rule.min_gap
    with pytest.raises(ValueError, match="same sets"):
        cal.choose_decline(validation, {"mnist": 0.01})


def test_choose_decline_spends_the_budget_where_the_non_digits_are():
    rng = np.random.default_rng(1)
    n = 4000
    digits = cal.Scores(rng.normal(50, 10, n), rng.normal(-10, 1, n), np.zeros(n), rng.uniform(0, 1, n),
                        rng.uniform(size=n) < 0.99)
    # non-digits stand out by uniformity only: their distances and gaps look like the digits'
    others = cal.Scores(rng.normal(50, 10, 500), rng.normal(-8, 1, 500), np.zeros(500), rng.uniform(0, 1, 500))
    plain = cal.choose_decline({"mnist": digits}, {"mnist": 0.01})
    tuned = cal.choose_decline({"mnist": digits}, {"mnist": 0.01}, nondigits=others)
    assert np.mean(digits.lost(tuned)) <= 0.01, "still within the budget"
    assert np.mean(others.declined(tuned)) > np.mean(others.declined(plain)) + 0.05
    assert tuned.max_uniformity < plain.max_uniformity and tuned.max_distance > plain.max_distance
    assert np.mean(digits.right & ~digits.lost(tuned)) == np.mean(digits.right & ~digits.declined(tuned))
    assert np.mean(digits.lost(tuned)) < np.mean(digits.declined(tuned)), "wrong answers declined cost nothing"


def test_choose_decline_gives_near_ties_to_the_unsure_answer():
    rng = np.random.default_rng(2)
    n = 6000
    gap = rng.uniform(0, 1, n)
    # the digits with the smallest gaps are the ones read wrong: declining them as "unsure" costs nothing,
    # so every gap share declines the same non-digits (they stand out by uniformity and are sure of a digit)
    digits = cal.Scores(rng.normal(50, 10, n), rng.normal(-10, 1, n), np.zeros(n), gap, gap > 0.05)
    others = cal.Scores(rng.normal(50, 10, 600), rng.normal(-8, 1, 600), np.zeros(600), np.ones(600))
    rule = cal.choose_decline({"mnist": digits}, {"mnist": 0.01}, nondigits=others)
    assert np.mean(digits.lost(rule)) <= 0.01
    assert np.mean(digits.gap < rule.min_gap) > 0.007, "the largest gap share (1% here), not the smallest (0.1%)"
    assert np.mean(others.declined(rule)) >= np.mean(others.declined(cal.choose_decline({"mnist": digits}, {"mnist": 0.01})))


def test_tune_nondigits_are_the_tune_part_never_the_test_part():
    from digitlab import nondigits

    images = cal.tune_nondigits("kannada", n_per_kind=1)  # another script's model: no other scripts mixed in
    tune, _ = nondigits.build_nondigit_set(1, seed=cal.config.SEED + 1, part="tune").mnist_images()
    test, _ = nondigits.build_nondigit_set(1, seed=cal.config.SEED + 1, part="test").mnist_images()
    assert images.shape == (len(nondigits.KINDS), 28, 28)
    np.testing.assert_array_equal(images, tune)
    assert not any(np.array_equal(a, b) for a in images for b in test)


def test_ood_file_round_trips_atomically_and_bad_files_are_named(tmp_path):
    g = cal.ClassGaussians(np.ones((10, 3), np.float32), np.eye(3, dtype=np.float32))
    path = cal.ood_path(tmp_path / "m.keras")
    assert path.name == "m.ood.json"
    assert cal.save_ood(path, g) == path
    back = cal.read_ood(path)
    np.testing.assert_array_equal(back.means, g.means)
    np.testing.assert_array_equal(back.precision, g.precision)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ood.json"]  # no temporary file left
    path.write_text("not json")
    with pytest.raises(ValueError, match="m.ood.json"):
        cal.read_ood(path)
    path.write_text(json.dumps({"means": np.ones((9, 3)).tolist(), "precision": np.eye(3).tolist()}))
    with pytest.raises(ValueError, match="do not fit"):
        cal.read_ood(path)


@pytest.fixture
def untrained_model(tmp_path, fake_npz):
    """An untrained CNN saved in tmp with a card saying it was trained on ``fake_npz`` (every digit present)."""
    path = tmp_path / "tiny.keras"
    card = {"model": "digitlab_cnn", "training_data": {"source_file": fake_npz.name, "sha256": data.sha256(fake_npz)},
            "parameters": {"fraction": 1.0, "val_fraction": 0.1, "seed": 42}}
    model_lib.save_model(model_lib.build_cnn(widths=(4, 8, 8)), path, card)
    return path


def test_calibration_data_repeats_the_models_split_and_refuses_another_file(untrained_model, fake_npz, tmp_path):
    card = model_lib.read_card(untrained_model)
    sets = cal.calibration_data(card, fake_npz, use_pen=False)
    (x_all, y_all), (x_test, _) = data.load_mnist(fake_npz)
    (x_train, _), (x_val, _) = data.train_val_split(x_all, y_all, val_fraction=0.1, seed=42)
    np.testing.assert_array_equal(sets.train[0], x_train)
    np.testing.assert_array_equal(sets.validation[0], x_val)
    np.testing.assert_array_equal(sets.test[0], x_test)
    assert sets.pen_validation is None
    other = tmp_path / "other.npz"
    np.savez(other, **{k: v[::-1] for k, v in np.load(fake_npz).items()})
    with pytest.raises(ValueError, match="not the file the model was trained on"):
        cal.calibration_data(card, other, use_pen=False)
    with pytest.raises(ValueError, match="does not say what the model was trained on"):
        cal.calibration_data({}, fake_npz, use_pen=False)


def test_calibration_data_of_a_script_model_repeats_its_split_without_pen_digits(tmp_path, fake_npz):
    from digitlab import predict

    path = tmp_path / "persian.npz"
    np.savez(path, **fake_arrays(n_train=200, n_test=30))
    card = {"script": "persian", "training_data": {"source_file": path.name, "sha256": data.sha256(path)},
            "parameters": {"fraction": 1.0, "per_class": 5, "val_fraction": 0.1, "seed": 7}}
    sets = cal.calibration_data(card, path)  # use_pen: the pen digits are Western, so none for Persian
    expected = scripts.model_data("persian", path, per_class=5, val_fraction=0.1, seed=7)
    for got, want in ((sets.train, expected.train), (sets.validation, expected.validation),
                      (sets.test, expected.test)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert np.bincount(sets.train[1]).tolist() == [5] * 10 and len(sets.validation[1]) == 20
    assert sets.pen_validation is None and sets.pen_writers == () and sets.source == path
    with pytest.raises(ValueError, match="not the file the model was trained on"):
        cal.calibration_data(card, fake_npz)
    model = model_lib.save_model(model_lib.build_cnn(widths=(4, 8, 8)), tmp_path / "persian.keras", card)
    section, _ = cal.calibrate(predict.Predictor(model, script="persian", calibrated=False), sets)
    assert set(section["validation"]) == {"persian"} and section["test"]["persian"]["images"] == 30
    assert section["fitted_on"].startswith("Persian validation split of persian.npz (20 images)")
    assert section["decline"]["budgets"] == {"persian": cal.MNIST_MAX_LOST}
    assert section["decline"]["gaussians_fitted_on"].startswith("Persian training split")


def test_write_calibration_changes_only_the_card_and_fails_before_writing(untrained_model, fake_npz):
    from digitlab import predict

    before = untrained_model.read_bytes()
    predictor = predict.Predictor(untrained_model, calibrated=False)
    section, gaussians = cal.calibrate(predictor, cal.calibration_data(predictor.card, fake_npz, use_pen=False))
    card_before = model_lib.card_path(untrained_model).read_text()
    with pytest.raises(TypeError):  # a value JSON cannot hold: nothing is written
        cal.write_calibration(untrained_model, {**section, "bad": object()}, gaussians)
    assert model_lib.card_path(untrained_model).read_text() == card_before
    assert not cal.ood_path(untrained_model).exists()
    cal.write_calibration(untrained_model, section, gaussians)
    card = model_lib.read_card(untrained_model)
    assert untrained_model.read_bytes() == before
    assert card["calibration"]["decline"]["ood_sha256"] == data.sha256(cal.ood_path(untrained_model))
    assert card["calibration"]["model_sha256"] == data.sha256(untrained_model)
    assert card["training_data"]["sha256"] == data.sha256(fake_npz)  # the rest of the card is kept
    assert sorted(p.name for p in untrained_model.parent.iterdir() if p.name.startswith(".")) == []


def test_all_lists_exactly_the_public_names():
    module = importlib.import_module("digitlab.calibration")
    defined = {n for n, obj in vars(module).items() if not n.startswith("_")
               and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}
    assert defined == set(module.__all__) - {n for n in module.__all__ if n.isupper()}
