"""digitlab.introspect: what the CNN sees, first-layer filters and feature maps of one image."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy import signal

from digitlab import introspect, model as model_lib


@pytest.fixture(scope="module")
def small_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return model_lib.build_cnn(widths=(4, 6, 8))


@pytest.fixture
def digit() -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255  # a thick "1"
    return image


def test_first_layer_filters_is_the_first_conv_kernel(small_cnn):
    kernels = introspect.first_layer_filters(small_cnn)
    assert kernels.shape == (5, 5, 1, 4)
    np.testing.assert_array_equal(kernels, small_cnn.get_layer("block1a_conv").kernel.numpy())


def test_feature_maps_of_first_conv_are_its_cross_correlation(small_cnn, digit):
    maps = introspect.feature_maps(small_cnn, digit)
    assert maps.shape == (28, 28, 4)
    kernel = introspect.first_layer_filters(small_cnn)[:, :, 0, 2]
    expected = signal.correlate2d(digit / 255.0, kernel, mode="same")  # padding="same", no bias
    np.testing.assert_allclose(maps[:, :, 2], expected, atol=1e-5)


def test_feature_maps_of_a_named_deeper_layer(small_cnn, digit):
    maps = introspect.feature_maps(small_cnn, digit, layer_name="block2a_relu")
    assert maps.shape == (14, 14, 6)
    assert maps.min() >= 0  # after ReLU


def test_feature_maps_refuse_unknown_layer_and_batches(small_cnn, digit):
    with pytest.raises(ValueError, match="no layer 'nope'.*block1a_conv"):
        introspect.feature_maps(small_cnn, digit, layer_name="nope")
    with pytest.raises(ValueError, match="one image"):
        introspect.feature_maps(small_cnn, np.stack([digit, digit]))


def test_model_without_conv_is_refused():
    dense = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)], name="mlp")
    with pytest.raises(ValueError, match="'mlp' has no Conv2D"):
        introspect.first_layer_filters(dense)
