"""Benchmark the digits of other scripts (issue 12): each script's shipped model, data efficiency, the Western model.

    python benchmarks/other_scripts.py            # full run: benchmarks/scripts_results.json + RESULTS.md
    python benchmarks/other_scripts.py --quick    # smoke run, a few minutes: benchmarks/out/ (git-ignored)

For each of Kannada, Persian, Arabic, Bengali and Tibetan, in one process: the shipped model
of the script (``config.script_model``; a missing one is "not measured", and its targets fail):
its test accuracy and ECE on the script's held-out test split, its size, how its card says it
was trained, and its accuracy on test digits redrawn as the pad draws (``style.as_pad_drawing``);
and the share of hand-drawn non-digits (``nondigits``' test part) its pad declines;
then ``transfer.efficiency_curve``: a model fine-tuned from the MNIST model against one trained
from scratch on the same few images per digit; then how the shipped Western model reads the
script's digits, and how many it declines. The any-script model's rows wait for that model
(``any_script_numbers``).

The results go to scripts_results.json (atomically); RESULTS.md in the same folder is then
rendered again from the results.json of benchmarks/run.py found there, with this run's section
added (``run.render_markdown``), so it holds every target. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent


def _load_run_module():
    """Return benchmarks/run.py as a module (the copy already loaded under ``benchmark_run``, if any): its helpers."""
    name = "benchmark_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "run.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


bench = _load_run_module()  # loads TensorFlow quietly, before digitlab.predict

from digitlab import calibration, config, data, nondigits, predict, scripts, style, transfer  # noqa: E402
from digitlab.files import atomic_path, check_model_path, read_json, write_json_atomic  # noqa: E402

__all__ = [
    "NAMES", "GOALS", "MAX_SIZE_MB", "ANY_MIX_GOAL", "ANY_MNIST_GOAL", "ECE_BINS", "Plan", "FULL", "QUICK",
    "script_test_sets", "data_numbers", "pad_sample", "script_model_numbers", "efficiency_numbers", "western_numbers",
    "pad_numbers",
    "any_script_numbers", "evaluate_targets", "render_markdown", "build_parser", "plan_for", "out_dir_for", "run",
    "write_results", "main",
]

#: The scripts measured, in this order.
NAMES: tuple[str, ...] = ("kannada", "persian", "arabic", "bengali", "tibetan")
#: Test accuracy (%) each script's shipped model must reach on its held-out test split.
GOALS: dict[str, float] = {"kannada": 98.5, "persian": 99.0, "arabic": 99.0, "bengali": 97.0, "tibetan": 99.0}
#: Largest size on disk of a script's model, in MB.
MAX_SIZE_MB = 5.0
#: The any-script model's goals (%): reading the right value on a mix of all six scripts, and MNIST's test set.
ANY_MIX_GOAL, ANY_MNIST_GOAL = 98.0, 99.5
#: Bins of the expected calibration error.
ECE_BINS = 15


@dataclass(frozen=True)
class Plan:
    """How much work one run does.

    ``sizes`` are the training images per digit of the data-efficiency curves; ``target_size``
    (always among them) is the one that carries the target. ``pad_drawings`` test images of each
    script are redrawn as the pad draws; ``nondigits`` hand-drawn non-digits of each kind are shown
    to each script's model.
    """

    pad_drawings: int
    sizes: tuple[int, ...]
    target_size: int
    epochs: int
    nondigits: int


#: The full run also trains 10 and 30 images per digit (reported, no target): where fine-tuning gains most.
FULL = Plan(pad_drawings=1000, sizes=(10, 30, 100), target_size=100, epochs=15, nondigits=200)
QUICK = Plan(pad_drawings=30, sizes=(10,), target_size=10, epochs=1, nondigits=3)


# --- measurements -----------------------------------------------------------------------------


def script_test_sets(names: Sequence[str], path: str | os.PathLike | None = None) -> dict[str, scripts.ModelData]:
    """Return each script's digits as its models see them (``scripts.model_data``), found where ``scripts.find_digits`` looks.

    ``path`` is a folder holding ``<script>.npz`` (None: ``$DIGITLAB_SCRIPTS``, ``data/``, else a
    download). Every file is read here, first, so a missing one stops the run before any work.
    """
    return {name: scripts.model_data(name, _digits_path(name, path)) for name in names}


def _digits_path(name: str, folder: str | os.PathLike | None) -> Path | None:
    """Return ``folder/<name>.npz`` for a given folder, else None (``scripts.find_digits`` then looks for itself)."""
    return None if folder is None else Path(folder) / f"{name}.npz"


def data_numbers(split: scripts.ModelData) -> dict:
    """Return the file a script's digits came from (name, SHA-256) and its training and test image counts."""
    return {"file": split.source.name, "sha256": data.sha256(split.source),
            "train_images": len(split.train[1]) + len(split.validation[1]), "test_images": len(split.test[1])}


