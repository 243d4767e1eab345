"""Weigh a recipe for another script's model by cross-validation over its writers (``digitlab.crossval``).

    python benchmarks/writer_folds.py arabic                          # the shipped Arabic recipe, 4 folds
    python benchmarks/writer_folds.py arabic --epochs 60              # the same, twice as long
    python benchmarks/writer_folds.py arabic --init models/persian_cnn.keras
    python benchmarks/writer_folds.py arabic --from-scratch --epochs 60

Every digit of the script's training part is read once by a model trained without its writer, so
two recipes are compared on thousands of held-out digits instead of a validation split of a few
writers; the test split is not read. Each run appends one line to ``benchmarks/out/writer_folds.jsonl``
(git-ignored): the recipe, each fold's score and the total. models/README.md ("Arabic: recipes
weighed by writer-fold cross-validation") reports such runs. About a minute a fold for Arabic on 2 cores.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from digitlab import config, crossval, train

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line's options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("script", help="a script whose set records writers or sheets (arabic, tibetan)")
    p.add_argument("--folds", type=int, default=4, help="how many folds of writers (default 4)")
    p.add_argument("--fold-seed", type=int, default=0, help="seed that deals the writers into folds (default 0)")
    p.add_argument("--epochs", type=int, default=30, help="epochs of each fold's training (default 30)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--init", type=Path, default=config.SHIPPED_MODEL,
                       help="the model to fine-tune (default: the shipped MNIST model)")
    start.add_argument("--from-scratch", action="store_true", help="train a new network instead")
    p.add_argument("--restyle", type=float, default=0.5, help="share of images redrawn from their skeleton (default 0.5)")
    p.add_argument("--elastic", type=float, default=0.0, help="elastic warp's largest shift in pixels (default 0: none)")
    p.add_argument("--seed", type=int, default=config.SEED, help="seed of each fold's training")
    p.add_argument("--data", type=Path, help="the script's .npz or a folder holding it (default: as load_digits finds it)")
    p.add_argument("--out", type=Path, default=HERE / "out" / "writer_folds.jsonl", help="where the result line goes")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Cross-validate the recipe the options name, print each fold and the total, append the result to ``--out``."""
    args = parse_args(argv)
    shown = dict(epochs=args.epochs, init=None if args.from_scratch else str(args.init), restyle=args.restyle,
                 seed=args.seed, elastic=args.elastic)
    recipe = {k: v for k, v in shown.items() if k != "elastic"}
    recipe["augmentation"] = train.Augmentation(elastic=args.elastic) if args.elastic else None
    started = time.perf_counter()
    result = crossval.cross_validate(
        args.script, folds=args.folds, fold_seed=args.fold_seed, data_path=args.data,
        on_fold=lambda k, f: print(f"fold {k + 1}/{args.folds}: {f.right:,} of {f.images:,} right "
                                   f"(writers {', '.join(map(str, f.writers))})", flush=True), **recipe)
    print(f"{args.script}: {result.right:,} of {result.images:,} held-out digits right ({result.accuracy:.2%})")
    line = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "script": args.script,
            "recipe": shown, "folds": args.folds,
            "fold_seed": args.fold_seed, "right": result.right, "images": result.images,
            "per_fold": [f.right for f in result.folds], "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
