"""Profile digitlab's training recipe: where an epoch's time goes, and what a faster recipe costs in accuracy.

    python benchmarks/profile_train.py                          # every section, ~20 min on 2 busy cores
    python benchmarks/profile_train.py --sections adh --steps 10 --repeats 2   # a quicker subset
    python benchmarks/profile_train.py --sections r             # real epochs of today's recipe and "fast", interleaved
    python benchmarks/profile_train.py train --recipe fast      # one real training: validation accuracy per epoch
    python benchmarks/profile_train.py train --recipe current,fast --test --save   # side by side, test accuracy too

Variants are measured in one process and interleaved (A, B, C, A, B, C, ...), medians of the
repeats, so that their ratios survive a shared CPU. Each measurement is a fixed number of
training steps after warm-up and gives two numbers: wall images/s, and CPU milliseconds per
image (all threads of the process). On a busy machine the wall figure says how much CPU the
process happened to get; the CPU figure barely moves, so the speed-ups are quoted from it.
Thread settings need a fresh process each: section g runs child processes, also interleaved.
Results go to ``benchmarks/out/`` (git-ignored): ``profile_train.json``/``.md``, and
``train_*.json``/``.md`` for trainings. The load average and digitlab's git commit are recorded.

Every network, the augmentation, the compilation and the schedules are digitlab's own. The
yardstick ("current") is digitlab's first recipe: ``model.build_cnn(block3_stride=1,
fused_norm=False)`` (Keras's BatchNormalization, block 3 at 7x7), 30 epochs, batch 128, AdamW
2e-3 (``train.compile_for``), per-epoch warm-up + cosine (``train.cosine_schedule``),
``train.augment_batch`` with ``train.Augmentation()`` in the tf.data pipeline. "fast" is
digitlab's recipe now: ``model.build_cnn()`` (block 3 strided, FusedBatchNormalization),
``train.step_schedule``, 16 epochs. The other architectures are experiments (see ARCHS); the
alternative augmentations share ``train.random_affine`` and ``train.change_pen`` with
``augment_batch`` and differ only in how they warp.

Sections:
  a  full current recipe (augmented tf.data pipeline + model step)
  b  the same without augmentation
  c  the data pipeline alone (augmented and not), and the augmentation op alone
  d  the model step alone on one cached batch
  e  jit_compile (XLA) on and off, for the model and for the augmentation
  f  batch sizes 128 / 256 / 512
  g  thread settings (tf.config.threading intra/inter op), each in a child process
  h  cheaper architectures with their FLOPs and parameter counts
  i  the reference convnet, for scale
  v  validation pass and epoch start-up, to turn step rates into an epoch's shares
  r  real epochs (fit with validation, as train.train runs them) of --recipe's recipes, interleaved:
     each recipe's projected training time = its epochs x its median epoch
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from digitlab import model as model_lib, preprocess, train as train_lib  # first: keeps TensorFlow's start-up quiet

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "out"
SECTIONS = "abcdefghivr"
BATCH = 128  # the recipe's batch size
RANGES = train_lib.Augmentation()  # the recipe's augmentation ranges


def build_parser() -> argparse.ArgumentParser:
    """Return the command line: ``profile`` (the default) or ``train``, and their options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("command", nargs="?", default="profile", choices=("profile", "train"),
                   help="profile (default) or train: real trainings of named recipes")
    p.add_argument("--data", type=Path, help="mnist.npz (default: $DIGITLAB_DATA, then data/mnist.npz)")
    p.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where the summary goes (default benchmarks/out)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--val-fraction", type=float, default=0.1)
    # profile
    p.add_argument("--sections", default=SECTIONS, help=f"which sections to run, subset of {SECTIONS!r}")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per measurement")
    p.add_argument("--warmup", type=int, default=4, help="untimed steps before each measurement")
    p.add_argument("--repeats", type=int, default=2, help="interleaved repeats of every measurement")
    p.add_argument("--threads", default="0:0,1:1,2:1,0:0:no-onednn",
                   help="section g: intra:inter thread settings (0 = TF default), ':no-onednn' adds TF_ENABLE_ONEDNN_OPTS=0")
    p.add_argument("--thread-repeats", type=int, default=2, help="interleaved repeats of section g (a process each)")
    p.add_argument("--intra", type=int, help=argparse.SUPPRESS)  # set in child processes of section g
    p.add_argument("--inter", type=int, help=argparse.SUPPRESS)
    p.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)
    # train
    p.add_argument("--recipe", default="current,fast",
                   help="train and section r: comma-separated recipe names (see RECIPES); the first is the yardstick")
    p.add_argument("--epochs", type=int, help="train: override each recipe's epochs")
    p.add_argument("--test", action="store_true", help="train: also report test accuracy (final candidates only)")
    p.add_argument("--fraction", type=float, default=1.0, help="train: seeded fraction of the training images")
    p.add_argument("--save", action="store_true", help="train: also save each model as <out-dir>/<stem>_<recipe>.keras")
    return p


def main(argv: list[str] | None = None) -> int:
    """Return the exit status of the profile or the trainings the command line asks for."""
    args = build_parser().parse_args(argv)
    # thread settings only take effect before TensorFlow's runtime starts: set them before anything runs
    if args.intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    if args.command == "train":
        return run_train(args)
    return run_profile(args)


# --- augmentation: digitlab's, and the same random maps warped another way --------------------------------------

def recipe_augment(images: tf.Tensor) -> tf.Tensor:
    """Return the recipe's augmentation of a batch: ``train.augment_batch`` with ``train.Augmentation()``."""
    return train_lib.augment_batch(images, ranges=RANGES)


def augment_raw(images: tf.Tensor) -> tf.Tensor:
    """Return the recipe's augmentation with the warp called as ``tf.raw_ops.ImageProjectiveTransformV3`` directly."""
    return _augment_with(_warp_raw, images)


def augment_gather(images: tf.Tensor) -> tf.Tensor:
    """Return the recipe's augmentation with the bilinear warp written as four gathers (XLA compiles it; the op not)."""
    return _augment_with(_warp_gather, images)


