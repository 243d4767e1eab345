"""Tests for digitlab.crossval: folds of whole writers, and a recipe cross-validated on a tiny writer-by-writer file."""
from __future__ import annotations

import numpy as np
import pytest

from digitlab import crossval


def test_writer_folds_deal_whole_writers_into_disjoint_folds_that_cover_every_row():
    masks = crossval.writer_folds("arabic", 6400, 4, seed=0)  # MADBase's offline copy: 64 writers of 100 rows
    assert len(masks) == 4
    assert (np.sum(masks, axis=0) == 1).all()  # each row in exactly one fold
    writers = np.arange(6400) // 100
    for mask in masks:
        held = np.unique(writers[mask])
        assert len(held) == 16 and mask.sum() == 1600
        assert np.isin(writers, held).sum() == mask.sum()  # whole writers only
    again = crossval.writer_folds("arabic", 6400, 4, seed=0)
    other = crossval.writer_folds("arabic", 6400, 4, seed=1)
    assert all((a == b).all() for a, b in zip(masks, again))
    assert any((a != b).any() for a, b in zip(masks, other))


def test_writer_folds_refuse_a_set_without_writers_and_impossible_fold_counts():
    with pytest.raises(ValueError, match="kannada: its set records no writers"):
        crossval.writer_folds("kannada", 1000, 4)
    with pytest.raises(ValueError, match="between 2 and the 3 writers"):
        crossval.writer_folds("arabic", 300, 4)
    with pytest.raises(ValueError, match="got 1"):
        crossval.writer_folds("arabic", 6400, 1)


def test_cross_validate_scores_every_training_digit_once_by_a_model_without_its_writer(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (600, 28, 28), dtype=np.uint8)  # 6 "writers" of 100, each digit 10 times
    y = np.tile(np.repeat(np.arange(10, dtype=np.uint8), 10), 6)
    x_test = np.full((20, 28, 28), 255, np.uint8)
    np.savez(tmp_path / "arabic.npz", x_train=x, y_train=y, x_test=x_test, y_test=np.arange(20, dtype=np.uint8) % 10)
    seen = []
    result = crossval.cross_validate("arabic", folds=2, data_path=tmp_path / "arabic.npz", epochs=1, init=None,
                                     on_fold=lambda k, score: seen.append((k, score)))
    assert [k for k, _ in seen] == [0, 1] and [s for _, s in seen] == list(result.folds)
    assert result.images == 600 and [f.images for f in result.folds] == [300, 300]  # the file's test part is not read
    assert sorted(sum((f.writers for f in result.folds), ())) == list(range(6))
    assert 0 <= result.right <= 600 and result.accuracy == pytest.approx(result.right / 600)
