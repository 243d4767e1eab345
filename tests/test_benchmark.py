"""Tests for benchmarks/run.py: the pure pieces, the report, and the shipped-model measurements on a tiny model.

The quick run itself trains three models and takes about a minute, too long for the suite;
``make benchmark-quick`` runs it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from digitlab import config, model as model_lib, robustness

SCRIPT = config.REPO_ROOT / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def by_kind(value: float) -> dict[str, float]:
    return {"all": value, **{k: value for k in robustness.KINDS}}


@pytest.fixture
def results(bench) -> dict:
    """A complete results dict in which every target is met."""
    training = {"epochs": 15, "test_accuracy": 0.99, "wall_s": 60.0, "train_images": 21910, "images_per_s": 5477.5}
    return {
        "command": "python benchmarks/run.py", "quick": False, "date": "2025-01-01T00:00:00+00:00", "git": "abc1234",
        "machine": {"cpu": "Test CPU 9000", "cores": 2, "memory_gb": 24.0, "load_at_start": 1.0,
                    "versions": {"python": "3.11", "tensorflow": "2.x"}},
        "plan": {"fraction": 1.0}, "total_wall_s": 2700.0,
        "data": {"file": "mnist.npz", "sha256": "0" * 64, "train_images": 24345, "test_images": 10000},
        "robustness_set": {"seed": 42, "per_kind": 200, "counts": {"all": 1800, **{k: 200 for k in robustness.KINDS}}},
        "shipped": {"path": "models/digitlab_cnn.keras", "size_mb": 1.2, "test_accuracy": 0.996,
                    "throughput_images_per_s": 5000.0, "latency": {"median_ms": 1.5, "p95_ms": 2.5, "calls": 300},
                    "robustness": by_kind(0.98)},
        "reference": {**training, "latency": {"median_ms": 40.0, "p95_ms": 60.0, "calls": 300},
                      "robustness": {"resize": by_kind(0.40), "to_mnist": by_kind(0.85)}},
        "reference_same_wall": {**training, "epochs": 150, "test_accuracy": 0.990},
        "digitlab": {"runs": [{}, {}, {}], "epochs": 30, "test_accuracy_mean": 0.9955, "test_accuracy_std": 0.0004,
                     "wall_s_mean": 600.0, "images_per_s_mean": 1100.0, "robustness_mean": by_kind(0.975)},
    }


def test_latency_counts_calls_after_warm_up(bench):
    seen = []
    images = np.arange(5)
    stats = bench.latency_ms(seen.append, images, calls=12, warmup=3)
    assert len(seen) == 15 and seen[:4] == [0, 1, 2, 0]
    assert stats["calls"] == 12 and 0 <= stats["median_ms"] <= stats["p95_ms"]


def test_same_wall_epochs(bench):
    assert bench.same_wall_epochs(600, wall_s=75, epochs=15) == 120
    assert bench.same_wall_epochs(1, wall_s=75, epochs=15) == 1


def test_mean_std_is_the_sample_standard_deviation(bench):
    assert bench.mean_std([1, 2, 3]) == (2.0, 1.0)
    assert bench.mean_std([0.5]) == (0.5, 0.0)


def test_a_target_passes_from_its_value_and_goal(bench):
    at_least = bench.Target("accuracy", 99.5, 99.5 * (1 - 1e-15), ">=", "%")  # the goal, up to rounding
    assert at_least.passed and not bench.Target("accuracy", 99.5, 99.4, ">=", "%").passed
    assert bench.Target("size", 5, 4.9, "<=", " MB").passed and not bench.Target("size", 5, 5.1, "<=", " MB").passed
    assert bench.Target("gain", 0.5, 0.7, ">=", " points").report() == {
        "target": "gain", "goal": ">= +0.5 points", "value": 0.7, "unit": " points", "passed": True}
    assert bench.Target("rate", 3000, 2900.0, ">=", " images/s").report()["goal"] == ">= 3,000 images/s"
    with pytest.raises(ValueError, match="comparison"):
        bench.Target("rate", 3000, 2900.0, "=", " images/s")


def test_targets_all_pass_when_every_goal_is_met(bench, results):
    targets = bench.evaluate_targets(results)
    assert len(targets) == 10 and all(t["passed"] for t in targets)
    speedup = next(t for t in targets if "speed-up" in t["target"])
    assert speedup["value"] == pytest.approx(40 / 1.5)


@pytest.mark.parametrize(
    ("path", "value", "failing"),
    [
        (("shipped", "test_accuracy"), 0.994, "shipped model test accuracy"),
        (("shipped", "size_mb"), 5.2, "shipped model size on disk"),
        (("reference_same_wall", "test_accuracy"), 0.992, "same wall time"),
        (("shipped", "throughput_images_per_s"), 2900.0, "batch throughput"),
    ],
)
def test_each_missed_goal_fails_its_target_only(bench, results, path, value, failing):
    results[path[0]][path[1]] = value
    failed = [t["target"] for t in bench.evaluate_targets(results) if not t["passed"]]
    assert len(failed) == 1 and failing in failed[0]


def test_robustness_is_compared_with_both_ways_of_using_the_reference(bench, results):
    results["reference"]["robustness"]["to_mnist"] = by_kind(0.90)  # recipe 97.5%: only 7.5 points ahead
    targets = {t["target"]: t for t in bench.evaluate_targets(results)}
    assert [name for name, t in targets.items() if not t["passed"]] == [
        "robustness: recipe vs reference, also through to_mnist"]
    assert targets["robustness: recipe vs reference, whole canvas resized"]["value"] == pytest.approx(57.5)


def test_latency_targets(bench, results):
    results["shipped"]["latency"]["median_ms"], results["reference"]["latency"]["median_ms"] = 3.2, 60.0
    failed = [t["target"] for t in bench.evaluate_targets(results) if not t["passed"]]
    assert failed == ["single-drawing latency, median"]
    results["shipped"]["latency"]["median_ms"], results["reference"]["latency"]["median_ms"] = 2.0, 20.0
    failed = [t["target"] for t in bench.evaluate_targets(results) if not t["passed"]]
    assert failed == ["single-drawing speed-up over the reference way"]


def test_markdown_report(bench, results):
    results["shipped"]["size_mb"] = 6.0
    results["targets"] = bench.evaluate_targets(results)
    md = bench.render_markdown(results)
    assert md.startswith("# Benchmark results\n")
    assert "`python benchmarks/run.py`" in md and "Test CPU 9000, 2 cores" in md
    assert md.count("| PASS |") == 9 and md.count("| **FAIL** |") == 1
    assert "| 6.00 MB | **FAIL** |" in md
    assert "| digitlab recipe, 3 seed(s) (mean ± std) | 30 | 99.55% ± 0.04% | 600 s | 1,100 |" in md
    assert "| thick | 200 | 40.0% | 85.0% | 97.5% | 98.0% |" in md
    assert "**5,000 images/s**" in md


def test_markdown_table(bench):
    assert bench.markdown_table(["a", "b"], [(1, 2), (3, 4)]) == "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |"


def test_write_results_writes_both_files_and_no_leftovers(bench, results, tmp_path):
    results["targets"] = bench.evaluate_targets(results)
    json_path, md_path = bench.write_results(results, tmp_path)
    assert json.loads(json_path.read_text()) == results
    assert f"[benchmarks/README.md]({os.path.relpath(SCRIPT.parent / 'README.md', tmp_path)})" in md_path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md", "results.json"]


def test_quick_writes_to_the_ignored_folder_and_full_to_benchmarks(bench, tmp_path):
    parse = bench.build_parser().parse_args
    assert bench.out_dir_for(parse(["--quick"])) == bench.QUICK_DIR == SCRIPT.parent / "out"
    assert bench.out_dir_for(parse([])) == SCRIPT.parent
    assert bench.out_dir_for(parse(["--quick", "--out-dir", str(tmp_path)])) == tmp_path
    assert bench.plan_for(parse(["--quick"])) == bench.QUICK
    assert bench.plan_for(parse(["--seeds", "5"])).seeds == 5
    assert bench.plan_for(parse(["--seeds", "5"])).per_kind == bench.FULL.per_kind
    with pytest.raises(ValueError, match="--seeds"):
        bench.plan_for(parse(["--seeds", "0"]))


def test_missing_model_is_one_error_line_and_writes_nothing(bench, tmp_path, capsys, mnist_path):
    status = bench.main(["--quick", "--out-dir", str(tmp_path), "--data", str(mnist_path),
                         "--model", str(tmp_path / "nope.keras")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.keras" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_machine_info(bench):
    info = bench.machine_info()
    assert info["cpu"] and info["cores"] >= 1 and info["memory_gb"] > 0
    assert {"python", "tensorflow", "keras", "numpy"} <= set(info["versions"])


@pytest.mark.slow
def test_shipped_model_measurements_on_a_tiny_model(bench, tmp_path, mnist):
    path = model_lib.save_model(model_lib.build_reference_cnn(), tmp_path / "tiny.keras")
    x_test, y_test = mnist[1][0][:300], mnist[1][1][:300]
    drawings = robustness.build_drawing_set(x_test, y_test, per_kind=2)
    plan = bench.Plan(**{**vars(bench.QUICK), "latency_calls": 10, "warmup": 2})
    out = bench.measure_shipped(path, x_test, y_test, drawings, robustness.prepare(drawings.images), plan)
    assert out["size_mb"] == pytest.approx(path.stat().st_size / 1e6)
    assert 0 <= out["test_accuracy"] <= 1 and out["throughput_images_per_s"] > 0
    assert out["latency"]["calls"] == 10 and out["latency"]["median_ms"] > 0
    assert set(out["robustness"]) == {"all", *robustness.KINDS}
    probs = bench.reference_way(model_lib.load_model(path))(drawings.images[0])
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1, rel=1e-4)
