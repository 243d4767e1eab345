"""Train a CNN on MNIST: augmentation, learning-rate schedule, resumable checkpoints, model card.

``train`` is what the CLI and notebook 02 call. It splits validation data off the training
set (the test set is only used for the final accuracy), saves the model, its history and its
card atomically, and resumes from its last epoch if a previous run with the same output was
interrupted.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from digitlab import config, data, metrics, model as model_lib, preprocess  # noqa: E402

#: Augmentation ranges for drawings: rotation (degrees), scale, shear, shift (pixels).
AUGMENT = {"rotation": 12.0, "scale": (0.85, 1.12), "shear": 0.25, "shift": 2.5, "pen": 0.5}


@dataclass
class TrainResult:
    """What ``train`` returns: the model, its per-epoch history, its card and where it was saved."""

    model: keras.Model
    history: dict[str, list[float]]
    card: dict
    path: Path | None = None
    test_probabilities: np.ndarray | None = field(default=None, repr=False)


def augment_batch(images: tf.Tensor, *, seed: int | None = None, ranges: dict = AUGMENT) -> tf.Tensor:
    """Return a randomly transformed copy of a batch (B, 28, 28, 1): affine warp and pen width.

    One affine transform per image (rotation, scale, shear, shift) stands in for the ways
    people draw; a 2x2 max or min filter thickens or thins the pen of a random half of them.
    """
    b = tf.shape(images)[0]
    rnd = tf.random.uniform((b, 6), seed=seed)
    angle = (rnd[:, 0] * 2 - 1) * ranges["rotation"] * math.pi / 180
    scale = ranges["scale"][0] + rnd[:, 1] * (ranges["scale"][1] - ranges["scale"][0])
    shear = (rnd[:, 2] * 2 - 1) * ranges["shear"]
    tx, ty = [(r * 2 - 1) * ranges["shift"] for r in (rnd[:, 3], rnd[:, 4])]
    # forward map A = s * R(angle) @ [[1, shear], [0, 1]]; the warp needs its inverse
    cos, sin = tf.cos(angle), tf.sin(angle)
    a00, a01, a10, a11 = scale * cos, scale * (cos * shear - sin), scale * sin, scale * (sin * shear + cos)
    det = a00 * a11 - a01 * a10
    m00, m01, m10, m11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = 13.5
    ox = c - (m00 * (c + tx) + m01 * (c + ty))
    oy = c - (m10 * (c + tx) + m11 * (c + ty))
    zeros = tf.zeros_like(angle)
    transform = tf.stack([m00, m01, ox, m10, m11, oy, zeros, zeros], axis=1)
    warped = keras.ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant")
    thick = tf.nn.max_pool2d(warped, 2, 1, "SAME")
    thin = -tf.nn.max_pool2d(-warped, 2, 1, "SAME")
    pen = rnd[:, 5][:, None, None, None]
    p = ranges["pen"] / 2
    out = tf.where(pen < p, thick, tf.where(pen > 1 - p, thin, warped))
    return tf.clip_by_value(out, 0.0, 1.0)


def make_dataset(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, augment: bool = False, shuffle: bool = False, seed: int = config.SEED
) -> tf.data.Dataset:
    """Return a batched tf.data pipeline of model-ready images and one-hot labels."""
    ds = tf.data.Dataset.from_tensor_slices((preprocess.to_model_input(x), keras.utils.to_categorical(y, 10)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        ds = ds.map(lambda a, b: (augment_batch(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def cosine_schedule(base_lr: float, epochs: int, warmup: int = 1) -> Callable[[int], float]:
    """Return epoch -> learning rate: linear warm-up over ``warmup`` epochs, then cosine decay to 1%."""

    def lr(epoch: int) -> float:
        if epoch < warmup:
            return base_lr * (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return base_lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

    return lr


class _EpochHook(keras.callbacks.Callback):
    """Records the history, keeps a copy beside the resume state, and calls ``fn(history)`` each epoch.

    The copy lets a resumed run continue the history where the interrupted one stopped.
    """

    def __init__(self, fn: Callable[[dict], None], history: dict[str, list[float]], backup: Path | None):
        super().__init__()
        self.fn, self.history, self.backup = fn, history, backup

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))
        if self.backup is not None:
            model_lib.write_json_atomic(self.backup, self.history)
        self.fn(self.history)


def train(
    *,
    epochs: int = 30,
    batch_size: int = 128,
    data_path: str | Path | None = None,
    out: str | Path | None = None,
    recipe: str = "digitlab",
    fraction: float = 1.0,
    val_fraction: float = 0.1,
    seed: int = config.SEED,
    augment: bool | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
    verbose: int = 1,
    model_kwargs: dict | None = None,
) -> TrainResult:
    """Return a trained model with its history and card, saved to ``out`` (if given) atomically.

    ``recipe`` is ``"digitlab"`` (``build_cnn``, augmentation, warm-up + cosine schedule) or
    ``"reference"`` (Keras's simple convnet with Adam, no augmentation). ``fraction`` trains on
    a seeded subset for quick runs. An interrupted run with the same ``out`` resumes from its
    last finished epoch; the model previously at ``out`` stays untouched until the new one is
    complete.
    """
    if recipe not in ("digitlab", "reference"):
        raise ValueError(f"recipe must be 'digitlab' or 'reference', got {recipe!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    keras.utils.set_random_seed(seed)
    source = data.find_mnist(data_path)
    (x_all, y_all), (x_test, y_test) = data.load_mnist(source)
    x_all, y_all = data.subset(x_all, y_all, fraction, seed=seed)
    (x_tr, y_tr), (x_val, y_val) = data.train_val_split(x_all, y_all, val_fraction=val_fraction, seed=seed)
    augment = recipe == "digitlab" if augment is None else augment
    kwargs = dict(model_kwargs or {})
    model = model_lib.build_cnn(**kwargs) if recipe == "digitlab" else model_lib.build_reference_cnn()

    backup = checkpoint_dir(out) / "history.json" if out is not None else None
    history: dict[str, list[float]] = json.loads(backup.read_text()) if backup and backup.exists() else {}
    callbacks: list[keras.callbacks.Callback] = [_EpochHook(on_epoch_end or (lambda h: None), history, backup)]
    if recipe == "digitlab":
        base_lr = float(kwargs.get("learning_rate", 2e-3))
        callbacks.insert(0, keras.callbacks.LearningRateScheduler(cosine_schedule(base_lr, epochs)))
    if out is not None:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(str(checkpoint_dir(out)), delete_checkpoint=True))

    train_ds = make_dataset(x_tr, y_tr, batch_size=batch_size, augment=augment, shuffle=True, seed=seed)
    val_ds = make_dataset(x_val, y_val, batch_size=1024)
    start = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False)
    wall = time.perf_counter() - start

    probs = model_lib.predict_proba(model, preprocess.to_model_input(x_test))
    card = make_card(
        model, recipe=recipe, source=source, counts=(len(y_tr), len(y_val), len(y_test)),
        train_labels=y_tr, test_report=metrics.report(y_test, probs), wall_time=wall,
        params=dict(epochs=epochs, batch_size=batch_size, fraction=fraction, val_fraction=val_fraction,
                    seed=seed, augment=augment, augment_ranges=AUGMENT if augment else None, **kwargs),
    )
    path = None
    if out is not None:
        path = model_lib.save_model(model, out, card)
        model_lib.write_json_atomic(model_lib.history_path(path), history)
        backup.unlink(missing_ok=True)
        _remove_empty_dirs(backup.parent, stop=Path(out).parent)
    return TrainResult(model, history, card, path, probs)


def model_or_stand_in(path: str | Path, *, epochs: int = 3, fraction: float = 0.2) -> Path:
    """Return ``path`` if the model exists, else the path of a small stand-in trained into a temp folder.

    Notebooks 03 and 04 use it so that they still run, with a note and a weaker model, when
    the shipped model has been deleted.
    """
    path = Path(path)
    if path.exists():
        return path
    print(f"{path.name} not found: training a small stand-in ({epochs} epochs on {fraction:.0%} of the images)")
    out = Path(tempfile.mkdtemp(prefix="digitlab-stand-in-")) / "stand_in.keras"
    return train(epochs=epochs, fraction=fraction, out=out, verbose=0).path


def checkpoint_dir(out: str | Path) -> Path:
    """Return the folder where an interrupted training towards ``out`` keeps its resume state."""
    out = Path(out)
    return out.parent / "checkpoints" / out.stem


def _remove_empty_dirs(folder: Path, *, stop: Path) -> None:
    """Remove ``folder`` and its empty parents up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        if folder.is_dir():
            if any(folder.iterdir()):
                return
            folder.rmdir()
        folder = folder.parent


def make_card(
    model: keras.Model, *, recipe: str, source: Path, counts: tuple[int, int, int], train_labels: np.ndarray,
    test_report: dict, wall_time: float, params: dict,
) -> dict:
    """Return the model card: what the model saw, how it was trained and how it scores on the test set."""
    n_train, n_val, n_test = counts
    return {
        "model": model.name,
        "recipe": recipe,
        "test_accuracy": test_report["accuracy"],
        "test_errors": test_report["errors"],
        "test_images": n_test,
        "per_class_recall": test_report["recall"],
        "training_data": {
            "source_file": source.name,
            "sha256": data.sha256(source),
            "train_images": n_train,
            "validation_images": n_val,
            "train_label_counts": np.bincount(train_labels, minlength=10).tolist(),
            "note": "validation images are split off the training set; the test set is used only for test_accuracy",
        },
        "parameters": params,
        "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "epochs": params["epochs"],
        "wall_time_s": round(wall_time, 1),
        "versions": {
            "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
