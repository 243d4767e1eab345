"""digitlab.declining: issue 11's measures on a stand-in predictor whose scores are set by hand, and on the shipped model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from digitlab import calibration, config, declining, guard, nondigits

RULE = calibration.DeclineRule(max_distance=4.0, max_uniformity=-5.0, min_gap=0.1, min_extent=0.15)
#: Each digit's mean feature: digit d at (10 d, 0); the shared precision is the identity.
GAUSSIANS = calibration.ClassGaussians(np.stack([np.arange(10) * 10.0, np.zeros(10)], axis=1).astype(np.float32),
                                       np.eye(2, dtype=np.float32))


def logits_for(digit: int, top: float, second: float | None = None, runner_up: int | None = None) -> np.ndarray:
    """Logits with ``top`` for ``digit``, ``second`` for ``runner_up`` (default: the next digit) and 0 elsewhere."""
    z = np.zeros(10)
    z[digit] = top
    if second is not None:
        z[(digit + 1) % 10 if runner_up is None else runner_up] = second
    return z


class StandIn:
    """A calibrated predictor whose outputs are looked up: pixel (0, 0) of an image is its row in the tables."""

    def __init__(self, logits, features, temperature: float = 2.0, rule=RULE, gaussians=GAUSSIANS, guarded=None):
        self.logits, self.features = np.asarray(logits, np.float64), np.asarray(features, np.float32)
        self.temperature, self.rule, self.gaussians = temperature, rule, gaussians
        self.guarded = guarded  # the rows a script guard declines (None: no guard)

    def guard_declines(self, x: np.ndarray, logits: np.ndarray, reasons: np.ndarray) -> np.ndarray | None:
        rows = np.asarray(x)[:, 0, 0].astype(int)
        np.testing.assert_array_equal(logits, self.logits[rows])  # the guard is told what the model read
        if self.guarded is None:
            return None
        sure = np.isin(rows, list(self.guarded)).astype(float)  # the any-script model: sure these are Kannada 9s
        return guard.guarded(guard.Foreign(sure, np.full(len(rows), "kannada"), np.full(len(rows), 9)), logits, reasons, 0.99)

    def logits_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(x)[:, 0, 0].astype(int)
        return self.logits[rows], self.features[rows]


def images(rows) -> np.ndarray:
    """MNIST-format images that stand for ``rows`` of a ``StandIn``'s tables."""
    x = np.zeros((len(rows), 28, 28), np.float32)
    x[:, 0, 0] = rows
    return x


# rows 0-3: real digits 1, 2, 3, 4 -- read right, confident, close to their means
# row 4: a digit 5 read as 6 (confident: not declined); row 5: a digit torn between 7 and 8 (unsure)
# rows 6-9: non-digits -- far from every mean; flat logits; a confident, digit-like one; a torn one
LOGITS = [logits_for(d, 20.0) for d in (1, 2, 3, 4)] + [
    logits_for(6, 20.0), logits_for(7, 10.0, 9.9),
    logits_for(0, 20.0), logits_for(3, 1.0), logits_for(5, 20.0), logits_for(2, 10.0, 9.95)]
FEATURES = [(10.0, 0.5), (20.0, 0.0), (30.0, -1.0), (40.0, 1.0), (60.0, 0.0), (70.0, 1.0),
            (0.0, 5.0), (30.0, 0.0), (50.0, 1.0), (20.0, 0.0)]
LABELS = np.array([1, 2, 3, 4, 5, 7])
KINDS = np.array(["dots", "letters", "letters", "dots"])


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn(LOGITS, FEATURES)


def report(stand_in, **kwargs) -> declining.DeclineReport:
    digits = {"pen": (images(range(6)), LABELS), "mnist": (images(range(4)), LABELS[:4])}
    return declining.decline_report(stand_in, digits, images(range(6, 10)), KINDS, **kwargs)


def test_each_set_of_real_digits_is_read_calibrated_and_declined(stand_in):
    pen = report(stand_in).digits["pen"]
    assert (pen.images, pen.accuracy) == (6, pytest.approx(5 / 6))
    assert pen.declined == pytest.approx(1 / 6)  # the torn 7/8; the confident mistake is not declined
    assert pen.read_right == pytest.approx(4 / 6)  # a decline counts as wrong, like a mistake
    logits = np.asarray(LOGITS[:6])
    assert pen.ece_before == pytest.approx(calibration.ece(LABELS, calibration.softmax(logits)))
    assert pen.ece_after == pytest.approx(calibration.ece(LABELS, calibration.softmax(logits, 2.0)))
    assert pen.ece_after != pytest.approx(pen.ece_before)
    mnist = report(stand_in).digits["mnist"]
    assert (mnist.images, mnist.accuracy, mnist.declined, mnist.read_right) == (4, 1.0, 0.0, 1.0)


