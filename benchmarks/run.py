"""Benchmark digitlab against the reference "Simple MNIST convnet": accuracy, speed and robustness.

    python benchmarks/run.py            # full run, about an hour on a 2-core CPU: benchmarks/RESULTS.md + results.json
    python benchmarks/run.py --quick    # smoke run in under 2 minutes: benchmarks/out/ (git-ignored)

Everything runs in one process on the same data and machine: the reference recipe (15 epochs,
and again for the wall time digitlab's recipe takes), digitlab's default recipe over several
seeds, then latency, throughput, size and robustness of the shipped model. Results are written
at the end, each file atomically, so an interrupted run leaves the previous results untouched.
See benchmarks/README.md for what each number means.
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
from typing import Callable, Sequence

import digitlab
from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras: TensorFlow's native start-up chatter is silenced only there

import keras  # noqa: E402
import numpy as np  # noqa: E402
import PIL  # noqa: E402
import scipy  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from digitlab import config, data, model as model_lib, predict, preprocess, robustness, train  # noqa: E402
from digitlab.files import atomic_path, write_json_atomic  # noqa: E402

__all__ = [
    "Plan", "FULL", "QUICK", "Target", "latency_ms", "reference_way", "throughput", "robustness_of", "training_numbers",
    "same_wall_epochs", "mean_std", "measure_shipped", "run_reference", "run_digitlab", "evaluate_targets",
    "markdown_table", "render_markdown", "machine_info", "git_commit", "build_parser", "plan_for", "out_dir_for",
    "run", "write_results", "main",
]

HERE = Path(__file__).resolve().parent
#: Where ``--quick`` writes unless told otherwise (git-ignored), so it never replaces RESULTS.md.
QUICK_DIR = HERE / "out"
MB = 1_000_000


@dataclass(frozen=True)
class Plan:
    """How much work one run does; ``digitlab_epochs=None`` keeps ``train.train``'s default."""

    fraction: float
    reference_epochs: int
    digitlab_epochs: int | None
    seeds: int
    per_kind: int
    latency_calls: int
    warmup: int
    throughput_repeats: int
    keras_verbose: int  # 2: one line per epoch, readable in a nohup log


FULL = Plan(fraction=1.0, reference_epochs=15, digitlab_epochs=None, seeds=3, per_kind=200,
            latency_calls=300, warmup=20, throughput_repeats=3, keras_verbose=2)
QUICK = Plan(fraction=0.08, reference_epochs=1, digitlab_epochs=2, seeds=1, per_kind=8,
             latency_calls=40, warmup=5, throughput_repeats=1, keras_verbose=0)


def log(message: str) -> None:
    """Print one timestamped progress line at once (the full run is meant for ``nohup``)."""
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def bar(iterable, desc: str):
    """Return ``iterable`` wrapped in a tqdm bar shown on terminals only (no log spam under nohup)."""
    return tqdm(iterable, desc=desc, leave=False, disable=None)


# --- measurements -----------------------------------------------------------------------------


def latency_ms(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, *, calls: int, warmup: int) -> dict:
    """Return median and 95th-percentile milliseconds of ``fn(image)`` over ``calls`` images, after warm-up."""
    for i in range(warmup):
        fn(images[i % len(images)])
    times = []
    for i in bar(range(calls), "latency"):
        start = time.perf_counter()
        fn(images[i % len(images)])
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)), "calls": calls}


def reference_way(model) -> Callable[[np.ndarray], np.ndarray]:
    """Return image -> probabilities the way MNIST demos do it: whole canvas resized, ``model.predict``."""
    return lambda image: model.predict(robustness.resize_canvas(image[None])[..., None], verbose=0)[0]


def throughput(predictor: predict.Predictor, x: np.ndarray, *, repeats: int) -> tuple[float, np.ndarray]:
    """Return (images/s of ``predict_batch`` on ``x``, median of ``repeats`` timed runs; the probabilities)."""
    predictor.predict_batch(x[: predict.CHUNK])  # warm-up
    times, probs = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        probs = predictor.predict_batch(x)
        times.append(time.perf_counter() - start)
    return len(x) / float(np.median(times)), probs


def robustness_of(model, drawings: robustness.DrawingSet, prepared: np.ndarray) -> dict[str, float]:
    """Return accuracy by kind of a Keras model on the drawings made 28x28 (``prepared``: by ``to_mnist``, or resized)."""
    probs = model_lib.predict_proba(model, preprocess.to_model_input(prepared))
    return robustness.accuracy_by_kind(drawings.labels, probs, drawings.kinds)