def pad_sample(x: np.ndarray, n: int, *, seed: int = config.SEED) -> np.ndarray:
    """Return the indices of a seeded sample of ``n`` of ``x``'s images (all of them if there are fewer), in order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(x), size=min(n, len(x)), replace=False))


def _pad_drawings(x: np.ndarray, name: str, *, chunk: int = 50) -> np.ndarray:
    """Return ``style.as_pad_drawing(x)``, made ``chunk`` images at a time behind a progress bar."""
    parts = [style.as_pad_drawing(x[i:i + chunk]) for i in bench.bar(range(0, len(x), chunk), f"{name} pad drawings")]
    return np.concatenate(parts) if parts else np.zeros((0, *x.shape[1:]), np.float32)


def script_model_numbers(name: str, path: Path, test: tuple[np.ndarray, np.ndarray], pad_drawings: int,
                         marks: nondigits.NonDigitSet) -> dict:
    """Return a script's shipped model's numbers, or ``found: False`` when ``path`` does not exist (not measured).

    Test accuracy and ECE (``ECE_BINS`` bins, top class) of ``Predictor(path, script=name).predict_batch``
    (the card's calibrated probabilities) on the script's test split; size on disk; what its card
    says: the model it was fine-tuned from (``init_model``; None: from scratch), its validation
    accuracy (its calibration's, on the model's own validation split; None without one) and test
    accuracy; its accuracy on ``pad_drawings`` test images (``pad_sample``) redrawn by
    ``style.as_pad_drawing``; and the share of ``marks`` (hand-drawn non-digits) that
    ``recognise`` declines, as the script's pad would (None for a model without a decline rule).
    """
    shown = os.path.relpath(path, config.REPO_ROOT)
    if not path.exists():
        bench.log(f"{name}: no model at {shown}: not measured")
        return {"path": shown, "found": False}
    predictor = predict.Predictor(path, script=name)
    x, y = test
    probs = predictor.predict_batch(x)
    chosen = pad_sample(x, pad_drawings)
    bench.log(f"{name}: {shown}, {len(y):,} test images; {len(chosen):,} of them redrawn as on the pad")
    pad_probs = predictor.predict_batch(_pad_drawings(x[chosen], name))
    declined = None if predictor.rule is None else float(np.mean([predictor.recognise(m.ink()).digit is None
                                                                    for m in marks]))
    card = predictor.card
    checked = card.get("calibration", {}).get("validation", {})
    validation = checked.get(name) or checked.get("mnist") or {}  # "mnist": cards calibrated before scripts were named
    return {
        "path": shown, "found": True, "size_mb": path.stat().st_size / bench.MB, "test_images": len(y),
        "test_accuracy": float(np.mean(probs.argmax(axis=1) == y)), "ece": calibration.ece(y, probs, n_bins=ECE_BINS),
        "init_model": (card.get("init_model") or {}).get("source_file"), "val_accuracy": validation.get("accuracy"),
        "card_test_accuracy": card.get("test_accuracy"), "pad_images": len(chosen),
        "pad_accuracy": float(np.mean(pad_probs.argmax(axis=1) == y[chosen])) if len(chosen) else None,
        "nondigits": len(marks), "nondigits_declined": declined,
    }


def efficiency_numbers(name: str, source: Path, plan: Plan, init: Path) -> dict:
    """Return ``transfer.efficiency_curve``'s points of a script at the plan's sizes, fine-tuned from ``init``, as a dict."""
    bench.log(f"{name}: data efficiency at {', '.join(map(str, plan.sizes))} images per digit, "
              f"{plan.epochs} epoch{'s' * (plan.epochs != 1)}, fine-tuned from {init.name} and from scratch")
    curve = transfer.efficiency_curve(name, plan.sizes, init=init, epochs=plan.epochs, data_path=source)
    points = [{**asdict(p), "gain": p.gain} for p in curve.points]
    for p in points:
        bench.log(f"  {p['per_class']} per digit: fine-tuned {p['fine_tuned']:.2%}, from scratch {p['scratch']:.2%}")
    return {"init": curve.init, "epochs": curve.epochs, "seed": curve.seed, "test_images": curve.test_images,
            "points": points, "skipped": [list(s) for s in curve.skipped]}


def western_numbers(predictor: predict.Predictor, x: np.ndarray, y: np.ndarray, *, sure: float = transfer.SURE) -> dict:
    """Return how the Western ``predictor`` reads one script's MNIST-format test digits ``(x, y)``.

    ``read_right``: the most probable digit is the value the glyph means (``transfer.reading_table``'s
    number); ``sure_and_wrong``: wrong with at least ``sure`` probability; ``declined``: declined
    by the card's rule from the image's scores or by its script guard, as ``recognise`` declines an
    image with ink (``calibration.Scores``, ``Predictor.guard_declines``; the extent is not known in
    MNIST format, and these digits fill it), of which ``another_script`` as another script by the guard
    (a reading or an "unsure" it overrules; None without a guard); None for a model without calibration;
    ``named_wrong``: neither read right nor declined.
    """
    logits, features = predictor.logits_and_features(x)
    probs = calibration.softmax(logits, predictor.temperature)
    wrong = probs.argmax(axis=1) != np.asarray(y)
    declined = guarded = None
    if predictor.rule is not None:
        reasons = predictor.reasons(logits, features)
        declined = reasons != ""
        guarded = predictor.guard_declines(x, logits, reasons)
        unguarded = float(np.mean(wrong & ~declined))
        if guarded is not None:
            declined = declined | guarded
    return {"images": len(y), "read_right": float(1 - wrong.mean()),
            "sure_and_wrong": float(np.mean(wrong & (probs.max(axis=1) >= sure))),
            "declined": None if declined is None else float(declined.mean()),
            "another_script": None if guarded is None else float(guarded.mean()),
            "named_wrong": float(np.mean(wrong if declined is None else wrong & ~declined)),
            "named_wrong_unguarded": None if guarded is None else unguarded}


def pad_numbers(pads: dict[str, predict.Predictor], tests: dict[str, tuple[np.ndarray, np.ndarray]], sample: int) -> dict:
    """Return ``{pad: {other script: western_numbers}}``: how each script's pad takes every other script's test digits.

    ``pads`` maps a script to its calibrated one-script Predictor, ``tests`` every script to its
    test split, of which a seeded sample of ``sample`` digits is read (all, if it has fewer).
    """
    rng = np.random.default_rng(config.SEED)
    picked = {name: np.sort(rng.choice(len(y), min(sample, len(y)), replace=False)) for name, (_, y) in tests.items()}
    return {pad: {other: western_numbers(predictor, tests[other][0][picked[other]], tests[other][1][picked[other]])
                  for other in tests if other != pad}
            for pad, predictor in pads.items()}


def any_script_numbers(path: Path, sets: Mapping[str, tuple[np.ndarray, np.ndarray]], pad_drawings: int) -> dict:
    """Return how the any-script model at ``path`` reads every script's test digits, or nan values when it is missing.

    ``sets`` maps script names (``"western"``: MNIST's test set) to their held-out test splits.
    Per script: the share whose value it reads right (a Persian 2 read as an Arabic 2 is right)
    (and when told the script, ``read_batch(within=...)``: what is left without the collisions
    across scripts) and whose script it names right, on the dataset's images and on ``pad_drawings`` of them
    redrawn as on the pad (``style.as_pad_drawing``), where no dataset style is left to tell
    Persian from Arabic. ``mix_read_right`` is the mean over the scripts (each weighs the same),
    ``mnist_test_accuracy`` the Western value accuracy; ``confusions`` counts, per pair of true
    and named script, the images read as a wrong value of another script (the colliding glyphs).
    """
    shown, found = os.path.relpath(path, config.REPO_ROOT), Path(path).exists()
    if not found:
        bench.log(f"any script: no model at {shown}: not measured")
        return {"path": shown, "found": False, "mix_read_right": math.nan, "mnist_test_accuracy": math.nan,
                "scripts": len(sets), "note": ""}
    reader = predict.Predictor(path, script=scripts.ANY)
    by_script, confusions = {}, {}
    for name, (x, y) in sets.items():
        chosen = pad_sample(x, pad_drawings)
        own = transfer.any_script_reading(reader, name, x, y)
        pad = transfer.any_script_reading(reader, name, _pad_drawings(x[chosen], name), y[chosen])
        by_script[name] = {"images": len(y), "value_right": own.value_right, "value_right_told": own.value_right_told,
                           "script_right": own.script_right,
                           "pad_images": len(chosen), "pad_value_right": pad.value_right,
                           "pad_script_right": pad.script_right}
        confusions[name] = own.confusions()
    mix = float(np.mean([v["value_right"] for v in by_script.values()]))
    told = float(np.mean([v["value_right_told"] for v in by_script.values()]))
    bench.log(f"any script: {shown}: {mix:.2%} of values read right on average over {len(sets)} scripts "
              f"({told:.2%} when told the script)")
    return {"path": shown, "found": True, "mix_read_right": mix, "mix_read_right_told": told, "scripts": len(sets),
            "mnist_test_accuracy": by_script.get("western", {}).get("value_right", math.nan),
            "by_script": by_script, "confusions": confusions, "note": ""}


# --- targets and report -----------------------------------------------------------------------


def evaluate_targets(s: dict) -> list[dict]:
    """Return issue 12's targets (``run.Target.report`` rows): each script's model, data efficiency, the any-script model.

    A script without a model, or without the target size on its curve, has nan values: "not measured", and FAIL.
    """
    nan, targets = math.nan, []
    for name, m in s["models"].items():
        display = scripts.get(name).display_name
        accuracy = m["test_accuracy"] * 100 if m["found"] else nan
        size = m["size_mb"] if m["found"] else nan
        targets += [bench.Target(f"{display} model test accuracy", GOALS[name], accuracy, ">=", "%"),
                    bench.Target(f"{display} model size on disk", MAX_SIZE_MB, size, "<=", " MB")]
    size = s["plan"]["target_size"]
    for name, curve in s["efficiency"].items():
        gain = next((p["gain"] * 100 for p in curve["points"] if p["per_class"] == size), nan)
        targets.append(bench.Target(f"{scripts.get(name).display_name}: fine-tuned vs from scratch, {size} images "
                                    "per digit", bench.MIN_GAIN, gain, ">=", bench.POINTS))
    a = s["any_script"]
    targets += [bench.Target("any-script model reads the right value on a mix of all six", ANY_MIX_GOAL,
                             a["mix_read_right"] * 100, ">=", "%"),
                bench.Target("any-script model on the MNIST test set", ANY_MNIST_GOAL, a["mnist_test_accuracy"] * 100,
                             ">=", "%")]
    return [t.report() for t in targets]


def render_markdown(s: dict, readme: str = "README.md") -> str:
    """Return a RESULTS.md holding this run's section alone, for a folder without benchmarks/run.py's results.json."""
    return ("# Benchmark results\n\n> Only benchmarks/other_scripts.py has run into this folder: `python benchmarks/run.py` "
            f"adds the rest. How to read and rerun it: [benchmarks/README.md]({readme}).\n\n"
            + bench.scripts_markdown(s) + "\n")


# --- run ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of the other scripts' benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced run in a few minutes, written to benchmarks/out/")
    p.add_argument("--sizes", type=int, nargs="+", metavar="N",
                   help=f"images per digit of the data-efficiency curves (default {' '.join(map(str, FULL.sizes))}, or "
                        f"{QUICK.target_size} with --quick; {FULL.target_size} (or {QUICK.target_size}) is always added: "
                        "it carries the target)")
    p.add_argument("--scripts", nargs="+", choices=NAMES, default=list(NAMES), help="the scripts to measure (default: all)")
    p.add_argument("--out-dir", type=Path, help="where scripts_results.json and RESULTS.md go "
                                                "(default benchmarks/, or benchmarks/out/ with --quick)")
    p.add_argument("--scripts-data", type=Path, help="a folder of <script>.npz (default: $DIGITLAB_SCRIPTS, then data/, "
                                                     "else downloaded)")
    p.add_argument("--models-dir", type=Path, default=config.MODELS_DIR,
                   help="the folder of the scripts' models, <script>_cnn.keras (default models/)")
    p.add_argument("--model", type=Path, default=config.SHIPPED_MODEL,
                   help="the Western (MNIST) model: read on other scripts, and where fine-tuning starts")
    return p


def plan_for(args: argparse.Namespace) -> Plan:
    """Return the plan for these arguments: QUICK or FULL, with ``--sizes`` (and the target size) applied."""
    plan = QUICK if args.quick else FULL
    if args.sizes is not None:
        if any(n < 1 for n in args.sizes):
            raise ValueError(f"--sizes must be 1 or more images per digit, got {args.sizes}")
        plan = replace(plan, sizes=tuple(sorted({*args.sizes, plan.target_size})))
    return plan


def out_dir_for(args: argparse.Namespace) -> Path:
    """Return where results go: ``--out-dir``, else benchmarks/out/ for ``--quick``, else benchmarks/."""
    return args.out_dir or (bench.QUICK_DIR if args.quick else HERE)


def run(args: argparse.Namespace) -> dict:
    """Return every measurement of one run: data, each script's model, efficiency, the Western model, targets."""
    plan, start = plan_for(args), time.perf_counter()
    init = check_model_path(args.model)  # bad input fails now, before any work
    splits = script_test_sets(args.scripts, args.scripts_data)
    bench.log(f"other scripts: {', '.join(args.scripts)}; {bench.keywords(asdict(plan))}")
    western = predict.Predictor(init)
    marks = nondigits.build_nondigit_set(plan.nondigits, seed=config.SEED, part="test")
    models = {name: script_model_numbers(name, args.models_dir / config.script_model(name).name,
                                         splits[name].test, plan.pad_drawings, marks) for name in args.scripts}
    bench.log(f"the Western model {init.name} on the other scripts' test digits")
    reads = {name: western_numbers(western, *splits[name].test) for name in args.scripts}
    bench.log("each script's pad on the other scripts' test digits")
    tests = {"western": scripts.load_digits("western")[1], **{name: split.test for name, split in splits.items()}}
    pads = {"western": western, **{name: predict.Predictor(args.models_dir / config.script_model(name).name,
                                                           script=name)
                                    for name in args.scripts if models[name]["found"]}}
    pads_read = pad_numbers(pads, tests, plan.pad_drawings)
    efficiency = {name: efficiency_numbers(name, splits[name].source, plan, init) for name in args.scripts}
    results = {
        "command": bench.command_line(), "quick": args.quick,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "git": bench.git_commit(),
        "machine": bench.machine_info(), "plan": asdict(plan),
        "data": {name: data_numbers(split) for name, split in splits.items()},
        "models": models, "efficiency": efficiency,
        "western_model": {"path": os.path.relpath(init, config.REPO_ROOT), "sure": transfer.SURE}, "western": reads,
        "pads": pads_read,
        "any_script": any_script_numbers(args.models_dir / config.script_model(scripts.ANY).name, tests,
                                         plan.pad_drawings),
        "total_wall_s": time.perf_counter() - start,
    }
    results["targets"] = evaluate_targets(results)
    return results


def write_results(results: dict, out_dir: Path) -> tuple[Path, Path]:
    """Return the paths of scripts_results.json and RESULTS.md after writing both atomically into ``out_dir``.

    RESULTS.md is rendered again from the results.json of benchmarks/run.py in ``out_dir``, with
    this run's section; without one it holds this run's section alone.
    """
    json_path = write_json_atomic(out_dir / bench.SCRIPTS_JSON, results)
    main_results = read_json(out_dir / "results.json")
    if main_results:
        return json_path, bench.write_markdown(main_results, out_dir)
    md_path = out_dir / "RESULTS.md"
    text = render_markdown(results, readme=os.path.relpath(HERE / "README.md", out_dir))
    with atomic_path(md_path) as tmp:
        tmp.write_text(text)
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark of the other scripts and write its results; return the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    out_dir = out_dir_for(args)
    results = bench.run_or_report("other_scripts", out_dir, lambda: run(args))
    if results is None:
        return 2
    json_path, md_path = write_results(results, out_dir)
    passed, total = bench.targets_met(results)
    every = bench.targets_met(read_json(out_dir / "results.json") or None, results)
    bench.log(f"{passed}/{total} issue-12 targets met ({every[0]}/{every[1]} in {md_path.name}); "
              f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