def _augment_with(warp: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], images: tf.Tensor) -> tf.Tensor:
    """Return ``images`` augmented as ``augment_batch`` does (its random maps and pen change), warped by ``warp``."""
    transforms, pen_draws = train_lib.random_affine(tf.shape(images)[0], ranges=RANGES)
    return train_lib.change_pen(warp(images, transforms), pen_draws, share=RANGES.pen)


def _warp_raw(images: tf.Tensor, transforms: tf.Tensor) -> tf.Tensor:
    """Return ``images`` warped bilinearly by ``transforms`` (B, 8) with the raw op, zeros outside."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.constant([28, 28]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")


def _warp_gather(images: tf.Tensor, t: tf.Tensor) -> tf.Tensor:
    """Return ``images`` (B, 28, 28, 1) warped bilinearly by ``t`` (B, 8) as four gathers, zeros outside."""
    b = tf.shape(images)[0]
    grid = tf.range(28, dtype=tf.float32)
    gx, gy = tf.reshape(tf.tile(grid[None, :], [28, 1]), [1, -1]), tf.reshape(tf.tile(grid[:, None], [1, 28]), [1, -1])
    x = t[:, 0:1] * gx + t[:, 1:2] * gy + t[:, 2:3]  # (B, 784) source column of each output pixel
    y = t[:, 3:4] * gx + t[:, 4:5] * gy + t[:, 5:6]
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0
    padded = tf.reshape(tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]]), [b, 900])  # zero border = fill value

    def at(yy: tf.Tensor, xx: tf.Tensor) -> tf.Tensor:  # reads outside the image land on the zero border
        yi = tf.cast(tf.clip_by_value(yy, -1.0, 28.0), tf.int32) + 1
        xi = tf.cast(tf.clip_by_value(xx, -1.0, 28.0), tf.int32) + 1
        return tf.gather(padded, yi * 30 + xi, batch_dims=1)

    warped = ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1))
              + wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1)))
    return tf.reshape(warped, [b, 28, 28, 1])


# --- data ------------------------------------------------------------------------------------------------------

def load_data(path: Path | None, seed: int, val_fraction: float, fraction: float = 1.0) -> tuple:
    """Return (x_tr, y_tr), (x_val, y_val), (x_test, y_test), source as ``train.prepare_data`` splits them, images model-ready."""
    s = train_lib.prepare_data(path, fraction=fraction, val_fraction=val_fraction, seed=seed)
    ready = preprocess.to_model_input
    return (ready(s.x_train), s.y_train), (ready(s.x_val), s.y_val), (ready(s.x_test), s.y_test), s.source


def one_hot(y: np.ndarray) -> np.ndarray:
    """Return the labels ``y`` (N,) as float32 one-hot rows (N, 10)."""
    return np.eye(10, dtype=np.float32)[y]


def make_dataset(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, augment: Callable[[tf.Tensor], tf.Tensor] | None = None,
    shuffle: bool = False, seed: int = 42, repeat: bool = False, cached: bool = False,
) -> tf.data.Dataset:
    """Return the recipe's tf.data pipeline (slices, shuffle, batch, map(augment), prefetch) or a faster variant.

    ``augment`` is any batch function; ``repeat`` makes it endless, for a fixed number of timed
    steps. ``cached=True`` keeps the whole (normalised) set as two tensors and gathers shuffled
    batches by index instead of shuffling 28x28 elements one by one.
    """
    if cached:
        xs, ys = tf.constant(x), tf.constant(one_hot(y))
        idx = tf.data.Dataset.range(len(y))
        idx = idx.shuffle(len(y), seed=seed, reshuffle_each_iteration=True) if shuffle else idx
        idx = idx.repeat() if repeat else idx
        ds = idx.batch(batch_size).map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)))
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, one_hot(y)))
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True) if shuffle else ds
        ds = (ds.repeat() if repeat else ds).batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda a, b: (augment(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# --- models ----------------------------------------------------------------------------------------------------

def build_arch(spec: list[list[tuple[int, int, int, int]]], *, fused_norm: bool = False, dropout: float = 0.3) -> keras.Model:
    """Return an uncompiled CNN shaped like build_cnn from ``spec``: per block, its (filters, kernel, stride, separable) convs.

    Each conv is conv-BN-ReLU (``model.FusedBatchNormalization`` with ``fused_norm``); each block
    ends in SpatialDropout, then global pooling, dropout and softmax, as in ``model.build_cnn``.
    """
    norm = model_lib.FusedBatchNormalization if fused_norm else layers.BatchNormalization
    inputs = keras.Input((28, 28, 1), name="image")
    x = inputs
    for i, block in enumerate(spec):
        for j, (filters, kernel, stride, separable) in enumerate(block):
            name = f"block{i + 1}{'abc'[j]}"
            conv = layers.SeparableConv2D if separable else layers.Conv2D
            x = conv(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
            x = layers.ReLU(name=f"{name}_relu")(norm(momentum=0.9, name=f"{name}_bn")(x))
        x = layers.SpatialDropout2D(dropout / 3, name=f"block{i + 1}_drop")(x)
    x = layers.Dropout(dropout, name="drop")(layers.GlobalAveragePooling2D(name="pool")(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="probabilities")(x), name="variant")


#: Architectures, each a builder taking ``fused_norm``. digitlab's networks and the variants that build_cnn's
#: arguments express are build_cnn's; the others are experiments from (filters, kernel, stride, separable) specs.
ARCHS: dict[str, Callable[..., keras.Model]] = {
    "current": functools.partial(model_lib.build_cnn, block3_stride=1),  # digitlab's first network
    "first3x3": functools.partial(build_arch, [[(32, 3, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)],
                                               [(128, 3, 1, 0), (128, 3, 1, 0)]]),
    "block3_96": functools.partial(model_lib.build_cnn, widths=(32, 64, 96), block3_stride=1),
    "five_convs": functools.partial(build_arch, [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)],
                                                 [(128, 3, 1, 0)]]),
    "block3_stride": model_lib.build_cnn,  # digitlab's network now
    "block3_stride_96": functools.partial(model_lib.build_cnn, widths=(32, 64, 96)),
    "block2_48_block3_stride": functools.partial(model_lib.build_cnn, widths=(32, 48, 128)),
    "separable_23": functools.partial(build_arch, [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 1), (64, 3, 2, 1)],
                                                   [(128, 3, 1, 1), (128, 3, 1, 1)]]),
}
#: Batch normalisation: Keras's layer, model.FusedBatchNormalization, or none (speed only: it trains worse).
NORMS = ("keras", "fused", "none")
#: Section h: (architecture, normalisation).
H_VARIANTS = [
    ("current", "fused"), ("current", "none"), ("first3x3", "keras"), ("block3_96", "keras"), ("five_convs", "keras"),
    ("block3_stride", "keras"), ("block3_stride", "fused"), ("block3_stride_96", "keras"), ("block3_stride_96", "fused"),
    ("block2_48_block3_stride", "keras"), ("block2_48_block3_stride", "fused"), ("separable_23", "keras"),
]


def build_model(arch: str = "current", norm: str = "keras") -> keras.Model:
    """Return the uncompiled network ``arch`` of ARCHS with the batch normalisation ``norm`` of NORMS."""
    model = ARCHS[arch](fused_norm=norm == "fused")
    return without_norm(model) if norm == "none" else model


def without_norm(model: keras.Model) -> keras.Model:
    """Return a fresh copy of ``model``'s architecture whose batch normalisations pass their input on, convs with biases."""
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, layers.BatchNormalization):
            return layers.Lambda(lambda x: x, name=layer.name)
        config = layer.get_config()
        if isinstance(layer, layers.Conv2D):
            config["use_bias"] = True
        return type(layer).from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


