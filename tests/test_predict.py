"""digitlab.predict: the Predictor on the shipped model."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from digitlab import model as model_lib, predict, preprocess


@pytest.fixture(scope="module")
def predictor(shipped_model):
    return predict.Predictor()


def test_batch_accuracy_on_test_images(predictor, mnist):
    x, y = mnist[1][0][:2000], mnist[1][1][:2000]
    probs = predictor.predict_batch(x)
    assert probs.shape == (2000, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
    assert np.mean(probs.argmax(axis=1) == y) > 0.99


def test_batch_accepts_floats_and_agrees_with_uint8(predictor, mnist):
    x = mnist[1][0][:16]
    np.testing.assert_allclose(predictor.predict_batch(x), predictor.predict_batch(x / 255.0), atol=1e-5)
    assert predictor.predict_batch(x[:0]).shape == (0, 10)


def test_single_raw_image_like_a_photo(predictor, mnist):
    (x, y) = mnist[1][0][:30], mnist[1][1][:30]
    correct = 0
    for digit, label in zip(x, y):
        photo = Image.fromarray(255 - digit).resize((300, 300), Image.Resampling.BICUBIC)  # dark ink, big
        probs = predictor.predict(photo)
        assert probs.shape == (10,)
        correct += int(probs.argmax() == label)
    assert correct >= 29


def test_single_and_batch_agree(predictor, mnist):
    digit = mnist[1][0][7]
    np.testing.assert_allclose(predictor.predict_prepared(digit / 255.0),
                               predictor.predict_batch(digit[None])[0], atol=1e-5)


def test_read_returns_what_the_model_saw_and_its_answer(predictor, mnist):
    drawing = 255 - np.kron(mnist[1][0][0], np.ones((8, 8), np.uint8))  # dark ink on paper, 224x224
    reading = predictor.read(drawing)
    assert isinstance(reading, predict.Reading)
    np.testing.assert_array_equal(reading.mnist_image, preprocess.to_mnist(drawing))
    assert reading.mnist_image.shape == (28, 28) and reading.probabilities.shape == (10,)
    assert reading.digit == int(np.argmax(reading.probabilities)) == mnist[1][1][0]
    np.testing.assert_array_equal(predictor.predict(drawing), reading.probabilities)
    np.testing.assert_allclose(predictor.predict_prepared(reading.mnist_image), reading.probabilities, atol=1e-6)


def test_blank_drawing_says_no_ink(predictor):
    with pytest.raises(ValueError, match="no ink"):
        predictor.predict(np.zeros((280, 280)))


def test_missing_model_is_named(tmp_path):
    with pytest.raises(model_lib.ModelFileError, match="missing.keras"):
        predict.Predictor(tmp_path / "missing.keras")
