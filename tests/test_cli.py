"""``python -m digitlab``: success and error paths, run as real subprocesses."""
from __future__ import annotations

import re
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import digitlab
from digitlab import analysis, cli, config, scripts


def run(*args: str, check_ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "digitlab", *args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("digitlab: error:")]


RUN_MAIN = """
import json, sys
from digitlab import cli
try:
    status = cli.main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
print(json.dumps({"status": status, "loaded": [m for m in ("tensorflow", "keras", "digitlab.plots") if m in sys.modules]}))
"""


def run_main(*args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``cli.main(args)`` in a fresh interpreter; return the process and its status and heavy imports."""
    proc = subprocess.run([sys.executable, "-c", RUN_MAIN, *args], capture_output=True, text=True, timeout=600,
                          env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    *_, last = proc.stdout.splitlines()
    return proc, json.loads(last)


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
    for line, (path, label) in zip(lines, digit_files.items()):  # read, or declined with the digit still on top
        answer, top = line.split("   (")
        assert answer in (f"{path}: {label}", f"{path}: that doesn't look like a digit (not a digit)") or \
            answer.startswith(f"{path}: not sure: {label} or "), line
        assert top.startswith(f"{label}: "), line
    assert sum(line.startswith(f"{path}: {label}   (") for line, (path, label) in zip(lines, digit_files.items())) >= 5
    js = run("predict", "--json", *paths)
    objects = [json.loads(line) for line in js.stdout.strip().splitlines()]
    assert [o["digit"] for o in objects] == [label if o["reason"] is None else None
                                             for o, label in zip(objects, digit_files.values())]
    assert [int(np.argmax(o["probabilities"])) for o in objects] == list(digit_files.values())
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
        (("predict",), "the following arguments are required: FILE (see `digitlab predict --help`)"),
        (("train", "--epochs", "0"), "argument --epochs: invalid positive integer value: '0'"),
        (("train", "--batch-size", "x"), "argument --batch-size: invalid positive integer value: 'x'"),
        (("train", "--fraction", "2"), "argument --fraction: invalid fraction value: '2' (a number above 0"),
        (("train", "--fraction", "0"), "argument --fraction: invalid fraction value: '0'"),
        (("train", "--seed", "-1"), "argument --seed: invalid seed value: '-1'"),
        (("evaluate", "--colour"), "unrecognized arguments: --colour (see `digitlab evaluate --help`)"),
        (("fly",), "invalid choice: 'fly'"),
        (("--colour",), "(see `digitlab --help`)"),
    ],
)
def test_bad_options_are_one_line(args, message):
    proc = run(*args, check_ok=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    assert "_positive_int" not in proc.stderr and "digitlab digitlab" not in proc.stderr


def test_version():
    assert run("--version").stdout == f"digitlab {digitlab.__version__}\n"


@pytest.mark.parametrize("command", ["train", "evaluate", "precise-bn", "predict"])
def test_every_option_has_help(command):
    """Each option of ``--help`` is followed by a description, on its line or the next, more indented one."""
    lines = run(command, "--help").stdout.split("options:")[1].splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  -"):
            described = len(line.strip().split("  ")) > 1
            assert described or lines[i + 1].startswith(" " * 8), f"{command}: no help for {line.strip()}"


@pytest.fixture
def bad_paths(tmp_path):
    """A text file, a folder and a missing path, for arguments that expect something else."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model, not data")
    folder = tmp_path / "folder.keras"
    folder.mkdir()
    return {"notes": notes, "folder": folder, "missing": tmp_path / "missing.npz", "tmp": tmp_path}