def arch_label(arch: str, norm: str) -> str:
    """Return how tables name ``arch`` with ``norm``: ``"current, fused BN"``, ``"first3x3"``..."""
    return arch + {"keras": "", "fused": ", fused BN", "none": ", no BN (speed only)"}[norm]


def compile_model(
    model: keras.Model, *, recipe: str = "digitlab", lr: float | keras.optimizers.schedules.LearningRateSchedule = 2e-3,
    jit: bool = False,
) -> keras.Model:
    """Return ``model`` compiled by ``train.compile_for`` (the recipe's weight decay and smoothing), XLA on or off."""
    train_lib.compile_for(model, recipe, learning_rate=lr, weight_decay=1e-4, label_smoothing=0.1)
    model.jit_compile = jit  # explicit, not Keras's "auto" (which turns XLA on where there is a GPU)
    return model


def forward_macs(model: keras.Model) -> int:
    """Return the multiply-accumulates of one forward pass of one image, from the layers' shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D, layers.Dense)):
            out = layer.output.shape
            cin = layer.input.shape[-1]
            spatial = int(np.prod(out[1:-1])) if len(out) > 2 else 1
            if isinstance(layer, layers.SeparableConv2D):
                total += spatial * (int(np.prod(layer.kernel_size)) * cin + cin * out[-1])
            elif isinstance(layer, layers.Conv2D):
                total += spatial * int(np.prod(layer.kernel_size)) * cin * out[-1]
            else:
                total += cin * out[-1]
    return int(total)


def n_params(model: keras.Model) -> int:
    """Return the number of trainable parameters of ``model``."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def architectures() -> dict[str, dict]:
    """Return each architecture's (Keras BN) forward MFLOPs per image and trainable parameters, the reference's too."""
    models = {name: build_model(name) for name in ARCHS} | {"reference": model_lib.build_reference_cnn()}
    return {name: {"forward_mflops": round(2 * forward_macs(m) / 1e6, 2), "params": n_params(m)}
            for name, m in models.items()}


# --- timing ----------------------------------------------------------------------------------------------------

class Rate(NamedTuple):
    """Images/s of wall time, for an idle machine, and CPU milliseconds per image, for a busy one."""

    wall: float
    cpu_ms: float

    @classmethod
    def of(cls, images: int, wall_s: float, cpu_s: float) -> Rate:
        """Return the rate of ``images`` processed in ``wall_s`` seconds and ``cpu_s`` CPU seconds."""
        return cls(images / wall_s, 1000 * cpu_s / images)


def _clock() -> tuple[float, float]:
    """Return (wall seconds, CPU seconds of all the process's threads)."""
    return time.perf_counter(), time.process_time()


class _Stamps(keras.callbacks.Callback):
    """Records the clocks at the end of every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.t: list[tuple[float, float]] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.t.append(_clock())


def fit_rate(model: keras.Model, ds: tf.data.Dataset, batch_size: int, steps: int, warmup: int) -> Rate:
    """Return the training rate over ``steps`` steps that follow ``warmup`` untimed ones (ds must repeat)."""
    cb = _Stamps()
    model.fit(ds, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[cb])
    (w0, c0), (w1, c1) = cb.t[warmup - 1], cb.t[-1]
    return Rate.of(steps * batch_size, w1 - w0, c1 - c0)


def loop_rate(step: Callable[[], object], batch_size: int, steps: int, warmup: int) -> Rate:
    """Return the rate of ``steps`` calls of ``step`` (one batch each) after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    w0, c0 = _clock()
    for _ in range(steps):
        step()
    w1, c1 = _clock()
    return Rate.of(steps * batch_size, w1 - w0, c1 - c0)


def loadavg() -> str:
    """Return the 1, 5 and 15 minute load averages, or "n/a"."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def log(msg: str) -> None:
    """Print ``msg`` with the time of day, at once."""
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


class Bench:
    """Named measurements, each a callable(steps) returning a Rate; run interleaved, medians kept."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.jobs: dict[str, Callable[[int], Rate]] = {}
        self.rates: dict[str, list[Rate]] = {}
        self.meta: dict[str, dict] = {}

    def add(self, name: str, fn: Callable[[int], Rate], **meta: str) -> None:
        """Add measurement ``name``; ``meta`` goes into its summary."""
        self.jobs[name] = fn
        self.meta[name] = meta

    def run(self, repeats: int) -> None:
        """Trace every measurement once, then run them all ``repeats`` times, interleaved."""
        log("warming up (tracing every variant once)")
        for fn in self.jobs.values():
            fn(1)
        log("measuring")
        for r in range(repeats):
            for name, fn in self.jobs.items():
                rate = fn(self.steps)
                self.rates.setdefault(name, []).append(rate)
                log(f"  [{r + 1}/{repeats}] {name}: {rate.wall:,.0f} images/s, {rate.cpu_ms:.3f} CPU ms/image "
                    f"(load {loadavg()})")

    def summary(self, name: str) -> dict:
        """Return the medians and all repeats of measurement ``name``, with its meta."""
        rs = self.rates[name]
        return {"images_per_s": round(statistics.median(r.wall for r in rs), 1),
                "cpu_ms_per_image": round(statistics.median(r.cpu_ms for r in rs), 4),
                "all_images_per_s": [round(r.wall, 1) for r in rs], "all_cpu_ms": [round(r.cpu_ms, 4) for r in rs],
                **self.meta[name]}


