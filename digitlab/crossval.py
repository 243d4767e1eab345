"""Cross-validation by writer: a recipe scored on every writer of a script's training part, each once held out.

A script whose set records few writers (the offline MADBase copy: 64 writers in its training part)
leaves a validation split of a handful of them (6 writers, 600 images), too few to tell two
recipes apart. ``cross_validate`` cuts the training part's writers (or sheets) into folds and
trains the recipe once per fold on the other writers, so every training digit is scored once by
a model that never saw its writer: as many held-out digits as the training part has. The test
split is never read.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from digitlab import scripts, train

__all__ = ["FoldScore", "CrossValidation", "writer_folds", "cross_validate"]


@dataclass(frozen=True)
class FoldScore:
    """One fold: how many of its held-out digits the model trained without its writers read right."""

    writers: tuple[int, ...]
    right: int
    images: int


@dataclass(frozen=True)
class CrossValidation:
    """A recipe's folds, and what they add up to."""

    script: str
    folds: tuple[FoldScore, ...]

    @property
    def right(self) -> int:
        """Held-out digits read right over all folds."""
        return sum(f.right for f in self.folds)

    @property
    def images(self) -> int:
        """Held-out digits over all folds: every image of the training part once."""
        return sum(f.images for f in self.folds)

    @property
    def accuracy(self) -> float:
        """The share of held-out digits read right over all folds."""
        return self.right / self.images


def writer_folds(script: str, rows: int, folds: int, *, seed: int = 0) -> list[np.ndarray]:
    """Return ``folds`` boolean masks over ``rows`` training rows, each holding out about 1/folds of the writers whole.

    The script's file runs writer by writer (or sheet by sheet) in blocks of its ``block_rows``,
    as ``scripts.split_test`` reads it; the writers are shuffled by ``seed`` and dealt into folds
    of as equal a size as they allow. Every row is in exactly one fold.
    """
    writers = scripts.block_writers(script, rows)
    if writers is None:
        raise ValueError(f"{script}: its set records no writers or sheets, so it cannot be cross-validated by writer")
    count = int(writers.max()) + 1 if rows else 0
    if not 2 <= folds <= count:
        raise ValueError(f"folds must be between 2 and the {count} writers of {script}'s training part, got {folds}")
    order = np.random.default_rng(seed).permutation(count)
    return [np.isin(writers, held) for held in np.array_split(order, folds)]


def cross_validate(
    script: str, *, folds: int = 4, fold_seed: int = 0, data_path: str | Path | None = None,
    on_fold: Callable[[int, FoldScore], None] | None = None, **recipe: object,
) -> CrossValidation:
    """Return how well ``train.train(script=script, **recipe)`` reads writers it never saw, over ``writer_folds``.

    For each fold a temporary copy of the script's file holds the other writers as its training
    part and the fold as its test part; ``train.train`` carves its own validation writers out of
    the former and scores the latter. ``on_fold(k, score)`` is called after each fold (progress).
    """
    (x, y), _ = scripts.load_digits(script, data_path)
    masks = writer_folds(script, len(y), folds, seed=fold_seed)
    writers = scripts.block_writers(script, len(y))
    scores = []
    with tempfile.TemporaryDirectory(prefix="digitlab-crossval-") as tmp:
        for k, held in enumerate(masks):
            path = Path(tmp) / f"{script}.npz"
            np.savez(path, x_train=x[~held], y_train=y[~held], x_test=x[held], y_test=y[held])
            card = train.train(script=script, data_path=path, verbose=0, **recipe).card
            score = FoldScore(tuple(np.unique(writers[held]).tolist()),
                              card["test_images"] - card["test_errors"], card["test_images"])
            scores.append(score)
            if on_fold is not None:
                on_fold(k, score)
    return CrossValidation(script, tuple(scores))
