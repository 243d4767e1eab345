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
``train_*.json``/``.md`` for trainings. The load average is recorded with every number.

Today's recipe ("current") is the one of git 704a7f2: build_cnn's network with keras's
BatchNormalization and block 3 at 7x7, 30 epochs, batch 128, AdamW 2e-3, per-epoch warm-up +
cosine, augment_batch in the tf.data pipeline. digitlab's own build_cnn and augment_batch are
used while they still are that recipe; otherwise the copies in this file are (see "sources").

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

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "out"
SECTIONS = "abcdefghivr"


def build_parser() -> argparse.ArgumentParser:
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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:  # digitlab's loader keeps TensorFlow's native start-up lines quiet
        from digitlab.backend import tensorflow as load_tensorflow
        tf = load_tensorflow()
    except ImportError:
        import tensorflow as tf
    # thread settings only take effect before TensorFlow's runtime starts: set them before anything runs
    if args.intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    global keras, np
    import keras
    import numpy as np
    if args.command == "train":
        return run_train(args)
    return run_profile(args)


# --- what is imported from digitlab, with copies of today's code as fallbacks -------------------------------
#
# digitlab.train and digitlab.model change under this script (build_cnn uncompiled, train.Augmentation(),
# build_cnn's new defaults); it uses what still is today's recipe, copies otherwise, and records which.

#: Today's augmentation ranges (train.AUGMENT at git 704a7f2).
AUGMENT = {"rotation": 12.0, "scale": (0.85, 1.12), "shear": 0.25, "shift": 2.5, "pen": 0.5}
SOURCES: dict[str, str] = {}


def augment_ranges() -> dict:
    """Return the recipe's augmentation ranges as a dict, from train.Augmentation(), train.AUGMENT or the copy."""
    try:
        from digitlab import train
        if hasattr(train, "Augmentation"):
            aug = train.Augmentation()
            d = dataclasses.asdict(aug) if dataclasses.is_dataclass(aug) else dict(vars(aug))
            ranges = {k: d.get(k, v) for k, v in AUGMENT.items()}
            ranges["scale"] = tuple(ranges["scale"])
            SOURCES["augment_ranges"] = "digitlab.train.Augmentation()"
            return ranges
        if hasattr(train, "AUGMENT"):
            SOURCES["augment_ranges"] = "digitlab.train.AUGMENT"
            return dict(train.AUGMENT)
    except Exception as exc:  # noqa: BLE001 - a half-refactored module must not stop the profile
        SOURCES["augment_ranges_error"] = f"{type(exc).__name__}: {exc}"
    SOURCES["augment_ranges"] = "copy in profile_train.py"
    return dict(AUGMENT)


def recipe_augment():
    """Return today's ``augment_batch(images)`` from digitlab.train if it has one, else the copy below."""
    try:
        from digitlab import train
        fn = train.augment_batch
        import tensorflow as tf
        fn(tf.zeros((2, 28, 28, 1)))  # the new signature may differ; it must take a batch and nothing else
        SOURCES["augment_batch"] = "digitlab.train.augment_batch"
        return fn
    except Exception as exc:  # noqa: BLE001
        SOURCES["augment_batch_error"] = f"{type(exc).__name__}: {exc}"
    SOURCES["augment_batch"] = "copy in profile_train.py"
    ranges = augment_ranges()
    return lambda images: augment_keras(images, ranges)


def _affine_params(b, ranges, seed=None):
    """Return the random inverse affine maps (B, 8) and pen draws (B,) of today's augmentation."""
    import tensorflow as tf
    rnd = tf.random.uniform((b, 6), seed=seed)
    angle = (rnd[:, 0] * 2 - 1) * ranges["rotation"] * math.pi / 180
    scale = ranges["scale"][0] + rnd[:, 1] * (ranges["scale"][1] - ranges["scale"][0])
    shear = (rnd[:, 2] * 2 - 1) * ranges["shear"]
    tx, ty = [(r * 2 - 1) * ranges["shift"] for r in (rnd[:, 3], rnd[:, 4])]
    cos, sin = tf.cos(angle), tf.sin(angle)
    a00, a01, a10, a11 = scale * cos, scale * (cos * shear - sin), scale * sin, scale * (sin * shear + cos)
    det = a00 * a11 - a01 * a10
    m00, m01, m10, m11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = 13.5
    ox = c - (m00 * (c + tx) + m01 * (c + ty))
    oy = c - (m10 * (c + tx) + m11 * (c + ty))
    zeros = tf.zeros_like(angle)
    return tf.stack([m00, m01, ox, m10, m11, oy, zeros, zeros], axis=1), rnd[:, 5]


def _pen(warped, pen, ranges):
    import tensorflow as tf
    thick = tf.nn.max_pool2d(warped, 2, 1, "SAME")
    thin = -tf.nn.max_pool2d(-warped, 2, 1, "SAME")
    p = ranges["pen"] / 2
    pen = pen[:, None, None, None]
    return tf.clip_by_value(tf.where(pen < p, thick, tf.where(pen > 1 - p, thin, warped)), 0.0, 1.0)


def augment_keras(images, ranges):
    """Today's augment_batch (git 704a7f2): keras.ops.image.affine_transform, then pen width."""
    import tensorflow as tf
    transform, pen = _affine_params(tf.shape(images)[0], ranges)
    warped = keras.ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant")
    return _pen(warped, pen, ranges)