# --- the profile -----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Profile:
    """What the sections share: the training images, the timing settings, the models built so far, the measurements."""

    x: np.ndarray
    y: np.ndarray
    seed: int
    warmup: int
    bench: Bench
    models: dict[str, keras.Model] = dataclasses.field(default_factory=dict)
    notes: dict[str, str] = dataclasses.field(default_factory=dict)

    def model(self, key: str, build: Callable[[], keras.Model], **compile_kw: object) -> keras.Model:
        """Return the compiled model kept under ``key``, built and compiled the first time."""
        if key not in self.models:
            self.models[key] = compile_model(build(), **compile_kw)
        return self.models[key]

    def dataset(self, batch_size: int, augment: Callable | None = None, cached: bool = False) -> tf.data.Dataset:
        """Return the shuffled, endless training pipeline, augmented by ``augment``."""
        return make_dataset(self.x, self.y, batch_size=batch_size, augment=augment, shuffle=True, seed=self.seed,
                            repeat=True, cached=cached)

    def one_batch(self, batch_size: int) -> tf.data.Dataset:
        """Return the first ``batch_size`` training images and labels as one cached batch, repeated."""
        batch = (tf.constant(self.x[:batch_size]), tf.constant(one_hot(self.y[:batch_size])))
        return tf.data.Dataset.from_tensors(batch).repeat()

    def fit(self, name: str, dataset: Callable[[], tf.data.Dataset], *, section: str, key: str = "current",
            build: Callable[[], keras.Model] = build_model, batch_size: int = BATCH, arch: str | None = None,
            **compile_kw: object) -> None:
        """Add measurement ``name``: training steps of model ``key`` (``build()`` compiled with ``compile_kw``) on ``dataset()``."""
        def job(steps: int) -> Rate:
            return fit_rate(self.model(key, build, **compile_kw), dataset(), batch_size, steps, self.warmup)

        self.bench.add(name, job, section=section, **({"arch": arch} if arch else {}))

    def call(self, name: str, fn: Callable[[tf.Tensor], tf.Tensor], *, section: str) -> None:
        """Add measurement ``name``: ``fn`` alone on one batch, three calls per training step of the others."""
        batch = tf.constant(self.x[:BATCH])
        self.bench.add(name, lambda n: loop_rate(lambda: fn(batch).numpy(), BATCH, n * 3, self.warmup), section=section)

    def iterate(self, name: str, dataset: Callable[[], tf.data.Dataset], *, section: str) -> None:
        """Add measurement ``name``: batches drawn from ``dataset()`` alone, three per training step of the others."""
        def job(steps: int) -> Rate:
            it = iter(dataset())
            return loop_rate(lambda: next(it), BATCH, steps * 3, self.warmup)

        self.bench.add(name, job, section=section)


def add_recipe(p: Profile) -> None:
    """(a) today's recipe, augmented pipeline and model step: every section's yardstick."""
    p.fit("a: current recipe (augmented pipeline + model step)", lambda: p.dataset(BATCH, recipe_augment), section="a")


def add_no_augmentation(p: Profile) -> None:
    """(b) the recipe without augmentation, on the cached-tensor pipeline, and with the raw-op augmentation there."""
    p.fit("b: without augmentation", lambda: p.dataset(BATCH), section="b")
    p.fit("b: without augmentation, cached-tensor pipeline", lambda: p.dataset(BATCH, cached=True), section="b")
    p.fit("b: augmentation (raw op) on cached-tensor pipeline", lambda: p.dataset(BATCH, augment_raw, cached=True),
          section="b")


def add_pipeline(p: Profile) -> None:
    """(c) the data pipelines alone, and the augmentation alone (digitlab's, and with the raw op)."""
    p.iterate("c: pipeline alone, augmented", lambda: p.dataset(BATCH, recipe_augment), section="c")
    p.iterate("c: pipeline alone, not augmented", lambda: p.dataset(BATCH), section="c")
    p.iterate("c: pipeline alone, cached tensors, not augmented", lambda: p.dataset(BATCH, cached=True), section="c")
    p.call("c: augment_batch alone (tf.function, one batch of 128)", tf.function(recipe_augment), section="c")
    p.call("c: augmentation with raw ImageProjectiveTransformV3 alone", tf.function(augment_raw), section="c")


def add_model_step(p: Profile) -> None:
    """(d) the model step alone, on one cached batch."""
    p.fit("d: model step alone, cached batch", lambda: p.one_batch(BATCH), section="d")


