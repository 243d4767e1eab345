"""How well a calibrated model knows when it doesn't know: issue 11's measures, for a notebook and the benchmark.

``decline_report`` takes a ``Predictor`` (anything with its calibration: ``temperature``,
``rule``, ``gaussians`` and ``logits_and_features``), sets of real digits and a set of
non-digits, all in MNIST format, and returns a ``DeclineReport``:

- for each set of real digits: accuracy, the 15-bin ECE of the top class before (T = 1) and
  after the card's temperature, the share the card's rule declines (with a one-script model's
  script guard, ``digitlab.guard``, when its card has one), and the share read right (right and
  not declined: a decline counts as wrong);
- for the non-digits: the share the rule declines, overall, by kind and by reason;
- for four not-a-digit scores (the energy of the logits, a baseline; the uniformity of their
  softmax and the Mahalanobis distance of the features, which the rule reads; and
  ``combined_score``, those two as the rule joins them): the ROC AUC of telling the
  non-digits from one set of real digits (by default ``"pen"``, the held-out pen writers'), and
  the share of non-digits declined where a threshold on the score declines 1%, 2% or 5% of
  those digits (``SHARES``).

What is counted. ``Predictor.recognise`` first declines a page without ink (blank, only noise,
only a shadow: ``to_mnist`` refuses it), then ink spanning less than the rule's ``min_extent``
of the page ("too small"), then by the scores ("not a digit", "unsure"). An MNIST-format image
has lost both the page and the ink's extent, so the real digits' declines here are those by the
scores alone: for MNIST's test digits and for pen digits drawn by ``pen.prepare`` (their ink
spans about two thirds of the canvas) that is all ``recognise`` would decline. For the
non-digits, pass their extents (``seen_by`` gives images and extents from raw pages, as
``recognise`` sees them) and "too small" counts too; without them it does not. Pages without
ink are not measured here (the benchmark runs ``recognise`` on ``robustness.non_digit_pages``).

It never imports TensorFlow: the predictor brings the model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Protocol

import numpy as np

from digitlab import calibration, guard
from digitlab.config import IMAGE_SIZE

if TYPE_CHECKING:  # TensorFlow is loaded by predict, and only a type is wanted here
    from digitlab.predict import Predictor

__all__ = ["SHARES", "SCORES", "REASONS", "CalibratedPredictor", "DigitSetReport", "ScoreReport", "DeclineReport",
           "combined_score", "not_a_digit_scores", "score_values", "seen_by", "decline_report"]

#: Shares of real digits declined at which the non-digits declined are reported (issue 11: 1%, 2%, 5%).
SHARES = (0.01, 0.02, 0.05)
#: The not-a-digit scores compared, each higher for less digit-like images.
SCORES = ("energy", "uniformity", "distance", "combined")
#: Why the rule declines an image with ink (``DeclineRule.reasons``), in its order, then the script guard's reason.
REASONS = ("too small", "not a digit", "unsure", guard.REASON)


class CalibratedPredictor(Protocol):
    """What ``decline_report`` needs of a ``Predictor``: its calibration and raw outputs."""

    temperature: float
    rule: calibration.DeclineRule | None
    gaussians: calibration.ClassGaussians | None

    def logits_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def guard_declines(self, x: np.ndarray, logits: np.ndarray, reasons: np.ndarray) -> np.ndarray | None: ...


@dataclass(frozen=True)
class DigitSetReport:
    """How a model reads one set of real digits (shares in [0, 1])."""

    images: int
    accuracy: float
    ece_before: float
    """15-bin ECE of the top class at T = 1: the model's own probabilities."""
    ece_after: float
    """The same at the card's temperature: the probabilities the ``Predictor`` gives."""
    declined: float
    """Share the rule declines by its scores ("not a digit" or "unsure"; see the module docstring) or its script guard declines."""
    read_right: float
    """Share read right and not declined."""


@dataclass(frozen=True)
class ScoreReport:
    """How one not-a-digit score tells non-digits from real digits."""

    roc_auc: float
    declined_at: dict[float, float]
    """Share of real digits declined (``SHARES``) -> share of non-digits declined at that threshold."""