@pytest.mark.parametrize(
    "args, env_data, message",
    [
        (("train", "--out", "{tmp}/model.txt"), None, "--out {tmp}/model.txt: models are saved in the .keras format"),
        (("train", "--out", "{folder}"), None, "--out {folder}: is a folder"),
        (("train", "--out", "{notes}/sub/m.keras"), None, "--out {notes}/sub/m.keras: {notes} is a file, not a folder"),
        (("train", "--data", "{missing}"), None, "MNIST file given by --data does not exist: {missing}"),
        (("train",), "{missing}", "MNIST file given by $DIGITLAB_DATA does not exist: {missing}"),
        (("evaluate", "--model", "{tmp}/none.keras"), None, "model file not found: {tmp}/none.keras"),
        (("evaluate", "--model", "{notes}"), None, "{notes}: not a .keras model file"),
        (("evaluate", "--data", "{missing}"), None, "MNIST file given by --data does not exist: {missing}"),
        (("predict", "--model", "{folder}", "x.png"), None, "{folder}: not a .keras model file"),
        (("train", "--epochs", "0", "--out", "{tmp}/m.keras"), None, "invalid positive integer value: '0'"),
        (("train", "--pen-copies", "1", "--pen-data", "{missing}", "--out", "{tmp}/m.keras"), None,
         "pen digits file given by --pen-data does not exist: {missing}"),
        (("train", "--pen-copies", "-1", "--out", "{tmp}/m.keras"), None, "invalid count value: '-1'"),
        (("train", "--script", "klingon"), None, "argument --script: invalid choice: 'klingon' (choose from 'western'"),
        (("predict", "--script", "Kannada", "x.png"), None, "argument --script: invalid choice: 'Kannada'"),
        (("evaluate", "--script", "Any"), None, "argument --script: invalid choice: 'Any'"),
        (("train", "--script", "any", "--non-digits", "1", "--non-digit-scripts", "kannada", "--out", "{tmp}/m.keras"),
         None, "--non-digit-scripts: the any-script model reads every script's digits"),
        (("train", "--script", "kannada", "--pen-copies", "1", "--out", "{tmp}/m.keras"), None,
         "--pen-copies: the pen digits are Western digits; they cannot train a kannada model"),
        (("train", "--script", "tibetan", "--non-digits", "1", "--non-digit-scripts", "kannada,tibetan", "--out",
          "{tmp}/m.keras"), None, "--non-digit-scripts: tibetan is the script the model learns"),
        (("train", "--script", "persian", "--data", "{missing}", "--out", "{tmp}/m.keras"), None,
         "Persian digits file given by --data does not exist: {missing}"),
        (("train", "--init", "{notes}", "--out", "{tmp}/m.keras"), None, "--init: {notes}: not a .keras model file"),
        (("train", "--per-class", "0", "--out", "{tmp}/m.keras"), None, "argument --per-class: invalid positive integer"),
        (("train", "--restyle", "2", "--out", "{tmp}/m.keras"), None, "argument --restyle: invalid share value: '2'"),
        (("train", "--learning-rate", "0", "--out", "{tmp}/m.keras"), None,
         "argument --learning-rate: invalid learning rate value: '0'"),
        (("train", "--ema", "1", "--out", "{tmp}/m.keras"), None, "argument --ema: invalid momentum value: '1'"),
        (("train", "--elastic", "11", "--out", "{tmp}/m.keras"), None, "argument --elastic: invalid pixels value: '11'"),
        (("train", "--elastic", "2", "--recipe", "reference", "--out", "{tmp}/m.keras"), None,
         "--elastic: the reference recipe trains without augmentation"),
        (("train", "--ema", "0.99", "--recipe", "reference", "--out", "{tmp}/m.keras"), None,
         "--ema: the reference recipe keeps its own optimizer"),
        (("evaluate", "--script", "tibetan", "--model", "{notes}"), None, "{notes}: not a .keras model file"),
        (("train", "--widths", "32,64", "--out", "{tmp}/m.keras"), None, "argument --widths: invalid widths value"),
        (("train", "--init", "{tmp}/m.keras", "--widths", "8,8,8", "--out", "{tmp}/n.keras"), None,
         "--widths: a model fine-tuned from --init keeps that model's widths"),
        (("train", "--recipe", "reference", "--widths", "8,8,8", "--out", "{tmp}/n.keras"), None,
         "--widths: the reference recipe builds Keras's convnet"),
    ],
)
def test_bad_arguments_fail_before_tensorflow_is_imported(bad_paths, args, env_data, message):
    env = dict(os.environ, DIGITLAB_DATA=env_data.format(**bad_paths)) if env_data else None
    proc, result = run_main(*(a.format(**bad_paths) for a in args), env=env)
    assert result == {"status": 2, "loaded": []}
    assert error_lines(proc) == [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(error_lines(proc)) == 1 and message.format(**bad_paths) in proc.stderr


def test_unreadable_data_and_folders_get_our_words_once(bad_paths, shipped_model):
    proc = run("evaluate", "--data", str(bad_paths["notes"]), check_ok=False)
    assert error_lines(proc) == [f"digitlab: error: {bad_paths['notes']}: not an npz file (Keras's mnist.npz "
                                 "is a zip archive of numpy arrays)"]
    proc = run("predict", str(bad_paths["tmp"]), check_ok=False)
    assert error_lines(proc) == [f"digitlab: error: {bad_paths['tmp']}: is a folder, not an image file"]


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
    assert "\r" not in proc.stderr, "no progress-bar remnants when stderr is not a terminal"
    line, = proc.stderr.splitlines()
    assert line.startswith("digitlab: error: MNIST not found (download from http://127.0.0.1:9/mnist.npz failed")
    for way in ("1. pass a path", "2. set $DIGITLAB_DATA", "3. put Keras's mnist.npz at", "4. connect to the internet"):
        assert way in line


@pytest.mark.slow
def test_evaluate_json_on_the_full_test_set(shipped_model, mnist_path):
    report = json.loads(run("evaluate", "--json", "--data", str(mnist_path)).stdout)
    assert report["n"] == 10000 and report["accuracy"] >= 0.993
    cm = np.array(report["confusion_matrix"])
    assert cm.sum() == 10000 and np.trace(cm) == round(report["accuracy"] * 10000)
    proc, result = run_main("evaluate", "--data", str(mnist_path))
    # Keras itself imports matplotlib when it is installed; digitlab's tables must not need plots.
    assert result == {"status": 0, "loaded": ["tensorflow", "keras"]}, "tables without digitlab.plots"
    assert f"accuracy  {report['accuracy']:.4f}" in proc.stdout
    assert str(analysis.per_class_table(cm)) in proc.stdout
    matrix = proc.stdout.split("confusion matrix (rows true, columns predicted)\n")[1].splitlines()
    assert matrix[0].split() == ["true", *map(str, range(10))]
    assert [[int(v) for v in row.split()[1:]] for row in matrix[1:11]] == cm.tolist()


@pytest.mark.slow
def test_train_command_saves_model_history_and_card(tmp_path, mnist_path):
    """Redirected output gets one line per epoch: no progress bar, no terminal codes, no Keras epoch headers."""
    out = tmp_path / "cli.keras"
    proc = run("train", "--epochs", "2", "--fraction", "0.05", "--recipe", "reference", "--data", str(mnist_path),
               "--out", str(out))
    assert f"saved {out}: test accuracy" in proc.stdout
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    assert proc.stdout.splitlines()[:2] == [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    first, second = proc.stdout.splitlines()[:2]
    assert first.startswith("epoch 1/2  ") and second.startswith("epoch 2/2  ") and " val_accuracy " in second
    card = json.loads((tmp_path / "cli.card.json").read_text())
    assert card["recipe"] == "reference" and card["epochs"] == 2 and card["test_accuracy"] > 0.5
    assert (tmp_path / "cli.history.json").exists()
    assert f"calibrated {out}: temperature" in proc.stdout, "a trained model is calibrated as it is saved"
    assert card["calibration"]["validation"]["pen"]["images"] > 0 and (tmp_path / "cli.ood.json").exists()


def test_train_no_calibrate_saves_an_uncalibrated_model(tmp_path, mnist_path):
    out = tmp_path / "plain.keras"
    proc = run("train", "--epochs", "1", "--fraction", "0.02", "--recipe", "reference", "--data", str(mnist_path),
               "--out", str(out), "--no-calibrate")
    assert "calibrated" not in proc.stdout
    assert "calibration" not in json.loads((tmp_path / "plain.card.json").read_text())


# --- calibrated answers: predict's states and the calibrate command ----------------------------------


@pytest.fixture(scope="module")
def non_digit_files(tmp_path_factory):
    """A straight line and a dot drawn on the pad's canvas, saved as PNG files."""
    from digitlab import strokes

    folder = tmp_path_factory.mktemp("marks")
    files = {}
    for name, lines in {"line": [[(40.0, 140.0), (240.0, 150.0)]], "dot": [[(140.0, 140.0)]]}.items():
        ink = strokes.rasterize([np.array(line) for line in lines], 280, 18.0)
        files[name] = folder / f"{name}.png"
        Image.fromarray(np.round(255 * (1 - ink)).astype(np.uint8)).save(files[name])
    return files


def test_predict_json_carries_digit_confidence_reason_and_declines_with_status_0(shipped_model, digit_files,
                                                                                 non_digit_files):
    good = next(iter(digit_files))
    proc = run("predict", "--json", str(good), str(non_digit_files["line"]), str(non_digit_files["dot"]))
    digit, line, dot = (json.loads(s) for s in proc.stdout.strip().splitlines())
    assert set(digit) == {"file", "script", "digit", "confidence", "reason", "probabilities", "runner_up"}
    assert digit["runner_up"] is None  # only the any-script model names a runner-up in another script
    assert digit["digit"] == digit_files[good] and digit["reason"] is None and digit["script"] == "western"
    assert digit["confidence"] == pytest.approx(max(digit["probabilities"]), abs=1e-6)
    assert (line["digit"], line["reason"]) == (None, "not a digit") and len(line["probabilities"]) == 10
    assert (dot["digit"], dot["reason"]) == (None, "too small")
    assert "null" in proc.stdout.splitlines()[1]  # JSON null, not "None"


def test_predict_text_says_when_it_does_not_look_like_a_digit(shipped_model, non_digit_files):
    proc = run("predict", str(non_digit_files["line"]))
    assert proc.stdout.startswith(f"{non_digit_files['line']}: that doesn't look like a digit (not a digit)   (")
    assert proc.returncode == 0 and proc.stderr == ""


def test_calibrate_has_help_for_every_option():
    test_every_option_has_help("calibrate")


@pytest.fixture
def untrained_model(tmp_path, fake_npz):
    """An untrained small CNN in tmp whose card says it was trained on ``fake_npz``."""
    from digitlab import data, model as model_lib

    path = tmp_path / "models" / "tiny.keras"
    card = {"model": "digitlab_cnn", "training_data": {"source_file": fake_npz.name, "sha256": data.sha256(fake_npz)},
            "parameters": {"fraction": 1.0, "val_fraction": 0.1, "seed": 42}}
    model_lib.save_model(model_lib.build_cnn(widths=(4, 8, 8)), path, card)
    return path


def test_calibrate_writes_the_card_and_statistics_and_leaves_the_model_bytes(untrained_model, fake_npz):
    before = untrained_model.read_bytes()
    card_before = json.loads(untrained_model.with_name("tiny.card.json").read_text())
    proc = run("calibrate", "--model", str(untrained_model), "--data", str(fake_npz), "--no-pen")
    assert proc.stdout.startswith(f"calibrated {untrained_model}: temperature ")
    assert "(calibrating writes only these, not the model file)" in proc.stdout
    assert untrained_model.read_bytes() == before
    card = json.loads(untrained_model.with_name("tiny.card.json").read_text())
    section = card.pop("calibration")
    assert card == card_before
    assert {"temperature", "fitted_on", "ece_before", "ece_after", "decline"} <= set(section)
    assert section["temperature"] > 0 and "MNIST validation split of mnist.npz" in section["fitted_on"]
    assert {"max_distance", "max_uniformity", "min_gap", "min_extent"} <= set(section["decline"])
    assert sorted(p.name for p in untrained_model.parent.iterdir()) == ["tiny.card.json", "tiny.keras", "tiny.ood.json"]
    proc = run("predict", "--json", "--model", str(untrained_model), str(fake_npz), check_ok=False)  # not an image
    assert proc.returncode == 1 and "not an image file" in proc.stderr


def test_precise_bn_rewrites_an_older_model_and_its_card_then_calibrates_it(tmp_path, mnist_path):
    from digitlab import train

    out = tmp_path / "older.keras"
    train.train(epochs=1, fraction=0.03, data_path=mnist_path, out=out, verbose=0, widths=(4, 8, 8), precise_bn=False)
    before = out.read_bytes()
    proc = run("precise-bn", "--model", str(out), "--data", str(mnist_path))
    card = json.loads(out.with_name("older.card.json").read_text())
    assert proc.stdout.startswith(f"recomputed the batch-norm statistics of {out} over "
                                  f"{card['training_data']['train_images']} training images")
    assert f"test accuracy now {card['test_accuracy']:.4f}" in proc.stdout and out.read_bytes() != before
    assert f"calibrated {out}: temperature" in proc.stdout and card["calibration"]["temperature"] > 0
    assert card["parameters"]["precise_bn"] and card["precise_bn"]["images"] == card["training_data"]["train_images"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("precise-bn", "--model", "{notes}"), "{notes}: not a .keras model file"),
        (("precise-bn", "--pen-data", "{missing}"), "pen digits file given by --pen-data does not exist: {missing}"),
        (("calibrate", "--no-pen", "--temperature-on", "mnist+pen"), "--temperature-on mnist+pen needs the pen digits"),
        (("calibrate", "--pen-data", "{missing}"), "pen digits file given by --pen-data does not exist: {missing}"),
        (("calibrate", "--data", "{missing}", "--no-pen"), "MNIST file given by --data does not exist: {missing}"),
        (("calibrate", "--model", "{notes}"), "{notes}: not a .keras model file"),
    ],
)
def test_calibrate_bad_arguments_fail_before_tensorflow_is_imported(bad_paths, args, message, shipped_model):
    proc, result = run_main(*(a.format(**bad_paths) for a in args))
    assert result == {"status": 2, "loaded": []}
    assert len(error_lines(proc)) == 1 and message.format(**bad_paths) in proc.stderr