def add_xla(p: Profile) -> None:
    """(e) the model step under XLA, and the gather-written augmentation under XLA (noted if it cannot compile)."""
    p.fit("e: model step alone, jit_compile=True", lambda: p.one_batch(BATCH), section="e", key="current_jit", jit=True)
    fn = tf.function(augment_gather, jit_compile=True)
    try:
        fn(tf.constant(p.x[:BATCH]))
    except Exception as exc:  # noqa: BLE001 - XLA may lack a kernel here; the rest of the profile goes on
        p.notes["augment_xla_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        log(f"  augmentation under XLA fails: {p.notes['augment_xla_error']}")
        return
    p.call("e: augmentation alone, written as gathers, XLA (jit_compile=True)", fn, section="e")


def add_batch_sizes(p: Profile) -> None:
    """(f) the recipe and the model step alone at batch 256 and 512."""
    for size in (256, 512):
        key = f"current_b{size}"
        p.fit(f"f: current recipe, batch {size}", lambda s=size: p.dataset(s, recipe_augment), section="f", key=key,
              batch_size=size)
        p.fit(f"f: model step alone, batch {size}", lambda s=size: p.one_batch(s), section="f", key=key, batch_size=size)


def add_architectures(p: Profile) -> None:
    """(h) the model step alone of each H_VARIANTS network, and the recipe with fused BN."""
    for arch, norm in H_VARIANTS:
        label = arch_label(arch, norm)
        p.fit(f"h: model step alone, {label}", lambda: p.one_batch(BATCH), section="h", key=label,
              build=functools.partial(build_model, arch, norm), arch=label)
    label = arch_label("current", "fused")
    p.fit("h: current recipe with fused BN (augmented pipeline)", lambda: p.dataset(BATCH, recipe_augment), section="h",
          key=label, build=functools.partial(build_model, "current", "fused"), arch=label)


def add_reference(p: Profile) -> None:
    """(i) Keras's reference convnet with its own recipe (no augmentation), and its model step alone."""
    build = model_lib.build_reference_cnn
    p.fit("i: reference convnet (no augmentation, batch 128)", lambda: p.dataset(BATCH), section="i", key="reference",
          build=build, recipe="reference")
    p.fit("i: reference convnet, model step alone", lambda: p.one_batch(BATCH), section="i", key="reference",
          build=build, recipe="reference")


#: The interleaved sections, in order; (a) always runs, as the yardstick.
SECTION_ADDERS: dict[str, Callable[[Profile], None]] = {
    "a": add_recipe, "b": add_no_augmentation, "c": add_pipeline, "d": add_model_step, "e": add_xla,
    "f": add_batch_sizes, "h": add_architectures, "i": add_reference,
}


def run_profile(args: argparse.Namespace) -> int:
    """Measure the chosen sections (interleaved, then v, g and r on their own); write profile_train.json and .md."""
    if args.intra is not None:
        return run_thread_child(args)
    started, load_start = time.perf_counter(), loadavg()
    (x_tr, y_tr), (x_val, y_val), _, source = load_data(args.data, args.seed, args.val_fraction)
    keras.utils.set_random_seed(args.seed)
    p = Profile(x_tr, y_tr, seed=args.seed, warmup=args.warmup, bench=Bench(args.steps))
    log(f"{len(y_tr):,} training images from {source.name}; {args.steps} timed steps after {args.warmup}, "
        f"{args.repeats} interleaved repeats; load {load_start}")
    for section, add in SECTION_ADDERS.items():
        if section == "a" or section in args.sections:
            add(p)
    p.bench.run(args.repeats)
    extra = {}
    if "v" in args.sections:
        extra.update(epoch_overheads(p.models["current"], (x_tr, y_tr), (x_val, y_val), args))
    threads = run_threads(args) if "g" in args.sections else None
    if "r" in args.sections:
        extra["real_epochs"] = real_epochs(args, (x_tr, y_tr), (x_val, y_val))
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - started, 1), "loadavg_start": load_start, "loadavg_end": loadavg(),
        "machine": machine(), "data": {"source": str(source), "train_images": len(y_tr), "val_images": len(y_val)},
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "notes": p.notes,
        "rates": {k: p.bench.summary(k) for k in p.bench.rates}, "architectures": architectures(), "threads": threads,
        **extra,
    }
    write_outputs(result, args.out_dir, "profile_train")
    return 0


def epoch_overheads(model: keras.Model, train: tuple, val: tuple, args: argparse.Namespace) -> dict:
    """Return the validation pass, the epoch start-up (shuffle buffer filling) and one real epoch's times of ``model``."""
    (x_tr, y_tr), (x_val, y_val) = train, val
    val_ds = make_dataset(x_val, y_val, batch_size=1024)
    model.evaluate(val_ds, verbose=0)
    vals, firsts, firsts_cached = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.evaluate(val_ds, verbose=0)
        vals.append(time.perf_counter() - t0)
        for cached, times in ((False, firsts), (True, firsts_cached)):
            ds = make_dataset(x_tr, y_tr, batch_size=BATCH, augment=recipe_augment, shuffle=True, seed=args.seed,
                              cached=cached)
            t0 = time.perf_counter()
            next(iter(ds))
            times.append(time.perf_counter() - t0)
    # one real epoch, as train.train runs it (shuffled, augmented, validation at the end), to check the sum
    ds = make_dataset(x_tr, y_tr, batch_size=BATCH, augment=recipe_augment, shuffle=True, seed=args.seed)
    t0 = time.perf_counter()
    model.fit(ds, validation_data=val_ds, epochs=1, verbose=0)
    real = time.perf_counter() - t0
    log(f"  one real epoch of today's recipe: {real:.1f} s (load {loadavg()})")
    out = {"real_epoch_s": round(real, 1), "real_epoch_loadavg": loadavg(),
           "validation_pass_s": round(statistics.median(vals), 3),
           "epoch_first_batch_s": round(statistics.median(firsts), 3),
           "epoch_first_batch_cached_s": round(statistics.median(firsts_cached), 3)}
    log(f"  validation pass {out['validation_pass_s']} s for {len(y_val)} images; first batch of an epoch "
        f"{out['epoch_first_batch_s']} s (cached pipeline {out['epoch_first_batch_cached_s']} s)")
    return out


def real_epochs(args: argparse.Namespace, train: tuple, val: tuple) -> dict:
    """Time whole epochs of each recipe in --recipe (the first is the yardstick), interleaved; project their trainings."""
    runs = {}
    for name in args.recipe.split(","):
        rec = RECIPES[name]
        model, train_ds, val_ds, callbacks = setup_training(rec, train, val, args.seed)
        model.fit(train_ds, validation_data=val_ds, epochs=1, steps_per_epoch=2, verbose=0, callbacks=callbacks)  # trace
        runs[name] = (rec, model, train_ds, val_ds, callbacks, [])
    for r in range(args.repeats):
        for name, (rec, model, train_ds, val_ds, callbacks, times) in runs.items():
            w0, c0 = _clock()
            model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0, callbacks=callbacks)
            w1, c1 = _clock()
            times.append((w1 - w0, c1 - c0))
            log(f"  [{r + 1}/{args.repeats}] one epoch of {name}: {w1 - w0:.1f} s wall, {c1 - c0:.1f} s CPU "
                f"(load {loadavg()})")
    return project(args.recipe.split(",")[0], {name: (run[0].epochs, run[-1]) for name, run in runs.items()})


