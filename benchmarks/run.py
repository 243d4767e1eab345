"""Benchmark digitlab against the reference "Simple MNIST convnet": accuracy, speed and robustness.

    python benchmarks/run.py            # full run, ~40 min on an idle 2-core CPU: benchmarks/RESULTS.md + results.json
    python benchmarks/run.py --quick    # smoke run in about 3 minutes: benchmarks/out/ (git-ignored)

Everything runs in one process on the same data and machine: the reference recipe (15 epochs,
and again for the wall time digitlab's recipe takes), digitlab's first recipe once and its
default recipe over several seeds (the time-to-accuracy pair: same data, same seed), then
latency (``predict`` and ``recognise``), batch throughput (``predict_batch`` against
``model.predict``), size, robustness, real pen input, and calibration and declining
(``digitlab.declining``: non-digits, pages without a digit) of the shipped model. Results are written at the end, each file atomically, so
an interrupted run leaves the previous results untouched. RESULTS.md also carries the section of
benchmarks/other_scripts.py (issue 12) when its scripts_results.json lies in the same folder. See
benchmarks/README.md for what each number means.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import digitlab
from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras: TensorFlow's native start-up chatter is silenced only there

import keras  # noqa: E402
import numpy as np  # noqa: E402
import PIL  # noqa: E402
import scipy  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from digitlab import (  # noqa: E402
    config, data, declining, model as model_lib, nondigits, pen, predict, preprocess, robustness, scripts, train,
)
from digitlab.files import atomic_path, read_json, write_json_atomic  # noqa: E402

__all__ = [
    "Plan", "FULL", "QUICK", "FIRST_RECIPE", "PEN_WIDTHS", "TIME_TO_ACCURACY", "OTHER_SCRIPTS", "MIN_GAIN", "Target", "keywords",
    "latencies_ms", "latency_ms", "reference_way", "keras_predict", "throughputs", "robustness_of", "training_numbers",
    "timed_training", "same_wall_epochs", "mean_std", "pen_test_digits", "pen_report", "pen_numbers", "pen_accuracy",
    "card_numbers", "other_script_digits", "batch_numbers", "decline_numbers", "pages_declined", "measure_shipped", "run_reference", "run_digitlab", "run_first_recipe", "time_to_accuracy", "evaluate_targets",
    "markdown_table", "render_markdown", "SCRIPTS_JSON", "scripts_markdown", "read_scripts_results", "targets_met",
    "machine_info", "git_commit", "command_line", "build_parser", "plan_for", "out_dir_for", "run", "write_markdown",
    "write_results", "run_or_report", "main",
]

HERE = Path(__file__).resolve().parent
#: Where ``--quick`` writes unless told otherwise (git-ignored), so it never replaces RESULTS.md.
QUICK_DIR = HERE / "out"
MB = 1_000_000
#: digitlab's first recipe ("today's recipe" of issue 10), trained once beside the default for the time-to-accuracy rows.
FIRST_RECIPE = {"epochs": 30, "block3_stride": 1, "fused_norm": False, "schedule": "epoch", "precise_bn": False}
#: Test accuracy the default recipe must reach in at most half the first recipe's wall time.
TIME_TO_ACCURACY = 0.996
#: Minutes the default recipe may train for: notebook 02's full run trains it once, and should take under 10 minutes.
NOTEBOOK_MINUTES = 10.0
#: Pen widths the held-out pen writers are drawn with; the middle one is the pad's default.
PEN_WIDTHS = (10.0, pen.PEN_WIDTH, 28.0)
#: Batch size of the ``model.predict`` that ``predict_batch`` is compared with.
KERAS_BATCH = 256
#: Scripts whose digits join the non-digits (those unlike any Western digit), when their files are found here.
OTHER_SCRIPTS = tuple(nondigits.LOOKALIKE_DIGITS)
#: The results of benchmarks/other_scripts.py (issue 12); RESULTS.md adds their section when this file is beside results.json.
SCRIPTS_JSON = "scripts_results.json"
#: Points a fine-tuned script model must gain over a from-scratch one at the target size (issue 12): the
#: target other_scripts.py checks and RESULTS.md's data-efficiency table states.
MIN_GAIN = 5.0
#: Points of robustness the recipe must hold over each way of using the reference recipe (issue 4).
ROBUST_GAIN = 10.0


@dataclass(frozen=True)
class Plan:
    """How much work one run does.

    ``digitlab_epochs=None`` keeps each digitlab recipe's own epochs (the default's, the first
    recipe's 30); ``pen_digits=None`` scores every digit of the held-out pen writers.
    ``per_kind`` is the drawings of each kind of the robustness set and the pages of each kind
    without a digit; ``nondigits`` the hand-drawn non-digits of each kind (and other scripts' digits).
    """

    fraction: float
    reference_epochs: int
    digitlab_epochs: int | None
    seeds: int
    per_kind: int
    nondigits: int
    latency_calls: int
    warmup: int
    throughput_repeats: int
    pen_digits: int | None
    keras_verbose: int  # 2: one line per epoch, readable in a nohup log


FULL = Plan(fraction=1.0, reference_epochs=15, digitlab_epochs=None, seeds=3, per_kind=200, nondigits=200,
            latency_calls=300, warmup=20, throughput_repeats=5, pen_digits=None, keras_verbose=2)
QUICK = Plan(fraction=0.08, reference_epochs=1, digitlab_epochs=2, seeds=1, per_kind=8, nondigits=8,
             latency_calls=40, warmup=5, throughput_repeats=1, pen_digits=50, keras_verbose=0)


def keywords(kwargs: Mapping[str, object]) -> str:
    """Return keyword arguments as they are written in a call: ``epochs=30, schedule='epoch'``."""
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def log(message: str) -> None:
    """Print one timestamped progress line at once (the full run is meant for ``nohup``)."""
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def bar(iterable, desc: str):
    """Return ``iterable`` wrapped in a tqdm bar shown on terminals only (no log spam under nohup)."""
    return tqdm(iterable, desc=desc, leave=False, disable=None)


# --- measurements -----------------------------------------------------------------------------


def latencies_ms(fns: Mapping[str, Callable[[np.ndarray], object]], images: np.ndarray, *, calls: int,
                 warmup: int) -> dict[str, dict]:
    """Return median and 95th-percentile milliseconds of each ``fn(image)`` over ``calls`` images, after warm-up.

    The functions take turns on each image (A, B, A, B, ...), so a change of load hits all alike.
    """
    for i in range(warmup):
        for fn in fns.values():
            fn(images[i % len(images)])
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in bar(range(calls), "latency"):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(images[i % len(images)])
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: {"median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95)), "calls": calls}
            for name, t in times.items()}


def latency_ms(fn: Callable[[np.ndarray], object], images: np.ndarray, *, calls: int, warmup: int) -> dict:
    """Return median and 95th-percentile milliseconds of ``fn(image)`` over ``calls`` images, after warm-up."""
    return latencies_ms({"fn": fn}, images, calls=calls, warmup=warmup)["fn"]


def reference_way(model) -> Callable[[np.ndarray], np.ndarray]:
    """Return image -> probabilities the way MNIST demos do it: whole canvas resized, ``model.predict``."""
    return lambda image: model.predict(robustness.resize_canvas(image[None])[..., None], verbose=0)[0]


def keras_predict(model, *, batch_size: int = KERAS_BATCH) -> Callable[[np.ndarray], np.ndarray]:
    """Return MNIST-format images -> probabilities the way Keras users batch-predict: ``model.predict(x, batch_size=...)``."""
    return lambda x: model.predict(preprocess.to_model_input(x), batch_size=batch_size, verbose=0)


def throughputs(
    fns: Mapping[str, Callable[[np.ndarray], np.ndarray]], x: np.ndarray, *, repeats: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Return (images/s of each ``fn(x)``, median of ``repeats`` timed runs; each one's output).

    Each function first runs once untimed on all of ``x`` (a warm-up that traces every batch
    shape), then the timed runs take turns (A, B, A, B, ...) so a change of load hits all alike.
    """
    outputs = {name: np.asarray(fn(x)) for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in bar(range(repeats), "throughput"):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - start)
    return {name: len(x) / float(np.median(t)) for name, t in times.items()}, outputs


def robustness_of(model, drawings: robustness.DrawingSet, prepared: np.ndarray) -> dict[str, float]:
    """Return accuracy by kind of a Keras model on the drawings made 28x28 (``prepared``: by ``to_mnist``, or resized)."""
    probs = model_lib.predict_proba(model, preprocess.to_model_input(prepared))
    return robustness.accuracy_by_kind(drawings.labels, probs, drawings.kinds)


def training_numbers(result: train.TrainResult) -> dict:
    """Return test accuracy, epochs, wall time (all, and per epoch) and training images/s from a finished training."""
    card = result.card
    n, epochs, wall = card["training_data"]["train_images"], card["epochs"], card["wall_time_s"]
    return {"epochs": epochs, "test_accuracy": card["test_accuracy"], "wall_s": wall, "epoch_s": wall / epochs,
            "train_images": n, "images_per_s": n * epochs / max(wall, 1e-9)}


def timed_training(**kwargs) -> tuple[train.TrainResult, dict]:
    """Return ``train.train(**kwargs)`` and its ``training_numbers`` plus ``cpu_s``, the process's CPU seconds for the call.

    CPU time (all threads) barely moves with the load of a shared machine, so it backs up the
    wall-time ratios; it also counts loading the data and scoring the test set.
    """
    cpu = time.process_time()
    result = train.train(**kwargs)
    return result, {**training_numbers(result), "cpu_s": time.process_time() - cpu}


def same_wall_epochs(target_wall_s: float, wall_s: float, epochs: int) -> int:
    """Return how many epochs a run that took ``wall_s`` for ``epochs`` needs to last ``target_wall_s``."""
    return max(1, round(target_wall_s / (wall_s / epochs)))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Return the mean and the sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def pen_test_digits(path: Path | None, limit: int | None) -> pen.PenDigits:
    """Return the held-out test writers' pen digits (``pen.split_by_writer``, package seed), or ``limit`` spread evenly."""
    digits = pen.split_by_writer(pen.load_pen_digits(path), seed=config.SEED)[2]
    if limit is None or limit >= len(digits):
        return digits
    return digits[np.linspace(0, len(digits) - 1, limit).round().astype(int)]


def pen_report(predictor: pen.BatchPredictor, digits: pen.PenDigits) -> pen.PenReport:
    """Return ``pen.evaluate``'s report at ``PEN_WIDTHS`` x both polarities (details at the pad's pen, dark on light)."""
    return pen.evaluate(predictor, digits, pen_widths=PEN_WIDTHS, polarities=pen.POLARITIES)


def pen_numbers(report: pen.PenReport) -> dict:
    """Return a ``pen_report``'s summary for results.json, with the weakest writer at the pad's pen."""
    worst = min(report.per_writer, key=report.per_writer.get)
    return {**report.to_dict(), "per_writer_min": {"writer": worst, "accuracy": report.per_writer[worst]}}


def pen_accuracy(numbers: dict, width: float, polarity: str) -> float:
    """Return the accuracy at ``width`` and ``polarity`` from ``pen_numbers``' (or results.json's) pen summary."""
    return next(a["accuracy"] for a in numbers["accuracy"] if a["pen_width"] == width and a["polarity"] == polarity)


def card_numbers(card: dict) -> dict:
    """Return what a model card says of the model's training data (file, sha256, images, pen digits) and test accuracy."""
    trained = card.get("training_data", {})
    pen_info = trained.get("pen_digits") or {}
    return {"source_file": trained.get("source_file"), "sha256": trained.get("sha256"),
            "train_images": trained.get("train_images"), "pen_images": pen_info.get("images", 0),
            "test_accuracy": card.get("test_accuracy"), "date": card.get("date")}


def other_script_digits(names: Sequence[str] = OTHER_SCRIPTS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return the test digits of each of ``names`` whose file is found here (``scripts.find_digits``, never downloaded)."""
    def left_out(name: str, exc: Exception) -> None:
        log(f"{name} digits left out of the non-digits: {str(exc).splitlines()[0]}")

    return {name: splits[1] for name, splits in scripts.local_digits(names, on_missing=left_out).items()}


# --- stages -----------------------------------------------------------------------------------


def batch_numbers(predictor: predict.Predictor, x_test: np.ndarray, y_test: np.ndarray, *, repeats: int) -> dict:
    """Return test accuracy and images/s of ``predict_batch``, images/s of ``model.predict``, and how often they agree."""
    rates, probs = throughputs({"predict_batch": predictor.predict_batch, "model.predict": keras_predict(predictor.model)},
                               x_test, repeats=repeats)
    labels = {name: p.argmax(axis=1) for name, p in probs.items()}
    log(f"shipped model: predict_batch {rates['predict_batch']:,.0f} images/s, "
        f"model.predict {rates['model.predict']:,.0f} images/s")
    return {"test_accuracy": float(np.mean(labels["predict_batch"] == y_test)),
            "throughput_images_per_s": rates["predict_batch"], "model_predict_images_per_s": rates["model.predict"],
            "batch_agreement": float(np.mean(labels["predict_batch"] == labels["model.predict"]))}


def decline_numbers(predictor: predict.Predictor, mnist_test: tuple[np.ndarray, np.ndarray], pen_test: pen.PenReport,
                    marks: nondigits.NonDigitSet) -> dict | None:
    """Return ``declining.decline_report``'s numbers, or None for a model whose card has no calibration.

    The real digits are MNIST's test set and the held-out pen writers' at the pad's pen (dark on
    light, as ``pen_test`` holds them); the non-digits are ``marks`` as ``recognise`` sees them,
    their ink extents counted.
    """
    if predictor.rule is None:
        return None
    images, extents = declining.seen_by(predictor, (m.ink() for m in marks))
    return declining.decline_report(predictor, {"mnist": mnist_test, "pen": (pen_test.images, pen_test.labels)},
                                    images, marks.kinds, nondigit_extents=extents).to_dict()


def pages_declined(predictor: predict.Predictor, pages: tuple[np.ndarray, np.ndarray]) -> dict:
    """Return how many of the ``pages`` without a digit (``robustness.non_digit_pages``: images, kinds) ``recognise`` declines."""
    images, kinds = pages
    declined = np.array([predictor.recognise(page).declined for page in images])
    return {"images": len(declined), "declined": float(declined.mean()),
            "by_kind": {k: float(declined[kinds == k].mean()) for k in robustness.NON_DIGITS}}


def measure_shipped(model_path: Path, x_test, y_test, drawings, prepared, pen_digits: pen.PenDigits,
                    marks: nondigits.NonDigitSet, pages: tuple[np.ndarray, np.ndarray], plan: Plan) -> dict:
    """Return the shipped model's card, size, test accuracy, batch speed, latency, robustness, pen input and declining.

    The timings come first (``predict`` and ``recognise`` taking turns on each drawing); the
    pen digits are drawn only after them.
    """
    predictor = predict.Predictor(model_path)
    batch = batch_numbers(predictor, x_test, y_test, repeats=plan.throughput_repeats)
    latency = latencies_ms({"predict": predictor.predict, "recognise": predictor.recognise}, drawings.images,
                           calls=plan.latency_calls, warmup=plan.warmup)
    log(f"shipped model: {len(pen_digits):,} pen digits of the held-out writers at pens "
        f"{', '.join(f'{w:g}' for w in PEN_WIDTHS)}, both polarities")
    pen_test = pen_report(predictor, pen_digits)
    log(f"shipped model: declining, {len(marks):,} non-digits and {len(pages[1]):,} pages without a digit")
    return {
        "path": os.path.relpath(model_path, config.REPO_ROOT), "size_mb": model_path.stat().st_size / MB,
        "card": card_numbers(predictor.card), **batch, "latency": latency["predict"],
        "recognise_latency": latency["recognise"], "robustness": robustness_of(predictor.model, drawings, prepared),
        "pen": pen_numbers(pen_test), "declining": decline_numbers(predictor, (x_test, y_test), pen_test, marks),
        "pages": pages_declined(predictor, pages),
    }


def run_trainings(source: Path, plan: Plan, drawings, prepared, resized) -> dict:
    """Return the results' training sections: the reference recipe, the first and default recipes, the same-wall run."""
    log(f"reference recipe, epochs={plan.reference_epochs}")
    reference = run_reference(source, plan.reference_epochs, plan, drawings, prepared, resized, time_it=True)
    first = run_first_recipe(source, plan)  # just before the default's run of the same seed, for the time pair
    digitlab_recipe = run_digitlab(source, plan, drawings, prepared)
    epochs = same_wall_epochs(digitlab_recipe["wall_s_mean"], reference["wall_s"], reference["epochs"])
    log(f"reference recipe for digitlab's wall time ({digitlab_recipe['wall_s_mean']:.0f} s): epochs={epochs}")
    same_wall = run_reference(source, epochs, plan, drawings, prepared, resized, time_it=False)
    return {"reference": reference, "reference_same_wall": same_wall, "digitlab": digitlab_recipe,
            "first_recipe": first, "time_to_accuracy": time_to_accuracy(first, digitlab_recipe["runs"])}


TRAINING_SECTIONS = ("reference", "reference_same_wall", "digitlab", "first_recipe", "time_to_accuracy")


def read_trainings(path: Path, quick: bool, data_sha256: str) -> dict:
    """Return ``run_trainings``' sections from an earlier results.json, and the run that trained them (``trainings_from``).

    The earlier run must be of the same kind (full or quick) on the same data file, else ValueError
    naming the file: it is checked before anything is measured.
    """
    if not Path(path).is_file():
        raise ValueError(f"--reuse-training {path}: no such file")
    try:
        prior = read_json(path)
    except ValueError as exc:  # json.JSONDecodeError is one
        raise ValueError(f"--reuse-training {path}: not a readable results.json ({exc})") from None
    missing = [k for k in (*TRAINING_SECTIONS, "quick", "data", "date", "git", "command") if k not in prior]
    if missing:
        raise ValueError(f"--reuse-training {path}: not a results.json of benchmarks/run.py (no {', '.join(missing)})")
    if prior["quick"] != quick or prior["data"]["sha256"] != data_sha256:
        raise ValueError(f"--reuse-training {path}: a {'quick' if prior['quick'] else 'full'} run on "
                         f"{prior['data']['file']} (sha256 {prior['data']['sha256'][:12]}...); this run must be of "
                         "the same kind on the same file")
    origin = prior.get("trainings_from") or {"date": prior["date"], "git": prior["git"], "command": prior["command"]}
    return {**{k: prior[k] for k in TRAINING_SECTIONS}, "trainings_from": origin}


def time_reference_again(trainings: dict, drawings, plan: Plan) -> dict:
    """Return ``trainings`` with the reference way's latency timed now, beside the shipped model's.

    A new network of the reference architecture is timed: a model's speed does not depend on its weights.
    """
    log(f"reusing the trainings of the run of {trainings['trainings_from']['date']}; timing the reference way again")
    latency = reference_latency(model_lib.build_reference_cnn(), drawings, plan)
    return {**trainings, "reference": {**trainings["reference"], "latency": latency}}


def run_reference(source: Path, epochs: int, plan: Plan, drawings, prepared, resized, *, time_it: bool) -> dict:
    """Return the reference recipe's training numbers, robustness both ways and (if ``time_it``) latency."""
    result, out = timed_training(recipe="reference", epochs=epochs, batch_size=128, data_path=source,
                                 fraction=plan.fraction, verbose=plan.keras_verbose)
    out["robustness"] = {"resize": robustness_of(result.model, drawings, resized),
                         "to_mnist": robustness_of(result.model, drawings, prepared)}
    if time_it:
        out["latency"] = reference_latency(result.model, drawings, plan)
    return out


def reference_latency(model, drawings, plan: Plan) -> dict:
    """Return ``latency_ms`` of the reference way (``reference_way``) with ``model`` on the drawings, as ``plan`` says."""
    return latency_ms(reference_way(model), drawings.images, calls=plan.latency_calls, warmup=plan.warmup)


def _digitlab_training(source: Path, plan: Plan, seed: int, **recipe) -> tuple[train.TrainResult, dict]:
    """Return one training of digitlab's recipe (``recipe``: ``train.train`` overrides) and its numbers, logged."""
    epochs = {} if plan.digitlab_epochs is None else {"epochs": plan.digitlab_epochs}
    result, numbers = timed_training(**{**recipe, **epochs}, data_path=source, fraction=plan.fraction, seed=seed,
                                     verbose=plan.keras_verbose)
    log(f"  {numbers['epochs']} epochs, test accuracy {numbers['test_accuracy']:.4f}, {numbers['wall_s']:.0f} s "
        f"({numbers['epoch_s']:.1f} s/epoch)")
    return result, {"seed": seed, **numbers}


def run_digitlab(source: Path, plan: Plan, drawings, prepared) -> dict:
    """Return digitlab's default recipe over ``plan.seeds`` seeds: each run, and mean/std across them."""
    runs = []
    for i in range(plan.seeds):
        log(f"digitlab recipe, seed {config.SEED + i} ({i + 1}/{plan.seeds})")
        result, numbers = _digitlab_training(source, plan, config.SEED + i)
        runs.append({**numbers, "robustness": robustness_of(result.model, drawings, prepared)})
    acc_mean, acc_std = mean_std([r["test_accuracy"] for r in runs])
    means = {f"{k}_mean": mean_std([r[k] for r in runs])[0] for k in ("wall_s", "epoch_s", "images_per_s", "cpu_s")}
    return {
        "runs": runs, "epochs": runs[0]["epochs"], "test_accuracy_mean": acc_mean, "test_accuracy_std": acc_std,
        "test_accuracy_min": min(r["test_accuracy"] for r in runs), **means,
        "robustness_mean": {k: mean_std([r["robustness"][k] for r in runs])[0] for k in runs[0]["robustness"]},
    }


def run_first_recipe(source: Path, plan: Plan) -> dict:
    """Return one training of digitlab's first recipe (``FIRST_RECIPE``, seed ``config.SEED``): its numbers and settings."""
    log(f"digitlab's first recipe ({keywords(FIRST_RECIPE)}), seed {config.SEED}")
    return {**_digitlab_training(source, plan, config.SEED, **FIRST_RECIPE)[1], "recipe": FIRST_RECIPE}


def time_to_accuracy(first: dict, default_runs: Sequence[dict], goal: float = TIME_TO_ACCURACY) -> dict:
    """Return the time-to-accuracy pair: the first recipe and the default run of the same seed, and their time ratios."""
    default = next(r for r in default_runs if r["seed"] == first["seed"])
    pair = {name: {k: n[k] for k in ("epochs", "test_accuracy", "wall_s", "epoch_s", "images_per_s", "cpu_s")}
            for name, n in (("first", first), ("default", default))}
    return {"seed": first["seed"], "goal": goal, **pair, "wall_ratio": default["wall_s"] / first["wall_s"],
            "cpu_ratio": default["cpu_s"] / first["cpu_s"]}


# --- targets and reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One benchmark target: the measured ``value`` must be ``comparison`` (">=" or "<=") ``goal``, both in ``unit``."""

    name: str
    goal: float
    value: float
    comparison: str
    unit: str

    def __post_init__(self) -> None:
        if self.comparison not in (">=", "<="):
            raise ValueError(f"{self.name}: comparison must be '>=' or '<=', got {self.comparison!r}")

    @property
    def passed(self) -> bool:
        """Return whether the value meets the goal (meeting it exactly, to rounding, counts)."""
        if math.isclose(self.value, self.goal, rel_tol=1e-9, abs_tol=1e-12):
            return True
        return self.value >= self.goal if self.comparison == ">=" else self.value <= self.goal

    def report(self) -> dict:
        """Return the JSON-ready row of results.json: target, goal as text, value, unit, passed."""
        sign = "+" if self.unit == " points" else ""  # differences in points always show their sign
        return {"target": self.name, "goal": f"{self.comparison} {self.goal:{sign},g}{self.unit}",
                "value": float(self.value), "unit": self.unit, "passed": self.passed}


#: The unit of differences in percentage points (shown with their sign).
POINTS = " points"


def evaluate_targets(r: dict) -> list[dict]:
    """Return each target of issues 4, 10 and 11 with its goal, the measured value and whether it passed (``Target.report``)."""
    groups = (_shipped_targets, _recipe_targets, _speed_targets, _robustness_targets, _pen_targets, _time_targets,
              _declining_targets)
    return [t.report() for group in groups for t in group(r)]


def _shipped_targets(r: dict) -> list[Target]:
    """Return the shipped model's targets: test accuracy (issue 10: trained on full MNIST) and size."""
    shipped = r["shipped"]
    return [Target("shipped model test accuracy", 99.7, shipped["test_accuracy"] * 100, ">=", "%"),
            Target("shipped model size on disk", 5, shipped["size_mb"], "<=", " MB")]


def _recipe_targets(r: dict) -> list[Target]:
    """Return the recipe's accuracy target against the reference trained for the same wall time."""
    gain = r["digitlab"]["test_accuracy_mean"] - r["reference_same_wall"]["test_accuracy"]
    return [Target("recipe vs reference trained for the same wall time", 0.5, gain * 100, ">=", POINTS)]


def _speed_targets(r: dict) -> list[Target]:
    """Return the speed targets: single-drawing latency and speed-up, batch throughput, predict_batch vs model.predict."""
    shipped = r["shipped"]
    speedup = r["reference"]["latency"]["median_ms"] / shipped["latency"]["median_ms"]
    batch = shipped["throughput_images_per_s"]
    return [
        Target("single-drawing latency, median", 3, shipped["latency"]["median_ms"], "<=", " ms"),
        Target("single-drawing speed-up over the reference way", 15, speedup, ">=", "x"),
        Target("batch throughput (predict_batch)", 3000, batch, ">=", " images/s"),
        Target(f"batch: predict_batch vs model.predict(batch_size={KERAS_BATCH})", 1,
               batch / shipped["model_predict_images_per_s"], ">=", "x"),
    ]


def _robustness_targets(r: dict) -> list[Target]:
    """Return the robustness targets: the recipe against both ways of using the reference, and against clean accuracy."""
    shipped, ref, dlab = r["shipped"], r["reference"], r["digitlab"]
    robust = dlab["robustness_mean"]["all"]
    return [
        Target("robustness: recipe vs reference, whole canvas resized", ROBUST_GAIN,
               (robust - ref["robustness"]["resize"]["all"]) * 100, ">=", POINTS),
        Target("robustness: recipe vs reference, also through to_mnist", ROBUST_GAIN,
               (robust - ref["robustness"]["to_mnist"]["all"]) * 100, ">=", POINTS),
        Target("robustness: shipped model vs its clean accuracy", -3,
               (shipped["robustness"]["all"] - shipped["test_accuracy"]) * 100, ">=", POINTS),
        Target("robustness: recipe vs its clean accuracy", -3, (robust - dlab["test_accuracy_mean"]) * 100, ">=", POINTS),
    ]


def _pen_targets(r: dict) -> list[Target]:
    """Return the pen targets (issue 10), per polarity: the pad's pen >= 98.5%, every other width within 1 point of it."""
    numbers, default = r["shipped"]["pen"], pen.PEN_WIDTH
    targets = []
    for polarity in pen.POLARITIES:
        at_default = pen_accuracy(numbers, default, polarity) * 100
        targets.append(Target(f"pen, held-out writers: pen {default:g}, {polarity}", 98.5, at_default, ">=", "%"))
        targets += [Target(f"pen, held-out writers: pen {w:g} vs {default:g}, {polarity}", -1,
                           pen_accuracy(numbers, w, polarity) * 100 - at_default, ">=", POINTS)
                    for w in PEN_WIDTHS if w != default]
    return targets


def _time_targets(r: dict) -> list[Target]:
    """Return the time-to-accuracy targets (issue 10): the default recipe's accuracy, its wall time vs the first's, and
    its wall time in minutes, which is most of notebook 02's full run."""
    pair = r["time_to_accuracy"]
    return [
        Target(f"time to {pair['goal']:.1%}: default recipe test accuracy", pair["goal"] * 100,
               pair["default"]["test_accuracy"] * 100, ">=", "%"),
        Target(f"time to {pair['goal']:.1%}: default recipe wall time vs the first recipe's", 0.5,
               pair["wall_ratio"], "<=", "x"),
        Target("notebook 02's training (the default recipe) wall time", NOTEBOOK_MINUTES,
               pair["default"]["wall_s"] / 60, "<=", " min"),
    ]


def _declining_targets(r: dict) -> list[Target]:
    """Return issue 11's targets: calibration, declining at the shipped rule, photos, pages without a digit, recognise's cost.

    A model without calibration has no rule to measure: those rows are nan, and fail.
    """
    shipped = r["shipped"]

    def percent(*keys: str) -> float:
        value = shipped["declining"]
        for key in keys:
            value = value[key] if value is not None else None
        return float("nan") if value is None else value * 100

    ratio = shipped["recognise_latency"]["median_ms"] / shipped["latency"]["median_ms"]
    return [
        Target("ECE after calibration, MNIST test", 1.5, percent("digits", "mnist", "ece_after"), "<=", "%"),
        Target("ECE after calibration, pen, held-out writers", 3, percent("digits", "pen", "ece_after"), "<=", "%"),
        Target("non-digits declined (shipped rule)", 90, percent("nondigits", "declined"), ">=", "%"),
        Target("real pen digits declined, held-out writers (shipped rule)", 2, percent("digits", "pen", "declined"), "<=", "%"),
        Target("MNIST test read right (a decline counts as wrong)", 99.5, percent("digits", "mnist", "read_right"), ">=",
               "%"),
        Target("photo accuracy (robustness set, snapshot kind)", 98, shipped["robustness"]["snapshot"] * 100, ">=", "%"),
        Target("pages without a digit declined (blank, noise, shadow)", 100, shipped["pages"]["declined"] * 100, ">=", "%"),
        Target("recognise vs predict latency, median", 1.5, ratio, "<=", "x"),
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Return a GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(r: dict, readme: str = "README.md", scripts_results: dict | None = None) -> str:
    """Return RESULTS.md: machine, command, targets, then accuracy, speed and robustness tables.

    ``readme`` is the link to benchmarks/README.md relative to where RESULTS.md is written;
    ``scripts_results``, the results of benchmarks/other_scripts.py (``SCRIPTS_JSON``), adds their
    section "Other scripts (issue 12)" at the end.
    """
    m, d = r["machine"], r["data"]
    head = [
        "# Benchmark results" + (" (quick run: reduced, not comparable)" if r["quick"] else ""),
        "",
        "> digitlab's recipe and shipped model against the reference \"Simple MNIST convnet\" recipe, "
        f"one run, same data, same machine. How to read and rerun it: [benchmarks/README.md]({readme}).",
        "",
        f"- Command: `{r['command']}` (git {r['git']}, {r['date']}, {r['total_wall_s'] / 60:.0f} min)",
        *([f"- Trainings (recipes' accuracy, time to 99.6%, same wall time) reused from the run of "
           f"{r['trainings_from']['date']} (git {r['trainings_from']['git']}): `{r['trainings_from']['command']}`; "
           "the shipped model and every latency, the reference way's included, measured in this run"]
          if "trainings_from" in r else []),
        _machine_line(m),
        f"- Software: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Data: `{d['file']}` (sha256 {d['sha256'][:12]}...), {d['train_images']:,} training images "
        f"({r['plan']['fraction']:.0%} used, 10% of them held out for validation), {d['test_images']:,} test images",
    ]
    sections = [_targets_md(r), _accuracy_md(r), _time_md(r), _shipped_md(r), _speed_md(r), _robustness_md(r), _pen_md(r),
                _declining_md(r)]
    if scripts_results is not None:
        sections.append(scripts_markdown(scripts_results))
    return "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"


def _machine_line(m: dict) -> str:
    """Return the "- Machine: ..." line of a report from ``machine_info``'s numbers."""
    return (f"- Machine: {m['cpu']}, {m['cores']} cores usable, {m['memory_gb']:.0f} GB RAM, "
            f"load average {m['load_at_start']:.1f} at start (the CPU is shared: timings are noisy)")


def _targets_md(r: dict) -> str:
    return "## Targets\n\n" + _targets_table(r["targets"])


def _targets_table(targets: Sequence[dict]) -> str:
    """Return the table of ``Target.report`` rows: target, goal, measured value ("not measured" for nan), PASS or FAIL."""
    rows = [(t["target"], t["goal"], f"{t['value']:,.2f}{t['unit']}" if math.isfinite(t["value"]) else "not measured",
             "PASS" if t["passed"] else "**FAIL**") for t in targets]
    return markdown_table(["target", "goal", "measured", "result"], rows)


def _accuracy_md(r: dict) -> str:
    ref, same, dlab, shipped = r["reference"], r["reference_same_wall"], r["digitlab"], r["shipped"]
    rows = [
        ("reference recipe", *_training_cells(ref)),
        ("reference recipe, same wall time as digitlab's", *_training_cells(same)),
        (f"digitlab recipe, {len(dlab['runs'])} seed(s) (mean ± std)", dlab["epochs"],
         f"{dlab['test_accuracy_mean']:.2%} ± {dlab['test_accuracy_std']:.2%}",
         *_time_cells(dlab["wall_s_mean"], dlab["epoch_s_mean"], dlab["images_per_s_mean"])),
        ("shipped model (`" + Path(shipped["path"]).name + "`)", "", f"{shipped['test_accuracy']:.2%}", "", "", ""),
    ]
    return ("## Test accuracy and training time\n\n10,000 MNIST test images; training wall time: the card's "
            "`wall_time_s` (`model.fit`, plus the precise batch-norm pass where the recipe makes one), "
            "images/s = training images x epochs / wall time.\n\n"
            + markdown_table(["model", "epochs", "test accuracy", "training wall time", "per epoch", "training images/s"],
                             rows))


def _time_cells(wall_s: float, epoch_s: float, images_per_s: float) -> tuple[str, str, str]:
    """Return the wall time, time per epoch and training images/s cells of a table row."""
    return f"{wall_s:.0f} s", f"{epoch_s:.1f} s", f"{images_per_s:,.0f}"


def _training_cells(n: dict) -> tuple:
    """Return the epochs, test accuracy, wall time, time per epoch and images/s cells of one training's numbers."""
    return n["epochs"], f"{n['test_accuracy']:.2%}", *_time_cells(n["wall_s"], n["epoch_s"], n["images_per_s"])


def _time_md(r: dict) -> str:
    pair = r["time_to_accuracy"]
    first = keywords({k: v for k, v in FIRST_RECIPE.items() if k != "epochs"})  # the epochs have their column
    rows = [(name, *_training_cells(pair[key]), f"{pair[key]['cpu_s']:.0f} s", f"{ratio:.2f}", f"{cpu:.2f}")
            for name, key, ratio, cpu in (
                (f"first recipe (`{first}`)", "first", 1.0, 1.0),
                ("default recipe (`train.train()`)", "default", pair["wall_ratio"], pair["cpu_ratio"]))]
    return (f"## Time to {pair['goal']:.1%}\n\ndigitlab's default recipe against its first one, trained one after the "
            f"other in this run on the same data with the same seed ({pair['seed']}). Target: the default reaches "
            f"{pair['goal']:.1%} test accuracy in at most half the first recipe's wall time. CPU time (all threads "
            "of the process, for the whole `train.train` call) moves less with the load of a shared CPU.\n\n"
            + markdown_table(["recipe", "epochs", "test accuracy", "training wall time", "per epoch",
                              "training images/s", "CPU time", "wall vs first", "CPU vs first"], rows))


def _shipped_md(r: dict) -> str:
    shipped, card = r["shipped"], r["shipped"]["card"]

    def known(key: str, form: str = "{}") -> str:
        return "not on its card" if card.get(key) is None else form.format(card[key])

    rows = [
        ("file", f"`{shipped['path']}`, {shipped['size_mb']:.2f} MB"),
        ("trained on (its card)", f"{known('source_file', '`{}`')}: {known('train_images', '{:,}')} training images "
                                  f"+ {card['pen_images']:,} pen digits, {known('date')}"),
        ("training file sha256", known("sha256", "`{}`")),
        ("test accuracy: its card / measured here", f"{known('test_accuracy', '{:.2%}')} / {shipped['test_accuracy']:.2%}"),
    ]
    return ("## Shipped model\n\nWhat the model's card says it was trained on, and its test accuracy on this run's "
            "10,000 test images.\n\n" + markdown_table(["", ""], rows))


def _speed_md(r: dict) -> str:
    ref, shipped, recognise = r["reference"]["latency"], r["shipped"]["latency"], r["shipped"]["recognise_latency"]
    rows = [
        ("reference way: whole canvas resized to 28x28, `model.predict`", "reference recipe",
         f"{ref['median_ms']:.2f}", f"{ref['p95_ms']:.2f}", ref["calls"]),
        ("digitlab: `Predictor.predict` (`to_mnist` + the LiteRT call)", "shipped",
         f"{shipped['median_ms']:.2f}", f"{shipped['p95_ms']:.2f}", shipped["calls"]),
        ("digitlab: `Predictor.recognise` (the same + the decline rule; turns with `predict`)", "shipped",
         f"{recognise['median_ms']:.2f}", f"{recognise['p95_ms']:.2f}", recognise["calls"]),
    ]
    shipped, repeats = r["shipped"], r["plan"]["throughput_repeats"]
    batch = [(f"`Predictor.predict_batch` (LiteRT, batch norms folded into the convolutions, chunks of {predict.CHUNK:,})",
              f"**{shipped['throughput_images_per_s']:,.0f}**"),
             (f"`model.predict(x, batch_size={KERAS_BATCH})`", f"{shipped['model_predict_images_per_s']:,.0f}")]
    return ("## Speed\n\nSingle drawing: a raw 280x280 canvas from the robustness set to 10 probabilities, "
            "after warm-up.\n\n" + markdown_table(["way", "model", "median ms", "p95 ms", "calls"], rows)
            + f"\n\nBatch: the shipped model on the 10,000 test images, median of {repeats} timed "
            f"pass{'es' if repeats != 1 else ''} taking turns, after one warm-up pass each; they agree on "
            f"{shipped['batch_agreement']:.2%} of the predicted digits.\n\n"
            + markdown_table(["way", "images/s"], batch))


def _room_above(accuracy: float) -> float:
    """The most points any model could gain over one that reads `accuracy` (a fraction) right: where a target asks
    for a bigger gain, the report says it is out of reach instead of leaving a bare FAIL."""
    return 100 * (1 - accuracy)


def _robustness_md(r: dict) -> str:
    columns = {
        "reference, whole canvas resized": r["reference"]["robustness"]["resize"],
        "reference, `to_mnist`": r["reference"]["robustness"]["to_mnist"],
        "digitlab recipe (mean of seeds), `to_mnist`": r["digitlab"]["robustness_mean"],
        "shipped, `to_mnist`": r["shipped"]["robustness"],
    }
    counts = r["robustness_set"]["counts"]
    rows = [(k, counts[k], *(f"{col[k]:.1%}" for col in columns.values())) for k in columns["shipped, `to_mnist`"]]
    read = 100 * columns["reference, `to_mnist`"]["all"]
    room = _room_above(columns["reference, `to_mnist`"]["all"])
    reach = (f" Through `to_mnist` the reference already reads {read:.1f}% of the set right: no recipe can be "
             f"{ROBUST_GAIN:.0f} points ahead of it there (the most is {room:.1f} points).") if room < ROBUST_GAIN else ""
    return ("## Robustness\n\nAccuracy on the drawing-like set (`digitlab.robustness`, seed "
            f"{r['robustness_set']['seed']}, {counts['all']:,} drawings), by kind; each kind is described in "
            f"benchmarks/README.md.{reach}\n\n" + markdown_table(["kind", "images", *columns], rows))


def _pen_md(r: dict) -> str:
    numbers = r["shipped"]["pen"]
    rows = [(f"{w:g}" + (" (pad's default)" if w == pen.PEN_WIDTH else ""),
             *(f"{pen_accuracy(numbers, w, p):.2%}" for p in pen.POLARITIES)) for w in PEN_WIDTHS]
    detail, worst = numbers["detail"], numbers["per_writer_min"]
    per_writer = ", ".join(f"{w}: {a:.1%}" for w, a in numbers["per_writer"].items())
    writers = ", ".join(map(str, numbers["writers"]))
    return ("## Real pen input\n\nThe shipped model on UCI's pen digits (`" + r["pen_data"]["file"] + "`) of the "
            f"held-out test writers (`pen.split_by_writer`, seed {config.SEED}; writers {writers}; "
            f"{numbers['n']:,} digits), each drawn as the pad draws it at each pen width and both ink polarities, "
            "then `to_mnist`.\n\n" + markdown_table(["pen width (px)", *pen.POLARITIES], rows)
            + f"\n\nPer writer at pen {detail['pen_width']:g}, {detail['polarity']}: {per_writer}; "
            f"lowest: writer {worst['writer']}, {worst['accuracy']:.1%}.")


def _declining_md(r: dict) -> str:
    found, marks, pages = r["shipped"]["declining"], r["nondigit_set"], r["shipped"]["pages"]
    head = "## Knowing when it doesn't know\n\n"
    page_line = (f"Pages without a digit (`robustness.non_digit_pages`, seed {config.SEED}) through `recognise`: "
                 f"{pages['declined']:.1%} of {pages['images']:,} declined ("
                 + ", ".join(f"{k} {v:.0%}" for k, v in pages["by_kind"].items()) + ").")
    if found is None:
        return (head + "The model's card has no calibration (`python -m digitlab calibrate` writes it): there is no "
                "decline rule to measure.\n\n" + page_line)
    names = {"mnist": "MNIST test", "pen": "pen, held-out writers (pad's pen, dark on light)"}
    rows = [(names.get(k, k), f"{d['images']:,}", f"{d['accuracy']:.2%}", f"{d['ece_before']:.2%}",
             f"{d['ece_after']:.2%}", f"{d['declined']:.2%}", f"{d['read_right']:.2%}") for k, d in found["digits"].items()]
    nd = found["nondigits"]
    reasons = ", ".join(f"{reason} {share:.1%}" for reason, share in nd["by_reason"].items())
    return (
        head + f"The shipped model with its card's calibration (temperature {found['temperature']:.3f}) and decline "
        "rule, measured by `digitlab.declining.decline_report`. ECE: 15 bins, top class, before (T = 1) and after "
        "the temperature. Real digits are declined by the rule's scores (not a digit, unsure): 'too small' needs "
        "the drawing's extent, and both sets fill most of their canvas.\n\n"
        + markdown_table(["digits", "images", "accuracy", "ECE before", "ECE after", "declined", "read right"], rows)
        + f"\n\nNon-digits (`nondigits`, {marks['part']} part, seed {marks['seed']}, {marks['per_kind']} per kind; "
        f"other scripts' digits: {', '.join(marks['scripts']) or 'none found'}), each as `recognise` sees it, its "
        f"ink extent counted: **{nd['declined']:.1%}** of {nd['images']:,} declined ({reasons}).\n\n"
        + markdown_table(["kind", "images", "declined"],
                         [(k, marks["counts"][k], f"{share:.1%}") for k, share in nd["by_kind"].items()])
        + "\n\n" + page_line + "\n\n" + _scores_md(found["scores"])
    )


def _scores_md(found_scores: dict) -> str:
    scores = {k: s for k, s in found_scores.items() if k != "against"}
    shares = list(next(iter(scores.values()))["declined_at"])
    rows = [(name, f"{s['roc_auc']:.3f}", *(f"{v:.1%}" for v in s["declined_at"].values())) for name, s in scores.items()]
    return (
        "### Not-a-digit scores\n\n"
        "Each score against the held-out pen writers' digits: the ROC AUC of telling the non-digits from them, and "
        f"the share of non-digits declined where the score's threshold declines {', '.join(shares)} of the pen "
        "digits. `uniformity` (minus the softmax's cross-entropy from the uniform distribution, the score of "
        "outlier exposure) and `distance` are the rule's; `energy` is a baseline. `combined` joins the rule's two as "
        "the rule does: the larger of log(distance / its threshold) and uniformity - its threshold (above 0: "
        "'not a digit').\n\n"
        + markdown_table(["score", "ROC AUC", *(f"non-digits declined at {s} of pen digits" for s in shares)], rows)
    )


# --- other scripts (issue 12): the section of benchmarks/other_scripts.py's results ------------


def scripts_markdown(s: dict) -> str:
    """Return the section "Other scripts (issue 12)" of RESULTS.md from other_scripts.py's results (``SCRIPTS_JSON``).

    Its own command line, its targets, each script's shipped model, the data-efficiency table
    and how the Western model takes the other scripts' digits.
    """
    plan = s["plan"]
    head = [
        "## Other scripts (issue 12)" + (" (quick run: reduced, not comparable)" if s["quick"] else ""),
        "",
        "Each other script's shipped model, what fine-tuning from the MNIST model saves, and how the Western model "
        "takes those scripts' digits: a separate run of `benchmarks/other_scripts.py` (how to read it: "
        "benchmarks/README.md, \"Other scripts\").",
        "",
        f"- Command: `{s['command']}` (git {s['git']}, {s['date']}, {s['total_wall_s'] / 60:.0f} min)",
        _machine_line(s["machine"]),
        "- Data: " + ", ".join(f"{scripts.get(n).display_name} `{d['file']}` (sha256 {d['sha256'][:12]}..., "
                               f"{d['test_images']:,} test images)" for n, d in s["data"].items()),
    ]
    sections = ["### Targets (issue 12)\n\n" + _targets_table(s["targets"]), _script_models_md(s["models"], plan),
                _efficiency_md(s["efficiency"], plan), _western_md(s["western"], s["western_model"]),
                *([_pads_md(s["pads"])] if s.get("pads") else []), _any_script_md(s["any_script"])]
    return "\n".join(head) + "\n\n" + "\n\n".join(sections)


def _percent(value: float | None, form: str = "{:.2%}") -> str:
    """Return ``value`` as a percentage, or "-" for None or nan (not measured)."""
    return "-" if value is None or not math.isfinite(value) else form.format(value)


def _script_models_md(models: dict, plan: dict) -> str:
    rows = []
    for name, m in models.items():
        display = scripts.get(name).display_name
        if not m["found"]:
            rows.append((display, f"`{m['path']}`: not found, not measured", *("-",) * 8))
            continue
        start = f"`{m['init_model']}`" if m["init_model"] else "from scratch"
        rows.append((display, f"`{m['path']}`", f"{m['size_mb']:.2f} MB", start, _percent(m["val_accuracy"]),
                     f"{m['test_images']:,}", _percent(m["test_accuracy"]), _percent(m["ece"]),
                     _percent(m["pad_accuracy"]), _percent(m["nondigits_declined"], "{:.1%}")))
    return ("### Each script's shipped model\n\nTest accuracy and ECE (15 bins, top class, the card's calibrated "
            "probabilities) on the script's held-out test split, through `Predictor(script=...).predict_batch`; "
            "validation accuracy as its card's calibration measured it; \"pad-like\": a seeded sample of "
            f"{plan['pad_drawings']:,} test images of each script redrawn as the pad draws (`style.as_pad_drawing`); "
            "\"non-digits declined\": the hand-drawn non-digits of `nondigits`' test part "
            f"({plan['nondigits']} of each kind, seed {config.SEED}) that `recognise` declines, as the "
            "script's pad would (reported, no target).\n\n"
            + markdown_table(["script", "model", "size", "fine-tuned from", "validation (card)", "test images",
                              "test accuracy", "ECE", "pad-like", "non-digits declined"], rows))


def _efficiency_md(curves: dict, plan: dict) -> str:
    rows, out_of_reach = [], []
    for name, c in curves.items():
        display = scripts.get(name).display_name
        rows += [(display, p["per_class"], _percent(p["fine_tuned"]), _percent(p["scratch"]),
                  f"{100 * p['gain']:+.1f}", f"{_room_above(p['scratch']):.1f}") for p in c["points"]]
        rows += [(display, n, "-", "-", f"not trained: {why}", "-") for n, why in c["skipped"]]
        out_of_reach += [f"{display} ({p['scratch']:.2%} from scratch)" for p in c["points"]
                         if p["per_class"] == plan["target_size"] and _room_above(p["scratch"]) < MIN_GAIN]
    first = next(iter(curves.values()), {"init": "?", "epochs": plan["epochs"], "seed": config.SEED})
    reach = (f" Where training from scratch already reads more than {100 - MIN_GAIN:.0f}% right, no fine-tuned "
             f"model can gain {MIN_GAIN:.0f} points (the last column is the most it could gain): at "
             f"{plan['target_size']} images per digit, {', '.join(out_of_reach)}.") if out_of_reach else ""
    return ("### Data efficiency\n\nFor each number of training images per digit (`scripts.take_per_class`, seed "
            f"{first['seed']}), one model fine-tuned from `{first['init']}` and one trained from scratch on the same "
            f"images, {first['epochs']} epoch{'s' * (first['epochs'] != 1)} each (`transfer.efficiency_curve`), both "
            f"measured on the script's test split. Target: a gain of at least {MIN_GAIN:.0f} points at "
            f"{plan['target_size']} images per digit.{reach}\n\n"
            + markdown_table(["script", "images per digit", "fine-tuned", "from scratch", "gain (points)",
                              "room above from scratch (points)"], rows))


def _western_md(sets: dict, model: dict) -> str:
    rows = [(scripts.get(name).display_name, f"{w['images']:,}", _percent(w["read_right"], "{:.1%}"),
             _percent(w["sure_and_wrong"], "{:.1%}"), _percent(w["declined"], "{:.1%}"),
             _percent(w.get("another_script"), "{:.1%}"), _percent(w["named_wrong"], "{:.1%}"))
            for name, w in sets.items()]
    return ("### The Western model on other scripts' digits\n\nThe shipped MNIST model (`" + model["path"] + "`), as "
            "the pad set to Western digits reads a digit of another script: \"read right\" names the value the digit "
            "means; \"declined\" by its card's rule (not a digit, unsure; as `recognise` declines, from each image's "
            "scores) or by its script guard (`digitlab.guard`: the any-script model reads the drawing as another "
            "script's digit of another value, also where the rule was unsure), of which \"as another script\" by the "
            "guard; \"named a wrong "
            "digit\": neither read right nor declined, what a user would be told wrongly. Reported, no target.\n\n"
            + markdown_table(["script", "test images", "read right", f"wrong and >= {model['sure']:.0%} sure",
                              "declined", "as another script", "named a wrong digit"], rows))


def _pads_md(pads: dict) -> str:
    names = list(dict.fromkeys([*pads, *(other for reads in pads.values() for other in reads)]))

    def cell(w: dict | None) -> str:
        if w is None:
            return "-"
        unguarded = w.get("named_wrong_unguarded")
        return _percent(w["named_wrong"], "{:.1%}") + ("" if unguarded is None else f" ({unguarded:.1%})")

    rows = [(scripts.short_name(pad), *(cell(reads.get(other)) for other in names)) for pad, reads in pads.items()]
    sizes = " or ".join(f"{n:,}" for n in sorted({w["images"] for reads in pads.values() for w in reads.values()}))
    return ("### Each script's pad on the other scripts' digits\n\nEach one-script pad (a row: its shipped model, "
            f"calibrated) on a seeded sample of every other script's test digits (a column; {sizes} each): the share "
            "it names a wrong digit for (neither read right nor declined), and in brackets the same without its script "
            "guard, the any-script model's check (`digitlab.guard`). Reported, no target.\n\n"
            + markdown_table(["pad", *(scripts.short_name(n) for n in names)], rows))


def _any_script_md(a: dict) -> str:
    if not a["found"]:
        return f"### The any-script model\n\n`{a['path']}`: not built yet. {a['note']}".rstrip()
    rows = [(name, f"{v['images']:,}", _percent(v["value_right"]), _percent(v.get("value_right_told", math.nan)),
             _percent(v["script_right"]), f"{v['pad_images']:,}",
             _percent(v["pad_value_right"]), _percent(v["pad_script_right"]),
             ", ".join(f"{k} {n}" for k, n in a["confusions"].get(name, {}).items()) or "-")
            for name, v in a["by_script"].items()]
    return ("### The any-script model\n\n"
            f"`{a['path']}`: {_percent(a['mix_read_right'])} of values read right on a mix of all {a['scripts']} "
            f"scripts' test digits (each script weighs the same), {_percent(a['mnist_test_accuracy'])} on the MNIST "
            f"test set; told each digit's script, {_percent(a.get('mix_read_right_told', math.nan))} (\"told the "
            "script\": the reading among that script's ten classes alone, so the gap is what glyphs colliding across "
            "scripts cost). A value read in another script still counts as right (a Persian 2 read as an Arabic 2); "
            "\"script named\" is how often the script it names is the digit's own; \"as on the pad\": test digits "
            "redrawn from their skeleton with the pad's pen, where no dataset style is left; the last column counts "
            "the images read as a wrong value of another script.\n\n"
            + markdown_table(["script", "test images", "value right", "told the script", "script named", "as on the pad",
                              "value right (pad)", "script named (pad)", "wrong value, other script"], rows))


def read_scripts_results(out_dir: Path) -> dict | None:
    """Return the results of benchmarks/other_scripts.py saved in ``out_dir`` (``SCRIPTS_JSON``), or None if there are none."""
    return read_json(Path(out_dir) / SCRIPTS_JSON) or None


def targets_met(results: dict | None, scripts_results: dict | None = None) -> tuple[int, int]:
    """Return (targets met, targets) over this benchmark's results and other_scripts.py's, either of them None."""
    targets = [t for r in (results, scripts_results) if r for t in r["targets"]]
    return sum(t["passed"] for t in targets), len(targets)


# --- run ----------------------------------------------------------------------------------------


def machine_info() -> dict:
    """Return the CPU model, usable cores, memory, load and library versions of this machine."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [ln.split(":", 1)[1].strip() for ln in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if ln.startswith("model name")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {
        "cpu": names[0] if names else platform.processor() or "unknown", "cores": cores,
        "memory_gb": memory / 1e9, "load_at_start": os.getloadavg()[0], "platform": platform.platform(),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "scipy": scipy.__version__, "pillow": PIL.__version__,
                     "digitlab": digitlab.__version__},
    }


def git_commit() -> str:
    """Return the short commit hash of the repository (with ``-dirty`` if it has changes), or ``unknown``."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=config.REPO_ROOT,
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def command_line() -> str:
    """Return this process's command as a user would type it from the repository root: ``python benchmarks/run.py --quick``."""
    return "python " + shlex.join([os.path.relpath(sys.argv[0], config.REPO_ROOT), *sys.argv[1:]])


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of the benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced run in about 3 minutes, written to benchmarks/out/")
    p.add_argument("--seeds", type=int, help="seeds of digitlab's recipe (default 3, or 1 with --quick)")
    p.add_argument("--out-dir", type=Path, help="where RESULTS.md and results.json go "
                                                "(default benchmarks/, or benchmarks/out/ with --quick)")
    p.add_argument("--data", type=Path, help="mnist.npz or IDX folder (default: $DIGITLAB_DATA, then data/mnist.npz)")
    p.add_argument("--model", type=Path, default=config.SHIPPED_MODEL, help="the shipped model to measure")
    p.add_argument("--pen", type=Path, help="UCI's pendigits-orig.tra (default: $DIGITLAB_PEN, "
                                            "then data/pendigits-orig.tra, else downloaded)")
    p.add_argument("--reuse-training", type=Path, metavar="RESULTS_JSON",
                   help="take the recipes' trainings (accuracy, time to 99.6%%, same wall time) from this earlier "
                        "results.json of the same plan and data, and measure only the shipped model and the speed "
                        "rows: minutes instead of an hour and a half, e.g. after a new model or a faster predictor")
    return p


def plan_for(args: argparse.Namespace) -> Plan:
    """Return the plan for these arguments: QUICK or FULL, with ``--seeds`` applied."""
    plan = QUICK if args.quick else FULL
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
        plan = Plan(**{**asdict(plan), "seeds": args.seeds})
    return plan


def out_dir_for(args: argparse.Namespace) -> Path:
    """Return where results go: ``--out-dir``, else benchmarks/out/ for ``--quick``, else benchmarks/."""
    return args.out_dir or (QUICK_DIR if args.quick else HERE)


def run(args: argparse.Namespace) -> dict:
    """Return every measurement of one benchmark run (see the module docstring for the order)."""
    plan, start = plan_for(args), time.perf_counter()
    model_lib.load_model(args.model)  # a missing or broken model (or pen file, below) fails now, not after an hour
    source = data.find_mnist(args.data)
    reused = args.reuse_training and read_trainings(args.reuse_training, args.quick, data.sha256(source))
    pen_digits = pen_test_digits(args.pen, plan.pen_digits)
    other_scripts = other_script_digits()
    marks = nondigits.build_nondigit_set(plan.nondigits, seed=config.SEED, part="test", scripts=other_scripts or None)
    pages = robustness.non_digit_pages(per_kind=plan.per_kind, seed=config.SEED)
    (x_train, _), (x_test, y_test) = data.load_mnist(source)
    log(f"data {source.name}: {len(x_train):,} training, {len(x_test):,} test images; building the drawing set")
    drawings = robustness.build_drawing_set(x_test, y_test, per_kind=plan.per_kind, seed=config.SEED,
                                            progress=lambda it: bar(it, "drawings"))
    prepared, resized = robustness.prepare(drawings.images), robustness.resize_canvas(drawings.images)
    if reused:
        trainings = time_reference_again(reused, drawings, plan)
    else:
        trainings = run_trainings(source, plan, drawings, prepared, resized)
    log(f"measuring the shipped model {args.model}")  # last: speed is timed once training is over
    shipped = measure_shipped(args.model, x_test, y_test, drawings, prepared, pen_digits, marks, pages, plan)
    results = {
        "command": command_line(),
        "quick": args.quick, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(), "machine": machine_info(), "plan": asdict(plan),
        "data": {"file": source.name, "sha256": data.sha256(source), "train_images": len(x_train), "test_images": len(x_test)},
        "robustness_set": {"seed": config.SEED, "per_kind": plan.per_kind,
                           "counts": {"all": len(drawings), **{k: int(np.sum(drawings.kinds == k)) for k in robustness.KINDS}}},
        "pen_data": {"file": pen_digits.source.name, "sha256": data.sha256(pen_digits.source),
                     "digits": len(pen_digits)},
        "nondigit_set": {"part": "test", "seed": config.SEED, "per_kind": plan.nondigits, "scripts": list(other_scripts),
                         "counts": {str(k): int(n) for k, n in zip(*np.unique(marks.kinds, return_counts=True))}},
        "shipped": shipped, **trainings, "total_wall_s": time.perf_counter() - start,
    }
    results["targets"] = evaluate_targets(results)
    return results


def write_markdown(results: dict, out_dir: Path) -> Path:
    """Return the path of RESULTS.md after writing it atomically into ``out_dir`` from ``results``.

    The section of other_scripts.py's results (issue 12) is added when ``SCRIPTS_JSON`` is in ``out_dir``.
    """
    md_path = out_dir / "RESULTS.md"
    text = render_markdown(results, readme=os.path.relpath(HERE / "README.md", out_dir),
                           scripts_results=read_scripts_results(out_dir))
    with atomic_path(md_path) as tmp:
        tmp.write_text(text)
    return md_path


def write_results(results: dict, out_dir: Path) -> tuple[Path, Path]:
    """Return the paths of results.json and RESULTS.md after writing both atomically into ``out_dir``."""
    return write_json_atomic(out_dir / "results.json", results), write_markdown(results, out_dir)


def run_or_report(prog: str, out_dir: Path, work: Callable[[], dict]) -> dict | None:
    """Return ``work()``'s results once ``out_dir`` exists; on bad input print one ``PROG: error:`` line and return None.

    Both benchmarks' ``main`` run so: a missing or broken file (DataError and ModelFileError are
    ValueErrors) is one line on stderr, and nothing is written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return work()
    except (ValueError, OSError) as exc:
        print(f"{prog}: error: " + " ".join(line.strip() for line in str(exc).splitlines()), file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its results; return the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    out_dir = out_dir_for(args)
    results = run_or_report("benchmark", out_dir, lambda: run(args))
    if results is None:
        return 2
    paths = write_results(results, out_dir)
    scripts_results = read_scripts_results(out_dir)
    passed, total = targets_met(results, scripts_results)
    also = f" (with issue 12's from {SCRIPTS_JSON})" if scripts_results else ""
    log(f"{passed}/{total} targets met{also}; wrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
