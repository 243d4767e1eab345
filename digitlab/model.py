"""Build, save and load the CNNs, with a JSON model card beside each saved model.

``build_cnn`` is digitlab's recipe; ``build_reference_cnn`` is Keras's "Simple MNIST
convnet", kept so benchmarks can compare against what users would otherwise copy.
Both take (N, 28, 28, 1) float32 in [0, 1] and output softmax probabilities.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from digitlab.files import atomic_path
from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


class ModelFileError(ValueError):
    """A model file is missing, corrupt or not a Keras model; the message names the file."""


def build_cnn(
    *,
    widths: tuple[int, int, int] = (32, 64, 128),
    dropout: float = 0.3,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-4,
    label_smoothing: float = 0.1,
) -> keras.Model:
    """Return digitlab's compiled CNN: three batch-normalised conv blocks, global pooling, softmax.

    Each block is conv-BN-ReLU twice (the second strided in the first two blocks in place of
    pooling). Compiled with AdamW and label smoothing; ``digitlab.train`` adds the warm-up and
    cosine learning-rate schedule. Labels are one-hot (label smoothing needs them).
    """
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    for i, width in enumerate(widths):
        x = _conv_bn(x, width, kernel=5 if i == 0 else 3, name=f"block{i + 1}a")
        x = _conv_bn(x, width, kernel=3, strides=2 if i < 2 else 1, name=f"block{i + 1}b")
        x = layers.SpatialDropout2D(dropout / 3, name=f"block{i + 1}_drop")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="drop")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="digitlab_cnn")
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
    )
    return model


def _conv_bn(x, filters: int, *, kernel: int, strides: int = 1, name: str):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)  # settles within a short run
    return layers.ReLU(name=f"{name}_relu")(x)


def build_reference_cnn() -> keras.Model:
    """Return Keras's "Simple MNIST convnet" (conv32-pool-conv64-pool-dropout 0.5-dense), compiled with Adam."""
    model = keras.Sequential(
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
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def predict_proba(model: keras.Model, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Return (N, 10) probabilities for model-ready images (N, 28, 28, 1), in batches, without logs."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


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
    interrupted save never leaves a half-written model where the previous one was.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: models are saved in the .keras format; use a name ending in .keras")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        if card is not None:
            write_json_atomic(card_path(path), card)
    return path


def load_model(path: str | os.PathLike) -> keras.Model:
    """Return the Keras model stored at ``path``; ModelFileError naming the file if it is unusable."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path} (train one with `python -m digitlab train`)")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: not a .keras model file")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a damaged zip; all mean the same here
        raise ModelFileError(f"{path}: corrupt or unreadable model file ({type(exc).__name__}: {exc})") from exc


def read_card(model_path: str | os.PathLike) -> dict:
    """Return the model card beside ``model_path``, or an empty dict if there is none."""
    p = card_path(model_path)
    return json.loads(p.read_text()) if p.exists() else {}


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Return ``path`` after writing ``obj`` as indented JSON there via a temp file and rename."""
    text = json.dumps(obj, indent=2) + "\n"  # serialise first: a bad object must not touch the file
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """Return the kernel of the model's first Conv2D layer as (height, width, in_channels, filters)."""
    return keras.ops.convert_to_numpy(_first_conv(model).kernel)


def feature_maps(model: keras.Model, image: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Return the activations (height, width, channels) of one layer for one MNIST-format image (28, 28).

    ``layer_name`` defaults to the first Conv2D layer; ValueError names the layers if it is unknown.
    """
    from digitlab import preprocess  # numpy only; imported here to keep this addition self-contained

    x = preprocess.to_model_input(image)
    if len(x) != 1:
        raise ValueError(f"feature_maps takes one image (28, 28), got {len(x)} images")
    names = [layer.name for layer in model.layers]
    if layer_name is not None and layer_name not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer_name!r}; its layers are {names}")
    layer = model.get_layer(layer_name) if layer_name else _first_conv(model)
    probe = keras.Model(model.input, layer.output)
    return keras.ops.convert_to_numpy(probe(x, training=False))[0]


def _first_conv(model: keras.Model) -> layers.Conv2D:
    """Return the first Conv2D layer of ``model``; ValueError if it has none."""
    conv = next((layer for layer in model.layers if isinstance(layer, layers.Conv2D)), None)
    if conv is None:
        raise ValueError(f"model {model.name!r} has no Conv2D layer")
    return conv