def project(base_name: str, timings: dict[str, tuple[int, list[tuple[float, float]]]]) -> dict:
    """Return each recipe's median epoch (wall, CPU), its projected training time and ratios to ``base_name``'s."""
    out = {}
    for name, (epochs, times) in timings.items():
        wall, cpu = statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)
        out[name] = {"epochs": epochs, "epoch_wall_s": round(wall, 2), "epoch_cpu_s": round(cpu, 2),
                     "all_wall_s": [round(t[0], 2) for t in times], "all_cpu_s": [round(t[1], 2) for t in times],
                     "projected_wall_s": round(wall * epochs, 1), "projected_cpu_s": round(cpu * epochs, 1)}
    base = out[base_name]
    for name, v in out.items():
        v["time_ratio_wall"] = round(v["projected_wall_s"] / base["projected_wall_s"], 3)
        v["time_ratio_cpu"] = round(v["projected_cpu_s"] / base["projected_cpu_s"], 3)
        log(f"  {name}: {v['epochs']} epochs x {v['epoch_wall_s']} s = {v['projected_wall_s']:.0f} s projected "
            f"(ratio to {base_name}: wall {v['time_ratio_wall']}, CPU {v['time_ratio_cpu']})")
    return out


def run_thread_child(args: argparse.Namespace) -> int:
    """Child process of section g: write the recipe's and its model step's rates under one thread setting."""
    (x_tr, y_tr), _, _, _ = load_data(args.data, args.seed, args.val_fraction)
    p = Profile(x_tr, y_tr, seed=args.seed, warmup=args.warmup, bench=Bench(args.steps))
    m = p.model("current", build_model)
    ds, one = p.dataset(BATCH, recipe_augment), p.one_batch(BATCH)
    fit_rate(m, ds, BATCH, 2, args.warmup)
    fit_rate(m, one, BATCH, 2, args.warmup)
    a, d = fit_rate(m, ds, BATCH, args.steps, args.warmup), fit_rate(m, one, BATCH, args.steps, args.warmup)
    res = {"recipe": a.wall, "model_step": d.wall, "recipe_cpu_ms": a.cpu_ms, "model_step_cpu_ms": d.cpu_ms}
    args.json_out.write_text(json.dumps(res))
    return 0


def run_threads(args: argparse.Namespace) -> dict:
    """Run one child process per thread setting, settings interleaved over the repeats; medians of images/s."""
    settings = [(int(s.split(":")[0]), int(s.split(":")[1]), s.endswith(":no-onednn")) for s in args.threads.split(",")]
    out: dict[str, dict[str, list[float]]] = {}
    for r in range(args.thread_repeats):
        for intra, inter, no_dnn in settings:
            res = run_thread_setting(args, intra, inter, no_dnn)
            key = f"intra={intra} inter={inter}" + (" (TF default)" if intra == inter == 0 else "") + (
                ", TF_ENABLE_ONEDNN_OPTS=0" if no_dnn else "")
            for k, v in res.items():
                out.setdefault(key, {}).setdefault(k, []).append(round(v, 4 if k.endswith("cpu_ms") else 1))
            log(f"  [{r + 1}/{args.thread_repeats}] threads {key}: recipe {res['recipe']:,.0f}, model step "
                f"{res['model_step']:,.0f} images/s (load {loadavg()})")
    return {k: {m: {"median": statistics.median(vs), "all": vs} for m, vs in d.items()} for k, d in out.items()}


def run_thread_setting(args: argparse.Namespace, intra: int, inter: int, no_dnn: bool) -> dict[str, float]:
    """Return the rates a child process of this script measures under one thread setting."""
    with tempfile.TemporaryDirectory() as tmp:
        j = Path(tmp) / "r.json"
        cmd = [sys.executable, __file__, "--intra", str(intra), "--inter", str(inter), "--json-out", str(j),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--seed", str(args.seed)]
        cmd += ["--data", str(args.data)] if args.data else []
        env = {**os.environ, **({"TF_ENABLE_ONEDNN_OPTS": "0"} if no_dnn else {})}
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        return json.loads(j.read_text())


# --- outputs ---------------------------------------------------------------------------------------------------

def machine() -> dict:
    """Return the CPU, core count and Python, TensorFlow, Keras versions, and digitlab's git commit."""
    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "digitlab_commit": git_commit()}


def git_commit() -> str:
    """Return the checkout's short commit, ``-dirty`` if it has changes, or "unknown" outside git."""
    try:
        run = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True,
                             check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return run.stdout.strip()


def shares(r: dict) -> list[str]:
    """Return markdown lines splitting today's training step (CPU time per image) and epoch into their parts."""
    rates = r["rates"]
    find = lambda prefix: next((v["cpu_ms_per_image"] for k, v in rates.items() if k.startswith(prefix)), None)  # noqa: E731
    a, d = find("a:"), find("d: model step alone")
    no_bn = find("h: model step alone, current, no BN")
    fused = find("h: model step alone, current, fused BN")
    if a is None or d is None:
        return []
    rows = [("augmentation + input pipeline (a - d)", a - d), ("model step (d)", d)]
    if no_bn is not None:
        rows += [("  of which BatchNormalization, keras's (d - no BN)", d - no_bn),
                 ("  of which convolutions, dense, optimizer, rest (no BN)", no_bn)]
    if fused is not None:
        rows += [("  BatchNormalization fused instead (fused - no BN)", fused - no_bn if no_bn else float("nan"))]
    out = ["", "Where a training step's time goes (CPU ms per image, share of (a)):"]
    out += md_table(["part", "CPU ms / image", "share"], [(name, f"{v:.3f}", f"{v / a:.0%}") for name, v in rows])
    if "real_epoch_s" in r:
        e = r["real_epoch_s"]
        out += ["", f"Per epoch (wall, one real epoch {e} s): validation pass {r['validation_pass_s']} s "
                    f"({r['validation_pass_s'] / e:.1%}), epoch start-up {r['epoch_first_batch_s']} s "
                    f"({r['epoch_first_batch_s'] / e:.1%}); the rest is training steps."]
    return out