def test_non_digits_are_declined_by_the_stored_rule_by_kind_and_reason(stand_in):
    r = report(stand_in)  # row 6 far (distance 25), row 7 flat, row 8 digit-like, row 9 torn
    assert (r.nondigits, r.nondigits_declined, r.too_small_counted) == (4, 0.75, False)
    assert r.by_kind == {"dots": 1.0, "letters": 0.5}
    assert r.by_reason == {"too small": 0.0, "not a digit": 0.5, "unsure": 0.25, "another script": 0.0}


def test_a_script_guard_declines_on_top_of_the_rule():
    r = report(StandIn(LOGITS, FEATURES, guarded={4, 5, 8}))  # the confident mistake, the torn 7/8, the digit-like mark
    assert r.digits["pen"].declined == pytest.approx(2 / 6) and r.digits["pen"].read_right == pytest.approx(4 / 6)
    assert r.nondigits_declined == 1.0
    assert r.by_reason == {"too small": 0.0, "not a digit": 0.5, "unsure": 0.25, "another script": 0.25}


def test_the_guard_overrules_unsure_but_never_not_a_digit():
    r = report(StandIn(LOGITS, FEATURES, guarded={6, 8, 9}))  # the far mark, the digit-like one, the torn 2/3
    assert r.by_reason == {"too small": 0.0, "not a digit": 0.5, "unsure": 0.0, "another script": 0.5}
    r = report(StandIn(LOGITS, FEATURES, guarded={9}), nondigit_extents=np.array([0.5, 0.5, 0.5, 0.05]))
    assert r.by_reason["too small"] == 0.25 and r.by_reason["another script"] == 0.0  # small is never overruled


def test_too_small_counts_only_when_the_extents_are_given(stand_in):
    r = report(stand_in, nondigit_extents=np.array([0.5, 0.5, 0.1, 0.05]))  # the digit-like one and the torn one: small
    assert r.too_small_counted and r.nondigits_declined == 1.0 and r.by_kind == {"dots": 1.0, "letters": 1.0}
    assert r.by_reason == {"too small": 0.5, "not a digit": 0.5, "unsure": 0.0,  # the rule's order: size first
                           "another script": 0.0}


def test_the_combined_score_is_above_zero_exactly_where_the_rule_says_not_a_digit():
    rng = np.random.default_rng(0)
    scores = calibration.Scores(rng.uniform(0, 10, 500), rng.uniform(-10, 0, 500), rng.uniform(-10, 0, 500),
                                rng.uniform(0, 1, 500))
    combined = declining.combined_score(scores, RULE)
    far = (scores.distance > RULE.max_distance) | (scores.uniformity > RULE.max_uniformity)
    np.testing.assert_array_equal(combined > 0, far)
    one = calibration.Scores(np.array([8.0]), np.array([-6.0]), np.array([0.0]), np.array([1.0]))
    assert declining.combined_score(one, RULE) == pytest.approx(np.log(2))  # twice the distance, uniformity 1 below


def test_scores_are_compared_with_the_named_set_of_real_digits(stand_in):
    r = report(stand_in)
    assert r.against == "pen" and set(r.scores) == set(declining.SCORES)
    digit_scores = calibration.Scores.of(np.asarray(LOGITS[:6]), np.asarray(FEATURES[:6]), GAUSSIANS, 2.0)
    other = calibration.Scores.of(np.asarray(LOGITS[6:]), np.asarray(FEATURES[6:]), GAUSSIANS, 2.0)
    for name, s in r.scores.items():
        ours, theirs = (declining.not_a_digit_scores(sc, RULE)[name] for sc in (digit_scores, other))
        assert s.roc_auc == pytest.approx(calibration.roc_auc(ours, theirs))
        assert s.declined_at == {share: calibration.declined_at(ours, theirs, share) for share in declining.SHARES}
    # distances: digits 0.25, 0, 1, 1, 0, 1; non-digits 25 (above all 6), 0 (2 ties), 1 (3 above, 3 ties), 0 (2 ties)
    assert r.scores["distance"].roc_auc == pytest.approx((6 + 1 + 4.5 + 1) / 24)
    against_mnist = report(stand_in, against="mnist")
    assert against_mnist.against == "mnist" and against_mnist.digits == r.digits