def augment_raw(images, ranges):
    """The same augmentation calling tf.raw_ops.ImageProjectiveTransformV3 directly."""
    import tensorflow as tf
    transform, pen = _affine_params(tf.shape(images)[0], ranges)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transform, output_shape=tf.constant([28, 28]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")
    return _pen(warped, pen, ranges)


def augment_gather(images, ranges):
    """The same augmentation with the bilinear warp written as four gathers (XLA can compile it; the op can't)."""
    import tensorflow as tf
    b = tf.shape(images)[0]
    t, pen = _affine_params(b, ranges)
    grid = tf.range(28, dtype=tf.float32)
    gx, gy = tf.reshape(tf.tile(grid[None, :], [28, 1]), [1, -1]), tf.reshape(tf.tile(grid[:, None], [1, 28]), [1, -1])
    x = t[:, 0:1] * gx + t[:, 1:2] * gy + t[:, 2:3]  # (B, 784) source column of each output pixel
    y = t[:, 3:4] * gx + t[:, 4:5] * gy + t[:, 5:6]
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = x - x0, y - y0
    padded = tf.reshape(tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]]), [b, 900])  # zero border = fill value

    def at(yy, xx):  # reads outside the image land on the zero border
        yi = tf.cast(tf.clip_by_value(yy, -1.0, 28.0), tf.int32) + 1
        xi = tf.cast(tf.clip_by_value(xx, -1.0, 28.0), tf.int32) + 1
        return tf.gather(padded, yi * 30 + xi, batch_dims=1)

    warped = ((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1))
              + wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1)))
    return _pen(tf.reshape(warped, [b, 28, 28, 1]), pen, ranges)


def load_data(path, seed, val_fraction, fraction=1.0):
    """Return (x_tr, y_tr), (x_val, y_val), (x_test, y_test), source: images float32 (N, 28, 28, 1) in [0, 1]."""
    from digitlab import data
    source = data.find_mnist(path)
    (x, y), (x_test, y_test) = data.load_mnist(source)
    x, y = data.subset(x, y, fraction, seed=seed)
    (x_tr, y_tr), (x_val, y_val) = data.train_val_split(x, y, val_fraction=val_fraction, seed=seed)
    norm = lambda a: (a.astype(np.float32) / 255.0)[..., None]  # noqa: E731 - preprocess.to_model_input
    return (norm(x_tr), y_tr), (norm(x_val), y_val), (norm(x_test), y_test), source


def make_dataset(x, y, *, batch_size, augment=None, shuffle=False, seed=42, repeat=False, cached=False):
    """Return today's tf.data pipeline (slices, shuffle, batch, map(augment), prefetch) or a faster variant.

    ``cached=True`` keeps the whole (normalised) set as two tensors and gathers shuffled batches by
    index instead of shuffling 28x28 elements one by one.
    """
    import tensorflow as tf
    y1 = np.eye(10, dtype=np.float32)[y]
    if cached:
        xs, ys = tf.constant(x), tf.constant(y1)
        n = len(y)
        idx = tf.data.Dataset.range(n)
        if shuffle:
            idx = idx.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            idx = idx.repeat()
        ds = idx.batch(batch_size).map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)))
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, y1))
        if shuffle:
            ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda a, b: (augment(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


# --- models ---------------------------------------------------------------------------------------------------

#: Architecture variants: per block, a list of (filters, kernel, stride, separable) convs, each conv-BN-ReLU.
ARCHS = {
    "current": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)], [(128, 3, 1, 0), (128, 3, 1, 0)]],
    "first3x3": [[(32, 3, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)], [(128, 3, 1, 0), (128, 3, 1, 0)]],
    "block3_96": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)], [(96, 3, 1, 0), (96, 3, 1, 0)]],
    "five_convs": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)], [(128, 3, 1, 0)]],
    "block3_stride": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)], [(128, 3, 2, 0), (128, 3, 1, 0)]],
    "block3_stride_96": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 0), (64, 3, 2, 0)], [(96, 3, 2, 0), (96, 3, 1, 0)]],
    "block2_48_block3_stride": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(48, 3, 1, 0), (48, 3, 2, 0)], [(128, 3, 2, 0), (128, 3, 1, 0)]],
    "separable_23": [[(32, 5, 1, 0), (32, 3, 2, 0)], [(64, 3, 1, 1), (64, 3, 2, 1)], [(128, 3, 1, 1), (128, 3, 1, 1)]],
}


_FUSED = {}