def write_outputs(result: dict, out_dir: Path, stem: str) -> None:
    """Write ``result`` as <stem>.json and its tables as <stem>.md into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / f"{stem}.md").write_text(to_markdown(result))
    log(f"wrote {out_dir / stem}.json and .md")


def to_markdown(r: dict) -> str:
    """Return the profile ``r`` as markdown: how it was run, the rates, the shares, the epoch and thread tables."""
    lines = [f"# Training profile ({r['date']})", "",
             f"- `{r['command']}`, {r['wall_s']} s; load average {r['loadavg_start']} at start, {r['loadavg_end']} at end",
             f"- {r['machine']}", f"- data: {r['data']}", f"- {r['steps']} timed steps after {r['warmup']}, "
             f"median of {r['repeats']} interleaved repeats"]
    lines += [f"- note: {k}: {v}" for k, v in r["notes"].items()]
    lines += _rates_table(r) + shares(r) + _epoch_lines(r) + _real_epochs_table(r) + _threads_table(r)
    lines += md_table(["architecture", "forward MFLOPs / image", "trainable parameters"],
                      [(k, v["forward_mflops"], f"{v['params']:,}") for k, v in r["architectures"].items()])
    return "\n".join(lines) + "\n"


def md_table(header: list[str], rows: Iterable[Iterable[object]]) -> list[str]:
    """Return a markdown table's lines: a blank line, the ``header``, the rule, one line per row."""
    return ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(map(str, row)) + " |" for row in rows]


def _rates_table(r: dict) -> list[str]:
    """Return the markdown table of every measurement, with its ratios to (a)."""
    base = next(v for k, v in r["rates"].items() if k.startswith("a:"))
    rows = [(k, f"{v['images_per_s']:,.0f}", f"{v['images_per_s'] / base['images_per_s']:.2f}",
             f"{v['cpu_ms_per_image']:.3f}", f"{base['cpu_ms_per_image'] / v['cpu_ms_per_image']:.2f}",
             ", ".join(f"{x:,.0f}" for x in v["all_images_per_s"])) for k, v in r["rates"].items()]
    return ["", "Speed-up = (a)'s CPU ms per image / this one's (robust to a busy CPU); wall images/s are as measured."] + md_table(
        ["measurement", "wall images/s", "wall ratio to (a)", "CPU ms / image", "speed-up by CPU time",
         "repeats (images/s)"], rows)


def _epoch_lines(r: dict) -> list[str]:
    """Return section v's markdown lines: one real epoch, the validation pass, an epoch's first batch."""
    if "real_epoch_s" not in r:
        return []
    return ["", f"One real epoch of today's recipe (fit with validation): {r['real_epoch_s']} s "
                f"(load {r['real_epoch_loadavg']}).",
            "", f"Validation pass: {r['validation_pass_s']} s; first batch of an epoch (shuffle buffer): "
                f"{r['epoch_first_batch_s']} s, cached-tensor pipeline {r['epoch_first_batch_cached_s']} s."]


def _real_epochs_table(r: dict) -> list[str]:
    """Return section r's markdown table of real epochs and projected training times."""
    if not r.get("real_epochs"):
        return []
    rows = [(k, v["epochs"], f"{v['epoch_wall_s']} ({', '.join(map(str, v['all_wall_s']))})",
             f"{v['epoch_cpu_s']} ({', '.join(map(str, v['all_cpu_s']))})", v["projected_wall_s"],
             v["time_ratio_wall"], v["time_ratio_cpu"]) for k, v in r["real_epochs"].items()]
    return ["", "Real epochs (fit with validation), interleaved; projected = epochs x median epoch:"] + md_table(
        ["recipe", "epochs", "epoch wall s (all)", "epoch CPU s (all)", "projected wall s", "time ratio, wall",
         "time ratio, CPU"], rows)


def _threads_table(r: dict) -> list[str]:
    """Return section g's markdown table of thread settings."""
    if not r.get("threads"):
        return []
    rows = [(k, f"{v['recipe']['median']:,.0f}", f"{v['model_step']['median']:,.0f}",
             f"{v['recipe_cpu_ms']['median']:.3f}", f"{v['model_step_cpu_ms']['median']:.3f}")
            for k, v in r["threads"].items()]
    return md_table(["threads", "recipe images/s", "model step images/s", "recipe CPU ms/image",
                     "model step CPU ms/image"], rows)


# --- trainings -------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe: architecture, batch, learning rate and its schedule, epochs, augmentation, pipeline."""

    arch: str = "current"  # a key of ARCHS
    norm: str = "keras"  # one of NORMS: "fused" is model.FusedBatchNormalization (same maths, faster)
    batch_size: int = BATCH
    lr: float = 2e-3
    epochs: int = 30
    schedule: str = "epoch"  # "epoch": train.cosine_schedule; "step": train.step_schedule
    warmup_epochs: int = 1
    augment: str = "recipe"  # "recipe": train.augment_batch; "raw": the same with tf.raw_ops.ImageProjectiveTransformV3
    cached: bool = False  # gather batches from cached tensors instead of slicing elements
    jit: bool = False


#: Named recipes for ``train`` and section r: today's, and the candidates the profile suggested.
RECIPES = {
    # digitlab's first recipe: build_cnn(block3_stride=1, fused_norm=False), per-epoch schedule, 30 epochs
    "current": Recipe(),
    # digitlab's recipe now: build_cnn() (block 3's first conv strided, 7x7 -> 4x4, FusedBatchNormalization),
    # per-step warm-up + cosine, 16 epochs; same widths, augmentation, optimiser, batch and peak rate
    "fast": Recipe(arch="block3_stride", norm="fused", schedule="step", epochs=16),
    # today's network with fused BN only, 18 epochs: about as fast; its accuracy was not checked
    "fused18": Recipe(norm="fused", schedule="step", epochs=18),
}


