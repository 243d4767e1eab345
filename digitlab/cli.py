"""Command line: ``python -m digitlab train | evaluate | calibrate | precise-bn | predict`` (also installed as ``digitlab``).

Every command takes ``--script NAME``: whose digits the model reads (``digitlab.scripts``;
Western, MNIST's, by default), which picks the data and the default model file.

Bad input never ends in a traceback: each problem is one ``digitlab: error: ...`` line on
stderr and a non-zero exit status; ``predict`` still handles the other files. Arguments are
checked before any data is read or TensorFlow is imported, so a mistake costs no waiting.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import digitlab
from digitlab import config, files

__all__ = ["build_parser", "main", "check_args", "check_output", "check_card_writable", "default_out"]

T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``digitlab: error:`` line pointing at the right ``--help``."""

    def error(self, message: str, prog: str | None = None) -> None:  # one line, not argparse's usage block
        self.exit(2, f"digitlab: error: {message} (see `{prog or self.prog} --help`)\n")

    def parse_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None):
        """Return the parsed arguments; unknown ones are blamed on the command they were given to."""
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            command = getattr(parsed, "command", None)
            self.error(f"unrecognized arguments: {' '.join(unknown)}", f"{self.prog} {command}" if command else None)
        return parsed


def _checked(name: str, convert: Callable[[str], T], ok: Callable[[T], bool], hint: str = "") -> Callable[[str], T]:
    """Return an argparse type: ``convert(text)`` if ``ok`` accepts it, else "invalid NAME value: 'text'"."""

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"invalid {name} value: {text!r}" + (f" ({hint})" if hint else ""))
        return value

    return parse


_positive_int = _checked("positive integer", int, lambda v: v >= 1)
_count = _checked("count", int, lambda v: v >= 0, "a whole number, 0 or more")
_seed = _checked("seed", int, lambda v: 0 <= v < 2**32, "a whole number from 0 to 4294967295")
_fraction = _checked("fraction", float, lambda v: 0 < v <= 1, "a number above 0 and at most 1, e.g. 0.1")
_share = _checked("share", float, lambda v: 0 <= v <= 1, "a number from 0 to 1, e.g. 0.5")
_rate = _checked("learning rate", float, lambda v: 0 < v < 1, "a number above 0 and below 1, e.g. 1e-3")
_pixels = _checked("pixels", float, lambda v: 0 <= v <= 10, "a number from 0 to 10, e.g. 2")
_momentum = _checked("momentum", float, lambda v: 0 <= v < 1, "a number from 0 to below 1, e.g. 0.999")
_widths = _checked("widths", lambda t: tuple(int(w) for w in t.split(",")), lambda v: len(v) == 3 and min(v) >= 1,
                   "three channel counts, comma-separated, e.g. 48,96,192")
