"""Fast predictions from a saved model: one raw drawing, or a batch of MNIST-format images.

A single prediction goes through a traced ``tf.function`` with a fixed (1, 28, 28, 1)
signature instead of ``model.predict``, whose per-call set-up costs tens of milliseconds:
the drawing pad predicts while the pen moves, so every millisecond shows.
"""
from __future__ import annotations

import os
from pathlib import Path

from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from digitlab import config, model as model_lib, preprocess  # noqa: E402

#: Images per call in ``predict_batch``; large enough to amortise call overhead, small for memory.
CHUNK = 2048


class Predictor:
    """Loads a model once and predicts digits from raw images or MNIST-format batches."""

    def __init__(self, model_path: str | os.PathLike | None = None):
        self.model_path = Path(model_path) if model_path else config.SHIPPED_MODEL
        self.model = model_lib.load_model(self.model_path)
        self.card = model_lib.read_card(self.model_path)
        self._one = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec((1, 28, 28, 1), tf.float32)],
        )
        self._many = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)],
        )
        self.predict_prepared(np.zeros((28, 28), np.float32))  # trace now, not on the first stroke

    def predict(self, image) -> np.ndarray:
        """Return 10 probabilities for one raw image (any size, polarity; see ``to_mnist``)."""
        return self.predict_prepared(preprocess.to_mnist(image))

    def predict_prepared(self, mnist_image: np.ndarray) -> np.ndarray:
        """Return 10 probabilities for one image already in MNIST format (28, 28), float in [0, 1]."""
        x = preprocess.to_model_input(mnist_image)
        return self._one(tf.constant(x)).numpy()[0]

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """Return (N, 10) probabilities for MNIST-format images (N, 28, 28), uint8 or float in [0, 1]."""
        x = preprocess.to_model_input(x)
        out = [self._many(tf.constant(x[i:i + CHUNK])).numpy() for i in range(0, len(x), CHUNK)]
        return np.concatenate(out) if out else np.zeros((0, 10), np.float32)