def fused_bn_class():
    """Return FusedBatchNormalization: keras BatchNormalization whose training step uses TF's fused kernels.

    Keras 3 computes batch statistics with tf.nn.moments and normalises with a handful of elementwise
    ops, each a pass over the activations forward and backward; FusedBatchNormV3 (oneDNN on CPU) does
    each direction in one. Same weights, same config, same inference path.
    """
    if "cls" not in _FUSED:
        import tensorflow as tf

        class FusedBatchNormalization(keras.layers.BatchNormalization):
            def call(self, inputs, training=None, mask=None):
                if not (training and self.trainable) or mask is not None or self.renorm or self.synchronized \
                        or len(inputs.shape) != 4 or self.axis not in (-1, 3, [3], (3,)) or inputs.dtype != tf.float32:
                    return super().call(inputs, training=training, mask=mask)
                ones = tf.ones([inputs.shape[-1]], inputs.dtype)
                y, mean, var = tf.compat.v1.nn.fused_batch_norm(
                    inputs, self.gamma if self.scale else ones, self.beta if self.center else 0 * ones,
                    epsilon=self.epsilon, data_format="NHWC", is_training=True)[:3]
                # the op's variance has Bessel's correction; keras's moving variance averages the biased one
                n = tf.cast(tf.size(inputs) // inputs.shape[-1], tf.float32)
                var = var * (n - 1) / n
                self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
                self.moving_variance.assign(self.moving_variance * self.momentum + var * (1.0 - self.momentum))
                return y

        _FUSED["cls"] = FusedBatchNormalization
    return _FUSED["cls"]


#: Section h: (architecture, batch norm: True = keras's, "fused", False = none).
H_VARIANTS = [
    ("current", "fused"), ("current", False), ("first3x3", True), ("block3_96", True), ("five_convs", True),
    ("block3_stride", True), ("block3_stride", "fused"), ("block3_stride_96", True), ("block3_stride_96", "fused"),
    ("block2_48_block3_stride", True), ("block2_48_block3_stride", "fused"), ("separable_23", True),
]


def build_arch(spec, *, dropout=0.3, bn=True, name="variant"):
    """Return an uncompiled CNN shaped like build_cnn: conv-BN-ReLU blocks, SpatialDropout, GAP, dropout, softmax."""
    from keras import layers
    inputs = keras.Input((28, 28, 1), name="image")
    x = inputs
    for i, block in enumerate(spec):
        for j, (filters, kernel, stride, sep) in enumerate(block):
            conv = layers.SeparableConv2D if sep else layers.Conv2D
            x = conv(filters, kernel, strides=stride, padding="same", use_bias=not bn, name=f"block{i + 1}{'abc'[j]}_conv")(x)
            if bn:
                norm = fused_bn_class() if bn == "fused" else layers.BatchNormalization
                x = norm(momentum=0.9, name=f"block{i + 1}{'abc'[j]}_bn")(x)
            x = layers.ReLU(name=f"block{i + 1}{'abc'[j]}_relu")(x)
        x = layers.SpatialDropout2D(dropout / 3, name=f"block{i + 1}_drop")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="drop")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def build_current():
    """Return today's network: digitlab.model.build_cnn() while it still builds it, else the copy in ARCHS.

    "Today's" is the network of git 704a7f2 (conv-BN-ReLU x2 per block, keras BatchNormalization, block 3
    at 7x7): the yardstick stays fixed even after build_cnn's defaults change, and SOURCES says which was used.
    """
    copy = build_arch(ARCHS["current"], name="digitlab_cnn")
    try:
        from digitlab import model as model_lib
        m = model_lib.build_cnn()
        same = (n_params(m) == n_params(copy) and forward_macs(m) == forward_macs(copy)
                and all(type(l) is keras.layers.BatchNormalization for l in m.layers if "BatchNorm" in type(l).__name__))
        if same:
            SOURCES["build_cnn"] = "digitlab.model.build_cnn"
            return m
        SOURCES["build_cnn"] = "copy in profile_train.py (digitlab.model.build_cnn() is no longer today's network)"
    except Exception as exc:  # noqa: BLE001
        SOURCES["build_cnn_error"] = f"{type(exc).__name__}: {exc}"
        SOURCES["build_cnn"] = "copy in profile_train.py"
    return copy


def build_reference():
    from keras import layers
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
        layers.Dense(10, activation="softmax")], name="reference_cnn")


def compile_model(model, *, lr=2e-3, wd=1e-4, smoothing=0.1, jit=False, reference=False):
    """Compile as the recipe does (AdamW, label smoothing; Adam for the reference) with jit_compile chosen."""
    if reference:
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
    else:
        model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr, weight_decay=wd),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
                      metrics=["accuracy"], jit_compile=jit)
    return model


def forward_macs(model) -> int:
    """Return the multiply-accumulates of one forward pass of one image, from the layers' shapes."""
    from keras import layers
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D, layers.Dense)):
            out = layer.output.shape
            cin = layer.input.shape[-1]
            spatial = int(np.prod(out[1:-1])) if len(out) > 2 else 1
            if isinstance(layer, layers.SeparableConv2D):
                k = int(np.prod(layer.kernel_size))
                total += spatial * (k * cin + cin * out[-1])
            elif isinstance(layer, layers.Conv2D):
                total += spatial * int(np.prod(layer.kernel_size)) * cin * out[-1]
            else:
                total += cin * out[-1]
    return int(total)


def n_params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# --- timing ---------------------------------------------------------------------------------------------------

class Rate(tuple):
    """(images/s of wall time, CPU milliseconds per image): the first for an idle machine, the second for a busy one."""

    def __new__(cls, images, wall_s, cpu_s):
        return super().__new__(cls, (images / wall_s, 1000 * cpu_s / images))

    wall = property(lambda self: self[0])
    cpu_ms = property(lambda self: self[1])


def _clock():
    return time.perf_counter(), time.process_time()  # process_time: CPU time of all the process's threads


def _stamp_callback():
    class Stamps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.t = []

        def on_train_batch_end(self, batch, logs=None):
            self.t.append(_clock())
    return Stamps()