#: ``scripts.SCRIPTS``, spelled out so that parsing needs no numpy (a test keeps the two equal).
_SCRIPTS = ("western", "kannada", "persian", "arabic", "bengali", "tibetan")
_OTHER_SCRIPTS = _SCRIPTS[1:]
_script_list = _checked("script list", lambda t: tuple(t.split(",")), lambda v: set(v) <= set(_OTHER_SCRIPTS),
                        "comma-separated names from " + ",".join(_OTHER_SCRIPTS))


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with the ``train``, ``evaluate``, ``calibrate``, ``precise-bn`` and ``predict`` commands."""
    parser = _Parser(prog="digitlab", description="Train, evaluate and use digitlab's CNNs for handwritten digits "
                                                  "(Western digits, MNIST's, and other scripts').")
    parser.add_argument("--version", action="version", version=f"%(prog)s {digitlab.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    data_help = ("the script's digits: for western an mnist.npz or IDX folder (default: $DIGITLAB_DATA, data/mnist.npz, "
                 "else download); for another script NAME.npz or a folder holding it (default: $DIGITLAB_SCRIPTS, "
                 "$DIGITLAB_DATA's folder, data/NAME.npz, else download); see README")

    t = sub.add_parser("train", help="train a CNN and save it with its history and card")
    _add_script(t, "whose digits to learn ('any': every script's at once, one class per script and digit; "
                   "--data then names MNIST's file)", any_ok=True)
    t.add_argument("--init", type=Path, metavar="MODEL",
                   help="fine-tune this .keras model (e.g. models/digitlab_cnn.keras, the shipped MNIST model): its "
                        "architecture and weights are kept and every layer is trained "
                        "(peak learning rate train.FINE_TUNE_LEARNING_RATE); without it a new model is trained from scratch")
    t.add_argument("--epochs", type=_positive_int, default=config.EPOCHS,
                   help=f"passes over the training images (default {config.EPOCHS})")
    t.add_argument("--out", type=Path,
                   help="where to save the .keras model (default models/my_cnn.keras; with --script NAME "
                        "models/my_NAME_cnn.keras)")
    t.add_argument("--data", type=Path, help=data_help)
    t.add_argument("--learning-rate", type=_rate, metavar="RATE",
                   help="peak learning rate of the cosine schedule (default: train.LEARNING_RATE from scratch, "
                        "train.FINE_TUNE_LEARNING_RATE with --init)")
    t.add_argument("--batch-size", type=_positive_int, default=128, help="images per training step (default 128)")
    t.add_argument("--fraction", type=_fraction, default=1.0,
                   help="train on this fraction of the training images, for quick runs (default 1)")
    t.add_argument("--per-class", type=_positive_int, metavar="N",
                   help="train on N images of each digit, chosen by --seed (the validation images stay the same), "
                        "for data-efficiency curves (default: all)")
    t.add_argument("--seed", type=_seed, default=config.SEED,
                   help=f"seed for the weights, the validation split and augmentation (default {config.SEED})")
    t.add_argument("--recipe", choices=("digitlab", "reference"), default="digitlab",
                   help="digitlab: this package's CNN with augmentation and a cosine schedule; "
                        "reference: Keras's simple MNIST convnet (default digitlab)")
    t.add_argument("--no-calibrate", action="store_true",
                   help="skip calibrating the saved model (temperature and the 'not a digit' rule, fitted on "
                        "validation data, as `digitlab calibrate` does; Western models use the pen digits' "
                        "validation writers too)")
    t.add_argument("--pen-copies", type=_count, default=0,
                   help="mix real pen digits (UCI pendigits, training writers only) into the training images, "
                        "each drawn this many times like the pad draws (default 0: MNIST only)")
    t.add_argument("--pen-data", type=Path,
                   help="pendigits-orig.tra for --pen-copies (default: $DIGITLAB_PEN, data/, else download)")
    t.add_argument("--non-digits", type=_count, default=0, metavar="N",
                   help="outlier exposure: add N hand-drawn non-digits of each kind (digitlab.nondigits, tune part) "
                        "with a uniform target, so the model learns to decline them (default 0)")
    t.add_argument("--non-digit-scripts", type=_script_list, default=(), metavar="NAMES",
                   help="with --non-digits: also N digits of these other scripts, comma-separated "
                        "(e.g. kannada,persian,arabic,bengali,tibetan; found as load_digits finds them)")

    t.add_argument("--restyle", type=_share, default=0.0, metavar="SHARE",
                   help="redraw this share of the training images from their skeleton at a random pen width "
                        "(digitlab.style), so the model learns shapes rather than the dataset's style; "
                        "e.g. 0.5 for other scripts (default 0)")
    t.add_argument("--balance", type=_count, default=0, metavar="N",
                   help="with --script any: repeat each script's training images until it has at least N, so "
                        "the small sets are learnt from as many passes as MNIST's; the prior this gives them is "
                        "taken back from the classifier after training (default 0: as they come)")
    t.add_argument("--elastic", type=_pixels, default=0.0, metavar="PIXELS",
                   help="also bend each training image with a smooth random elastic warp whose control points "
                        "move up to PIXELS (train.elastic_field; e.g. 2); default 0: affine warps and pen only")
    t.add_argument("--ema", type=_momentum, default=0.0, metavar="MOMENTUM",
                   help="end with the exponential moving average of the weights, this momentum per step "
                        "(Polyak averaging, e.g. 0.999 averages about the last 1,000 steps); default 0: off")
    t.add_argument("--no-precise-bn", action="store_true",
                   help="keep the batch norms' moving statistics as training left them, rather than recomputing "
                        "them over the un-augmented training images at the end (models/README.md weighs the two)")
    t.add_argument("--widths", type=_widths, metavar="A,B,C",
                   help="channels of the CNN's three blocks, for a model trained from scratch (default 32,64,128)")

    e = sub.add_parser("evaluate", help="accuracy, per-class scores and confusion matrix on the test set")
    _add_script(e, "whose test split to read (load_digits' held-out split; MNIST's test set for western; "
                   "'any': every script's)", any_ok=True)
    e.add_argument("--model", type=Path, help="model file (default: the script's shipped model)")
    e.add_argument("--data", type=Path, help=data_help)
    e.add_argument("--json", action="store_true", help="print one JSON object")

    c = sub.add_parser("calibrate", help="fit calibrated confidence and the 'not a digit' rule on validation data; "
                                         "store them in the model's card")
    _add_trained_model(c, "whose model to calibrate", "only its card is rewritten")
    c.add_argument("--pen-data", type=Path,
                   help="pendigits-orig.tra for the validation writers' pen digits, Western models only "
                        "(default: $DIGITLAB_PEN, data/, else download)")
    c.add_argument("--no-pen", action="store_true",
                   help="choose the thresholds on MNIST's validation images only, without real pen digits")
    c.add_argument("--temperature-on", choices=("mnist", "mnist+pen"), default="mnist",
                   help="validation images the temperature is fitted on (default mnist)")

    b = sub.add_parser("precise-bn", help="recompute a trained model's batch-norm statistics over the training images "
                                          "its card records, as train now does last; then calibrate it again")
    _add_trained_model(b, "whose model it is", "rewritten in place, with its card")
    b.add_argument("--pen-data", type=Path, help="the pendigits-orig.tra it was trained with, if any "
                                                 "(default: $DIGITLAB_PEN, data/, else download)")
    b.add_argument("--no-calibrate", action="store_true", help="leave the model uncalibrated (calibrate it later)")

    p = sub.add_parser("predict", help="predict the digit in image files (PNG/JPEG, any size or polarity)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _add_script(p, "whose digits to read; 'any' for the model that reads every script", any_ok=True)
    p.add_argument("--model", type=Path, help="model file (default: the script's shipped model)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file")
    return parser


def _add_trained_model(parser: argparse.ArgumentParser, script_help: str, rewritten: str) -> None:
    """Add ``--script``, ``--model`` and ``--data`` to a command that rewrites a trained model's files."""
    _add_script(parser, script_help, any_ok=True)
    parser.add_argument("--model", type=Path, help=f"model file (default: the script's shipped model); {rewritten}")
    parser.add_argument("--data", type=Path, help="the file the model was trained on (its card names it; found as "
                                                  "train's --data is)")


