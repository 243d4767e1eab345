"""A one-script pad that declines another script's digit: the any-script model as a script guard.

A pad set to Western digits used to read a Kannada or Tibetan digit as some Western digit a third
of the time (benchmarks/RESULTS.md, "The Western model on other scripts' digits"): its own decline
rule only knows "not a digit" and "unsure". The any-script model knows every script's glyphs, so it
can tell that a drawing belongs to another script. ``recognise`` of a calibrated one-script
``Predictor`` then declines with the reason ``"another script"`` when the any-script model puts at
least ``threshold`` of its probability on the other scripts' classes *and* its best reading there
names a value other than the pad's reading; a value both agree on (an Arabic 1 on a Western pad) is
no mistake and stays read. It also overrules the pad's "unsure between 4 and 9" when its value is
neither (a Kannada 7 that the Western model cannot place): the user learns which script to choose
instead of being offered two wrong digits. It never overrules "not a digit" or "too small": a
scribble is not called another script's digit.

The threshold is chosen on validation data (``choose_threshold``): the lowest, from 0.5 up, at which
the guard turns away at most ``MAX_LOST`` of the model's own validation digits that it reads right
(and ``MAX_PEN`` of the pen validation writers' digits, for a Western model). The card's
``calibration.script_guard`` records the any-script model (file name and SHA-256) and the threshold.

numpy only: the predictors bring the models.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

import numpy as np

from digitlab import calibration, data, scripts
from digitlab.config import NUM_CLASSES

__all__ = ["MAX_LOST", "MAX_PEN", "FLOOR", "REASON", "GUARDED", "Foreign", "foreign_readings", "foreign_of_logits",
           "declines", "offered", "guarded", "choose_threshold", "guard_section", "fit"]

#: Most of the model's own validation digits read right that the guard may turn away, as a share.
MAX_LOST = 0.0005
#: Most of the pen validation writers' digits (read right) that the guard may turn away, as a share.
MAX_PEN = 0.005
#: The lowest threshold: below it the drawing is more likely the pad's own script than any other.
FLOOR = 0.5
#: The reason ``recognise`` gives when the guard declines.
REASON = "another script"
#: The decline rule's verdicts (``calibration.DeclineRule.reasons``) the guard may overrule: a reading, "unsure".
GUARDED = ("", "unsure")


@dataclass(frozen=True)
class Foreign:
    """How the any-script model reads images outside one script: the share of its belief there and its best reading there."""

    p_other: np.ndarray
    """(N,) probability (calibrated by the any-script model's temperature) of every other script's classes together."""
    script: np.ndarray
    """(N,) names of the other script of its most probable class outside the pad's script."""
    digit: np.ndarray
    """(N,) that class's value."""


def foreign_readings(probabilities: np.ndarray, script: str) -> Foreign:
    """Return ``Foreign`` of the any-script model's (N, 60) class ``probabilities`` for a pad set to ``script``."""
    own = scripts.SCRIPTS.index(scripts.check_name(script))
    p = np.asarray(probabilities, dtype=np.float64).reshape(len(probabilities), len(scripts.SCRIPTS), NUM_CLASSES)
    others = p.copy()
    others[:, own] = -1.0
    best = others.reshape(len(p), -1).argmax(axis=1)
    return Foreign(1.0 - p[:, own].sum(axis=1), np.asarray(scripts.SCRIPTS)[best // NUM_CLASSES], best % NUM_CLASSES)


def foreign_of_logits(logits: np.ndarray, temperature: float, script: str) -> Foreign:
    """Return ``foreign_readings`` of the any-script model's (N, 60) ``logits`` at its calibrated ``temperature``."""
    return foreign_readings(calibration.softmax(logits, temperature), script)


def declines(foreign: Foreign, read: np.ndarray, threshold: float) -> np.ndarray:
    """Return which images the guard turns away: ``threshold`` or more on other scripts, read there as another value than ``read``.

    ``read``: (N,) the pad's readings, or (N, k) the values it offers (``offered``): the guard's
    value must be none of them.
    """
    read = np.asarray(read).reshape(len(foreign.p_other), -1)
    return (foreign.p_other >= threshold) & (foreign.digit[:, None] != read).all(axis=1)


def offered(logits: np.ndarray, reasons: np.ndarray) -> np.ndarray:
    """Return (N, 2) the values the pad offers: its reading twice, or the two digits it is "unsure" between.

    ``logits`` are the one-script model's (N, 10), ``reasons`` its decline rule's (N,) verdicts.
    """
    top2 = np.argsort(np.asarray(logits), axis=1)[:, :-3:-1]
    return np.where((np.asarray(reasons) == "unsure")[:, None], top2, top2[:, :1])


def guarded(foreign: Foreign, logits: np.ndarray, reasons: np.ndarray, threshold: float) -> np.ndarray:
    """Return which images the guard declines as another script, given the pad model's ``logits`` and rule ``reasons``.

    Only images the rule reads or is unsure about (``GUARDED``) are the guard's to decline; see ``declines``.
    """
    return np.isin(reasons, GUARDED) & declines(foreign, offered(logits, reasons), threshold)


def choose_threshold(at_risk: Mapping[str, np.ndarray], images: Mapping[str, int], budgets: Mapping[str, float]) -> float:
    """Return the lowest threshold (at least ``FLOOR``) at which each set loses at most its budget.

    ``at_risk[name]``: the ``p_other`` of that set's digits the model reads right and the guard
    would read as another value (only these can be lost); ``images[name]`` the set's size;
    ``budgets[name]`` the share of it that may be lost. A digit is lost when ``p_other >= threshold``.
    """
    threshold = FLOOR
    for name, p in at_risk.items():
        allowed = int(budgets[name] * images[name])
        ranked = np.sort(np.asarray(p, dtype=np.float64))[::-1]
        if len(ranked) > allowed:
            threshold = max(threshold, float(np.nextafter(ranked[allowed], np.inf)))
    return min(threshold, 1.0)


def guard_section(sets: Mapping[str, tuple[np.ndarray, np.ndarray, Foreign]], *, script: str, model: str,
                  sha256: str, budgets: Mapping[str, float]) -> dict:
    """Return the card's ``script_guard`` section, the threshold chosen on the validation ``sets``.

    ``sets[name]`` holds (labels, the pad model's readings, the any-script model's ``Foreign``) of
    one validation set; ``model`` and ``sha256`` name the any-script model file.
    """
    at_risk = {name: foreign.p_other[(read == labels) & (foreign.digit != read)]
               for name, (labels, read, foreign) in sets.items()}
    threshold = choose_threshold(at_risk, {k: len(v[0]) for k, v in sets.items()}, budgets)
    declined = {name: declines(foreign, read, threshold) for name, (_, read, foreign) in sets.items()}
    validation = {name: {"images": int(len(labels)), "declined": float(np.mean(declined[name])),
                         "right_lost": float(np.mean((read == labels) & declined[name]))}
                  for name, (labels, read, _) in sets.items()}
    return {"model": model, "sha256": sha256, "script": scripts.check_name(script), "threshold": threshold,
            "budgets": dict(budgets), "validation": validation,
            "rule": f"declined as '{REASON}' when the any-script model puts >= threshold on other scripts' classes "
                    "and reads there a value other than the pad's reading"}


class AnyScriptReader(Protocol):
    """What ``fit`` needs of the any-script ``Predictor``: its file, its temperature and its (N, 60) logits."""

    model_path: Path
    temperature: float

    def class_logits(self, x: np.ndarray) -> np.ndarray: ...


def fit(predictor: calibration.RawPredictor, reader: AnyScriptReader, sets: calibration.CalibrationData) -> dict:
    """Return the ``script_guard`` section of ``predictor``'s card (a one-script model), fitted on ``sets``' validation digits.

    ``reader`` is the calibrated any-script ``Predictor`` the guard will use; the budgets are
    ``MAX_LOST`` of the own validation digits and ``MAX_PEN`` of the pen validation digits.
    """
    named = {sets.own: sets.validation}
    if sets.pen_validation is not None:
        named["pen"] = sets.pen_validation
    readings = {}
    for name, (x, labels) in named.items():
        foreign = foreign_of_logits(reader.class_logits(x), reader.temperature, sets.script)
        readings[name] = (np.asarray(labels), predictor.logits_and_features(x)[0].argmax(axis=1), foreign)
    budgets = {name: MAX_LOST if name == sets.own else MAX_PEN for name in named}
    return guard_section(readings, script=sets.script, model=Path(reader.model_path).name,
                         sha256=data.sha256(reader.model_path), budgets=budgets)
