"""What a trained CNN has learned: its first-layer filters and the feature maps of one image.

These read a model's weights and intermediate activations for notebook 03's pictures; they
do not build, train or save anything.
"""
from __future__ import annotations

from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from digitlab import preprocess  # noqa: E402

__all__ = ["first_layer_filters", "feature_maps"]


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """Return the kernel of the model's first Conv2D layer as (height, width, in_channels, filters)."""
    return keras.ops.convert_to_numpy(_first_conv(model).kernel)


def feature_maps(model: keras.Model, image: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Return the activations (height, width, channels) of one layer for one MNIST-format image (28, 28).

    ``layer_name`` defaults to the first Conv2D layer; ValueError names the layers if it is unknown.
    """
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
