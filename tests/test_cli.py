"""``python -m digitlab``: success and error paths, run as real subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def run(*args: str, check_ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "digitlab", *args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("digitlab: error:")]


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, mnist):
    """Test digits saved as image files the way users have them: big, either polarity, JPEG or PNG."""
    folder = tmp_path_factory.mktemp("digits")
    (x, y) = mnist[1]
    files = {}
    for i, idx in enumerate([0, 1, 2, 3, 4, 8]):
        img = Image.fromarray(x[idx] if i % 2 else 255 - x[idx]).resize((200 + 40 * i, 240), Image.Resampling.BICUBIC)
        path = folder / f"digit{i}.{'jpg' if i == 3 else 'png'}"
        img.convert("RGB").save(path)
        files[path] = int(y[idx])
    return files


def test_predict_text_and_json(shipped_model, digit_files):
    paths = [str(p) for p in digit_files]
    text = run("predict", *paths)
    lines = text.stdout.strip().splitlines()
    assert len(lines) == len(paths)
    for line, (path, label) in zip(lines, digit_files.items()):
        assert line.startswith(f"{path}: {label}   ({label}: ")
    js = run("predict", "--json", *paths)
    objects = [json.loads(line) for line in js.stdout.strip().splitlines()]
    assert [o["digit"] for o in objects] == list(digit_files.values())
    assert all(len(o["probabilities"]) == 10 and abs(sum(o["probabilities"]) - 1) < 1e-3 for o in objects)
    assert [o["file"] for o in objects] == paths


def test_predict_bad_files_each_get_one_line_and_others_still_run(shipped_model, digit_files, tmp_path):
    good = str(next(iter(digit_files)))
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    proc = run("predict", "--json", str(tmp_path / "missing.png"), str(not_image), good, str(blank), check_ok=False)
    assert proc.returncode == 1
    errors = error_lines(proc)
    assert len(errors) == 3 and len(proc.stderr.strip().splitlines()) == 3
    assert "missing.png: no such file" in errors[0]
    assert "notes.png: not an image file" in errors[1]
    assert "blank.png: image has no ink" in errors[2]
    assert json.loads(proc.stdout)["file"] == good


@pytest.mark.parametrize(
    "args, message",
    [
        (("predict",), "the following arguments are required: FILE"),
        (("train", "--epochs", "0"), "must be a positive integer"),
        (("evaluate", "--colour"), "unrecognized arguments: --colour"),
        (("fly",), "invalid choice: 'fly'"),
    ],
)
def test_bad_options_are_one_line(args, message):
    proc = run(*args, check_ok=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_missing_model_and_data_are_named(tmp_path):
    proc = run("evaluate", "--model", str(tmp_path / "none.keras"), check_ok=False)
    assert proc.returncode == 2 and error_lines(proc) == [
        f"digitlab: error: model file not found: {tmp_path / 'none.keras'} (train one with `python -m digitlab train`)"
    ]
    proc = run("train", "--data", str(tmp_path / "nothing.npz"), check_ok=False)
    assert proc.returncode == 2 and "nothing.npz" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_no_data_anywhere_lists_every_way_on_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DIGITLAB_DATA"}
    code = ("import sys, digitlab.config as c, digitlab.data as d, pathlib; c.DATA_DIR = pathlib.Path(sys.argv[1]); "
            "d.MNIST_URL = 'http://127.0.0.1:9/mnist.npz'; from digitlab.cli import main; sys.exit(main(['evaluate']))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    *progress, line = [text for text in proc.stderr.splitlines() if text.strip()]
    assert all(text.startswith("downloading mnist.npz") for text in progress), "only the download's progress bar"
    assert line.startswith("digitlab: error: MNIST not found (download from http://127.0.0.1:9/mnist.npz failed")
    for way in ("1. pass a path", "2. set $DIGITLAB_DATA", "3. put Keras's mnist.npz at", "4. connect to the internet"):
        assert way in line


@pytest.mark.slow
def test_evaluate_json_on_the_full_test_set(shipped_model, mnist_path):
    report = json.loads(run("evaluate", "--json", "--data", str(mnist_path)).stdout)
    assert report["n"] == 10000 and report["accuracy"] >= 0.993
    cm = np.array(report["confusion_matrix"])
    assert cm.sum() == 10000 and np.trace(cm) == round(report["accuracy"] * 10000)
    text = run("evaluate", "--data", str(mnist_path)).stdout
    assert f"accuracy  {report['accuracy']:.4f}" in text and "confusion matrix" in text


@pytest.mark.slow
def test_train_command_saves_model_history_and_card(tmp_path, mnist_path):
    out = tmp_path / "cli.keras"
    proc = run("train", "--epochs", "1", "--fraction", "0.05", "--recipe", "reference", "--data", str(mnist_path),
               "--out", str(out))
    assert f"saved {out}: test accuracy" in proc.stdout
    card = json.loads((tmp_path / "cli.card.json").read_text())
    assert card["recipe"] == "reference" and card["epochs"] == 1 and card["test_accuracy"] > 0.5
    assert (tmp_path / "cli.history.json").exists()
