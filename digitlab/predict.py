"""Fast predictions from a saved model: one raw drawing, or a batch of MNIST-format images.

A single prediction goes through a traced ``tf.function`` with a fixed (1, 28, 28, 1)
signature instead of ``model.predict``, whose per-call set-up costs tens of milliseconds:
the drawing pad predicts while the pen moves, so every millisecond shows.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from digitlab import config, model as model_lib, preprocess  # noqa: E402
from digitlab.config import IMAGE_SIZE, INPUT_SHAPE, NUM_CLASSES  # noqa: E402

__all__ = ["CHUNK", "Reading", "Predictor"]

#: Images per call in ``predict_batch``; large enough to amortise call overhead, small for memory.
CHUNK = 2048


@dataclass(frozen=True)
class Reading:
    """One raw image read by a model: what the model saw and what it answered."""

    mnist_image: np.ndarray
    """(28, 28) float32 in [0, 1]: the image prepared like MNIST (``preprocess.to_mnist``), as the model saw it."""
    probabilities: np.ndarray
    """(10,) float32: the probability of each digit."""

    @property
    def digit(self) -> int:
        """Return the most probable digit."""
        return int(np.argmax(self.probabilities))


class Predictor:
    """Loads a model once and predicts digits from raw images or MNIST-format batches."""

    def __init__(self, model_path: str | os.PathLike | None = None):
        self.model_path = Path(model_path) if model_path else config.SHIPPED_MODEL
        self.model = model_lib.load_model(self.model_path)
        self.card = model_lib.read_card(self.model_path)
        self._one = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec((1, *INPUT_SHAPE), tf.float32)],
        )
        self._many = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec((None, *INPUT_SHAPE), tf.float32)],
        )
        self.predict_prepared(np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32))  # trace now, not on the first stroke

    def read(self, image) -> Reading:
        """Return the reading of one raw image (any size, polarity; see ``to_mnist``): its 28x28 version and probabilities.

        Raises ValueError if the image holds no ink.
        """
        mnist_image = preprocess.to_mnist(image)
        return Reading(mnist_image, self.predict_prepared(mnist_image))

    def predict(self, image) -> np.ndarray:
        """Return 10 probabilities for one raw image (any size, polarity; see ``to_mnist``)."""
        return self.read(image).probabilities

    def predict_prepared(self, mnist_image: np.ndarray) -> np.ndarray:
        """Return 10 probabilities for one image already in MNIST format (28, 28), uint8 or float in [0, 1]."""
        x = preprocess.to_model_input(mnist_image)
        return self._one(tf.constant(x)).numpy()[0]

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """Return (N, 10) probabilities for MNIST-format images (N, 28, 28), uint8 or float in [0, 1]."""
        x = preprocess.to_model_input(x)
        out = [self._many(tf.constant(x[i:i + CHUNK])).numpy() for i in range(0, len(x), CHUNK)]
        return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)
