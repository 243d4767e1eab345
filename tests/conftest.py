"""Shared fixtures: the MNIST source used by the tests and small synthetic datasets."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from digitlab import config, data


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real MNIST file the suite reads (``$DIGITLAB_DATA`` in CI), found like any user's."""
    return data.find_mnist()


@pytest.fixture(scope="session")
def mnist(mnist_path):
    """The real MNIST splits, loaded once."""
    return data.load_mnist(mnist_path)


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    """The pretrained model shipped in ``models/``; the suite fails loudly if it is missing."""
    assert config.SHIPPED_MODEL.exists(), f"shipped model missing: {config.SHIPPED_MODEL}"
    return config.SHIPPED_MODEL


def fake_arrays(n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random arrays in MNIST's shapes and dtypes, every digit present."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


@pytest.fixture
def fake_npz(tmp_path) -> Path:
    """A small npz file in Keras's MNIST layout."""
    path = tmp_path / "mnist.npz"
    np.savez(path, **fake_arrays())
    return path


@pytest.fixture
def isolated_data(tmp_path, monkeypatch) -> Path:
    """No ``$DIGITLAB_DATA`` and an empty ``data/`` folder, so the loader's own search is tested."""
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setattr(config, "DATA_DIR", folder)
    return folder


@pytest.fixture
def bar_digit() -> np.ndarray:
    """A 20x2 vertical bar (rows 4-23, columns 13-14): box 20x2, centre of mass (13.5, 13.5)."""
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 13:15] = 255
    return image


@pytest.fixture
def three_mistakes() -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of four images, three of them wrong: p 0.97 (image 3), 0.90 (0), 0.60 (2)."""
    probabilities = np.array([
        [0.90, 0.05, 0.05],   # true 1: wrong, p 0.90
        [0.10, 0.80, 0.10],   # true 1: right
        [0.20, 0.20, 0.60],   # true 0: wrong, p 0.60
        [0.02, 0.97, 0.01],   # true 2: wrong, p 0.97
    ])
    return np.array([1, 1, 0, 2]), probabilities


def pytest_report_header(config):  # noqa: ARG001 - pytest's hook signature
    return f"DIGITLAB_DATA={os.environ.get('DIGITLAB_DATA', '(unset)')}"
