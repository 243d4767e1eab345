"""Train a CNN on MNIST or another script's digits: augmentation, schedule, resumable checkpoints, model card.

``train`` is what the CLI and notebook 02 call. It reads a script's digits (``scripts.model_data``:
MNIST is the ``"western"`` script), splits validation data off the training set (the test set is
only used for the final accuracy), builds a model or loads one to fine-tune (``init``), compiles
it for its recipe (``compile_for``, the one place models are compiled), saves the model, its
history and its card atomically, and resumes from its last epoch if a previous run with the same
output was interrupted.
"""
from __future__ import annotations

import datetime as dt
import math
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from digitlab.backend import tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from digitlab import config, data, metrics, model as model_lib, nondigits, pen, preprocess, scripts, style  # noqa: E402
from digitlab.config import IMAGE_SIZE, INPUT_SHAPE, NUM_CLASSES  # noqa: E402
from digitlab.files import check_model_path, read_json, write_json_atomic  # noqa: E402

__all__ = [
    "RECIPES", "Augmentation", "TrainResult", "Split", "augment_batch", "random_affine", "change_pen", "elastic_field", "displace", "ELASTIC_GRID", "make_dataset", "cosine_schedule", "step_schedule", "SCHEDULES",
    "compile_for", "build_for", "prepare_data", "pen_training_data", "balance_scripts", "shift_classifier", "precise_statistics", "precise_saved_model", "NOT_A_DIGIT", "training_targets", "nondigit_training_data", "make_callbacks", "fit", "save_outputs", "train", "model_or_stand_in",
    "checkpoint_dir", "make_card", "test_scores", "LEARNING_RATE", "FINE_TUNE_LEARNING_RATE", "load_init",
]

#: The training recipes: digitlab's, and Keras's "Simple MNIST convnet" as published.
RECIPES = ("digitlab", "reference")
#: The label of a non-digit among the training images (outlier exposure): its target is uniform over the ten digits.
NOT_A_DIGIT = -1
#: digitlab's learning-rate schedules: warm-up + cosine updated every step, or once per epoch (its first recipe).
SCHEDULES = ("step", "epoch")
#: digitlab's peak learning rate for a model trained from scratch.
LEARNING_RATE = 2e-3
#: Its peak rate for fine-tuning a trained model (``init``): the same, every layer trained, the warm-up
#: of ``step_schedule`` softening the start. A quarter of it (5e-4) was tried first and under-trains
#: small sets: fine-tuned on 100 images per digit for 15 epochs, the validation accuracy was 81.1%
#: (Kannada) and 89.7% (Arabic) at 5e-4, 96.1% and 98.8% at 2e-3 (from scratch: 94.1%, 98.0%).
FINE_TUNE_LEARNING_RATE = 2e-3
#: ``train``'s hyperparameters that shape the network: they do not apply to a fine-tuned model.
_ARCHITECTURE = ("widths", "dropout", "block3_stride", "fused_norm")


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes ``augment_batch`` makes to each training image (each drawn uniformly)."""

    rotation: float = 12.0
    """Largest rotation either way, in degrees."""
    scale: tuple[float, float] = (0.85, 1.12)
    """Smallest and largest zoom factor."""
    shear: float = 0.25
    """Largest shear either way: a point moves sideways by ``shear`` times its height."""
    shift: float = 2.5
    """Largest shift either way along each axis, in pixels."""
    pen: float = 0.5
    """Share of images whose pen is changed: half of them thickened, half thinned."""
    elastic: float = 0.0
    """Largest shift of the elastic warp's control points, in pixels (0: no elastic warp; see ``elastic_field``)."""


@dataclass
class TrainResult:
    """What ``train`` returns: the model, its per-epoch history, its card and where it was saved."""

    model: keras.Model
    history: dict[str, list[float]]
    card: dict
    path: Path | None = None
    test_probabilities: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Split:
    """The data of one training: the file it came from and its training, validation and test arrays."""

    source: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    pen: dict | None = None
    """Where the real pen digits mixed into the training images came from (None: MNIST only)."""
    nondigits: dict | None = None
    """Which non-digits were mixed into the training images with label ``NOT_A_DIGIT`` (None: none)."""
    script: str = "western"
    """Whose digits these are: a name of ``scripts.SCRIPTS``, or ``scripts.ANY`` (labels ``scripts.any_labels``)."""
    sources: dict[str, Path] | None = None
    """For the any-script model, each script's file (``source`` is MNIST's); else None."""
    balanced: dict | None = None
    """How ``balance_scripts`` repeated the any-script model's scripts, and the logit shift that undoes it (None: not)."""


def augment_batch(images: tf.Tensor, *, seed: int | None = None, ranges: Augmentation = Augmentation()) -> tf.Tensor:
    """Return a randomly transformed copy of a batch (B, 28, 28, 1): affine warp, elastic warp and pen width.

    One affine transform per image (rotation, scale, shear, shift) stands in for the ways
    people draw; with ``ranges.elastic`` a smooth random field bends each stroke a little as a
    hand does (``elastic_field``); a 2x2 max or min filter thickens or thins the pen of a random share of them.
    """
    transforms, pen_draws = random_affine(tf.shape(images)[0], seed=seed, ranges=ranges)
    warped = keras.ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant")
    if ranges.elastic:
        field = elastic_field(tf.shape(images)[0], ranges.elastic, seed=None if seed is None else seed + 1)
        warped = displace(warped, field)
    return change_pen(warped, pen_draws, share=ranges.pen)