def _add_script(command: argparse.ArgumentParser, what: str, *, any_ok: bool = False) -> None:
    """Add ``--script NAME`` (default western) to ``command``, ``what`` saying what it chooses."""
    choices = (*_SCRIPTS, "any") if any_ok else _SCRIPTS
    command.add_argument("--script", choices=choices, default="western", metavar="NAME",
                         help=f"{what}: {', '.join(choices)} (default western, MNIST's digits)")


def default_out(script: str) -> Path:
    """Return where ``train`` saves a model of ``script`` unless told: ``models/my_cnn.keras`` or ``my_<script>_cnn.keras``."""
    return config.MODELS_DIR / ("my_cnn.keras" if script == "western" else f"my_{script}_cnn.keras")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 1 some input failed, 2 usage/fatal)."""
    args = build_parser().parse_args(argv)
    if args.command == "train":
        args.out = args.out or default_out(args.script)
    try:
        check_args(args)
        commands = {"train": _train, "evaluate": _evaluate, "calibrate": _calibrate, "precise-bn": _precise_bn,
                    "predict": _predict}
        return commands[args.command](args)
    except KeyboardInterrupt:
        _error("interrupted; any previous model file is unchanged")
        return 130
    except (ValueError, OSError) as exc:  # DataError and ModelFileError are ValueErrors
        _error(exc)
        return 2


def _error(message: object) -> None:
    """Print ``message`` as one ``digitlab: error:`` line (multi-line messages are joined, not cut)."""
    print("digitlab: error: " + " ".join(str(message).split()), file=sys.stderr)


def check_args(args: argparse.Namespace) -> None:
    """Raise ValueError naming the first argument that cannot work: the output, the model or the data.

    Only the file system is consulted (no data is read, TensorFlow is not imported), so a
    mistake is reported at once rather than after loading or a whole training run.
    """
    from digitlab import pen, scripts

    if args.command == "train":
        _check_train_args(args)
    else:
        model = scripts.find_model(args.script, args.model)
    if args.command in ("calibrate", "precise-bn"):
        check_card_writable(model)
    if args.command == "calibrate" and args.no_pen and args.temperature_on != "mnist":
        raise ValueError("--temperature-on mnist+pen needs the pen digits; leave out --no-pen")
    if args.command == "precise-bn" or (args.command == "calibrate" and not args.no_pen):
        pen.given_pen_file(args.pen_data, name="--pen-data")
    if args.command != "predict":  # a named --data, or the script's environment variable, must exist
        scripts.given_digits_source("western" if args.script == "any" else args.script, args.data, name="--data")


def _check_train_args(args: argparse.Namespace) -> None:
    """Raise ValueError naming the first of ``train``'s arguments that cannot work (see ``check_args``)."""
    from digitlab import pen

    check_output(args.out)
    if args.init and args.widths:
        raise ValueError("--widths: a model fine-tuned from --init keeps that model's widths")
    if args.widths and args.recipe != "digitlab":
        raise ValueError(f"--widths: the {args.recipe} recipe builds Keras's convnet; widths are for digitlab's CNN")
    if args.init:
        try:
            files.check_model_path(args.init)
        except ValueError as exc:
            raise ValueError(f"--init: {exc}") from None
    if args.pen_copies and args.script not in ("western", "any"):
        raise ValueError(f"--pen-copies: the pen digits are Western digits; they cannot train a {args.script} model")
    if args.pen_copies or args.pen_data:  # a named pen file (or $DIGITLAB_PEN) must exist
        pen.given_pen_file(args.pen_data, name="--pen-data")
    if args.script == "any" and args.non_digit_scripts:
        raise ValueError("--non-digit-scripts: the any-script model reads every script's digits; none can be "
                         "non-digits")
    if args.script in args.non_digit_scripts:
        raise ValueError(f"--non-digit-scripts: {args.script} is the script the model learns; its digits cannot be "
                         "non-digits")
    if args.non_digit_scripts and not args.non_digits:
        raise ValueError("--non-digit-scripts needs --non-digits N (how many of each)")
    if args.elastic and args.recipe != "digitlab":
        raise ValueError(f"--elastic: the {args.recipe} recipe trains without augmentation")
    if args.ema and args.recipe != "digitlab":
        raise ValueError(f"--ema: the {args.recipe} recipe keeps its own optimizer; weight averaging is for digitlab's")


