"""The script guard: a one-script pad declines another script's digit (digitlab/guard.py)."""
from __future__ import annotations

import numpy as np
import pytest

from digitlab import calibration, guard, scripts

WESTERN, KANNADA, PERSIAN = (scripts.SCRIPTS.index(s) for s in ("western", "kannada", "persian"))


def probabilities(*rows: dict[tuple[int, int], float]) -> np.ndarray:
    """(N, 60) any-script probabilities from ``{(script index, digit): p}`` per row."""
    p = np.zeros((len(rows), len(scripts.SCRIPTS) * 10))
    for i, row in enumerate(rows):
        for (script, digit), value in row.items():
            p[i, script * 10 + digit] = value
    return p


def test_foreign_readings_sum_the_other_scripts_and_name_their_best_class():
    f = guard.foreign_readings(probabilities({(KANNADA, 7): 0.7, (PERSIAN, 2): 0.2, (WESTERN, 1): 0.1},
                                             {(WESTERN, 3): 0.95, (PERSIAN, 3): 0.05}), "western")
    assert f.p_other == pytest.approx([0.9, 0.05])
    assert list(f.script) == ["kannada", "persian"] and list(f.digit) == [7, 3]


def test_foreign_readings_are_relative_to_the_pads_script():
    f = guard.foreign_readings(probabilities({(KANNADA, 7): 0.7, (WESTERN, 1): 0.3}), "kannada")
    assert f.p_other == pytest.approx([0.3]) and f.script[0] == "western" and f.digit[0] == 1
    with pytest.raises(ValueError, match="unknown script 'any'"):
        guard.foreign_readings(probabilities({(KANNADA, 7): 1.0}), "any")


def test_the_guard_declines_only_another_value_at_or_over_the_threshold():
    f = guard.foreign_readings(probabilities({(KANNADA, 7): 0.99, (WESTERN, 7): 0.01},  # over, but a value both read
                                             {(KANNADA, 7): 0.99, (WESTERN, 1): 0.01},  # over, another value
                                             {(KANNADA, 7): 0.90, (WESTERN, 1): 0.10}), "western")  # under
    assert list(guard.declines(f, np.array([7, 1, 1]), 0.95)) == [False, True, False]
    assert list(guard.declines(f, np.array([[4, 9], [1, 7], [1, 1]]), 0.95)) == [True, False, False]  # none of them, or one


def test_the_guard_overrules_a_reading_or_unsure_and_nothing_else():
    logits = np.array([[0, 0, 0, 0, 5, 0, 0, 0, 0, 4.9], [0, 9, 1, 0, 0, 0, 0, 0, 0, 0]] * 3, float)
    reasons = np.array(["unsure", "unsure", "", "", "not a digit", "too small"])
    np.testing.assert_array_equal(guard.offered(logits, reasons)[:3], [[4, 9], [1, 2], [4, 4]])
    sure_kannada_7 = guard.Foreign(np.full(6, 0.999), np.full(6, "kannada"), np.full(6, 7))
    assert list(guard.guarded(sure_kannada_7, logits, reasons, 0.99)) == [True, True, True, True, False, False]
    sure_kannada_9 = guard.Foreign(np.full(6, 0.999), np.full(6, "kannada"), np.full(6, 9))
    assert list(guard.guarded(sure_kannada_9, logits, reasons, 0.99)) == [False, True, True, True, False, False]


def test_the_threshold_is_the_lowest_that_keeps_each_set_within_its_budget():
    at_risk = {"mnist": np.array([0.999, 0.995, 0.9, 0.6]), "pen": np.array([0.97])}
    t = guard.choose_threshold(at_risk, {"mnist": 4000, "pen": 100}, {"mnist": 0.0005, "pen": 0.0})
    assert 0.97 < t < 0.98  # mnist may lose 2 (those over 0.9), pen none: the 0.97 must stay read
    assert np.sum(at_risk["mnist"] >= t) <= 2 and np.sum(at_risk["pen"] >= t) == 0
    assert guard.choose_threshold({"mnist": np.array([0.2])}, {"mnist": 10}, {"mnist": 0.0}) == guard.FLOOR


class Reader:
    """A stand-in any-script Predictor: pixel (0, 0) of an image is its row of ``logits``."""

    def __init__(self, logits: np.ndarray, model_path):
        self.logits, self.model_path, self.temperature = logits, model_path, 1.0

    def class_logits(self, x: np.ndarray) -> np.ndarray:
        return self.logits[np.asarray(x)[:, 0, 0].astype(int)]


class Western:
    """A stand-in Western model that reads every image as ``read[row]``."""

    def __init__(self, read: np.ndarray):
        self.read = read

    def logits_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(x)[:, 0, 0].astype(int)
        return np.eye(10)[self.read[rows]] * 5, np.zeros((len(rows), 2))


def test_fit_chooses_on_validation_and_records_the_any_script_model(tmp_path):
    # rows 0-3: Western digits read right; the any-script model leans to Kannada on row 3 (another value)
    logits = np.full((4, 60), -30.0)
    logits[[0, 1, 2], [WESTERN * 10 + 1, WESTERN * 10 + 2, WESTERN * 10 + 3]] = 0.0
    logits[3, KANNADA * 10 + 6], logits[3, WESTERN * 10 + 4] = 0.0, -3.0  # p(other) = 0.95
    model = tmp_path / "any.keras"
    model.write_bytes(b"stand-in")
    x = np.zeros((4, 28, 28))
    x[:, 0, 0] = np.arange(4)
    sets = calibration.CalibrationData(tmp_path, (x, np.array([1, 2, 3, 4])), (x, np.array([1, 2, 3, 4])),
                                       (x, np.array([1, 2, 3, 4])), script="western")
    section = guard.fit(Western(np.array([1, 2, 3, 4])), Reader(logits, model), sets)
    assert section["model"] == "any.keras" and section["sha256"] == calibration.data.sha256(model)
    assert section["threshold"] > 0.95  # 0 of 4 may be lost (budget 0.05%), so row 3 must stay read
    assert section["validation"]["mnist"] == {"images": 4, "declined": 0.0, "right_lost": 0.0}