# --- other scripts: --script on train, evaluate and predict ------------------------------------------


def test_the_cli_knows_the_registrys_scripts_and_their_default_files():
    assert cli._SCRIPTS == scripts.SCRIPTS
    assert cli.default_out("western") == config.MODELS_DIR / "my_cnn.keras"
    assert cli.default_out("bengali") == config.MODELS_DIR / "my_bengali_cnn.keras"
    assert "western, kannada, persian, arabic, bengali, tibetan, any" in " ".join(run("predict", "--help").stdout.split())


@pytest.mark.parametrize("args, message", [
    (("evaluate", "--script", "kannada"), "no Kannada model at {models}/kannada_cnn.keras: train it with "
                                          "`python -m digitlab train --script kannada --out {models}/kannada_cnn.keras`"),
    (("predict", "--script", "any", "x.png"), "no any-script model at {models}/any_script_cnn.keras: train it with "
                                              "`python -m digitlab train --script any --out {models}/any_script_cnn.keras`"),
])
def test_a_missing_script_model_says_how_to_train_it(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")
    assert cli.main(list(args)) == 2
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith(f"digitlab: error: {message.format(models=tmp_path / 'models')}")


@pytest.fixture(scope="module")
def kannada_cli_model(tmp_path_factory):
    """A Kannada model trained by the command line: one epoch on 10 images of each digit, narrower blocks."""
    out = tmp_path_factory.mktemp("kannada") / "k.keras"
    proc = run("train", "--script", "kannada", "--per-class", "10", "--epochs", "1", "--restyle", "0.5",
               "--learning-rate", "1e-3", "--widths", "16,24,48", "--no-precise-bn", "--out", str(out))
    return out, proc


@pytest.fixture(scope="module")
def kannada_files(tmp_path_factory):
    """Kannada test digits saved as big PNG files, dark ink on white."""
    folder = tmp_path_factory.mktemp("kannada-digits")
    x, y = scripts.load_digits("kannada")[1]
    files = {}
    for i in range(2):
        files[folder / f"k{i}.png"] = int(y[i])
        Image.fromarray(255 - x[i]).resize((200, 200), Image.Resampling.BICUBIC).save(folder / f"k{i}.png")
    return files


@pytest.mark.slow
def test_train_and_evaluate_a_script_model(kannada_cli_model, tmp_path):
    out, proc = kannada_cli_model
    test_images = len(scripts.load_digits("kannada")[1][1])
    assert f"saved {out}: test accuracy" in proc.stdout and f"on {test_images} images" in proc.stdout
    card = json.loads(out.with_name("k.card.json").read_text())
    assert (card["script"], card["parameters"]["per_class"], card["init_model"]) == ("kannada", 10, None)
    assert card["parameters"]["restyle"] == 0.5 and card["parameters"]["learning_rate"] == 1e-3
    assert card["parameters"]["widths"] == [16, 24, 48] and card["parameters"]["precise_bn"] is False
    report = json.loads(run("evaluate", "--script", "kannada", "--model", str(out), "--json").stdout)
    assert report["script"] == "kannada" and report["n"] == test_images
    tuned = tmp_path / "tuned.keras"
    run("train", "--script", "kannada", "--init", str(out), "--per-class", "10", "--epochs", "1", "--out", str(tuned))
    card = json.loads(tuned.with_name("tuned.card.json").read_text())
    assert card["init_model"]["source_file"] == "k.keras" and card["parameters"]["learning_rate"] == 2e-3


@pytest.mark.slow
def test_predict_shows_a_scripts_glyph_with_its_value(kannada_cli_model, kannada_files):
    out, _ = kannada_cli_model
    paths = [str(p) for p in kannada_files]
    lines = run("predict", "--script", "kannada", "--model", str(out), *paths).stdout.splitlines()
    glyphs = scripts.get("kannada").digits
    for line, path in zip(lines, paths, strict=True):
        answer = line.removeprefix(f"{path}: ").split("   (")[0]
        glyph, value = answer.split(" = ")
        assert glyph == glyphs[int(value)], line
    objects = [json.loads(line) for line in run("predict", "--json", "--script", "kannada", "--model", str(out),
                                                 *paths).stdout.splitlines()]
    assert [o["script"] for o in objects] == ["kannada", "kannada"] and all(o["digit"] is not None for o in objects)


@pytest.mark.slow
def test_predict_with_the_any_script_model_names_the_script_it_reads(kannada_files):
    paths = [str(p) for p in kannada_files]
    names = "|".join(scripts.short_name(n) for n in scripts.SCRIPTS)
    for line in run("predict", "--script", "any", *paths).stdout.splitlines():
        assert re.search(rf": .+ \(({names})\)(; or .+ ({names}), \d+%)?   \(", line), line
    for line in run("predict", "--json", "--script", "any", *paths).stdout.splitlines():
        answer = json.loads(line)
        assert answer["script"] in scripts.SCRIPTS and len(answer["probabilities"]) == 10
        assert answer["runner_up"] is None or answer["runner_up"]["script"] != answer["script"]


@pytest.mark.slow
def test_predict_on_the_western_model_names_a_kannada_digit_it_declines(tmp_path):
    from digitlab import guard, predict

    x, _ = scripts.load_digits("kannada")[1]
    predictor = predict.Predictor()
    guarded = next(i for i in range(200) if predictor.recognise(255 - np.kron(x[i], np.ones((8, 8), np.uint8))).reason
                   == guard.REASON)
    path = tmp_path / "kannada.png"
    Image.fromarray(255 - np.kron(x[guarded], np.ones((8, 8), np.uint8))).save(path)
    line = run("predict", str(path)).stdout.strip()
    assert re.search(r": that looks like \w+ \S+ = \d \(another script: choose it with --script \w+\)   \(", line), line
    answer = json.loads(run("predict", "--json", str(path)).stdout)
    assert answer["digit"] is None and answer["reason"] == guard.REASON and answer["runner_up"]["script"] != "western"