def test_to_dict_is_json_ready(stand_in):
    d = report(stand_in, nondigit_extents=np.full(4, 0.5)).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["rule"] == RULE.to_dict() and d["temperature"] == 2.0
    assert d["digits"]["pen"]["read_right"] == pytest.approx(4 / 6)
    assert d["nondigits"]["by_kind"] == {"dots": 1.0, "letters": 0.5} and d["nondigits"]["too_small_counted"]
    assert d["scores"]["against"] == "pen" and list(d["scores"]["energy"]["declined_at"]) == ["1%", "2%", "5%"]


def test_score_values_are_those_behind_the_report(stand_in):
    values = declining.score_values(stand_in, {"digits": images(range(6)), "others": images(range(6, 10))})
    r = report(stand_in)
    for name in declining.SCORES:
        assert r.scores[name].roc_auc == pytest.approx(calibration.roc_auc(values["digits"][name], values["others"][name]))
    assert values["others"]["combined"][1] > 0 > values["digits"]["combined"][0]  # row 7 flat, row 0 a clear digit
    with pytest.raises(ValueError, match="calibrate"):
        declining.score_values(StandIn(LOGITS, FEATURES, rule=None), {"digits": images(range(6))})


def test_what_cannot_be_measured_is_refused(stand_in):
    with pytest.raises(ValueError, match="calibrate"):
        report(StandIn(LOGITS, FEATURES, rule=None))
    with pytest.raises(ValueError, match="'pen'"):
        declining.decline_report(stand_in, {"mnist": (images(range(4)), LABELS[:4])}, images([6]), ["dots"])
    with pytest.raises(ValueError, match="as many kinds"):
        declining.decline_report(stand_in, {"pen": (images(range(4)), LABELS[:4])}, images([6, 7]), ["dots"])
    with pytest.raises(ValueError, match="extents"):
        report(stand_in, nondigit_extents=np.ones(3))
    with pytest.raises(ValueError, match="at least one"):
        declining.decline_report(stand_in, {"pen": (images(range(4)), LABELS[:4])}, images([]), [])


class Seen:
    """What ``seen_by`` reads of a ``Recognition``."""

    def __init__(self, image, extent, reason=None):
        self.mnist_image, self.extent, self.reason = image, extent, reason


def test_seen_by_keeps_what_recognise_saw_and_refuses_a_page_without_ink():
    class Recogniser:
        def recognise(self, page):
            ink = page > 0.5
            if not ink.any():
                return Seen(np.zeros((28, 28), np.float32), float("nan"), "blank")
            return Seen(np.full((28, 28), page.max(), np.float32), float(ink.mean()))

    pages = [np.eye(4), np.ones((4, 4)) * 0.9]
    x, extents = declining.seen_by(Recogniser(), iter(pages))  # a generator is fine
    assert x.shape == (2, 28, 28) and x[1, 0, 0] == pytest.approx(0.9)
    np.testing.assert_allclose(extents, [0.25, 1.0])
    assert declining.seen_by(Recogniser(), [])[0].shape == (0, 28, 28)
    with pytest.raises(ValueError, match="page 1 has no ink \\(blank\\)"):
        declining.seen_by(Recogniser(), [np.eye(4), np.zeros((4, 4))])


def test_on_the_shipped_model_the_report_declines_what_recognise_declines(shipped_model, mnist):
    from digitlab import predict

    predictor = predict.Predictor(shipped_model)
    marks = nondigits.build_nondigit_set(2, seed=config.SEED, part="test")
    x, extents = declining.seen_by(predictor, (m.ink() for m in marks))
    (x_test, y_test) = mnist[1]
    r = declining.decline_report(predictor, {"pen": (x_test[:300], y_test[:300])}, x, marks.kinds,
                                 nondigit_extents=extents)
    recognised = np.array([predictor.recognise(m.ink()).declined for m in marks])
    assert r.nondigits_declined == pytest.approx(recognised.mean()) and r.too_small_counted
    assert r.digits["pen"].ece_after < r.digits["pen"].ece_before  # the card's temperature helps
