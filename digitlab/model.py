"""Build, save and load the CNNs, with a JSON model card and history beside each saved model.

``build_cnn`` is digitlab's architecture; ``build_reference_cnn`` is Keras's "Simple MNIST
convnet", kept so benchmarks can compare against what users would otherwise copy. Both
return uncompiled models (``digitlab.train.compile_for`` compiles them for their recipe),
take (N, 28, 28, 1) float32 in [0, 1] and output softmax probabilities.
"""
from __future__ import annotations

import os
from pathlib import Path

from digitlab.backend import tensorflow as _load_tensorflow
from digitlab.config import INPUT_SHAPE, NUM_CLASSES
from digitlab.files import ModelFileError, atomic_path, check_model_path, read_json, write_json_atomic
from digitlab.preprocess import to_model_input

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

__all__ = [
    "ModelFileError", "FusedBatchNormalization", "build_cnn", "build_reference_cnn", "predict_proba", "precise_batch_norm",
    "card_path", "history_path",
    "save_model", "load_model", "read_card", "read_history",
]


@keras.saving.register_keras_serializable(package="digitlab")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras's BatchNormalization whose training step runs TensorFlow's fused kernel (one pass each way).

    Keras 3 normalises with ``tf.nn.moments`` and several elementwise ops, each a pass over the
    activations forward and backward; ``FusedBatchNormV3`` (oneDNN on CPU) does each direction
    in one, which makes a training step of ``build_cnn`` about a third cheaper on a CPU. Same
    weights, same maths (the moving variance stays the biased one Keras averages), and the
    inherited inference path.
    """

    def call(self, inputs, training=None, mask=None):
        """Return the normalised batch; in training, update the moving statistics from the fused kernel's."""
        if not (training and self.trainable) or mask is not None or self.renorm or self.synchronized \
                or len(inputs.shape) != 4 or self.axis not in (-1, 3, [3], [-1]) or inputs.dtype != tf.float32:
            return super().call(inputs, training=training, mask=mask)
        ones = tf.ones([inputs.shape[-1]], inputs.dtype)
        y, mean, var = tf.compat.v1.nn.fused_batch_norm(
            inputs, self.gamma if self.scale else ones, self.beta if self.center else 0 * ones,
            epsilon=self.epsilon, data_format="NHWC", is_training=True)[:3]
        n = tf.cast(tf.size(inputs) // inputs.shape[-1], tf.float32)
        var = var * (n - 1) / n  # the kernel returns the unbiased variance
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + var * (1.0 - self.momentum))
        return y


def build_cnn(
    *, widths: tuple[int, int, int] = (32, 64, 128), dropout: float = 0.3, block3_stride: int = 2,
    fused_norm: bool = True, classes: int = NUM_CLASSES,
) -> keras.Model:
    """Return digitlab's uncompiled CNN: three batch-normalised conv blocks, global pooling, softmax over ``classes``.

    Each block is conv-BN-ReLU twice. The second conv of blocks 1 and 2 is strided in place of
    pooling (28 -> 14 -> 7); ``block3_stride`` 2 strides block 3's first conv too (7 -> 4),
    which halves the costliest block's work for no loss of accuracy (1 keeps block 3 at 7x7, as
    digitlab's first recipe did). ``widths`` are the blocks' channels, ``dropout`` the rate
    before the classifier (a third of it as spatial dropout after each block), ``fused_norm``
    picks ``FusedBatchNormalization`` (faster training, same maths) over Keras's layer.
    """
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    norm = FusedBatchNormalization if fused_norm else layers.BatchNormalization
    for i, width in enumerate(widths):
        x = _conv_bn(x, width, kernel=5 if i == 0 else 3, strides=block3_stride if i == 2 else 1,
                     norm=norm, name=f"block{i + 1}a")
        x = _conv_bn(x, width, kernel=3, strides=2 if i < 2 else 1, norm=norm, name=f"block{i + 1}b")
        x = layers.SpatialDropout2D(dropout / 3, name=f"block{i + 1}_drop")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="drop")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digitlab_cnn")