def fit_rate(model, ds, batch_size, steps, warmup) -> Rate:
    """Return the training rate over ``steps`` steps that follow ``warmup`` untimed ones (ds must repeat)."""
    cb = _stamp_callback()
    model.fit(ds, steps_per_epoch=warmup + steps, epochs=1, verbose=0, callbacks=[cb])
    (w0, c0), (w1, c1) = cb.t[warmup - 1], cb.t[-1]
    return Rate(steps * batch_size, w1 - w0, c1 - c0)


def iter_rate(ds, batch_size, steps, warmup) -> Rate:
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    w0, c0 = _clock()
    for _ in range(steps):
        next(it)
    w1, c1 = _clock()
    return Rate(steps * batch_size, w1 - w0, c1 - c0)


def call_rate(fn, arg, batch_size, steps, warmup) -> Rate:
    for _ in range(warmup):
        fn(arg).numpy()
    w0, c0 = _clock()
    for _ in range(steps):
        fn(arg).numpy()
    w1, c1 = _clock()
    return Rate(steps * batch_size, w1 - w0, c1 - c0)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


class Bench:
    """Named measurements, each a callable(steps) returning a Rate; run interleaved, medians kept."""

    def __init__(self, steps):
        self.steps = steps
        self.jobs: dict[str, object] = {}
        self.rates: dict[str, list[Rate]] = {}
        self.meta: dict[str, dict] = {}

    def add(self, name, fn, **meta):
        self.jobs[name] = fn
        self.meta[name] = meta

    def run(self, repeats, log):
        for r in range(repeats):
            for name, fn in self.jobs.items():
                rate = fn(self.steps)
                self.rates.setdefault(name, []).append(rate)
                log(f"  [{r + 1}/{repeats}] {name}: {rate.wall:,.0f} images/s, {rate.cpu_ms:.3f} CPU ms/image "
                    f"(load {loadavg()})")

    def summary(self, name) -> dict:
        rs = self.rates[name]
        return {"images_per_s": round(statistics.median(r.wall for r in rs), 1),
                "cpu_ms_per_image": round(statistics.median(r.cpu_ms for r in rs), 4),
                "all_images_per_s": [round(r.wall, 1) for r in rs], "all_cpu_ms": [round(r.cpu_ms, 4) for r in rs],
                **self.meta[name]}


def log(msg):
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


# --- the profile -----------------------------------------------------------------------------------------------