def check_output(out: Path) -> None:
    """Raise ValueError unless ``out`` is a ``.keras`` file name in a folder that exists or can be made, writable."""
    if out.suffix != ".keras":
        raise ValueError(f"--out {out}: models are saved in the .keras format; use a name ending in .keras")
    if out.is_dir():
        raise ValueError(f"--out {out}: is a folder; give a file name ending in .keras")
    folder = next(p for p in out.absolute().parents if p.exists())  # the root always exists
    if not folder.is_dir():
        raise ValueError(f"--out {out}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: no permission to write in {folder}")


def check_card_writable(model: Path) -> None:
    """Raise ValueError unless the card and statistics beside ``model`` can be written (its folder is writable)."""
    folder = model.absolute().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{model}: no permission to write its card in {folder}")


def _train(args: argparse.Namespace) -> int:
    from digitlab import train

    on_terminal = sys.stdout.isatty()  # a live progress bar; redirected: one plain line per epoch instead
    result = train.train(epochs=args.epochs, batch_size=args.batch_size, script=args.script, data_path=args.data,
                         init=args.init, out=args.out, recipe=args.recipe, fraction=args.fraction,
                         per_class=args.per_class, seed=args.seed,
                         pen_copies=args.pen_copies, pen_path=args.pen_data,
                         nondigits_per_kind=args.non_digits, nondigit_scripts=args.non_digit_scripts,
                         restyle=args.restyle, balance=args.balance, learning_rate=args.learning_rate, ema=args.ema,
                         precise_bn=not args.no_precise_bn, **({"widths": args.widths} if args.widths else {}),
                         augmentation=train.Augmentation(elastic=args.elastic) if args.elastic else None,
                         verbose=1 if on_terminal else 0, on_epoch_end=None if on_terminal else _epoch_line(args.epochs))
    card = result.card
    print(f"saved {result.path}: test accuracy {card['test_accuracy']:.4f} on {card['test_images']} images, "
          f"{card['wall_time_s']:.0f} s")
    return _calibrate_saved(result.path, args)


