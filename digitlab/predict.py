"""Fast predictions from a saved model: one raw drawing, or a batch of MNIST-format images.

A single prediction runs the model converted once, on the first single image (or ``warm_up``), to a LiteRT
flatbuffer for a fixed (1, 28, 28, 1) input, in LiteRT's interpreter (``ai-edge-litert``): not
``model.predict``, whose per-call set-up costs tens of milliseconds, nor a traced ``tf.function``,
whose own overhead (about 2 ms a call) is several times the work of a model this small. The drawing
pad predicts while the pen moves, so every millisecond shows. That one call returns both the
model's logits and the features its classifier reads, so ``recognise`` (which also judges whether
the image is a digit at all) costs no second call. ``predict_batch`` runs the model converted the
same way for chunks of ``CHUNK`` images, on every core the process may use: LiteRT's XNNPACK kernels
read a batch about twice as fast as TensorFlow's own. Both run the model with each batch
normalisation folded into the convolution before it (a fixed scale and shift at inference, so the
same outputs for less work).

When the model card holds a ``calibration`` section (written by ``python -m digitlab
calibrate``, see ``digitlab.calibration``), every probability the ``Predictor`` returns is
temperature-scaled by it, and ``recognise`` declines with the card's rules and the
Gaussians of ``NAME.ood.json``.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from digitlab.backend import quiet_logger, silenced_stderr_fd, tensorflow as _load_tensorflow

_load_tensorflow()  # before keras, so TensorFlow's native start-up lines stay silent

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from digitlab import calibration, data, guard as guard_lib, model as model_lib, preprocess, scripts  # noqa: E402
from digitlab.config import IMAGE_SIZE, INPUT_SHAPE, NUM_CLASSES  # noqa: E402

__all__ = ["CHUNK", "REASONS", "RUNNER_UP", "Reading", "Recognition", "Predictor"]

#: Images per LiteRT call in ``predict_batch`` (the last chunk is padded): as fast per image as 256 or 1,000,
#: with less padding for a small batch.
CHUNK = 64
#: Why ``recognise`` declines: the reasons it gives (an unsure one names its two digits).
REASONS = ("blank", "only noise", "only a shadow", "too small", "not a digit", "unsure between a and b",
           guard_lib.REASON)
#: The any-script model names a reading of another script as runner-up from this probability on.
RUNNER_UP = 0.05
#: ``preprocess.NoInkError.reason`` -> the reason ``recognise`` gives for a page without ink.
NO_INK = {"blank": "blank", "noise": "only noise", "shadow": "only a shadow"}


@dataclass(frozen=True)
class Reading:
    """One raw image read by a model: what the model saw and what it answered."""

    mnist_image: np.ndarray
    """(28, 28) float32 in [0, 1]: the image prepared like MNIST (``preprocess.to_mnist``), as the model saw it."""
    probabilities: np.ndarray
    """(10,) float32: the probability of each digit (calibrated when the card holds a temperature)."""

    @property
    def digit(self) -> int:
        """Return the most probable digit."""
        return int(np.argmax(self.probabilities))


@dataclass(frozen=True, eq=False)
class Recognition:
    """One raw image recognised, or declined with a reason: what the pad and the CLI show."""

    digit: int | None
    """The digit read, or None when declined (``reason`` says why)."""
    confidence: float
    """The calibrated probability of the most probable digit (0 for a blank image)."""
    probabilities: np.ndarray
    """(10,) float32 calibrated probabilities (all 0 for a blank image)."""
    reason: str | None
    """None when a digit is named; else one of ``REASONS`` ("blank", "only noise", "too small", "unsure between 4 and 9"...)."""
    mnist_image: np.ndarray
    """(28, 28) float32 in [0, 1]: what the model saw (all 0 for a blank image)."""
    candidates: tuple[int, ...] = ()
    """The two digits it is torn between when unsure (most probable first), else ()."""
    distance: float = float("nan")
    """Squared Mahalanobis distance of the image's features to the nearest digit (nan: blank, or no statistics)."""
    extent: float = float("nan")
    """The ink's longer side as a share of the image's longer side (nan for a blank image)."""
    detail: str = ""
    """For a blank image, why ``to_mnist`` found no ink (its error message); else ""."""
    script: str = "western"
    """The script it read the image as (``scripts.SCRIPTS``): for a one-script model, that script."""
    runner_up: tuple[str, int, float] | None = None
    """The any-script model's best reading in another script (script, digit, probability), when at
    least ``RUNNER_UP`` probable: an Arabic 5 that could be a Western 0. Declined as "another script"
    by a one-script model's guard: that reading, with the probability of every other script. None otherwise."""

    @property
    def declined(self) -> bool:
        """Return True when no digit is named."""
        return self.digit is None

    def other_reading(self, *, glyph: bool = True) -> str:
        """Return the runner-up in another script as the pad and the CLI word it, e.g. ``0 Western, 15%`` ("" when none).

        ``glyph`` False writes its value alone (``scripts.written``).
        """
        if self.runner_up is None:
            return ""
        other, digit, p = self.runner_up
        return f"{scripts.written(digit, other, glyph=glyph)} {scripts.short_name(other)}, {p:.0%}"

    def looks_like(self, *, glyph: bool = True) -> str:
        """Return what the script guard took a drawing it declined for, e.g. ``Kannada ೭ = 7`` ("" unless declined so).

        ``glyph`` False writes its value alone: ``Kannada 7`` (``scripts.written``).
        """
        if self.reason != guard_lib.REASON or self.runner_up is None:
            return ""
        other, digit, _ = self.runner_up
        return f"{scripts.short_name(other)} {scripts.written(digit, other, glyph=glyph)}"