#: Control points per side of ``elastic_field``'s coarse grid: 4x4 bends a digit's strokes without breaking them.
ELASTIC_GRID = 4


def elastic_field(batch_size: int | tf.Tensor, largest: float, *, seed: int | None = None) -> tf.Tensor:
    """Return smooth random displacements (B, 28, 28, 2), (dy, dx) in pixels: an elastic distortion per image.

    Simard et al. (2003) smooth white noise with a Gaussian; here a coarse ``ELASTIC_GRID`` grid of
    shifts drawn uniformly in [-``largest``, ``largest``] is interpolated bicubically to every
    pixel, which is as smooth and about 50x cheaper than Keras's ``gaussian_blur`` of a full-size
    field (12 ms against 650 ms a batch of 128 on two cores), so it keeps up with training.
    """
    grid = tf.random.uniform(tf.stack([batch_size, ELASTIC_GRID, ELASTIC_GRID, 2]), -largest, largest, seed=seed)
    return tf.image.resize(grid, (IMAGE_SIZE, IMAGE_SIZE), method="bicubic")


def displace(images: tf.Tensor, field: tf.Tensor) -> tf.Tensor:
    """Return ``images`` (B, 28, 28, 1) resampled bilinearly at each pixel + ``field`` (B, 28, 28, 2: dy, dx); outside is 0.

    ``keras.ops.image.map_coordinates`` computes the same (to 1e-6) but interpolates along the
    batch and channel axes too, 16 gathers a point instead of 4: 86 ms against 8 ms a batch of 128.
    """
    size = IMAGE_SIZE + 2  # a border of zeros, where every point outside the image reads
    flat = tf.reshape(tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]]), [-1])
    rows, cols = tf.meshgrid(tf.range(IMAGE_SIZE, dtype=tf.float32), tf.range(IMAGE_SIZE, dtype=tf.float32), indexing="ij")
    y = tf.clip_by_value(rows + field[..., 0] + 1, 0.0, size - 1.0)
    x = tf.clip_by_value(cols + field[..., 1] + 1, 0.0, size - 1.0)
    y0, x0 = tf.minimum(tf.floor(y), size - 2.0), tf.minimum(tf.floor(x), size - 2.0)
    wy, wx = y - y0, x - x0
    base = tf.cast(tf.range(tf.shape(images)[0]), tf.float32)[:, None, None] * size * size

    def at(yi: tf.Tensor, xi: tf.Tensor) -> tf.Tensor:
        return tf.gather(flat, tf.cast(base + yi * size + xi, tf.int32))

    top = (1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)
    bottom = (1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1)
    return ((1 - wy) * top + wy * bottom)[..., None]


def random_affine(
    batch_size: int | tf.Tensor, *, seed: int | None = None, ranges: Augmentation = Augmentation()
) -> tuple[tf.Tensor, tf.Tensor]:
    """Return ``(transforms, pen_draws)``: ``augment_batch``'s random warp of each image and its draw for ``change_pen``.

    Each row of ``transforms`` (B, 8) is ``[a0, a1, a2, b0, b1, b2, 0, 0]``: output pixel (x, y)
    reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2), the inverse map that
    ``keras.ops.image.affine_transform`` and ``ImageProjectiveTransformV3`` take. The forward map
    rotates, zooms and shears about the image centre, then shifts, each by a uniform draw from
    ``ranges``. ``pen_draws`` (B,) are uniform in [0, 1).
    """
    rnd = tf.random.uniform((batch_size, 6), seed=seed)
    angle = (rnd[:, 0] * 2 - 1) * ranges.rotation * math.pi / 180
    scale = ranges.scale[0] + rnd[:, 1] * (ranges.scale[1] - ranges.scale[0])
    shear = (rnd[:, 2] * 2 - 1) * ranges.shear
    tx, ty = [(r * 2 - 1) * ranges.shift for r in (rnd[:, 3], rnd[:, 4])]
    # forward map A = s * R(angle) @ [[1, shear], [0, 1]]; the warp needs its inverse
    cos, sin = tf.cos(angle), tf.sin(angle)
    a00, a01, a10, a11 = scale * cos, scale * (cos * shear - sin), scale * sin, scale * (sin * shear + cos)
    det = a00 * a11 - a01 * a10
    m00, m01, m10, m11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = (IMAGE_SIZE - 1) / 2  # the centre of the pixel grid
    ox = c - (m00 * (c + tx) + m01 * (c + ty))
    oy = c - (m10 * (c + tx) + m11 * (c + ty))
    zeros = tf.zeros_like(angle)
    return tf.stack([m00, m01, ox, m10, m11, oy, zeros, zeros], axis=1), rnd[:, 5]