def lr_schedule(rec: Recipe, steps_per_epoch: int) -> tuple[float | keras.optimizers.schedules.LearningRateSchedule, list]:
    """Return the recipe's learning rate (a float with a per-epoch callback, or train.step_schedule) and its callbacks."""
    if rec.schedule == "epoch":
        per_epoch = train_lib.cosine_schedule(rec.lr, rec.epochs, warmup=rec.warmup_epochs)
        return rec.lr, [keras.callbacks.LearningRateScheduler(per_epoch)]
    return train_lib.step_schedule(rec.lr, rec.epochs, steps_per_epoch, warmup=rec.warmup_epochs), []


def setup_training(rec: Recipe, train: tuple, val: tuple, seed: int) -> tuple:
    """Return (compiled model, training dataset, validation dataset, callbacks) for ``rec``."""
    (x_tr, y_tr), (x_val, y_val) = train, val
    model = build_model(rec.arch, rec.norm)
    lr, callbacks = lr_schedule(rec, math.ceil(len(y_tr) / rec.batch_size))
    compile_model(model, lr=lr, jit=rec.jit)
    augment = recipe_augment if rec.augment == "recipe" else augment_raw
    train_ds = make_dataset(x_tr, y_tr, batch_size=rec.batch_size, augment=augment, shuffle=True, seed=seed,
                            cached=rec.cached)
    return model, train_ds, make_dataset(x_val, y_val, batch_size=1024), callbacks


class _EpochLog(keras.callbacks.Callback):
    """Logs every epoch's validation accuracy and loss, and records when it ended."""

    def __init__(self, name: str, epochs: int) -> None:
        super().__init__()
        self.name, self.epochs, self.start, self.stamps = name, epochs, time.perf_counter(), []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.stamps.append(time.perf_counter() - self.start)
        log(f"  {self.name} epoch {epoch + 1}/{self.epochs}: val_accuracy {logs['val_accuracy']:.4f} "
            f"val_loss {logs['val_loss']:.4f} ({self.stamps[-1]:.0f} s, load {loadavg()})")


def train_one(name: str, rec: Recipe, data: tuple, args: argparse.Namespace) -> dict:
    """Train one recipe from scratch; return its per-epoch history, wall time and (with --test) test accuracy."""
    (x_tr, y_tr), (x_val, y_val), (x_test, y_test) = data
    keras.utils.set_random_seed(args.seed)
    model, train_ds, val_ds, callbacks = setup_training(rec, (x_tr, y_tr), (x_val, y_val), args.seed)
    log(f"training {name}: {rec} on {len(y_tr):,} images, load {loadavg()}")
    load0, epoch_log = loadavg(), _EpochLog(name, rec.epochs)
    hist = model.fit(train_ds, validation_data=val_ds, epochs=rec.epochs, verbose=0, callbacks=[*callbacks, epoch_log])
    wall = time.perf_counter() - epoch_log.start
    out = {"recipe": dataclasses.asdict(rec), "train_images": len(y_tr), "val_images": len(y_val),
           "wall_s": round(wall, 1), "images_per_s": round(len(y_tr) * rec.epochs / wall, 1),
           "loadavg_start": load0, "loadavg_end": loadavg(), "params": n_params(model),
           "forward_mflops": round(2 * forward_macs(model) / 1e6, 2),
           "history": {k: [round(float(v), 5) for v in vs] for k, vs in hist.history.items()},
           "epoch_end_s": [round(t, 1) for t in epoch_log.stamps]}
    if args.save:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        out["saved"] = str(args.out_dir / f"{args.stem}_{name}.keras")
        model.save(out["saved"])
    if args.test:
        out["test_accuracy"] = float(np.mean(model_lib.predict_proba(model, x_test).argmax(1) == y_test))
        log(f"  {name}: test accuracy {out['test_accuracy']:.4f}")
    return out


def run_train(args: argparse.Namespace) -> int:
    """Train the named recipes one after another on the same split; write train_<names>.json and .md."""
    (x_tr, y_tr), (x_val, y_val), (x_test, y_test), source = load_data(args.data, args.seed, args.val_fraction,
                                                                       args.fraction)
    data = ((x_tr, y_tr), (x_val, y_val), (x_test, y_test))
    args.stem = "train_" + "_".join(args.recipe.split(",")) + (f"_e{args.epochs}" if args.epochs else "") + (
        f"_s{args.seed}" if args.seed != 42 else "") + (f"_{source.stem}" if source.stem != "mnist-offline" else "")
    results = {}
    for name in args.recipe.split(","):
        rec = RECIPES[name] if not args.epochs else dataclasses.replace(RECIPES[name], epochs=args.epochs)
        results[name] = train_one(name, rec, data, args)
    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "data": str(source), "seed": args.seed, "runs": results}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out_dir / f"{args.stem}.md").write_text(train_markdown(result, source, args.seed))
    log(f"wrote {args.out_dir / args.stem}.json and .md")
    return 0


def train_markdown(result: dict, source: Path, seed: int) -> str:
    """Return the trainings ``result`` as markdown: a table of the runs, then validation accuracy by epoch."""
    lines = [f"# Trainings ({result['date']})", "", f"- `{result['command']}`", f"- {result['machine']}",
             f"- data {source.name}, seed {seed}"]
    rows = [(name, r["recipe"]["epochs"], r["wall_s"], f"{r['images_per_s']:,.0f}",
             f"{r['loadavg_start']} / {r['loadavg_end']}", f"{max(r['history']['val_accuracy']):.4f}",
             f"{r['history']['val_accuracy'][-1]:.4f}", r.get("test_accuracy", "-")) for name, r in result["runs"].items()]
    lines += md_table(["recipe", "epochs", "wall s", "images/s", "load start/end", "best val acc", "final val acc",
                       "test acc"], rows)
    lines += ["", "Validation accuracy by epoch:", ""]
    lines += [f"- {name}: " + " ".join(f"{v:.4f}" for v in r["history"]["val_accuracy"])
              for name, r in result["runs"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