class Predictor:
    """Loads a model once and predicts digits from raw images or MNIST-format batches.

    ``script`` names the digits it reads (``scripts.SCRIPTS``, or ``"any"``: every script, the
    probabilities being those of the ten values summed over the scripts, see ``scripts.value_logits``,
    and ``recognise`` naming the script read and a runner-up in another): ``model_path`` None
    takes that script's shipped model (``scripts.find_model``: a missing one is a ModelFileError
    saying how to train it), and the model's card must say it reads that script (cards that name
    none are MNIST's, Western). ``calibrated`` (default True) applies the card's ``calibration`` (a
    temperature, the decline rules with ``NAME.ood.json``, and for a one-script model the script
    guard, ``digitlab.guard``, with the shipped any-script model) when present; False gives the
    model's own outputs.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, script: str = "western",
                 calibrated: bool = True):
        self.script = scripts.check_name(script, any_ok=True)
        self.model_path = scripts.find_model(script, model_path)
        self.card = model_lib.read_card(self.model_path)
        reads = scripts.card_script(self.card)
        if reads != script:
            raise model_lib.ModelFileError(f"{self.model_path}: its card says it reads {reads} digits, not {script} "
                                           f"(pass script={reads!r}; on the command line --script {reads})")
        self.model = model_lib.load_model(self.model_path)
        self.calibration: dict = self.card.get("calibration", {}) if calibrated else {}
        self.temperature = float(self.calibration.get("temperature", 1.0))
        self.rule, self.gaussians = self._decline_rule()
        self.guard_rule: dict | None = self.calibration.get("script_guard") if self.script != scripts.ANY else None
        self.classes = int(self.model.output_shape[-1])
        self._outputs = _logits_and_features(self.model)

    @functools.cached_property
    def _one(self):
        """The LiteRT single-image call (``_litert_call``), converted on first use: a batch-only Predictor never pays for it."""
        run = _litert_call(self._outputs, self.classes, batch=1)
        return lambda x: tuple(a[0] for a in run(np.reshape(x, (1, *INPUT_SHAPE))))

    @functools.cached_property
    def _many(self):
        """The LiteRT call for ``CHUNK`` images on every usable core, converted on first use: a pad never pays for it."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return _litert_call(self._outputs, self.classes, batch=CHUNK, threads=cores or 1)

    def warm_up(self) -> Predictor:
        """Convert the model for single drawings now (about half a second, once) and run it once; return self.

        The first drawing is then read at full speed: the pad calls this on every Predictor it is
        given or loads, rather than making the first stroke wait.
        """
        self.predict_prepared(np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32))
        if self.guard is not None:
            self.guard.warm_up()
        return self

    @functools.cached_property
    def guard(self) -> Predictor | None:
        """The any-script model the card's ``script_guard`` names (None: no guard), loaded on first use.

        It is the shipped any-script model, and must be the very file the guard was calibrated
        with: another would move the threshold's meaning (ModelFileError saying to calibrate again).
        Every guard of that file shares one Predictor (``_shared_any_script``): a pad with a model
        per script loads it once.
        """
        if self.guard_rule is None:
            return None
        path = scripts.find_model(scripts.ANY)
        if data.sha256(path) != self.guard_rule["sha256"]:
            raise model_lib.ModelFileError(f"{path}: not the any-script model the card of {self.model_path.name} "
                                           "calibrated its script guard with (run `python -m digitlab calibrate` again)")
        return _shared_any_script(path, self.guard_rule["sha256"])

    def foreign(self, x: np.ndarray) -> guard_lib.Foreign | None:
        """Return the guard's reading of MNIST-format images ``x`` outside this model's script (None: no guard)."""
        return None if self.guard is None else guard_lib.foreign_of_logits(self.guard.class_logits(x),
                                                                            self.guard.temperature, self.script)

    def guard_declines(self, x: np.ndarray, logits: np.ndarray, reasons: np.ndarray) -> np.ndarray | None:
        """Return which MNIST-format images ``x`` the script guard declines (None: no guard).

        ``logits`` are this model's for ``x``, ``reasons`` its decline rule's verdicts on them
        (``calibration.DeclineRule.reasons``): what ``recognise`` declines as "another script"
        (``guard.guarded``: an image read, or "unsure", that the any-script model puts in another script).
        """
        foreign = self.foreign(x)
        return None if foreign is None else guard_lib.guarded(foreign, logits, reasons, self.guard_rule["threshold"])

    def reasons(self, logits: np.ndarray, features: np.ndarray) -> np.ndarray | None:
        """Return the card's decline rule's verdict on each image ("" where it reads one; None: uncalibrated).

        ``logits`` and ``features`` are ``logits_and_features``' for MNIST-format images; the
        extent is not known in that format, so no image is "too small" (``calibration.Scores``).
        """
        if self.rule is None:
            return None
        return calibration.Scores.of(logits, features, self.gaussians, self.temperature).reasons(self.rule)

    def _decline_rule(self) -> tuple[calibration.DeclineRule | None, calibration.ClassGaussians | None]:
        """Return the card's decline rule and the Gaussians beside the model, or (None, None) if uncalibrated."""
        section = self.calibration.get("decline")
        if not section:
            return None, None
        path = calibration.ood_path(self.model_path)
        if not path.exists():
            raise model_lib.ModelFileError(f"{path}: missing; the card of {self.model_path.name} names it "
                                           "(run `python -m digitlab calibrate` to write it again)")
        if section.get("ood_sha256") not in (None, data.sha256(path)):
            raise model_lib.ModelFileError(f"{path}: not the file the card of {self.model_path.name} was calibrated "
                                           "with (run `python -m digitlab calibrate` again)")
        if "max_uniformity" not in section:
            raise model_lib.ModelFileError(f"the card of {self.model_path.name} holds a decline rule of an older digitlab "
                                           "(by energy, not uniformity): run `python -m digitlab calibrate` again")
        return calibration.DeclineRule.from_dict(section), calibration.read_ood(path)

    def read(self, image) -> Reading:
        """Return the reading of one raw image (any size, polarity; see ``to_mnist``): its 28x28 version and probabilities.

        Raises ValueError if the image holds no ink.
        """
        mnist_image = preprocess.to_mnist(image)
        return Reading(mnist_image, self.predict_prepared(mnist_image))

    def recognise(self, image) -> Recognition:
        """Return the digit in one raw image (see ``to_mnist``), or why it declines to name one.

        Declines, in this order: "blank", "only noise" or "only a shadow" (``to_mnist`` finds no
        ink: any ValueError it raises; a ``NoInkError`` says which of the three),
        "too small" (the ink spans less than the rule's ``min_extent`` of the image, unless it reads
        as the zero of a script whose zero is a dot, ``Script.dot_zero``), "not a
        digit" (its features lie far from every digit's, ``ClassGaussians``, or its logits'
        softmax is nearly flat, ``calibration.uniformity``), "unsure between a and b" (the two
        most probable digits are close) and, for a one-script model with a script guard, "another
        script" (``digitlab.guard``: the any-script model reads another script's digit of another
        value than the reading, or than both digits the rule was unsure between; ``runner_up`` names
        it). An uncalibrated model (no ``calibration`` in its card) declines only blank images.
        """
        try:
            steps = preprocess.mnist_steps(image)
        except ValueError as exc:  # no ink (or only noise, only a shadow: whatever to_mnist refuses)
            blank = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
            reason = NO_INK.get(getattr(exc, "reason", "blank"), "blank")
            return Recognition(None, 0.0, np.zeros(NUM_CLASSES, np.float32), reason, blank, detail=str(exc),
                               script=self.script)
        mnist_image = steps.result
        top, bottom, left, right = steps.bbox
        extent = max(bottom - top, right - left) / max(steps.ink.shape)
        all_logits, features = self._raw_one(mnist_image)
        logits = self._values(all_logits)
        probs = calibration.softmax(logits, self.temperature)
        first, second = (int(d) for d in np.argsort(probs)[::-1][:2])
        distance = float(self.gaussians.score(features)[0]) if self.gaussians is not None else float("nan")
        script, runner_up = self._scripts_read(all_logits, first)
        reason = ""
        if self.rule is not None:
            flat = calibration.uniformity(logits[None])
            dot = first == 0 and scripts.get(script).dot_zero  # a Persian or Arabic zero is a small dot: no size is too small
            reason = str(self.rule.reasons(distance, flat, probs[first] - probs[second], None if dot else extent)[0])
        if self.guard is not None and reason in guard_lib.GUARDED:
            foreign = guard_lib.foreign_of_logits(self.guard._raw_one(mnist_image)[0][None], self.guard.temperature,
                                                  self.script)
            if guard_lib.guarded(foreign, logits[None], np.array([reason]), self.guard_rule["threshold"])[0]:
                reason = guard_lib.REASON
                runner_up = (str(foreign.script[0]), int(foreign.digit[0]), float(foreign.p_other[0]))
        candidates = (first, second) if reason == "unsure" else ()
        if candidates:
            reason = f"unsure between {first} and {second}"
        return Recognition(None if reason else first, float(probs[first]), probs, reason or None, mnist_image,
                           candidates, distance, float(extent), script=script, runner_up=runner_up)

    def _values(self, logits: np.ndarray) -> np.ndarray:
        """Return the ten values' logits: the model's own, or the any-script model's summed over scripts."""
        return logits if self.classes == NUM_CLASSES else scripts.value_logits(logits)

    def _scripts_read(self, logits: np.ndarray, digit: int) -> tuple[str, tuple[str, int, float] | None]:
        """Return the script read for ``digit`` and the best reading in another script (None below ``RUNNER_UP``).

        A one-script model reads its own script and has no runner-up.
        """
        if self.classes == NUM_CLASSES:
            return self.script, None
        probs = calibration.softmax(logits, self.temperature).reshape(len(scripts.SCRIPTS), NUM_CLASSES)
        best = int(probs[:, digit].argmax())
        others = probs.copy()
        others[best] = 0
        where = np.unravel_index(int(others.argmax()), others.shape)
        p = float(others[where])
        runner_up = (scripts.SCRIPTS[where[0]], int(where[1]), p) if p >= RUNNER_UP else None
        return scripts.SCRIPTS[best], runner_up

    def read_batch(self, x: np.ndarray, *, within: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return ``predict_batch``'s (N, 10) probabilities and (N,) the index in ``scripts.SCRIPTS`` of each image's script, in one pass.

        ``read_logits(class_logits(x), within=within)``: see there.
        """
        return self.read_logits(self.class_logits(x), within=within)

    def class_logits(self, x: np.ndarray) -> np.ndarray:
        """Return the model's raw logits (N, classes) for MNIST-format images: 60 for the any-script model.

        Run the model once and read the result several ways with ``read_logits``.
        """
        return self._raw_batch(x)[0]

    def read_logits(self, logits: np.ndarray, *, within: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (N, 10) probabilities and (N,) the index in ``scripts.SCRIPTS`` of each script read, from ``class_logits``.

        For the any-script model, the values summed over the scripts and the script of its most probable
        class; a one-script model reads its own. ``within`` tells the any-script model the script the
        images are in: the probabilities are then those of that script's ten classes alone, so no glyph
        of another script can take a digit (how much of its error the collisions across scripts are).
        ValueError for a one-script model.
        """
        if within is not None:
            if self.classes == NUM_CLASSES:
                raise ValueError(f"within={within!r} needs the any-script model; this one reads {self.script} only")
            i = scripts.SCRIPTS.index(scripts.check_name(within))
            own = logits[:, i * NUM_CLASSES:(i + 1) * NUM_CLASSES]
            return calibration.softmax(own, self.temperature), np.full(len(logits), i)
        probabilities = calibration.softmax(self._values(logits), self.temperature)
        if self.classes != NUM_CLASSES:
            return probabilities, scripts.read_any(logits)[1]
        return probabilities, np.full(len(logits), scripts.SCRIPTS.index(self.script) if self.script in scripts.SCRIPTS else 0)

    def predict(self, image) -> np.ndarray:
        """Return 10 probabilities for one raw image (any size, polarity; see ``to_mnist``)."""
        return self.read(image).probabilities

    def predict_prepared(self, mnist_image: np.ndarray) -> np.ndarray:
        """Return 10 probabilities for one image already in MNIST format (28, 28), uint8 or float in [0, 1]."""
        return calibration.softmax(self._values(self._raw_one(mnist_image)[0]), self.temperature)

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """Return (N, 10) probabilities for MNIST-format images (N, 28, 28), uint8 or float in [0, 1]."""
        return calibration.softmax(self.logits_and_features(x)[0], self.temperature)

    def logits_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the model's raw logits (N, 10) and classifier features (N, D) for MNIST-format images (N, 28, 28).

        No temperature is applied: these are what ``calibration.calibrate`` fits to. For the
        any-script model, the logits of the ten values (``scripts.value_logits``).
        """
        logits, features = self._raw_batch(x)
        return self._values(logits), features

    def _raw_batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the model's own logits (N, classes) and features (N, D), by the LiteRT batch call in chunks."""
        x = preprocess.to_model_input(x)
        if not len(x):
            width = self.model.layers[-1].input.shape[-1]
            return np.zeros((0, self.classes), np.float32), np.zeros((0, width), np.float32)
        out = [self._many(_padded(x[i:i + CHUNK], CHUNK)) for i in range(0, len(x), CHUNK)]
        return (np.concatenate([o[0] for o in out])[:len(x)], np.concatenate([o[1] for o in out])[:len(x)])

    def _raw_one(self, mnist_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the logits (classes,) and features (D,) of one MNIST-format image, by the LiteRT single-image call."""
        return self._one(preprocess.to_model_input(mnist_image))


@functools.lru_cache(maxsize=2)
def _shared_any_script(path: Path, sha256: str) -> Predictor:
    """Return the calibrated any-script Predictor of the file at ``path`` with this content (``sha256`` keys a changed file anew)."""
    return Predictor(path, script=scripts.ANY)


def _logits_and_features(model: keras.Model):
    """Return ``f(x) -> (logits, features)`` for a model whose last layer is its classifier.

    The features are what the last layer reads (for ``build_cnn``: the ``pool`` layer's
    output, as dropout is off at inference), computed by ``_folded_body``. For a softmax
    ``Dense`` classifier the logits are computed from its weights, exactly; otherwise they are
    the log-probabilities, which differ by a constant per image (enough for a temperature and the
    uniformity, not for an energy score).
    """
    last = model.layers[-1]
    body = _folded_body(model)
    if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
        def outputs(x):
            features = body(x)
            return tf.matmul(features, last.kernel) + (last.bias if last.use_bias else 0.0), features
    else:
        def outputs(x):
            features = body(x)
            return tf.math.log(tf.maximum(last(features, training=False), 1e-30)), features
    return outputs


def _litert_call(outputs, classes: int, *, batch: int, threads: int | None = None):
    """Return ``f(x) -> (logits (batch, classes), features (batch, D))`` for ``batch`` images (batch, 28, 28, 1), run by LiteRT.

    ``outputs`` (``_logits_and_features``) is traced for that one shape, its two results joined into
    one tensor (the converter renames outputs, so one output keeps them apart by position alone),
    and converted to a LiteRT flatbuffer (about half a second, once). For one image its interpreter
    runs in about a tenth of the time of a traced ``tf.function``, and for a batch, on ``threads``
    cores, in about half (``benchmarks/run.py`` measures both). The converter is not given the model: it
    then freezes every weight the function reads into the flatbuffer, whereas with the model it kept the
    weights of layers used as they are (not folded, as in the reference recipe's CNN) as variables, which
    the interpreter read as garbage (NaN). The converter's native log lines and its Python warning are silenced.
    """
    joined = tf.function(lambda x: tf.concat(outputs(x), axis=-1),
                         input_signature=[tf.TensorSpec((batch, *INPUT_SHAPE), tf.float32)])
    with silenced_stderr_fd(), quiet_logger("absl"):  # absl: the converter's deprecation warning, every call
        flat = tf.lite.TFLiteConverter.from_concrete_functions([joined.get_concrete_function()]).convert()
        interpreter = Interpreter(model_content=flat, num_threads=threads)
        interpreter.allocate_tensors()
    images = interpreter.get_input_details()[0]["index"]
    [result] = (o["index"] for o in interpreter.get_output_details())

    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        interpreter.set_tensor(images, np.asarray(x, np.float32))
        interpreter.invoke()
        both = interpreter.get_tensor(result)  # a copy: the next call cannot overwrite it
        return both[:, :classes], both[:, classes:]
    return run


def _padded(x: np.ndarray, n: int) -> np.ndarray:
    """Return ``x`` (k, ...) with zero images appended up to ``n``: the batch call takes a fixed number of images."""
    return x if len(x) == n else np.concatenate([x, np.zeros((n - len(x), *x.shape[1:]), x.dtype)])


def _folded_body(model: keras.Model):
    """Return ``f(x) -> features`` (what the last layer reads), each batch norm folded into the convolution before it.

    At inference a batch norm is a fixed scale and shift per channel, which Keras (and
    ``model.predict``) runs as separate passes over the activations: about a quarter of
    ``build_cnn``'s CPU time. Folded into the kernel and bias of the ``Conv2D`` it follows, it
    costs nothing (same outputs up to float rounding). This needs a chain of layers, each
    reading the one before (``build_cnn``, ``build_reference_cnn``); any other model runs as
    Keras builds it.
    """
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    tensors = [model.inputs[0], *(layer.output for layer in chain)]
    if len(model.inputs) != 1 or any(layer.input is not t for layer, t in zip(chain, tensors)):
        keras_body = keras.Model(model.inputs, model.layers[-1].input)
        return lambda x: keras_body(x, training=False)
    steps = []
    for layer in chain[:-1]:
        if steps and _foldable(steps[-1], layer):
            steps[-1] = _fold(steps[-1], layer)
        else:
            steps.append(layer)

    def features(x):
        for step in steps:
            x = step(x, training=False)
        return x
    return features


def _foldable(conv, norm) -> bool:
    """Return whether ``norm`` is a channels-last batch norm that ``_fold`` can fold into ``conv``, the layer before it."""
    return (isinstance(conv, keras.layers.Conv2D) and conv.activation is keras.activations.linear
            and conv.data_format == "channels_last" and isinstance(norm, keras.layers.BatchNormalization)
            and norm.axis in (-1, 3))


def _fold(conv: keras.layers.Conv2D, norm: keras.layers.BatchNormalization) -> keras.layers.Conv2D:
    """Return a new ``Conv2D`` computing ``norm(conv(x))`` at inference: the norm's scale and shift in its kernel and bias."""
    mean, variance = (np.asarray(w, np.float64) for w in (norm.moving_mean, norm.moving_variance))
    scale = (np.asarray(norm.gamma, np.float64) if norm.scale else 1.0) / np.sqrt(variance + norm.epsilon)
    bias = np.asarray(conv.bias, np.float64) if conv.use_bias else 0.0
    shift = (np.asarray(norm.beta, np.float64) if norm.center else 0.0) + (bias - mean) * scale
    folded = keras.layers.Conv2D.from_config({**conv.get_config(), "use_bias": True, "name": f"{conv.name}_folded"})
    folded.build((None, None, None, conv.kernel.shape[-2] * conv.groups))  # also for a conv folded before
    folded.set_weights([(np.asarray(conv.kernel, np.float64) * scale).astype(np.float32), shift.astype(np.float32)])
    return folded
