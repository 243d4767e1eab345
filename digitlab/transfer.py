"""From MNIST to another script: how the MNIST model reads other digits, and what fine-tuning it saves.

``reading_table`` says how one model reads several scripts' test digits: how many it gets
right and how sure it is of the ones it gets wrong (the MNIST model on Kannada digits is mostly
wrong, and often sure). ``efficiency_curve`` trains, for each number of training images per
digit, one model fine-tuned from a trained one (the shipped MNIST model) and one from scratch,
and measures both on the script's held-out test split: notebook 05's data-efficiency curves
(``efficiency_table`` lists them, ``plots.plot_efficiency`` draws one). ``accuracies`` and
``accuracy_table`` put each script's model's test accuracy beside published results, and
``script_predictors`` loads each script's shipped model or trains a small stand-in, so that a
notebook runs before those models exist. ``any_script_reading`` and ``any_script_table`` say how
the any-script model reads each script (the value, and the script it names), and
``cross_script_mistakes`` finds the digits it reads as a wrong value of another script: the
colliding glyphs.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlab import analysis, config, scripts, train
from digitlab.backend import quiet_logger
from digitlab.files import check_model_path
from digitlab.predict import Predictor

__all__ = [
    "SIZES", "SURE", "PUBLISHED", "EfficiencyPoint", "EfficiencyCurve", "efficiency_curve", "efficiency_table",
    "reading_table", "accuracies", "accuracy_table", "script_predictors", "AnyScriptReading", "any_script_reading",
    "any_script_table", "CrossScriptMistake", "cross_script_mistakes",
]

#: Training images per digit of the data-efficiency curves; None stands for every training image.
SIZES: tuple[int | None, ...] = (10, 30, 100, 300, 1000, None)
#: A probability from which an answer counts as "sure" in ``reading_table``.
SURE = 0.9
#: Published test accuracies, by script: (accuracy, who measured it on what). Their test sets
#: are the official ones, not this workbook's writer-disjoint splits of the offline copies.
PUBLISHED: dict[str, tuple[float, str]] = {
    "kannada": (0.968, "Prabhu (2019), Kannada-MNIST's baseline CNN on its official test set"),
}


@dataclass(frozen=True)
class EfficiencyPoint:
    """Test accuracies of two models trained on the same images: fine-tuned from a trained model, and from scratch."""

    per_class: int | None
    """Training images per digit asked for (None: every training image)."""
    images_per_class: float
    """Training images per digit used, on average: ``per_class``, or the whole training part's mean."""
    fine_tuned: float
    scratch: float

    @property
    def gain(self) -> float:
        """Return how much more accurate the fine-tuned model is (a fraction: 0.05 is 5 points)."""
        return self.fine_tuned - self.scratch

    def label(self) -> str:
        """Return the size as a table or an axis shows it: ``100``, or ``all (720)`` for every image."""
        return str(self.per_class) if self.per_class is not None else f"all ({self.images_per_class:.0f})"


@dataclass(frozen=True)
class EfficiencyCurve:
    """``efficiency_curve``'s result: one point per size trained, and why the other sizes were not."""

    script: str
    init: str
    """The file name of the model the fine-tuned ones started from."""
    epochs: int
    seed: int
    test_images: int
    points: tuple[EfficiencyPoint, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    """``(size, why)`` for each size not trained: the script has too few training images of a digit."""


def efficiency_curve(
    script: str, sizes: Sequence[int | None] = SIZES, *, init: str | os.PathLike, epochs: int,
    seed: int = config.SEED, data_path: str | os.PathLike | None = None, verbose: int = 0,
) -> EfficiencyCurve:
    """Return the test accuracy of a model fine-tuned from ``init`` and of one trained from scratch, at each size.

    For each of ``sizes`` (training images per digit; None: all), ``train.train`` runs twice on
    the same seeded images (``scripts.take_per_class``: the smaller sets are nested in the larger)
    for ``epochs`` epochs: from ``init`` at the fine-tuning rate, and from a new network at the
    from-scratch rate. Both are measured on the script's held-out test split. A size larger
    than the script's rarest digit has in its training part is skipped, and the curve says so.
    """
    name = scripts.check_name(script)
    check_model_path(init)
    sizes = tuple(sizes)
    if not sizes or any(n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1) for n in sizes):
        raise ValueError(f"sizes must be whole numbers of images per digit, 1 or more, or None for all; got {sizes}")
    split = scripts.model_data(name, data_path, seed=seed)  # train.train's own split, for the counts per digit
    counts = np.bincount(split.train[1], minlength=config.NUM_CLASSES)
    rarest = int(np.argmin(counts))
    points, skipped = [], []
    for n in sizes:
        if n is not None and n > counts[rarest]:
            skipped.append((n, f"the training part has only {counts[rarest]} images of digit {rarest}"))
            continue
        with _one_model_after_another():
            fine_tuned, scratch = (
                train.train(script=name, data_path=split.source, init=start, per_class=n, epochs=epochs, seed=seed,
                            verbose=verbose).card["test_accuracy"]
                for start in (init, None))
        points.append(EfficiencyPoint(n, float(n if n is not None else counts.mean()), fine_tuned, scratch))
    return EfficiencyCurve(name, Path(init).name, epochs, seed, len(split.test[1]), tuple(points), tuple(skipped))