def training_numbers(result: train.TrainResult) -> dict:
    """Return test accuracy, epochs, wall time and training images/s from a finished training."""
    card = result.card
    n = card["training_data"]["train_images"]
    return {"epochs": card["epochs"], "test_accuracy": card["test_accuracy"], "wall_s": card["wall_time_s"],
            "train_images": n, "images_per_s": n * card["epochs"] / max(card["wall_time_s"], 1e-9)}


def same_wall_epochs(target_wall_s: float, wall_s: float, epochs: int) -> int:
    """Return how many epochs a run that took ``wall_s`` for ``epochs`` needs to last ``target_wall_s``."""
    return max(1, round(target_wall_s / (wall_s / epochs)))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Return the mean and the sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


# --- stages -----------------------------------------------------------------------------------


def measure_shipped(model_path: Path, x_test, y_test, drawings, prepared, plan: Plan) -> dict:
    """Return the shipped model's size, test accuracy, latency, throughput and robustness."""
    predictor = predict.Predictor(model_path)
    rate, probs = throughput(predictor, x_test, repeats=plan.throughput_repeats)
    log(f"shipped model: {rate:,.0f} images/s; timing single drawings")
    latency = latency_ms(predictor.predict, drawings.images, calls=plan.latency_calls, warmup=plan.warmup)
    return {
        "path": os.path.relpath(model_path, config.REPO_ROOT), "size_mb": model_path.stat().st_size / MB,
        "test_accuracy": float(np.mean(probs.argmax(axis=1) == y_test)), "throughput_images_per_s": rate,
        "latency": latency, "robustness": robustness_of(predictor.model, drawings, prepared),
    }


def run_reference(source: Path, epochs: int, plan: Plan, drawings, prepared, resized, *, time_it: bool) -> dict:
    """Return the reference recipe's training numbers, robustness both ways and (if ``time_it``) latency."""
    result = train.train(recipe="reference", epochs=epochs, batch_size=128, data_path=source,
                         fraction=plan.fraction, verbose=plan.keras_verbose)
    out = training_numbers(result)
    out["robustness"] = {"resize": robustness_of(result.model, drawings, resized),
                         "to_mnist": robustness_of(result.model, drawings, prepared)}
    if time_it:
        out["latency"] = latency_ms(reference_way(result.model), drawings.images,
                                    calls=plan.latency_calls, warmup=plan.warmup)
    return out


def run_digitlab(source: Path, plan: Plan, drawings, prepared) -> dict:
    """Return digitlab's default recipe over ``plan.seeds`` seeds: each run, and mean/std across them."""
    runs = []
    for i in range(plan.seeds):
        seed = config.SEED + i
        log(f"digitlab recipe, seed {seed} ({i + 1}/{plan.seeds})")
        kwargs = {} if plan.digitlab_epochs is None else {"epochs": plan.digitlab_epochs}
        result = train.train(data_path=source, fraction=plan.fraction, seed=seed,
                             verbose=plan.keras_verbose, **kwargs)
        runs.append({"seed": seed, **training_numbers(result), "robustness": robustness_of(result.model, drawings, prepared)})
        log(f"  test accuracy {runs[-1]['test_accuracy']:.4f}, {runs[-1]['wall_s']:.0f} s")
    acc_mean, acc_std = mean_std([r["test_accuracy"] for r in runs])
    return {
        "runs": runs, "epochs": runs[0]["epochs"], "test_accuracy_mean": acc_mean, "test_accuracy_std": acc_std,
        "wall_s_mean": mean_std([r["wall_s"] for r in runs])[0],
        "images_per_s_mean": mean_std([r["images_per_s"] for r in runs])[0],
        "robustness_mean": {k: mean_std([r["robustness"][k] for r in runs])[0] for k in runs[0]["robustness"]},
    }


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