@dataclass(frozen=True, eq=False)
class DeclineReport:
    """Calibration and declining of one model on real digits and non-digits (see the module docstring)."""

    temperature: float
    rule: calibration.DeclineRule
    digits: dict[str, DigitSetReport]
    nondigits: int
    nondigits_declined: float
    by_kind: dict[str, float]
    """Share of each kind of non-digit declined, kinds in order of first appearance."""
    by_reason: dict[str, float]
    """Share of all non-digits declined for each of ``REASONS``."""
    too_small_counted: bool
    """Whether the non-digits' extents were given, so "too small" counts."""
    against: str
    """The set of real digits the scores are compared with."""
    scores: dict[str, ScoreReport]

    def to_dict(self) -> dict:
        """Return a JSON-ready summary; shares of ``declined_at`` are keyed "1%", "2%", "5%"."""
        return {
            "temperature": self.temperature, "rule": self.rule.to_dict(),
            "digits": {name: asdict(d) for name, d in self.digits.items()},
            "nondigits": {"images": self.nondigits, "declined": self.nondigits_declined, "by_kind": self.by_kind,
                          "by_reason": self.by_reason, "too_small_counted": self.too_small_counted},
            "scores": {"against": self.against, **{
                name: {"roc_auc": s.roc_auc, "declined_at": {f"{k:.0%}": v for k, v in s.declined_at.items()}}
                for name, s in self.scores.items()}},
        }


def combined_score(scores: calibration.Scores, rule: calibration.DeclineRule) -> np.ndarray:
    """Return (N,) the larger of the distance and the uniformity, each over its threshold in ``rule``, in logs.

    ``log(distance / max_distance)`` and ``uniformity - max_uniformity``: the uniformity is
    already a log (a mean log-probability), so its difference from the threshold is the log of a
    ratio too. The score is above 0 exactly where the rule says "not a digit".
    """
    distance = np.log(np.maximum(np.asarray(scores.distance, np.float64), 1e-300) / rule.max_distance)
    return np.maximum(distance, np.asarray(scores.uniformity, np.float64) - rule.max_uniformity)


def not_a_digit_scores(scores: calibration.Scores, rule: calibration.DeclineRule) -> dict[str, np.ndarray]:
    """Return each of ``SCORES`` of these images: energy, uniformity, distance and ``combined_score``."""
    return {"energy": np.asarray(scores.energy), "uniformity": np.asarray(scores.uniformity),
            "distance": np.asarray(scores.distance), "combined": combined_score(scores, rule)}


