"""Command line: ``python -m digitlab train | evaluate | predict`` (also installed as ``digitlab``).

Bad input never ends in a traceback: each problem is one ``digitlab: error: ...`` line on
stderr and a non-zero exit status; ``predict`` still handles the other files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from digitlab import config


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        self.exit(2, f"digitlab: error: {message} (see `digitlab {self.prog.split()[-1]} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with the ``train``, ``evaluate`` and ``predict`` commands."""
    parser = _Parser(prog="digitlab", description="Train, evaluate and use digitlab's MNIST CNN.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a CNN and save it with its history and card")
    t.add_argument("--epochs", type=_positive_int, default=30, help="epochs (default 30)")
    t.add_argument("--out", type=Path, default=config.MODELS_DIR / "my_cnn.keras",
                   help="where to save the .keras model (default models/my_cnn.keras)")
    t.add_argument("--data", type=Path, help="mnist.npz or IDX folder (default: see README)")
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--fraction", type=float, default=1.0, help="train on this fraction of the data")
    t.add_argument("--seed", type=int, default=config.SEED)
    t.add_argument("--recipe", choices=("digitlab", "reference"), default="digitlab")

    e = sub.add_parser("evaluate", help="accuracy, per-class scores and confusion matrix on the test set")
    e.add_argument("--model", type=Path, help="model file (default: the shipped model)")
    e.add_argument("--data", type=Path, help="mnist.npz or IDX folder (default: see README)")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("predict", help="predict the digit in image files (PNG/JPEG, any size or polarity)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--model", type=Path, help="model file (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 success, 1 some input failed, 2 usage/fatal)."""
    args = build_parser().parse_args(argv)
    try:
        return {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.command](args)
    except KeyboardInterrupt:
        _error("interrupted; any previous model file is unchanged")
        return 130
    except (ValueError, OSError) as exc:  # DataError and ModelFileError are ValueErrors
        _error(exc)
        return 2


def _error(message: object) -> None:
    """Print ``message`` as one ``digitlab: error:`` line (multi-line messages are joined, not cut)."""
    print("digitlab: error: " + " ".join(str(message).split()), file=sys.stderr)


def _train(args: argparse.Namespace) -> int:
    from digitlab import train

    result = train.train(epochs=args.epochs, batch_size=args.batch_size, data_path=args.data, out=args.out,
                         recipe=args.recipe, fraction=args.fraction, seed=args.seed)
    card = result.card
    print(f"saved {result.path}: test accuracy {card['test_accuracy']:.4f} on {card['test_images']} images, "
          f"{card['wall_time_s']:.0f} s")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from digitlab import data, metrics, predict

    predictor = predict.Predictor(args.model)
    _, (x_test, y_test) = data.load_mnist(args.data)
    report = metrics.report(y_test, predictor.predict_batch(x_test))
    if args.json:
        print(json.dumps({"model": str(predictor.model_path), **report}))
        return 0
    print(f"model     {predictor.model_path}\naccuracy  {report['accuracy']:.4f} "
          f"({report['n'] - report['errors']}/{report['n']})\n\ndigit  precision  recall     f1  support")
    for d in range(10):
        print(f"{d:>5}  {report['precision'][d]:9.4f}  {report['recall'][d]:6.4f}  "
              f"{report['f1'][d]:5.4f}  {report['support'][d]:7d}")
    print("\nconfusion matrix (rows true, columns predicted)\n     " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(report["confusion_matrix"]):
        print(f"{d:>5}" + "".join(f"{v:>6}" for v in row))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from PIL import Image, UnidentifiedImageError

    from digitlab import predict

    predictor = predict.Predictor(args.model)
    failed = 0
    for path in args.files:
        try:
            with Image.open(path) as img:
                img.load()
                probs = predictor.predict(img)
        except FileNotFoundError:
            _error(f"{path}: no such file")
        except UnidentifiedImageError:
            _error(f"{path}: not an image file (PNG or JPEG expected)")
        except (ValueError, OSError) as exc:
            _error(f"{path}: {exc}")
        else:
            _print_prediction(path, probs, args.json)
            continue
        failed += 1
    return 1 if failed else 0


def _print_prediction(path: Path, probs, as_json: bool) -> None:
    digit = int(probs.argmax())
    if as_json:
        print(json.dumps({"file": str(path), "digit": digit, "probabilities": [round(float(p), 6) for p in probs]}))
        return
    top = probs.argsort()[::-1][:3]
    print(f"{path}: {digit}   (" + ", ".join(f"{int(d)}: {probs[d]:.3f}" for d in top) + ")")