def run_profile(args) -> int:
    import tensorflow as tf
    if args.intra is not None:
        return run_thread_child(args)
    sections = set(args.sections)
    started = time.perf_counter()
    load_start = loadavg()
    (x_tr, y_tr), (x_val, y_val), _, source = load_data(args.data, args.seed, args.val_fraction)
    keras.utils.set_random_seed(args.seed)
    ranges = augment_ranges()
    aug_today = recipe_augment()
    steps, warmup, bs = args.steps, args.warmup, 128
    log(f"{len(y_tr):,} training images from {source.name}; {steps} timed steps after {warmup}, "
        f"{args.repeats} interleaved repeats; load {load_start}")

    b = Bench(steps)
    models = {}

    def model_for(key, build, **compile_kw):
        if key not in models:
            m = compile_model(build(), **compile_kw)
            models[key] = m
        return models[key]

    def ds_for(batch_size, augment, cached=False):
        return make_dataset(x_tr, y_tr, batch_size=batch_size, augment=augment, shuffle=True, seed=args.seed,
                            repeat=True, cached=cached)

    xb = tf.constant(x_tr[:512])
    yb = tf.constant(np.eye(10, dtype=np.float32)[y_tr[:512]])

    def one_batch(batch_size):
        return tf.data.Dataset.from_tensors((xb[:batch_size], yb[:batch_size])).repeat()

    def fit_job(key, build, ds_fn, batch_size, **compile_kw):
        def job(n):
            m = model_for(key, build, **compile_kw)
            return fit_rate(m, ds_fn(), batch_size, n, warmup)
        return job

    current = fit_job("current", build_current, lambda: ds_for(bs, aug_today), bs)
    # (a) is measured in every section's interleave, as the yardstick for the ratios
    b.add("a: current recipe (augmented pipeline + model step)", current, section="a")
    if "b" in sections:
        b.add("b: without augmentation", fit_job("current", build_current, lambda: ds_for(bs, None), bs), section="b")
        b.add("b: without augmentation, cached-tensor pipeline",
              fit_job("current", build_current, lambda: ds_for(bs, None, cached=True), bs), section="b")
        b.add("b: augmentation (raw op) on cached-tensor pipeline",
              fit_job("current", build_current, lambda: ds_for(bs, lambda a: augment_raw(a, ranges), cached=True), bs),
              section="b")
    if "c" in sections:
        b.add("c: pipeline alone, augmented", lambda n: iter_rate(ds_for(bs, aug_today), bs, n * 3, warmup), section="c")
        b.add("c: pipeline alone, not augmented", lambda n: iter_rate(ds_for(bs, None), bs, n * 3, warmup), section="c")
        b.add("c: pipeline alone, cached tensors, not augmented",
              lambda n: iter_rate(ds_for(bs, None, cached=True), bs, n * 3, warmup), section="c")
        fn_today = tf.function(aug_today)
        fn_raw = tf.function(lambda a: augment_raw(a, ranges))
        b.add("c: augment_batch alone (tf.function, one batch of 128)",
              lambda n: call_rate(fn_today, xb[:bs], bs, n * 3, warmup), section="c")
        b.add("c: augmentation with raw ImageProjectiveTransformV3 alone",
              lambda n: call_rate(fn_raw, xb[:bs], bs, n * 3, warmup), section="c")
    if "d" in sections:
        b.add("d: model step alone, cached batch", fit_job("current", build_current, lambda: one_batch(bs), bs), section="d")
    if "e" in sections:
        b.add("e: model step alone, jit_compile=True",
              fit_job("current_jit", build_current, lambda: one_batch(bs), bs, jit=True), section="e")
        fn_xla = tf.function(lambda a: augment_gather(a, ranges), jit_compile=True)
        try:
            fn_xla(xb[:bs])
            b.add("e: augmentation alone, written as gathers, XLA (jit_compile=True)",
                  lambda n: call_rate(fn_xla, xb[:bs], bs, n * 3, warmup), section="e")
        except Exception as exc:  # noqa: BLE001 - ImageProjectiveTransformV3 may have no XLA kernel on CPU
            SOURCES["augment_xla_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            log(f"  augmentation under XLA fails: {SOURCES['augment_xla_error']}")
    if "f" in sections:
        for size in (256, 512):
            b.add(f"f: current recipe, batch {size}",
                  fit_job(f"current_b{size}", build_current, lambda s=size: ds_for(s, aug_today), size), section="f")
            b.add(f"f: model step alone, batch {size}",
                  fit_job(f"current_b{size}", build_current, lambda s=size: one_batch(s), size), section="f")
    if "h" in sections:
        for arch, bn in H_VARIANTS:
            label = arch + (", fused BN" if bn == "fused" else ", no BN (speed only)" if not bn else "")
            build = lambda a=arch, n=bn: build_arch(ARCHS[a], bn=n, name=a)  # noqa: E731
            b.add(f"h: model step alone, {label}", fit_job(label, build, lambda: one_batch(bs), bs), section="h", arch=label)
        b.add("h: current recipe with fused BN (augmented pipeline)",
              fit_job("current, fused BN", lambda: build_arch(ARCHS["current"], bn="fused", name="current"),
                      lambda: ds_for(bs, aug_today), bs), section="h", arch="current, fused BN")
    if "i" in sections:
        b.add("i: reference convnet (no augmentation, batch 128)",
              fit_job("reference", build_reference, lambda: ds_for(bs, None), bs, reference=True), section="i")
        b.add("i: reference convnet, model step alone",
              fit_job("reference", build_reference, lambda: one_batch(bs), bs, reference=True), section="i")

    log("warming up (tracing every variant once)")
    for name, fn in b.jobs.items():
        fn(1)
    log("measuring")
    b.run(args.repeats, log)

    extra = {}
    if "v" in sections:
        extra.update(epoch_overheads(models, x_tr, y_tr, x_val, y_val, aug_today, args, bs))
    threads = run_threads(args) if "g" in sections else None
    if "r" in sections:
        extra["real_epochs"] = real_epochs(args, (x_tr, y_tr), (x_val, y_val))

    archs = {}
    for name in ["current", *ARCHS]:
        m = models.get(name) or build_arch(ARCHS[name], name=name)
        archs[name] = {"forward_mflops": round(2 * forward_macs(m) / 1e6, 2), "params": n_params(m)}
    ref = models.get("reference") or build_reference()
    archs["reference"] = {"forward_mflops": round(2 * forward_macs(ref) / 1e6, 2), "params": n_params(ref)}

    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - started, 1),
        "loadavg_start": load_start, "loadavg_end": loadavg(),
        "machine": machine(), "data": {"source": str(source), "train_images": len(y_tr), "val_images": len(y_val)},
        "steps": steps, "warmup": warmup, "repeats": args.repeats, "sources": SOURCES,
        "rates": {k: b.summary(k) for k in b.rates},
        "architectures": archs, "threads": threads, **extra,
    }
    write_outputs(result, args.out_dir, "profile_train")
    return 0


def epoch_overheads(models, x_tr, y_tr, x_val, y_val, aug, args, bs) -> dict:
    """Return the validation pass and the epoch start-up (shuffle buffer filling) times, interleaved."""
    import tensorflow as tf
    m = models["current"]
    val_ds = make_dataset(x_val, y_val, batch_size=1024)
    m.evaluate(val_ds, verbose=0)
    vals, firsts, firsts_cached = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        m.evaluate(val_ds, verbose=0)
        vals.append(time.perf_counter() - t0)
        for cached, acc in ((False, firsts), (True, firsts_cached)):
            ds = make_dataset(x_tr, y_tr, batch_size=bs, augment=aug, shuffle=True, seed=args.seed, cached=cached)
            t0 = time.perf_counter()
            next(iter(ds))
            acc.append(time.perf_counter() - t0)
    # one real epoch, as train.train runs it (shuffled, augmented, validation at the end), to check the sum
    ds = make_dataset(x_tr, y_tr, batch_size=bs, augment=aug, shuffle=True, seed=args.seed)
    t0 = time.perf_counter()
    m.fit(ds, validation_data=val_ds, epochs=1, verbose=0)
    real = time.perf_counter() - t0
    log(f"  one real epoch of today's recipe: {real:.1f} s (load {loadavg()})")
    out = {"real_epoch_s": round(real, 1), "real_epoch_loadavg": loadavg(),
           "validation_pass_s": round(statistics.median(vals), 3),
           "epoch_first_batch_s": round(statistics.median(firsts), 3),
           "epoch_first_batch_cached_s": round(statistics.median(firsts_cached), 3)}
    log(f"  validation pass {out['validation_pass_s']} s for {len(y_val)} images; first batch of an epoch "
        f"{out['epoch_first_batch_s']} s (cached pipeline {out['epoch_first_batch_cached_s']} s)")
    return out