def _precise_bn(args: argparse.Namespace) -> int:
    from digitlab import scripts, train

    path = scripts.find_model(args.script, args.model)
    card = train.precise_saved_model(path, data_path=args.data, pen_path=args.pen_data)
    print(f"recomputed the batch-norm statistics of {path} over {card['precise_bn']['images']} training images "
          f"({card['precise_bn']['seconds']:.0f} s): test accuracy now {card['test_accuracy']:.4f} "
          f"on {card['test_images']} images")
    return _calibrate_saved(path, args)


def _calibrate_saved(path: Path, args: argparse.Namespace) -> int:
    """Calibrate the model just saved at ``path`` as ``train`` does (unless ``--no-calibrate``); say how to finish if it fails."""
    if args.no_calibrate:
        return 0
    use_pen = args.script in ("western", "any")
    try:
        _calibrate_model(path, script=args.script, data_path=args.data, pen_path=args.pen_data, use_pen=use_pen,
                         temperature_on=("mnist",))
    except (ValueError, OSError) as exc:  # the model is saved: say how to finish, do not lose it
        script = "" if use_pen else f" --script {args.script}"
        _error(f"{path} is saved but not calibrated: {exc} -- once that is fixed, run "
               f"`python -m digitlab calibrate --model {path}{script}`")
        return 2
    return 0


def _epoch_line(epochs: int) -> Callable[[dict], None]:
    """Return a history callback printing the epoch's numbers on one line, e.g. for a log file."""
    started = time.perf_counter()

    def show(history: dict) -> None:
        done = len(history["loss"])
        numbers = "  ".join(f"{k} {v[-1]:.4g}" for k, v in history.items() if k != "learning_rate")
        print(f"epoch {done}/{epochs}  {numbers}  ({time.perf_counter() - started:.0f} s)", flush=True)

    return show


def _evaluate(args: argparse.Namespace) -> int:
    from digitlab import analysis, metrics, predict, scripts

    _, (x_test, y_test) = scripts.load_digits(args.script, args.data)  # before the model: bad data is reported at once
    predictor = predict.Predictor(args.model, script=args.script)
    probabilities, read = predictor.read_batch(x_test)
    report = metrics.report(y_test % 10, probabilities)  # the any-script model: the values read
    if args.script == "any":
        scores = scripts.reading_scores(y_test, probabilities.argmax(axis=1), read)
        report.update(script_accuracy=scores["script_accuracy"], by_script=scores["by_script"])
    if args.json:
        print(json.dumps({"model": str(predictor.model_path), "script": args.script, **report}))
        return 0
    cm = report["confusion_matrix"]
    confusion = analysis.Table(("true", *map(str, range(len(cm)))), tuple((str(d), *row) for d, row in enumerate(cm)))
    name = "every script (values read)" if args.script == "any" else scripts.get(args.script).display_name
    print(f"model     {predictor.model_path}\nscript    {name}\n"
          f"accuracy  {report['accuracy']:.4f} "
          f"({report['n'] - report['errors']}/{report['n']})\n\n{analysis.per_class_table(cm)}\n\n"
          f"confusion matrix (rows true, columns predicted)\n{confusion}")
    if args.script == "any":
        print(f"\nscript read right {report['script_accuracy']:.4f}; value read right by script: "
              + ", ".join(f"{name} {acc:.4f}" for name, acc in report["by_script"].items()))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    _calibrate_model(args.model, script=args.script, data_path=args.data, pen_path=args.pen_data,
                     use_pen=not args.no_pen, temperature_on=tuple(args.temperature_on.split("+")))
    return 0