def _conv_bn(x, filters: int, *, kernel: int, strides: int = 1, norm: type[layers.BatchNormalization], name: str):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = norm(momentum=0.9, name=f"{name}_bn")(x)  # settles within a short run
    return layers.ReLU(name=f"{name}_relu")(x)


def build_reference_cnn() -> keras.Model:
    """Return Keras's "Simple MNIST convnet" (conv32-pool-conv64-pool-dropout 0.5-dense), uncompiled."""
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="reference_cnn",
    )


def predict_proba(model: keras.Model, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Return (N, 10) probabilities for model-ready images (N, 28, 28, 1), in batches, without logs."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def precise_batch_norm(model: keras.Model, x: np.ndarray, *, batch_size: int = 1024) -> int:
    """Return how many batch-norm layers of ``model`` had their moving statistics recomputed over images ``x``.

    Training leaves each layer's moving mean and variance as an average with momentum 0.9, so
    mostly of the last few augmented batches. Here they become the mean over every batch of
    ``x`` (MNIST-format images, un-augmented, made model-ready a batch at a time so that a large
    uint8 training set is never held as floats at once), weighted by batch size, each batch
    normalised with its own statistics as in training, dropout off ("precise BN", Wu & Johnson,
    2021). Only the statistics change; weights, dropout rates and momenta are restored.
    """
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    drops = [layer for layer in model.layers if isinstance(layer, (layers.Dropout, layers.SpatialDropout2D))]
    if not norms:
        return 0
    momenta, rates = [layer.momentum for layer in norms], [layer.rate for layer in drops]
    try:
        for layer in drops:
            layer.rate = 0.0
        seen = 0
        for start in range(0, len(x), batch_size):
            batch = tf.convert_to_tensor(to_model_input(x[start:start + batch_size]))
            seen += len(batch)
            for layer in norms:  # the running value becomes the size-weighted mean of the batches so far
                layer.momentum = 1.0 - len(batch) / seen
            model(batch, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        for layer, rate in zip(drops, rates):
            layer.rate = rate
    return len(norms)


def card_path(model_path: str | os.PathLike) -> Path:
    """Return the path of the model card that sits beside ``model_path`` (``NAME.card.json``)."""
    p = Path(model_path)
    return p.with_name(p.stem + ".card.json")


def history_path(model_path: str | os.PathLike) -> Path:
    """Return the path of the training history beside ``model_path`` (``NAME.history.json``)."""
    p = Path(model_path)
    return p.with_name(p.stem + ".history.json")


def save_model(model: keras.Model, path: str | os.PathLike, card: dict | None = None) -> Path:
    """Return ``path`` after saving ``model`` there (and its card beside it), each atomically.

    Both are written to temporary files in the same folder and renamed into place, so an
    interrupted save never leaves a half-written model where the previous one was. The file
    holds the architecture and weights without the optimizer's state: every reader loads it
    uncompiled (``load_model``), and a fine-tune or warm restart (``train --init``) starts a new
    optimizer, so that state would only double or triple the file's size.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: models are saved in the .keras format; use a name ending in .keras")
    with atomic_path(path, suffix=".keras") as tmp:
        _uncompiled_copy(model).save(tmp)
        if card is not None:
            write_json_atomic(card_path(path), card)
    return path


def _uncompiled_copy(model: keras.Model) -> keras.Model:
    """Return a copy of ``model`` with the same layers and weights, not compiled (no optimizer, loss or metrics)."""
    copy = type(model).from_config(model.get_config())  # clone_model would compile the copy like the original
    copy.set_weights(model.get_weights())
    return copy


def load_model(path: str | os.PathLike) -> keras.Model:
    """Return the Keras model stored at ``path``; ModelFileError naming the file if it is unusable."""
    path = check_model_path(path)
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a damaged zip; all mean the same here
        raise ModelFileError(f"{path}: corrupt or unreadable model file ({type(exc).__name__}: {exc})") from exc


def read_card(model_path: str | os.PathLike) -> dict:
    """Return the model card beside ``model_path``, or an empty dict if there is none."""
    return read_json(card_path(model_path))


def read_history(model_path: str | os.PathLike) -> dict[str, list[float]]:
    """Return the training history beside ``model_path`` (metric name -> value per epoch), or an empty dict."""
    return read_json(history_path(model_path))