def real_epochs(args, train, val) -> dict:
    """Time whole epochs of each recipe in --recipe (current first), interleaved; project each recipe's training time."""
    names = args.recipe.split(",")
    runs = {}
    for name in names:
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
    out = {}
    base = None
    for name, (rec, *_, times) in runs.items():
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        out[name] = {"epochs": rec.epochs, "epoch_wall_s": round(wall, 2), "epoch_cpu_s": round(cpu, 2),
                     "all_wall_s": [round(t[0], 2) for t in times], "all_cpu_s": [round(t[1], 2) for t in times],
                     "projected_wall_s": round(wall * rec.epochs, 1), "projected_cpu_s": round(cpu * rec.epochs, 1)}
        base = base or out[name]
        out[name]["time_ratio_wall"] = round(out[name]["projected_wall_s"] / base["projected_wall_s"], 3)
        out[name]["time_ratio_cpu"] = round(out[name]["projected_cpu_s"] / base["projected_cpu_s"], 3)
        log(f"  {name}: {rec.epochs} epochs x {wall:.1f} s = {wall * rec.epochs:.0f} s projected "
            f"(ratio to {names[0]}: wall {out[name]['time_ratio_wall']}, CPU {out[name]['time_ratio_cpu']})")
    return out


def run_thread_child(args) -> int:
    """Child process of section g: the current recipe and its model step under one thread setting."""
    (x_tr, y_tr), _, _, _ = load_data(args.data, args.seed, args.val_fraction)
    aug = recipe_augment()
    m = compile_model(build_current())
    ds = make_dataset(x_tr, y_tr, batch_size=128, augment=aug, shuffle=True, seed=args.seed, repeat=True)
    import tensorflow as tf
    one = tf.data.Dataset.from_tensors((tf.constant(x_tr[:128]), tf.constant(np.eye(10, dtype=np.float32)[y_tr[:128]]))).repeat()
    fit_rate(m, ds, 128, 2, args.warmup)
    fit_rate(m, one, 128, 2, args.warmup)
    a, d = fit_rate(m, ds, 128, args.steps, args.warmup), fit_rate(m, one, 128, args.steps, args.warmup)
    res = {"recipe": a.wall, "model_step": d.wall, "recipe_cpu_ms": a.cpu_ms, "model_step_cpu_ms": d.cpu_ms}
    args.json_out.write_text(json.dumps(res))
    return 0


def run_threads(args) -> dict:
    """Run one child process per thread setting, settings interleaved over the repeats; medians of images/s."""
    settings = [(int(s.split(":")[0]), int(s.split(":")[1]), s.endswith(":no-onednn")) for s in args.threads.split(",")]
    out: dict[str, dict[str, list[float]]] = {}
    for r in range(args.thread_repeats):
        for intra, inter, no_dnn in settings:
            with tempfile.TemporaryDirectory() as tmp:
                j = Path(tmp) / "r.json"
                cmd = [sys.executable, __file__, "--intra", str(intra), "--inter", str(inter), "--json-out", str(j),
                       "--steps", str(args.steps), "--warmup", str(args.warmup), "--seed", str(args.seed)]
                if args.data:
                    cmd += ["--data", str(args.data)]
                env = {**os.environ, **({"TF_ENABLE_ONEDNN_OPTS": "0"} if no_dnn else {})}
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                res = json.loads(j.read_text())
            key = f"intra={intra} inter={inter}" + (" (TF default)" if intra == inter == 0 else "") + (
                ", TF_ENABLE_ONEDNN_OPTS=0" if no_dnn else "")
            for k, v in res.items():
                out.setdefault(key, {}).setdefault(k, []).append(round(v, 4 if k.endswith("cpu_ms") else 1))
            log(f"  [{r + 1}/{args.thread_repeats}] threads {key}: recipe {res['recipe']:,.0f}, model step "
                f"{res['model_step']:,.0f} images/s (load {loadavg()})")
    return {k: {m: {"median": statistics.median(vs), "all": vs} for m, vs in d.items()} for k, d in out.items()}


def machine() -> dict:
    import tensorflow as tf
    cpu = "unknown"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__}


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
    out = ["", "Where a training step's time goes (CPU ms per image, share of (a)):", "", "| part | CPU ms / image | share |",
           "|---|---|---|"]
    out += [f"| {name} | {v:.3f} | {v / a:.0%} |" for name, v in rows]
    if "real_epoch_s" in r:
        e = r["real_epoch_s"]
        out += ["", f"Per epoch (wall, one real epoch {e} s): validation pass {r['validation_pass_s']} s "
                    f"({r['validation_pass_s'] / e:.1%}), epoch start-up {r['epoch_first_batch_s']} s "
                    f"({r['epoch_first_batch_s'] / e:.1%}); the rest is training steps."]
    return out