def efficiency_table(curves: Sequence[EfficiencyCurve]) -> analysis.Table:
    """Return a Table with a row per script and size: both test accuracies and the fine-tuned model's gain in points.

    A size a curve skipped gets a row saying why, so the table shows every size asked for.
    """
    rows = []
    for curve in curves:
        name = scripts.get(curve.script).display_name
        rows += [(name, p.label(), f"{p.fine_tuned:.1%}", f"{p.scratch:.1%}", f"{100 * p.gain:+.1f}")
                 for p in curve.points]
        rows += [(name, str(n), "-", "-", f"not trained: {why}") for n, why in curve.skipped]
    return analysis.Table(("script", "images per digit", "fine-tuned", "from scratch", "gain (points)"), tuple(rows))


def reading_table(
    predictor, sets: Mapping[str, tuple[np.ndarray, np.ndarray]], *, sure: float = SURE,
) -> analysis.Table:
    """Return a Table of how ``predictor`` reads each named set of ``(images, labels)``: right, and how sure when wrong.

    ``predictor`` is a ``predict.Predictor`` (its ``predict_batch`` is called on each set's
    MNIST-format images). Per set: the number of images, the share read right, the median
    probability of the wrong answers, and the share of all images read wrong with at least
    ``sure`` probability: a model that is wrong and says so is harmless, one that is sure is not.
    """
    rows = []
    for name, (images, labels) in sets.items():
        probabilities = predictor.predict_batch(images)
        confidence, wrong = probabilities.max(axis=1), probabilities.argmax(axis=1) != np.asarray(labels)
        median = f"{np.median(confidence[wrong]):.0%}" if wrong.any() else "-"
        sure_and_wrong = (wrong & (confidence >= sure)).mean()
        rows.append((name, len(labels), f"{1 - wrong.mean():.1%}", median, f"{sure_and_wrong:.1%}"))
    return analysis.Table(("digits", "images", "read right", "median confidence when wrong",
                           f"wrong and >= {sure:.0%} sure"), tuple(rows))