def score_values(predictor: CalibratedPredictor, images: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Return each named set's ``SCORES``, image by image, under the predictor's stored calibration: ``{set: {score: (N,)}}``.

    The values behind ``decline_report``'s ROC AUCs, for seeing how each score spreads real
    digits and non-digits (``plots.plot_score_spread``). ValueError without a decline rule.
    """
    rule, gaussians = _rule_and_gaussians(predictor)
    return {name: not_a_digit_scores(calibration.Scores.of(*predictor.logits_and_features(x), gaussians,
                                                           predictor.temperature), rule)
            for name, x in images.items()}


def seen_by(predictor: Predictor, pages: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """Return what ``predictor.recognise`` sees of each raw page: (N, 28, 28) MNIST-format images, (N,) ink extents.

    The extent (the ink's longer side over the page's) is what the rule's "too small" reads and
    MNIST format loses: pass both to ``decline_report``. Pages are taken one at a time, so a
    generator (``(m.ink() for m in marks)``) keeps memory low. ValueError for a page without ink.
    """
    images, extents = [], []
    for i, page in enumerate(pages):
        seen = predictor.recognise(page)
        if np.isnan(seen.extent):
            raise ValueError(f"page {i} has no ink ({seen.reason}): measure such pages apart")
        images.append(seen.mnist_image)
        extents.append(seen.extent)
    if not images:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float32), np.zeros(0)
    return np.stack(images), np.asarray(extents, np.float64)


def decline_report(
    predictor: CalibratedPredictor,
    digits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    nondigit_images: np.ndarray,
    nondigit_kinds: np.ndarray,
    *,
    nondigit_extents: np.ndarray | None = None,
    against: str = "pen",
) -> DeclineReport:
    """Return how ``predictor`` reads each set of real ``digits`` and declines the non-digits, with its stored calibration.

    ``digits`` maps a name ("mnist", "pen") to MNIST-format images and labels; the non-digits
    are MNIST-format images with their kinds and, optionally, ink extents (``seen_by``). The
    scores are compared against ``digits[against]``. ValueError if the predictor has no decline
    rule (its card has no calibration) or the inputs do not fit together.
    """
    (rule, gaussians), temperature = _rule_and_gaussians(predictor), predictor.temperature
    kinds = np.asarray(nondigit_kinds).astype(str)
    if against not in digits:
        raise ValueError(f"the scores are compared against real digits named {against!r}; got {sorted(digits)}")
    sizes = {len(nondigit_images), len(kinds), *(() if nondigit_extents is None else (len(nondigit_extents),))}
    if sizes != {len(kinds)} or not len(kinds):
        raise ValueError("need at least one non-digit, and as many kinds (and extents, if given) as images")
    raw = {name: predictor.logits_and_features(x) for name, (x, _) in digits.items()}
    scores = {name: calibration.Scores.of(*out, gaussians, temperature) for name, out in raw.items()}
    sets = {name: _digit_set(raw[name][0], labels, _reasons(predictor, x, raw[name][0], scores[name], None) != "",
                             temperature)
            for name, (x, labels) in digits.items()}
    other_raw = predictor.logits_and_features(nondigit_images)
    other = calibration.Scores.of(*other_raw, gaussians, temperature)
    reasons = _reasons(predictor, nondigit_images, other_raw[0], other, nondigit_extents)
    declined = reasons != ""
    reference, theirs = not_a_digit_scores(scores[against], rule), not_a_digit_scores(other, rule)
    return DeclineReport(
        temperature=float(temperature), rule=rule, digits=sets, nondigits=len(kinds),
        nondigits_declined=float(declined.mean()),
        by_kind={k: float(declined[kinds == k].mean()) for k in dict.fromkeys(kinds)},
        by_reason={r: float(np.mean(reasons == r)) for r in REASONS}, too_small_counted=nondigit_extents is not None,
        against=against,
        scores={name: ScoreReport(calibration.roc_auc(reference[name], theirs[name]),
                                  {s: calibration.declined_at(reference[name], theirs[name], s) for s in SHARES})
                for name in SCORES},
    )


def _reasons(predictor: CalibratedPredictor, x: np.ndarray, logits: np.ndarray, scores: calibration.Scores,
             extents: np.ndarray | None) -> np.ndarray:
    """Return (N,) why ``recognise`` declines each of the images ``x`` ("" where it reads it): the rule's reason, or the guard's.

    ``logits`` and ``scores`` are the predictor's for ``x``; ``extents`` the ink's (None: not known).
    """
    reasons = scores.reasons(predictor.rule, extents).astype(object)
    guarded = predictor.guard_declines(x, logits, reasons)
    if guarded is not None:
        reasons[np.asarray(guarded, bool)] = guard.REASON
    return reasons


def _rule_and_gaussians(predictor: CalibratedPredictor) -> tuple[calibration.DeclineRule, calibration.ClassGaussians]:
    """Return the predictor's decline rule and Gaussians; ValueError if its card has no calibration."""
    if predictor.rule is None or predictor.gaussians is None:
        raise ValueError("the predictor has no decline rule: its model card has no calibration "
                         "(run `python -m digitlab calibrate`)")
    return predictor.rule, predictor.gaussians


def _digit_set(logits: np.ndarray, labels: np.ndarray, declined: np.ndarray, temperature: float) -> DigitSetReport:
    """Return the ``DigitSetReport`` of real digits with these raw ``logits``, ``labels`` and declines."""
    labels = np.asarray(labels)
    right = logits.argmax(axis=1) == labels
    return DigitSetReport(
        images=len(labels), accuracy=float(right.mean()),
        ece_before=calibration.ece(labels, calibration.softmax(logits)),
        ece_after=calibration.ece(labels, calibration.softmax(logits, temperature)),
        declined=float(np.mean(declined)), read_right=float(np.mean(right & ~declined)),
    )