def write_outputs(result: dict, out_dir: Path, stem: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / f"{stem}.md").write_text(to_markdown(result))
    log(f"wrote {out_dir / stem}.json and .md")


def to_markdown(r: dict) -> str:
    lines = [f"# Training profile ({r['date']})", "",
             f"- `{r['command']}`, {r['wall_s']} s; load average {r['loadavg_start']} at start, {r['loadavg_end']} at end",
             f"- {r['machine']}", f"- data: {r['data']}", f"- {r['steps']} timed steps after {r['warmup']}, "
             f"median of {r['repeats']} interleaved repeats", f"- code used: {r['sources']}", "",
             "Speed-up = (a)'s CPU ms per image / this one's (robust to a busy CPU); wall images/s are as measured.", "",
             "| measurement | wall images/s | wall ratio to (a) | CPU ms / image | speed-up by CPU time | repeats (images/s) |",
             "|---|---|---|---|---|---|"]
    base = next(v for k, v in r["rates"].items() if k.startswith("a:"))
    for k, v in r["rates"].items():
        lines.append(f"| {k} | {v['images_per_s']:,.0f} | {v['images_per_s'] / base['images_per_s']:.2f} | "
                     f"{v['cpu_ms_per_image']:.3f} | {base['cpu_ms_per_image'] / v['cpu_ms_per_image']:.2f} | "
                     f"{', '.join(f'{x:,.0f}' for x in v['all_images_per_s'])} |")
    lines += shares(r)
    if "real_epoch_s" in r:
        lines += ["", f"One real epoch of today's recipe (fit with validation): {r['real_epoch_s']} s "
                      f"(load {r['real_epoch_loadavg']})."]
    if "validation_pass_s" in r:
        lines += ["", f"Validation pass: {r['validation_pass_s']} s; first batch of an epoch (shuffle buffer): "
                      f"{r['epoch_first_batch_s']} s, cached-tensor pipeline {r['epoch_first_batch_cached_s']} s."]
    if r.get("real_epochs"):
        lines += ["", "Real epochs (fit with validation), interleaved; projected = epochs x median epoch:", "",
                  "| recipe | epochs | epoch wall s (all) | epoch CPU s (all) | projected wall s | time ratio, wall | time ratio, CPU |",
                  "|---|---|---|---|---|---|---|"]
        for k, v in r["real_epochs"].items():
            lines.append(f"| {k} | {v['epochs']} | {v['epoch_wall_s']} ({', '.join(map(str, v['all_wall_s']))}) | "
                         f"{v['epoch_cpu_s']} ({', '.join(map(str, v['all_cpu_s']))}) | {v['projected_wall_s']} | "
                         f"{v['time_ratio_wall']} | {v['time_ratio_cpu']} |")
    if r.get("threads"):
        lines += ["", "| threads | recipe images/s | model step images/s | recipe CPU ms/image | model step CPU ms/image |",
                  "|---|---|---|---|---|"]
        for k, v in r["threads"].items():
            lines.append(f"| {k} | {v['recipe']['median']:,.0f} | {v['model_step']['median']:,.0f} | "
                         f"{v['recipe_cpu_ms']['median']:.3f} | {v['model_step_cpu_ms']['median']:.3f} |")
    lines += ["", "| architecture | forward MFLOPs / image | trainable parameters |", "|---|---|---|"]
    for k, v in r["architectures"].items():
        lines.append(f"| {k} | {v['forward_mflops']} | {v['params']:,} |")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe: architecture, batch, learning rate and its schedule, epochs, augmentation, pipeline."""

    arch: str = "build_cnn"  # "build_cnn" (digitlab.model) or a key of ARCHS
    batch_size: int = 128
    lr: float = 2e-3
    epochs: int = 30
    schedule: str = "epoch"  # "epoch": train.cosine_schedule per epoch; "step": warm-up + cosine per step
    warmup_epochs: float = 1.0
    augment: str = "recipe"  # "recipe": today's augment_batch; "raw": tf.raw_ops.ImageProjectiveTransformV3
    cached: bool = False  # gather batches from cached tensors instead of slicing elements
    jit: bool = False
    bn: object = True  # True: keras BatchNormalization; "fused": FusedBatchNormalization (same maths, faster)


#: Named recipes for ``train``: today's, and the candidates the profile suggested.
RECIPES = {
    # today's recipe (git 704a7f2)
    "current": Recipe(),
    # the proposed default: block 3's first conv strided (7x7 -> 4x4), FusedBatchNormalization,
    # per-step warm-up + cosine, 24 epochs; same widths, augmentation, optimiser, batch and peak rate
    "fast": Recipe(arch="block3_stride", bn="fused", schedule="step", epochs=24),
    # today's network with fused BN only, 18 epochs: about as fast; its accuracy was not checked
    "fused18": Recipe(arch="current", bn="fused", schedule="step", epochs=18),
}


def lr_schedule(rec: Recipe, steps_per_epoch: int):
    """Return the learning rate (a float with a per-epoch callback, or a per-step schedule) and the callbacks."""
    if rec.schedule == "epoch":
        warm = max(1, int(rec.warmup_epochs))

        def per_epoch(epoch: int) -> float:  # digitlab.train.cosine_schedule
            if epoch < warm:
                return rec.lr * (epoch + 1) / (warm + 1)
            progress = (epoch - warm) / max(1, rec.epochs - warm)
            return rec.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

        return rec.lr, [keras.callbacks.LearningRateScheduler(per_epoch)]
    total = rec.epochs * steps_per_epoch
    warm = int(min(rec.warmup_epochs, rec.epochs - 1) * steps_per_epoch)  # a 1-epoch run has no warm-up
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=rec.lr * (0.02 if warm else 1.0), decay_steps=max(1, total - warm), alpha=0.01,
        warmup_target=rec.lr if warm else None, warmup_steps=warm)
    return schedule, []


def setup_training(rec: Recipe, train, val, seed):
    """Return (compiled model, training dataset, validation dataset, callbacks) for ``rec``."""
    (x_tr, y_tr), (x_val, y_val) = train, val
    model = build_current() if rec.arch == "build_cnn" else build_arch(ARCHS[rec.arch], bn=rec.bn, name=rec.arch)
    steps_per_epoch = math.ceil(len(y_tr) / rec.batch_size)
    lr, callbacks = lr_schedule(rec, steps_per_epoch)
    compile_model(model, lr=lr, jit=rec.jit)
    ranges = augment_ranges()
    aug = recipe_augment() if rec.augment == "recipe" else (lambda a: augment_raw(a, ranges))
    train_ds = make_dataset(x_tr, y_tr, batch_size=rec.batch_size, augment=aug, shuffle=True, seed=seed,
                            cached=rec.cached)
    val_ds = make_dataset(x_val, y_val, batch_size=1024)
    return model, train_ds, val_ds, callbacks


def train_one(name: str, rec: Recipe, data, args) -> dict:
    """Train one recipe from scratch; return its per-epoch history, wall time and (with --test) test accuracy."""
    (x_tr, y_tr), (x_val, y_val), (x_test, y_test) = data
    keras.utils.set_random_seed(args.seed)
    model, train_ds, val_ds, callbacks = setup_training(rec, (x_tr, y_tr), (x_val, y_val), args.seed)
    stamps = []

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stamps.append(time.perf_counter())
            log(f"  {name} epoch {epoch + 1}/{rec.epochs}: val_accuracy {logs['val_accuracy']:.4f} "
                f"val_loss {logs['val_loss']:.4f} ({stamps[-1] - start:.0f} s, load {loadavg()})")

    log(f"training {name}: {rec} on {len(y_tr):,} images, load {loadavg()}")
    load0 = loadavg()
    start = time.perf_counter()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=rec.epochs, verbose=0,
                     callbacks=[*callbacks, EpochLog()])
    wall = time.perf_counter() - start
    out = {"recipe": dataclasses.asdict(rec), "train_images": len(y_tr), "val_images": len(y_val),
           "wall_s": round(wall, 1), "images_per_s": round(len(y_tr) * rec.epochs / wall, 1),
           "loadavg_start": load0, "loadavg_end": loadavg(), "params": n_params(model),
           "forward_mflops": round(2 * forward_macs(model) / 1e6, 2),
           "history": {k: [round(float(v), 5) for v in vs] for k, vs in hist.history.items()},
           "epoch_end_s": [round(t - start, 1) for t in stamps]}
    if args.save:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        out["saved"] = str(args.out_dir / f"{args.stem}_{name}.keras")
        model.save(out["saved"])
    if args.test:
        probs = model.predict(x_test, batch_size=1024, verbose=0)
        out["test_accuracy"] = float(np.mean(probs.argmax(1) == y_test))
        log(f"  {name}: test accuracy {out['test_accuracy']:.4f}")
    return out


def run_train(args) -> int:
    """Train the named recipes one after another on the same split; write train_<names>.json and .md."""
    (x_tr, y_tr), (x_val, y_val), (x_test, y_test), source = load_data(args.data, args.seed, args.val_fraction,
                                                                       args.fraction)
    data = ((x_tr, y_tr), (x_val, y_val), (x_test, y_test))
    results = {}
    args.stem = "train_" + "_".join(args.recipe.split(",")) + (f"_e{args.epochs}" if args.epochs else "") + (
        f"_s{args.seed}" if args.seed != 42 else "") + (f"_{source.stem}" if source.stem != "mnist-offline" else "")
    for name in args.recipe.split(","):
        rec = RECIPES[name]
        if args.epochs:
            rec = dataclasses.replace(rec, epochs=args.epochs)
        results[name] = train_one(name, rec, data, args)
    stem = args.stem
    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "data": str(source), "seed": args.seed, "sources": SOURCES, "runs": results}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Trainings ({result['date']})", "", f"- `{result['command']}`", f"- {result['machine']}",
             f"- data {source.name}, seed {args.seed}", "",
             "| recipe | epochs | wall s | images/s | load start/end | best val acc | final val acc | test acc |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        va = r["history"]["val_accuracy"]
        lines.append(f"| {name} | {r['recipe']['epochs']} | {r['wall_s']} | {r['images_per_s']:,.0f} | "
                     f"{r['loadavg_start']} / {r['loadavg_end']} | {max(va):.4f} | {va[-1]:.4f} | "
                     f"{r.get('test_accuracy', '-')} |")
    lines += ["", "Validation accuracy by epoch:", ""]
    lines += [f"- {name}: " + " ".join(f"{v:.4f}" for v in r["history"]["val_accuracy"]) for name, r in results.items()]
    (args.out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    log(f"wrote {args.out_dir / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