def _calibrate_model(model: Path | None, *, script: str, data_path: Path | None, pen_path: Path | None, use_pen: bool,
                     temperature_on: tuple[str, ...]) -> None:
    """Calibrate ``model`` (``calibration.calibrate``), store it beside the model and print what was fitted."""
    from digitlab import calibration, guard, predict, scripts

    predictor = predict.Predictor(model, script=script, calibrated=False)
    sets = calibration.calibration_data(predictor.card, data_path, pen_path=pen_path, use_pen=use_pen)
    section, gaussians = calibration.calibrate(predictor, sets, temperature_on=temperature_on)
    reader = None if script == scripts.ANY else _any_script_reader()
    if reader is not None:
        section["script_guard"] = guard.fit(predictor, reader, sets)
    card = calibration.write_calibration(predictor.model_path, section, gaussians)
    decline = section["decline"]
    print(f"calibrated {predictor.model_path}: temperature {section['temperature']:.3f} "
          f"(fitted on {section['fitted_on']})")
    for name, v in section["validation"].items():
        lost = "" if v["lost"] == v["declined"] else f", right answers lost {v['lost']:.2%}"
        print(f"  {name} validation: ECE {v['ece_before']:.2%} -> {v['ece_after']:.2%}, declined {v['declined']:.2%} "
              f"of {v['images']}{lost} (budget {decline['budgets'][name]:.2%})")
    print(f"  not a digit: distance > {decline['max_distance']:.1f} or uniformity > {decline['max_uniformity']:.3f}; "
          f"unsure: top-two gap < {decline['min_gap']:.3f}; too small: ink < {decline['min_extent']:.0%} of the image")
    if script != scripts.ANY:
        _print_guard(section.get("script_guard"))
    print(f"  wrote {card} and {calibration.ood_path(predictor.model_path)} (calibrating writes only these, not the model file)")


def _print_guard(section: dict | None) -> None:
    """Print a one-script model's script guard as calibrated (or that it has none)."""
    if section is None:
        print("  no script guard: it needs the shipped any-script model, calibrated")
        return
    lost = ", ".join(f"{k} {v['right_lost']:.2%} of {v['images']}" for k, v in section["validation"].items())
    print(f"  script guard ({section['model']}): declines as another script from {section['threshold']:.3f} of the "
          f"any-script model's belief there (right answers turned away on validation: {lost})")


def _any_script_reader():
    """Return the calibrated shipped any-script Predictor for a one-script model's script guard, or None if there is none."""
    from digitlab import model as model_lib, predict, scripts

    try:
        reader = predict.Predictor(script=scripts.ANY)
    except model_lib.ModelFileError:
        return None
    return reader if reader.calibration else None


def _predict(args: argparse.Namespace) -> int:
    from PIL import Image, UnidentifiedImageError

    from digitlab import predict

    predictor = predict.Predictor(args.model, script=args.script)
    failed = 0
    for path in args.files:
        try:
            with Image.open(path) as img:
                img.load()
                recognition = predictor.recognise(img)
        except FileNotFoundError:
            _error(f"{path}: no such file")
        except IsADirectoryError:
            _error(f"{path}: is a folder, not an image file")
        except UnidentifiedImageError:
            _error(f"{path}: not an image file (PNG or JPEG expected)")
        except OSError as exc:  # its text repeats the path; say it once
            _error(f"{path}: {exc.strerror or exc}")
        except ValueError as exc:
            _error(f"{path}: {exc}")
        else:
            if recognition.reason == "blank":  # nothing to read: an input error, like a missing file
                _error(f"{path}: {recognition.detail}")
            else:  # a digit, or declining to name one: both are answers
                _print_recognition(path, recognition, args.json, any_script=args.script == "any")
                continue
        failed += 1
    return 1 if failed else 0


def _print_recognition(path: Path, r, as_json: bool, any_script: bool = False) -> None:
    """Print one file's answer and top three probabilities, or its JSON object (``digit`` null when declined).

    ``any_script``: the answer also names the script read, and a runner-up reading in another.
    """
    from digitlab import scripts

    probs = r.probabilities
    if as_json:
        runner_up = None if r.runner_up is None else dict(zip(("script", "digit", "probability"), r.runner_up))
        print(json.dumps({"file": str(path), "script": r.script, "digit": r.digit, "confidence": round(r.confidence, 6),
                          "reason": r.reason, "probabilities": [round(float(p), 6) for p in probs],
                          "runner_up": runner_up}))
        return
    top = probs.argsort()[::-1][:3]
    if r.digit is not None:
        answer = scripts.written(r.digit, r.script)
    elif r.candidates:
        first, second = (scripts.written(d, r.script) for d in r.candidates)
        answer = f"not sure: {first} or {second}?"
    elif r.looks_like():
        answer = f"that looks like {r.looks_like()} ({r.reason}: choose it with --script {r.runner_up[0]})"
    else:
        answer = f"that doesn't look like a digit ({r.reason})"
    if any_script and r.digit is not None:
        answer += f" ({scripts.short_name(r.script)})"
        if r.runner_up:
            answer += f"; or {r.other_reading()}"
    print(f"{path}: {answer}   (" + ", ".join(f"{int(d)}: {probs[d]:.3f}" for d in top) + ")")