def accuracies(readers: Mapping[str, object], sets: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Return, per name of ``sets``, the share of its ``(images, labels)`` that ``readers[name]`` reads right.

    ``readers`` are ``predict.Predictor``s (their ``predict_batch`` is called), e.g. each
    script's model, for ``accuracy_table``.
    """
    return {name: float(np.mean(readers[name].predict_batch(x).argmax(axis=1) == np.asarray(y)))
            for name, (x, y) in sets.items()}


def accuracy_table(
    accuracies: Mapping[str, float], *, pad_like: Mapping[str, float] | None = None,
    notes: Mapping[str, str] | None = None,
) -> analysis.Table:
    """Return a Table of each script's test accuracy (keys: ``scripts.SCRIPTS`` names) beside ``PUBLISHED`` results.

    ``pad_like`` gives, per script, the accuracy on its test digits redrawn as the pad draws
    (``style.as_pad_drawing``); ``notes`` says which model was measured (shipped, a stand-in).
    A missing entry shows as "-", as does a published result ``PUBLISHED`` does not have.
    """
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    rows = []
    for name, accuracy in accuracies.items():
        s = scripts.get(name)
        published, source = PUBLISHED.get(s.name, (None, ""))
        rows.append((s.display_name, s.dataset, (notes or {}).get(name, "-"), percent(accuracy),
                     percent((pad_like or {}).get(name)), percent(published), source))
    return analysis.Table(("script", "data set", "model", "test accuracy", "drawn as on the pad", "published",
                           "published by"), tuple(rows))


def script_predictors(
    names: Sequence[str] = scripts.SCRIPTS[1:], *, init: str | os.PathLike = config.SHIPPED_MODEL,
    per_class: int = 100, epochs: int = 3, folder: str | os.PathLike | None = None,
) -> dict[str, Predictor]:
    """Return a ``Predictor`` of each script (or ``scripts.ANY``): its shipped model (``config.script_model``), or a small stand-in.

    A stand-in is fine-tuned from ``init`` on ``per_class`` images of each digit for ``epochs``
    epochs and saved with its card in ``folder`` (None: a new temporary folder), with a printed
    note, so that notebooks run, with weaker models, before the shipped ones are trained. Which
    is which shows in each predictor's ``model_path``.
    """
    paths = {name: config.script_model(scripts.check_name(name, any_ok=True)) for name in names}
    missing = [name for name, path in paths.items() if not path.exists()]
    if missing:
        folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="digitlab-stand-ins-"))
        print(f"no shipped model for {', '.join(missing)}: training small stand-ins "
              f"(fine-tuned from {Path(init).name} on {per_class} images per digit, {epochs} epoch{'s' * (epochs != 1)})")
    with _one_model_after_another():
        for name in missing:
            paths[name] = train.train(script=name, init=init, per_class=per_class, epochs=epochs,
                                      out=folder / f"{name}_cnn.keras", verbose=0).path
        return {name: Predictor(path, script=name) for name, path in paths.items()}


@dataclass(frozen=True, eq=False)
class AnyScriptReading:
    """How the any-script model read one script's images: per image, the value and the script it named."""

    script: str
    labels: np.ndarray
    values: np.ndarray
    """(N,) the value read (a Persian 2 read as an Arabic 2 reads 2)."""
    named: np.ndarray
    """(N,) the name of the script each image was read as."""
    told: np.ndarray
    """(N,) the value read when told the script (``read_batch(within=script)``): no other script's glyph can take it."""

    @property
    def value_right(self) -> float:
        """Return the share of values read right (nan for no images)."""
        return float(np.mean(self.values == self.labels)) if len(self.labels) else float("nan")

    @property
    def value_right_told(self) -> float:
        """Return the share of values read right when told the script (nan for no images): ``value_right`` less the collisions."""
        return float(np.mean(self.told == self.labels)) if len(self.labels) else float("nan")

    @property
    def script_right(self) -> float:
        """Return the share of images whose own script was named (nan for no images)."""
        return float(np.mean(self.named == self.script)) if len(self.labels) else float("nan")

    def elsewhere(self) -> np.ndarray:
        """Return (N,) bool: read as a wrong value of another script (a Western 0 read as an Arabic 5)."""
        return (self.values != self.labels) & (self.named != self.script)

    def confusions(self) -> dict[str, int]:
        """Return, per other script, how many images were read as a wrong value of it."""
        names, counts = np.unique(self.named[self.elsewhere()], return_counts=True)
        return {str(k): int(c) for k, c in zip(names, counts)}


def any_script_reading(reader: Predictor, script: str, x: np.ndarray, y: np.ndarray) -> AnyScriptReading:
    """Return how ``reader`` (a ``Predictor(script="any")``) reads script ``script``'s MNIST-format digits ``(x, y)``."""
    if not len(y):
        return AnyScriptReading(scripts.check_name(script), np.asarray(y), np.array([], int), np.array([], str),
                                np.array([], int))
    logits = reader.class_logits(x)  # one pass of the model serves both readings
    probabilities, read = reader.read_logits(logits)
    told = reader.read_logits(logits, within=script)[0]
    return AnyScriptReading(scripts.check_name(script), np.asarray(y), probabilities.argmax(axis=1),
                            np.array(scripts.SCRIPTS)[read], told.argmax(axis=1))


def any_script_table(readings: Sequence[AnyScriptReading]) -> analysis.Table:
    """Return a Table with a row per script: images, value read right (and when told the script), its script named, wrong values read in other scripts."""
    rows = [(scripts.get(r.script).display_name, len(r.labels), f"{r.value_right:.1%}", f"{r.value_right_told:.1%}",
             f"{r.script_right:.1%}", ", ".join(f"{scripts.get(k).display_name} {n}" for k, n in r.confusions().items()) or "-")
            for r in readings]
    return analysis.Table(("script", "images", "value read right", "told the script", "script named right",
                           "read as a wrong value of another script"), tuple(rows))


@dataclass(frozen=True)
class CrossScriptMistake:
    """One digit read as a wrong value of another script: what it was, and what it was read as."""

    image: np.ndarray
    script: str
    digit: int
    read_script: str
    read_digit: int

    def caption(self) -> str:
        """Return e.g. ``arabic 5 -> western 0`` (names, so no font needs the glyphs)."""
        return f"{self.script} {self.digit} -> {self.read_script} {self.read_digit}"


def cross_script_mistakes(
    readings: Sequence[AnyScriptReading], images: Mapping[str, np.ndarray], *, per_script: int = 4,
) -> list[CrossScriptMistake]:
    """Return up to ``per_script`` of each script's digits read as a wrong value of another script, in order.

    ``images`` maps each reading's script to the images it was made from.
    """
    found = []
    for r in readings:
        for i in np.flatnonzero(r.elsewhere())[:per_script]:
            found.append(CrossScriptMistake(images[r.script][i], r.script, int(r.labels[i]), str(r.named[i]),
                                            int(r.values[i])))
    return found


def _one_model_after_another() -> contextlib.AbstractContextManager[None]:
    """Hold back TensorFlow's warning about functions traced again and again while models are built in a loop.

    Every new model traces its own training functions from Keras's same code, which TensorFlow
    takes for a function retraced in a loop; here that is the intent, not a slip.
    """
    return quiet_logger("tensorflow")