def evaluate_targets(r: dict) -> list[dict]:
    """Return each target of issue 4 with its goal, the measured value and whether it passed (``Target.report``)."""
    shipped, ref, dlab = r["shipped"], r["reference"], r["digitlab"]
    robust = dlab["robustness_mean"]["all"]
    speedup = ref["latency"]["median_ms"] / shipped["latency"]["median_ms"]
    points = " points"
    targets = [
        Target("shipped model test accuracy", 99.5, shipped["test_accuracy"] * 100, ">=", "%"),
        Target("shipped model size on disk", 5, shipped["size_mb"], "<=", " MB"),
        Target("recipe vs reference trained for the same wall time", 0.5,
               (dlab["test_accuracy_mean"] - r["reference_same_wall"]["test_accuracy"]) * 100, ">=", points),
        Target("single-drawing latency, median", 3, shipped["latency"]["median_ms"], "<=", " ms"),
        Target("single-drawing speed-up over the reference way", 15, speedup, ">=", "x"),
        Target("batch throughput (predict_batch)", 3000, shipped["throughput_images_per_s"], ">=", " images/s"),
        Target("robustness: recipe vs reference, whole canvas resized", 10,
               (robust - ref["robustness"]["resize"]["all"]) * 100, ">=", points),
        Target("robustness: recipe vs reference, also through to_mnist", 10,
               (robust - ref["robustness"]["to_mnist"]["all"]) * 100, ">=", points),
        Target("robustness: shipped model vs its clean accuracy", -3,
               (shipped["robustness"]["all"] - shipped["test_accuracy"]) * 100, ">=", points),
        Target("robustness: recipe vs its clean accuracy", -3, (robust - dlab["test_accuracy_mean"]) * 100, ">=", points),
    ]
    return [t.report() for t in targets]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Return a GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(r: dict, readme: str = "README.md") -> str:
    """Return RESULTS.md: machine, command, targets, then accuracy, speed and robustness tables.

    ``readme`` is the link to benchmarks/README.md relative to where RESULTS.md is written.
    """
    m, d = r["machine"], r["data"]
    head = [
        "# Benchmark results" + (" (quick run: reduced, not comparable)" if r["quick"] else ""),
        "",
        "> digitlab's recipe and shipped model against the reference \"Simple MNIST convnet\" recipe, "
        f"one run, same data, same machine. How to read and rerun it: [benchmarks/README.md]({readme}).",
        "",
        f"- Command: `{r['command']}` (git {r['git']}, {r['date']}, {r['total_wall_s'] / 60:.0f} min)",
        f"- Machine: {m['cpu']}, {m['cores']} cores usable, {m['memory_gb']:.0f} GB RAM, "
        f"load average {m['load_at_start']:.1f} at start (the CPU is shared: timings are noisy)",
        f"- Software: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Data: `{d['file']}` (sha256 {d['sha256'][:12]}...), {d['train_images']:,} training images "
        f"({r['plan']['fraction']:.0%} used, 10% of them held out for validation), {d['test_images']:,} test images",
    ]
    sections = [_targets_md(r), _accuracy_md(r), _speed_md(r), _robustness_md(r)]
    return "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"


def _targets_md(r: dict) -> str:
    rows = [(t["target"], t["goal"], f"{t['value']:,.2f}{t['unit']}", "PASS" if t["passed"] else "**FAIL**")
            for t in r["targets"]]
    return "## Targets\n\n" + markdown_table(["target", "goal", "measured", "result"], rows)


def _accuracy_md(r: dict) -> str:
    ref, same, dlab, shipped = r["reference"], r["reference_same_wall"], r["digitlab"], r["shipped"]

    def row(name, n):
        return (name, n["epochs"], f"{n['test_accuracy']:.2%}", f"{n['wall_s']:.0f} s", f"{n['images_per_s']:,.0f}")

    rows = [
        row("reference recipe", ref),
        row("reference recipe, same wall time as digitlab's", same),
        (f"digitlab recipe, {len(dlab['runs'])} seed(s) (mean ± std)", dlab["epochs"],
         f"{dlab['test_accuracy_mean']:.2%} ± {dlab['test_accuracy_std']:.2%}", f"{dlab['wall_s_mean']:.0f} s",
         f"{dlab['images_per_s_mean']:,.0f}"),
        ("shipped model (`" + Path(shipped["path"]).name + "`)", "", f"{shipped['test_accuracy']:.2%}", "", ""),
    ]
    return ("## Test accuracy and training time\n\n10,000 MNIST test images; wall time of `model.fit`, "
            "images/s = training images x epochs / wall time.\n\n"
            + markdown_table(["model", "epochs", "test accuracy", "training wall time", "training images/s"], rows))


def _speed_md(r: dict) -> str:
    ref, shipped = r["reference"]["latency"], r["shipped"]["latency"]
    rows = [
        ("reference way: whole canvas resized to 28x28, `model.predict`", "reference recipe",
         f"{ref['median_ms']:.2f}", f"{ref['p95_ms']:.2f}", ref["calls"]),
        ("digitlab: `Predictor.predict` (`to_mnist` + compiled call)", "shipped",
         f"{shipped['median_ms']:.2f}", f"{shipped['p95_ms']:.2f}", shipped["calls"]),
    ]
    return ("## Speed\n\nSingle drawing: a raw 280x280 canvas from the robustness set to 10 probabilities, "
            "after warm-up.\n\n" + markdown_table(["way", "model", "median ms", "p95 ms", "calls"], rows)
            + f"\n\nBatch: `Predictor.predict_batch` on the 10,000 test images: "
            f"**{r['shipped']['throughput_images_per_s']:,.0f} images/s**.")