def change_pen(images: tf.Tensor, draws: tf.Tensor, *, share: float) -> tf.Tensor:
    """Return ``images`` (B, 28, 28, 1) with a ``share`` of pens changed, clipped to [0, 1].

    An image whose draw (B,) is below ``share / 2`` is thickened by a 2x2 max filter, one whose
    draw is above ``1 - share / 2`` thinned by a 2x2 min filter; the others are kept.
    """
    thick = tf.nn.max_pool2d(images, 2, 1, "SAME")
    thin = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    draws = draws[:, None, None, None]
    p = share / 2
    return tf.clip_by_value(tf.where(draws < p, thick, tf.where(draws > 1 - p, thin, images)), 0.0, 1.0)


def make_dataset(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, shuffle: bool = False, seed: int = config.SEED,
    augmentation: Augmentation | None = None, classes: int = NUM_CLASSES,
) -> tf.data.Dataset:
    """Return a batched tf.data pipeline of model-ready images and their targets (``training_targets``), augmented if ranges are given."""
    ds = tf.data.Dataset.from_tensor_slices((preprocess.to_model_input(x), training_targets(y, classes)))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augmentation is not None:
        ds = ds.map(lambda a, b: (augment_batch(a, ranges=augmentation), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def training_targets(y: np.ndarray, classes: int = NUM_CLASSES) -> np.ndarray:
    """Return (N, classes) float32 targets for labels ``y``: one-hot for a digit, uniform (0.1 each of 10) for ``NOT_A_DIGIT``.

    A uniform target is outlier exposure (Hendrycks et al., 2019): the model learns to spread its
    belief over all ten digits for marks that are none of them, which its uniformity score then shows.
    ``classes`` is 10, or ``scripts.ANY_CLASSES`` for the any-script model's labels.
    """
    y = np.asarray(y)
    bad = (y < NOT_A_DIGIT) | (y >= classes)
    if bad.any():
        raise ValueError(f"labels must be classes 0-{classes - 1} or NOT_A_DIGIT ({NOT_A_DIGIT}), got {y[bad][0]}")
    targets = np.full((len(y), classes), 1 / classes, dtype=np.float32)
    digit = y != NOT_A_DIGIT
    targets[digit] = keras.utils.to_categorical(y[digit], classes)
    return targets


def cosine_schedule(base_lr: float, epochs: int, warmup: int = 1) -> Callable[[int], float]:
    """Return epoch -> learning rate: linear warm-up over ``warmup`` epochs, then cosine decay to 1%."""

    def lr(epoch: int) -> float:
        if epoch < warmup:
            return base_lr * (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return base_lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

    return lr


def step_schedule(
    base_lr: float, epochs: int, steps_per_epoch: int, warmup: int = 1
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Return a per-step schedule: linear warm-up over ``warmup`` epochs to ``base_lr``, then cosine decay to 1%.

    The same shape as ``cosine_schedule``, but moved every step rather than every epoch, so a
    short run spends no whole epoch at a stale rate; it lives in the optimizer, so a resumed
    training continues it from the restored step count.
    """
    total, warm = epochs * steps_per_epoch, min(warmup, epochs - 1) * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=base_lr * 0.02 if warm else base_lr, decay_steps=max(1, total - warm), alpha=0.01,
        warmup_target=base_lr if warm else None, warmup_steps=warm)


def compile_for(
    model: keras.Model, recipe: str, *, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    weight_decay: float, label_smoothing: float, ema: float = 0.0,
) -> keras.Model:
    """Return ``model`` compiled for ``recipe`` (one-hot labels, accuracy reported).

    ``"digitlab"``: AdamW with ``learning_rate`` (a rate or a schedule) and ``weight_decay``,
    cross-entropy with ``label_smoothing``; ``ema`` > 0 has the optimizer keep an exponential
    moving average of the weights with that momentum (Keras's ``use_ema``; ``fit`` ends by
    putting the average in the model, and ``make_callbacks`` validates with it). ``"reference"``:
    Keras's published recipe, Adam at its default rate and plain cross-entropy; the three
    hyperparameters do not apply to it.
    """
    if recipe == "digitlab":
        optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay,
                                           use_ema=ema > 0, ema_momentum=ema or 0.99)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    elif recipe == "reference":
        optimizer, loss = keras.optimizers.Adam(), keras.losses.CategoricalCrossentropy()
    else:
        _check_recipe(recipe)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


class _EpochHook(keras.callbacks.Callback):
    """Records the history, keeps a copy beside the resume state, and calls ``fn(history)`` each epoch.

    The copy lets a resumed run continue the history where the interrupted one stopped.
    """

    def __init__(self, fn: Callable[[dict], None], history: dict[str, list[float]], backup: Path | None):
        super().__init__()
        self.fn, self.history, self.backup = fn, history, backup

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        logs.setdefault("learning_rate", float(self.model.optimizer.learning_rate))  # a per-step schedule's, too
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        if self.backup is not None:
            write_json_atomic(self.backup, self.history)
        self.fn(self.history)


def train(
    *,
    epochs: int = config.EPOCHS,
    batch_size: int = 128,
    script: str = "western",
    data_path: str | Path | None = None,
    init: str | Path | None = None,
    out: str | Path | None = None,
    recipe: str = "digitlab",
    fraction: float = 1.0,
    per_class: int | None = None,
    val_fraction: float = 0.1,
    seed: int = config.SEED,
    augment: bool | None = None,
    augmentation: Augmentation | None = None,
    learning_rate: float | None = None,
    weight_decay: float = 1e-4,
    label_smoothing: float = 0.1,
    widths: tuple[int, int, int] = (32, 64, 128),
    dropout: float = 0.3,
    block3_stride: int = 2,
    fused_norm: bool = True,
    schedule: str = "step",
    pen_copies: int = 0,
    pen_path: str | Path | None = None,
    nondigits_per_kind: int = 0,
    nondigit_scripts: tuple[str, ...] = (),
    restyle: float = 0.0,
    balance: int = 0,
    precise_bn: bool = True,
    ema: float = 0.0,
    on_epoch_end: Callable[[dict], None] | None = None,
    verbose: int = 1,
) -> TrainResult:
    """Return a trained model with its history and card, saved to ``out`` (if given) atomically.

    ``script`` names whose digits it learns (``scripts.SCRIPTS``; ``data_path`` and the splits as
    ``scripts.model_data`` finds and makes them: MNIST for ``"western"``). ``init`` None trains a
    new model; a model file fine-tunes that model (its architecture and weights, every layer
    trained by the recipe), e.g. the shipped MNIST model for another script. ``learning_rate``
    None is ``LEARNING_RATE`` from scratch, ``FINE_TUNE_LEARNING_RATE`` with ``init``.
    ``recipe`` is ``"digitlab"`` (``build_cnn`` with ``widths``, ``dropout``, ``block3_stride``
    and ``fused_norm``, augmentation, AdamW with ``learning_rate``, ``weight_decay`` and
    ``label_smoothing``, warm-up + cosine ``schedule`` per step or per epoch) or ``"reference"``
    (Keras's simple convnet with Adam, no augmentation; those hyperparameters do not apply). ``augment`` None follows the recipe; ``augmentation`` sets
    the ranges (None: ``Augmentation()``). ``fraction`` trains on a seeded subset for quick runs,
    ``per_class`` on that many training images of each digit (seeded, the same validation images).
    ``pen_copies`` > 0 mixes real pen digits into the training images: those of the training
    writers of ``pen.split_by_writer``, each drawn that many times like the pad draws (see
    ``pen_training_data``; the file is found as ``pen.find_pen_digits(pen_path)`` finds it).
    ``nondigits_per_kind`` > 0 adds that many hand-drawn non-digits of each kind (and of
    ``nondigit_scripts``' digits) with a uniform target: outlier exposure, see ``nondigit_training_data``.
    ``restyle`` is the share of the script's training images redrawn from their skeleton at a
    random pen width (``style.restyle``, seeded), so the model learns shapes rather than the
    dataset's style; validation and test images stay as they are. ``balance`` > 0, for the
    any-script model, repeats the training images of each script that has fewer until it has that
    many (``balance_scripts``), so the small sets are not drowned by MNIST's. ``precise_bn`` ends the
    training by recomputing the batch norms' statistics over the un-augmented training images
    (``model.precise_batch_norm``; its time counts in the wall time): chosen on validation, see models/README.md.
    ``ema`` > 0 (digitlab's recipe) trains as usual but ends with the exponential moving average
    of the weights over the steps, that momentum per step (Polyak averaging; ``compile_for``), whose
    batch norms want ``precise_bn``'s statistics (the moving ones followed the raw weights).
    An interrupted run with the same ``out`` resumes from its last finished epoch; the model
    previously at ``out`` stays untouched until the new one is complete.
    """
    _check_arguments(recipe, epochs, batch_size, pen_copies, schedule, nondigits_per_kind, nondigit_scripts,
                     script=script, per_class=per_class, init=init, restyle=restyle, balance=balance, ema=ema)
    ranges = _augmentation_for(recipe, augment, augmentation)
    if learning_rate is None:
        learning_rate = LEARNING_RATE if init is None else FINE_TUNE_LEARNING_RATE
    keras.utils.set_random_seed(seed)
    split = prepare_data(data_path, script=script, fraction=fraction, per_class=per_class, val_fraction=val_fraction,
                         seed=seed, pen_copies=pen_copies, pen_path=pen_path, nondigits_per_kind=nondigits_per_kind,
                         nondigit_scripts=nondigit_scripts, restyle=restyle, balance=balance)
    hyper = dict(learning_rate=learning_rate, weight_decay=weight_decay, label_smoothing=label_smoothing,
                 widths=widths, dropout=dropout, block3_stride=block3_stride, fused_norm=fused_norm, schedule=schedule, ema=ema)
    init_model = {"source_file": Path(init).name, "sha256": data.sha256(init)} if init is not None else None
    model = build_for(recipe, hyper, epochs=epochs, steps_per_epoch=math.ceil(len(split.y_train) / batch_size),
                      init=init, classes=scripts.classes_of(script))
    history: dict[str, list[float]] = read_json(_history_backup(out)) if out is not None else {}
    per_epoch = recipe == "digitlab" and schedule == "epoch"
    callbacks = make_callbacks(cosine_schedule(learning_rate, epochs) if per_epoch else None, out=out,
                               history=history, on_epoch_end=on_epoch_end, ema=bool(ema))
    wall = fit(model, split, epochs=epochs, batch_size=batch_size, seed=seed, augmentation=ranges,
               callbacks=callbacks, verbose=verbose)
    if precise_bn:
        wall += precise_statistics(model, split)
    if split.balanced:
        shift_classifier(model, np.repeat([split.balanced["logit_shift"][name] for name in scripts.SCRIPTS], NUM_CLASSES))
    probs = model_lib.predict_proba(model, preprocess.to_model_input(split.x_test))
    params = dict(epochs=epochs, batch_size=batch_size, fraction=fraction, per_class=per_class,
                  val_fraction=val_fraction, seed=seed, augment=ranges is not None,
                  augment_ranges=asdict(ranges) if ranges is not None else None,
                  pen_copies=pen_copies, nondigits_per_kind=nondigits_per_kind, nondigit_scripts=list(nondigit_scripts), restyle=restyle,
                  balance=balance, precise_bn=precise_bn)
    if recipe == "digitlab":
        params.update({k: v for k, v in hyper.items() if init is None or k not in _ARCHITECTURE})
    card = make_card(model, recipe=recipe, split=split, test_probabilities=probs, wall_time=wall, params=params,
                     init_model=init_model)
    path = save_outputs(model, out, card=card, history=history) if out is not None else None
    return TrainResult(model, history, card, path, probs)


def _check_recipe(recipe: str) -> None:
    """Raise ValueError naming the recipes if ``recipe`` is not one of them."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(map(repr, RECIPES))}, got {recipe!r}")


def build_for(
    recipe: str, hyper: dict, *, epochs: int, steps_per_epoch: int, init: str | Path | None = None,
    classes: int = NUM_CLASSES,
) -> keras.Model:
    """Return the recipe's model of ``classes`` outputs compiled from ``hyper`` (``train``'s hyperparameter arguments): built anew, or ``init``'s.

    With ``init`` the model is the one saved there (``load_init``: its architecture and weights),
    so ``hyper``'s architecture entries do not apply; the recipe's optimizer and loss do.
    """
    if init is not None:
        model = load_init(init, classes)
    elif recipe == "reference":
        model = model_lib.build_reference_cnn()
    else:
        model = model_lib.build_cnn(widths=hyper["widths"], dropout=hyper["dropout"], classes=classes,
                                    block3_stride=hyper["block3_stride"], fused_norm=hyper["fused_norm"])
    rate = hyper["learning_rate"]
    if hyper["schedule"] == "step":
        rate = step_schedule(rate, epochs, steps_per_epoch)
    return compile_for(model, recipe, learning_rate=rate, weight_decay=hyper["weight_decay"],
                       label_smoothing=hyper["label_smoothing"], ema=hyper["ema"])


def load_init(path: str | Path, classes: int = NUM_CLASSES) -> keras.Model:
    """Return the model saved at ``path`` with ``classes`` outputs, every layer trainable, to fine-tune.

    A 10-digit model fine-tuned into more classes (the any-script model's) keeps everything up to
    its classifier and gets a new one, ``classes`` wide. ValueError unless it reads 28x28x1
    images into 10 classes, or already into ``classes``.
    """
    model = model_lib.load_model(path)
    reads, has = tuple(model.input_shape[1:]), model.output_shape[-1]
    if reads != INPUT_SHAPE or has not in (NUM_CLASSES, classes):
        raise ValueError(f"init model {path}: reads {reads} images into {has} classes; fine-tuning needs a "
                         f"model that reads {INPUT_SHAPE} images into {NUM_CLASSES} digits")
    if has != classes:
        head = keras.layers.Dense(classes, activation="softmax", name="probabilities")(model.layers[-1].input)
        model = keras.Model(model.inputs, head, name=model.name)
    model.trainable = True
    return model


def _check_arguments(recipe: str, epochs: int, batch_size: int, pen_copies: int, schedule: str,
                     nondigits_per_kind: int = 0, nondigit_scripts: tuple[str, ...] = (), *,
                     script: str = "western", per_class: int | None = None, init: str | Path | None = None,
                     restyle: float = 0.0, balance: int = 0, ema: float = 0.0) -> None:
    """Raise ValueError naming the problem: unknown recipe, schedule or script, a count out of range, a missing init model."""
    _check_recipe(recipe)
    if not 0 <= ema < 1 or (ema and recipe != "digitlab"):
        raise ValueError(f"ema is the weight average's momentum per step, 0 (off) or in (0, 1), for recipe 'digitlab' "
                         f"only; got {ema!r} for {recipe!r}")
    scripts.check_name(script, any_ok=True)
    if init is not None:
        check_model_path(init)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(map(repr, SCHEDULES))}, got {schedule!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if pen_copies < 0:
        raise ValueError(f"pen_copies must be 0 (MNIST only) or more, got {pen_copies}")
    if script == scripts.ANY and recipe != "digitlab":
        raise ValueError(f"recipe {recipe!r} builds a 10-digit model; the any-script model needs recipe 'digitlab'")
    if pen_copies and script not in ("western", scripts.ANY):
        raise ValueError(f"pen_copies: the pen digits are Western digits, for script 'western' only, not {script!r}")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be None (every image) or 1 or more, got {per_class}")
    if balance < 0 or (balance and script != scripts.ANY):
        raise ValueError(f"balance repeats each script's images up to a count, for script 'any' only (1 or more; "
                         f"0: as they come), got {balance} for {script!r}")
    if not 0 <= restyle <= 1:
        raise ValueError(f"restyle must be a share between 0 and 1, got {restyle!r}")
    if nondigits_per_kind < 0:
        raise ValueError(f"nondigits_per_kind must be 0 (digits only) or more, got {nondigits_per_kind}")
    unknown = sorted(set(nondigit_scripts) - set(nondigits.LOOKALIKE_DIGITS))
    if unknown:
        raise ValueError(f"nondigit_scripts: unknown script(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(sorted(nondigits.LOOKALIKE_DIGITS))}")
    if script == scripts.ANY and nondigit_scripts:
        raise ValueError("nondigit_scripts: the any-script model reads every script's digits; none can be non-digits")
    if script in nondigit_scripts:
        raise ValueError(f"nondigit_scripts: {script} is the script the model learns; its digits cannot be non-digits")
    if nondigit_scripts and not nondigits_per_kind:
        raise ValueError("nondigit_scripts were given but nondigits_per_kind is 0: no non-digits would be drawn")


def _augmentation_for(recipe: str, augment: bool | None, augmentation: Augmentation | None) -> Augmentation | None:
    """Return the ranges to augment with, or None for no augmentation (``augment`` None: digitlab's recipe only).

    Ranges given while augmentation is off raise ValueError rather than being ignored.
    """
    augment = recipe == "digitlab" if augment is None else augment
    if not augment and augmentation is not None:
        raise ValueError(f"augmentation ranges were given but the {recipe} recipe is run without augmentation; "
                         "pass augment=True to use them")
    if not augment:
        return None
    return augmentation if augmentation is not None else Augmentation()


def prepare_data(
    data_path: str | Path | None, *, script: str = "western", fraction: float, val_fraction: float, seed: int,
    per_class: int | None = None, pen_copies: int = 0, pen_path: str | Path | None = None,
    nondigits_per_kind: int = 0, nondigit_scripts: tuple[str, ...] = (), restyle: float = 0.0, balance: int = 0,
) -> Split:
    """Return a script's digits split for training, validation and test as ``scripts.model_data`` splits them.

    ``"western"`` is MNIST (found as ``data.find_mnist`` finds it). With ``pen_copies`` > 0, real
    pen digits of the training writers are added to the training images (``pen_training_data``),
    with ``nondigits_per_kind`` > 0 non-digits (``nondigit_training_data``). First the any-script
    model's scripts are balanced (``balance_scripts``), then ``restyle`` of the script's training
    images are redrawn (``style.restyle``: each repeat on its own draw). Validation and test stay
    the script's own.
    """
    d = scripts.model_data(script, data_path, fraction=fraction, per_class=per_class, val_fraction=val_fraction,
                           seed=seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = d.train, d.validation, d.test
    balanced = None
    if balance:
        before = np.bincount(y_train // NUM_CLASSES, minlength=len(scripts.SCRIPTS))
        x_train, y_train = balance_scripts(x_train, y_train, balance, rng=np.random.default_rng(seed))
        after = np.bincount(y_train // NUM_CLASSES, minlength=len(scripts.SCRIPTS))
        balanced = {"at_least": balance, "images_before": dict(zip(scripts.SCRIPTS, before.tolist())),
                    "images_after": dict(zip(scripts.SCRIPTS, after.tolist())),
                    "logit_shift": {name: float(np.log(b / a)) if a else 0.0
                                    for name, b, a in zip(scripts.SCRIPTS, before, after)}}
    if restyle:
        x_train = style.restyle(x_train, restyle, rng=np.random.default_rng(seed))
    pen_info = None
    if pen_copies:
        x_pen, y_pen, pen_info = pen_training_data(pen_path, copies=pen_copies, seed=seed)
        x_train, y_train = np.concatenate([x_train, x_pen]), np.concatenate([y_train, y_pen])
    nondigit_info = None
    if nondigits_per_kind:
        x_not, nondigit_info = nondigit_training_data(nondigits_per_kind, seed=seed, other_scripts=nondigit_scripts)
        x_train = np.concatenate([x_train, x_not])
        y_train = np.concatenate([y_train.astype(np.int64), np.full(len(x_not), NOT_A_DIGIT)])
    return Split(d.source, x_train, y_train, x_val, y_val, x_test, y_test, pen_info, nondigit_info, script, d.sources,
                 balanced)


def balance_scripts(x: np.ndarray, y: np.ndarray, at_least: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return the any-script model's training images with each script's repeated until it has ``at_least``.

    A script's images (labels ``scripts.any_labels``: script index x 10 + digit) are taken whole as
    often as they fit, then a seeded sample of them makes up the rest; scripts with as many
    already are kept as they are. Augmentation (and ``restyle``) draw anew for every repeat, so the
    copies differ. Without this the mix is MNIST's and NumtaDB's: Arabic and Kannada are 4-5% of it.
    Repeating a script also raises its prior in the model's eyes; ``train`` takes that back after
    training (``shift_classifier`` by ``Split.balanced``'s logit shift, log(before / after)), so
    the model learns the small scripts' shapes from more passes but weighs the scripts as they come.
    """
    keep = [np.arange(len(y))]
    for group in np.unique(y // NUM_CLASSES):
        rows = np.flatnonzero(y // NUM_CLASSES == group)
        missing = at_least - len(rows)
        if missing > 0:
            keep += [rows] * (missing // len(rows)) + [rng.choice(rows, missing % len(rows), replace=False)]
    order = np.concatenate(keep)
    return x[order], y[order]


def shift_classifier(model: keras.Model, shift: np.ndarray) -> None:
    """Add ``shift`` (one value per class) to the logits of ``model``, whose last layer is its ``Dense`` classifier.

    Folded into the classifier's bias, so the saved model, its calibration and every reader see
    the shifted logits alike (logit adjustment: a class's log prior moves by its shift).
    ValueError for a model whose last layer has no bias of that size.
    """
    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense) or not last.use_bias or last.bias.shape != (len(shift),):
        raise ValueError(f"shift_classifier: model {model.name}'s last layer is not a Dense classifier with a bias "
                         f"for {len(shift)} classes")
    last.bias.assign(last.bias + np.asarray(shift, np.float32))


def pen_training_data(pen_path: str | Path | None, *, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return ``(x, y, info)``: the training writers' pen digits drawn ``copies`` times each, and where they came from.

    The writers are those ``pen.split_by_writer`` keeps for training with the package's fixed
    seed, so the validation and test writers that evaluations use are never trained on. Each
    copy draws every digit with a random pen width and a little jitter (``pen.training_images``).
    """
    source = pen.find_pen_digits(pen_path)
    writers, _, _ = pen.split_by_writer(pen.read_pen_digits(source), seed=config.SEED)
    rng = np.random.default_rng(seed)
    parts = [pen.training_images(writers, rng=rng) for _ in range(copies)]
    info = {"source_file": source.name, "sha256": data.sha256(source), "copies": copies,
            "writers": sorted(int(w) for w in np.unique(writers.writers)), "images": copies * len(writers)}
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]), info


def nondigit_training_data(n_per_kind: int, *, seed: int, other_scripts: tuple[str, ...] = ()) -> tuple[np.ndarray, dict]:
    """Return ``(x, info)``: hand-drawn non-digits to train on as uint8 MNIST-format images, and what they are.

    Only the ``"tune"`` part of ``nondigits`` (its templates, and the first half of each other
    script's training images): the ``"test"`` part, which measures declining, is never trained on.
    ``other_scripts`` names other scripts whose digits (those unlike any Western digit) join in,
    found as ``scripts.load_digits`` finds them.
    """
    images = {name: scripts.load_digits(name)[0] for name in other_scripts}
    marks = nondigits.build_nondigit_set(n_per_kind, seed=seed, part="tune", scripts=images or None)
    x, inked = marks.mnist_images()
    kinds, counts = np.unique(marks.kinds[inked], return_counts=True)
    info = {"part": "tune", "per_kind": n_per_kind, "seed": seed, "scripts": list(other_scripts),
            "images": int(inked.sum()), "by_kind": {str(k): int(c) for k, c in zip(kinds, counts)},
            "target": "uniform over the ten digits (outlier exposure)"}
    return np.round(x[inked] * 255).astype(np.uint8), info


def make_callbacks(
    per_epoch_rate: Callable[[int], float] | None, *, out: str | Path | None, history: dict[str, list[float]],
    on_epoch_end: Callable[[dict], None] | None, ema: bool = False,
) -> list[keras.callbacks.Callback]:
    """Return the training callbacks: resume state (with ``out``), a per-epoch learning rate (if given), the history hook.

    With ``ema`` (an optimizer averaging the weights) each validation uses the averaged weights
    (Keras's ``SwapEMAWeights``), so the history shows the model ``fit`` ends with.

    The hook appends each epoch's logs to ``history`` (a resumed run's earlier epochs already
    in it), copies it beside the resume state and calls ``on_epoch_end(history)``.
    """
    callbacks: list[keras.callbacks.Callback] = []
    if out is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(checkpoint_dir(out)), delete_checkpoint=True))
    if per_epoch_rate is not None:
        callbacks.append(keras.callbacks.LearningRateScheduler(per_epoch_rate))
    if ema:
        callbacks.append(keras.callbacks.SwapEMAWeights())
    backup = _history_backup(out) if out is not None else None
    callbacks.append(_EpochHook(on_epoch_end or (lambda h: None), history, backup))
    return callbacks


def fit(
    model: keras.Model, split: Split, *, epochs: int, batch_size: int, seed: int,
    augmentation: Augmentation | None, callbacks: list[keras.callbacks.Callback], verbose: int,
) -> float:
    """Return the seconds ``model.fit`` took to train ``model`` on ``split`` (validated on its validation part)."""
    classes = model.output_shape[-1]
    train_ds = make_dataset(split.x_train, split.y_train, batch_size=batch_size, shuffle=True, seed=seed,
                            augmentation=augmentation, classes=classes)
    val_ds = make_dataset(split.x_val, split.y_val, batch_size=1024, classes=classes)
    start = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False)
    return time.perf_counter() - start


def precise_statistics(model: keras.Model, split: Split) -> float:
    """Return the seconds taken to recompute ``model``'s batch-norm statistics over ``split``'s training images (``model.precise_batch_norm``)."""
    start = time.perf_counter()
    model_lib.precise_batch_norm(model, split.x_train)
    return time.perf_counter() - start


def precise_saved_model(
    model_path: str | Path, *, data_path: str | Path | None = None, pen_path: str | Path | None = None,
) -> dict:
    """Return the new card of the model at ``model_path`` after ``precise_statistics`` over the training images its card records.

    For models trained before ``train`` did this itself. The training images are made again from
    the card (``prepare_data`` with its parameters; the files must be the ones it names, and the
    count must match), the model's test score is measured again and the model and card are saved
    in place atomically, without the card's calibration, which no longer fits: calibrate it next.
    """
    card = model_lib.read_card(model_path)
    params = card.get("parameters", {})
    if "seed" not in params or "sha256" not in card.get("training_data", {}):
        raise ValueError(f"{model_path}: its card does not say what the model was trained on; only models saved by "
                         "`digitlab train` can have their statistics recomputed")
    split = prepare_data(data_path, script=scripts.card_script(card), fraction=params["fraction"],
                         per_class=params.get("per_class"), val_fraction=params["val_fraction"], seed=params["seed"],
                         pen_copies=params.get("pen_copies", 0), pen_path=pen_path,
                         nondigits_per_kind=params.get("nondigits_per_kind", 0),
                         nondigit_scripts=tuple(params.get("nondigit_scripts", ())), restyle=params.get("restyle", 0.0),
                         balance=params.get("balance") or 0)
    scripts.check_trained_on(card, split.source, split.sources)
    trained_on = card["training_data"]
    if split.pen and split.pen["sha256"] != trained_on["pen_digits"]["sha256"]:
        raise ValueError(f"{split.pen['source_file']} is not the pen file the model was trained on: pass that file "
                         "with --pen-data")
    if len(split.y_train) != trained_on["train_images"]:
        raise ValueError(f"{model_path}: its card records {trained_on['train_images']} training images, but they "
                         f"came out as {len(split.y_train)} here; the statistics are left as they are")
    model = model_lib.load_model(model_path)
    seconds = precise_statistics(model, split)
    card.pop("calibration", None)
    card.update(test_scores(split, model_lib.predict_proba(model, preprocess.to_model_input(split.x_test))))
    card["parameters"]["precise_bn"] = True
    card["precise_bn"] = {"images": len(split.y_train), "seconds": round(seconds, 1),
                          "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                          "note": "recomputed after training by `digitlab precise-bn`"}
    model_lib.save_model(model, model_path, card)
    return card


def save_outputs(model: keras.Model, out: str | Path, *, card: dict, history: dict[str, list[float]]) -> Path:
    """Return ``out`` after saving the model, its card and its history there atomically and removing the resume state."""
    path = model_lib.save_model(model, out, card)
    write_json_atomic(model_lib.history_path(path), history)
    backup = _history_backup(out)
    backup.unlink(missing_ok=True)
    _remove_empty_dirs(backup.parent, stop=Path(out).parent)
    return path


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


def _history_backup(out: str | Path) -> Path:
    """Return where a training towards ``out`` keeps its history until the model is saved."""
    return checkpoint_dir(out) / "history.json"


def _remove_empty_dirs(folder: Path, *, stop: Path) -> None:
    """Remove ``folder`` and its empty parents up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        if folder.is_dir():
            if any(folder.iterdir()):
                return
            folder.rmdir()
        folder = folder.parent


def test_scores(split: Split, probabilities: np.ndarray) -> dict:
    """Return the card's test fields from the model's ``probabilities`` on ``split``'s test images (and the any-script scores)."""
    report = metrics.report(split.y_test, probabilities)
    scores = {"test_accuracy": report["accuracy"], "test_errors": report["errors"], "test_images": len(split.y_test),
              "per_class_recall": report["recall"]}
    if split.script == scripts.ANY:
        scores["any_script"] = scripts.reading_scores(split.y_test,
                                                      *scripts.read_any(np.log(np.maximum(probabilities, 1e-30))))
    return scores


def make_card(
    model: keras.Model, *, recipe: str, split: Split, test_probabilities: np.ndarray, wall_time: float, params: dict,
    init_model: dict | None = None,
) -> dict:
    """Return the model card: which script it reads, what it saw and started from, how it was trained, its test score.

    ``init_model`` names the model it was fine-tuned from (file name and SHA-256), None when trained from scratch.
    """
    return {
        "model": model.name,
        "script": split.script,
        "recipe": recipe,
        "init_model": init_model,
        **test_scores(split, test_probabilities),
        "training_data": {
            "source_file": split.source.name,
            "sha256": data.sha256(split.source),
            "train_images": len(split.y_train),
            "validation_images": len(split.y_val),
            "train_label_counts": np.bincount(split.y_train[split.y_train != NOT_A_DIGIT],
                                              minlength=scripts.classes_of(split.script)).tolist(),
            "sources": None if split.sources is None else {
                name: {"source_file": p.name, "sha256": data.sha256(p)} for name, p in split.sources.items()},
            "pen_digits": split.pen,
            "non_digits": split.nondigits,
            "balanced": split.balanced,
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