def _robustness_md(r: dict) -> str:
    columns = {
        "reference, whole canvas resized": r["reference"]["robustness"]["resize"],
        "reference, `to_mnist`": r["reference"]["robustness"]["to_mnist"],
        "digitlab recipe (mean of seeds), `to_mnist`": r["digitlab"]["robustness_mean"],
        "shipped, `to_mnist`": r["shipped"]["robustness"],
    }
    counts = r["robustness_set"]["counts"]
    rows = [(k, counts[k], *(f"{col[k]:.1%}" for col in columns.values())) for k in columns["shipped, `to_mnist`"]]
    return ("## Robustness\n\nAccuracy on the drawing-like set (`digitlab.robustness`, seed "
            f"{r['robustness_set']['seed']}, {counts['all']:,} drawings), by kind; each kind is described in "
            "benchmarks/README.md.\n\n" + markdown_table(["kind", "images", *columns], rows))


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


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of the benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced run in under 2 minutes, written to benchmarks/out/")
    p.add_argument("--seeds", type=int, help="seeds of digitlab's recipe (default 3, or 1 with --quick)")
    p.add_argument("--out-dir", type=Path, help="where RESULTS.md and results.json go "
                                                "(default benchmarks/, or benchmarks/out/ with --quick)")
    p.add_argument("--data", type=Path, help="mnist.npz or IDX folder (default: $DIGITLAB_DATA, then data/mnist.npz)")
    p.add_argument("--model", type=Path, default=config.SHIPPED_MODEL, help="the shipped model to measure")
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
    model_lib.load_model(args.model)  # a missing or broken model fails now, not after an hour of training
    source = data.find_mnist(args.data)
    (x_train, _), (x_test, y_test) = data.load_mnist(source)
    log(f"data {source.name}: {len(x_train):,} training, {len(x_test):,} test images; building the drawing set")
    drawings = robustness.build_drawing_set(x_test, y_test, per_kind=plan.per_kind, seed=config.SEED,
                                            progress=lambda it: bar(it, "drawings"))
    prepared, resized = robustness.prepare(drawings.images), robustness.resize_canvas(drawings.images)
    log(f"reference recipe, epochs={plan.reference_epochs}")
    reference = run_reference(source, plan.reference_epochs, plan, drawings, prepared, resized, time_it=True)
    digitlab_recipe = run_digitlab(source, plan, drawings, prepared)
    epochs = same_wall_epochs(digitlab_recipe["wall_s_mean"], reference["wall_s"], reference["epochs"])
    log(f"reference recipe for digitlab's wall time ({digitlab_recipe['wall_s_mean']:.0f} s): epochs={epochs}")
    same_wall = run_reference(source, epochs, plan, drawings, prepared, resized, time_it=False)
    log(f"measuring the shipped model {args.model}")  # last: speed is timed once training is over
    shipped = measure_shipped(args.model, x_test, y_test, drawings, prepared, plan)
    results = {
        "command": "python " + shlex.join([os.path.relpath(sys.argv[0], config.REPO_ROOT), *sys.argv[1:]]),
        "quick": args.quick, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(), "machine": machine_info(), "plan": asdict(plan),
        "data": {"file": source.name, "sha256": data.sha256(source), "train_images": len(x_train), "test_images": len(x_test)},
        "robustness_set": {"seed": config.SEED, "per_kind": plan.per_kind,
                           "counts": {"all": len(drawings), **{k: int(np.sum(drawings.kinds == k)) for k in robustness.KINDS}}},
        "shipped": shipped, "reference": reference, "reference_same_wall": same_wall, "digitlab": digitlab_recipe,
        "total_wall_s": time.perf_counter() - start,
    }
    results["targets"] = evaluate_targets(results)
    return results


def write_results(results: dict, out_dir: Path) -> tuple[Path, Path]:
    """Return the paths of results.json and RESULTS.md after writing both atomically into ``out_dir``."""
    json_path = write_json_atomic(out_dir / "results.json", results)
    md_path = out_dir / "RESULTS.md"
    text = render_markdown(results, readme=os.path.relpath(HERE / "README.md", out_dir))
    with atomic_path(md_path) as tmp:
        tmp.write_text(text)
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its results; return the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        out_dir = out_dir_for(args)
        out_dir.mkdir(parents=True, exist_ok=True)
        results = run(args)
    except (ValueError, OSError) as exc:  # DataError and ModelFileError are ValueErrors
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 2
    paths = write_results(results, out_dir)
    passed = sum(t["passed"] for t in results["targets"])
    log(f"{passed}/{len(results['targets'])} targets met; wrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
