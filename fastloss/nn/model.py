"""`Sequential`: a stack of `Dense` and `Dropout` layers with Keras's compile / fit /
evaluate / predict, trained on the fastloss kernels."""

from __future__ import annotations

import math
import operator
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Literal, Union, overload

import numpy as np
import numpy.typing as npt

from .._validation import bool_flag, positive_int, real_interval, whole_number
from ._common import FloatArray, Workspace, float_dtype
from .callbacks import Callback, History, ProgressBar
from .layers import Dense, Dropout, InputLayer
from .losses import TrainingLoss, resolve_loss
from .metrics import Metric, get_metric
from .optimizers import Optimizer, get_optimizer

__all__ = ["Sequential", "set_random_seed"]

PathLike = Union[str, "os.PathLike[str]"]
Layer = Union[Dense, Dropout]


def _nonnegative(value: Any, name: str, what: str = "an int >= 0") -> int:
    return whole_number(value, name, 0, what)


def _check_loss_weights(loss_weights: Any) -> float:
    """compile's loss_weights for a model of one output: None (1), a number, or a
    list / dict of one number (Keras takes either form)."""
    value = loss_weights
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(
                "loss_weights: a fastloss.nn model has one output, so one weight, "
                f"got {len(value)}"
            )
        value = value[0]
    if value is None:
        return 1.0
    return real_interval(value, "loss_weights", 0.0, math.inf, False)


def _first_steps(steps: Any, n: int, batch_size: int, name: str) -> int:
    """How many samples `steps` batches cover (all `n` for None), or a ValueError
    when the data has fewer batches."""
    if steps is None:
        return n
    steps = positive_int(steps, name)
    have = math.ceil(n / batch_size)
    if steps > have:
        raise ValueError(
            f"{name}={steps}, but {n} samples in batches of {batch_size} make "
            f"{have} steps"
        )
    return steps * batch_size


def _optional_count(value: Any, name: str) -> int | None:
    return None if value is None else positive_int(value, name)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    return _nonnegative(seed, "seed", "None or an int >= 0")


# set_random_seed's generator: the seeds of fit and build when they are given none
_global_seeds: np.random.Generator | None = None


def set_random_seed(seed: int) -> None:
    """Make every later ``fit`` / ``build`` without a ``seed=`` reproducible, as
    Keras's ``keras.utils.set_random_seed``: each takes its seed from a generator
    seeded here (successive calls get different seeds, the same sequence every
    run). An explicit ``seed=`` still wins."""
    global _global_seeds
    _global_seeds = np.random.default_rng(_nonnegative(seed, "seed"))


def _streams(
    seed: int | None,
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators for the weight initialisation, the shuffling and
    the dropout masks, all from `seed` (`set_random_seed`'s next seed, or fresh
    entropy, for None). The first two are what they were before dropout existed:
    SeedSequence's children do not depend on how many are spawned."""
    if seed is None and _global_seeds is not None:
        seed = int(_global_seeds.integers(2**63))
    init, shuffle, drop = np.random.SeedSequence(seed).spawn(3)
    return (
        np.random.default_rng(init),
        np.random.default_rng(shuffle),
        np.random.default_rng(drop),
    )


def _verbosity(verbose: Any) -> int:
    """Keras's verbose: "auto" (1), 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _batch(batch_size: Any) -> int:
    """Keras's batch_size: None means 32."""
    return 32 if batch_size is None else positive_int(batch_size, "batch_size")


def _weights(w: Any, n: int, name: str) -> npt.NDArray[np.float64]:
    """Per-sample weights: finite, >= 0, shape (n,) (or (n, 1))."""
    try:
        arr = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have one weight per sample, shape ({n},), got {arr.shape}"
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must be finite and >= 0")
    return arr


def _class_of(ys: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Each sample's class, as Keras's class_weight reads it: the index, the
    arg-max of a row, or the rounded label of a one-column target."""
    if ys.ndim == 1:
        return ys.astype(np.int64)
    if ys.shape[1] == 1:
        return np.rint(ys[:, 0]).astype(np.int64)
    return np.argmax(ys, axis=1)


def _class_weights(class_weight: Any, ys: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """The weight of each sample's class (1 for a class the dict does not
    name, as Keras)."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            "class_weight must be a dict {class index: weight}, got "
            f"{type(class_weight).__name__}"
        )
    table: dict[int, float] = {}
    for k, v in class_weight.items():
        try:
            key = operator.index(k)
            value = float(v)
        except TypeError:
            raise TypeError(
                f"class_weight must map class indices to numbers, got {k!r}: {v!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"class_weight[{k!r}] = {v!r} must be finite and >= 0")
        table[key] = value
    cls = _class_of(ys)
    top = max([*table, int(cls.max(initial=0))]) + 1
    lookup = np.ones(max(top, 1))
    for k, v in table.items():
        if k >= 0:
            lookup[k] = v
    return lookup[np.clip(cls, 0, lookup.shape[0] - 1)]


def _features(x: npt.ArrayLike, name: str, dtype: np.dtype[Any]) -> FloatArray:
    """`x` as a finite C-contiguous (n_samples, n_features) array of `dtype`."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (one feature per sample: x.reshape(-1, 1))" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D, (n_samples, n_features), got shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    with np.errstate(over="ignore"):  # reported below, with the position
        out = np.ascontiguousarray(arr, dtype=dtype)
    bad = ~np.isfinite(out)
    if bad.any():
        i, j = (int(k) for k in np.unravel_index(int(np.argmax(bad)), bad.shape))
        cause = ""
        if np.isfinite(arr[i, j]):
            cause = f" after conversion to {dtype} (out of its range)"
        raise ValueError(
            f"{name}[{i}, {j}] is {out[i, j]}{cause}: inputs must be finite (no NaN "
            "or inf); nothing was trained"
        )
    return out


class Sequential:
    """A stack of `Dense` and `Dropout` layers trained with a fastloss loss kernel.

    Parameters
    ----------
    layers : sequence of Dense and Dropout, optional
        The layers, input first, optionally after an `Input` / `InputLayer`
        that declares the input width. The last one emits logits for the
        classification losses, or has Keras's ``activation="softmax"`` (or
        ``"sigmoid"``) that `compile` fuses into the matching cross-entropy.
    dtype : {"float32", "float64"}, default="float32"
        Of the weights, activations and gradients; inputs are converted to it
        once per `fit`.
    name : str, default="sequential"

    Notes
    -----
    The weights are created on the first `fit` (or `build`), when the input
    width is known; ``fit(seed=...)`` makes that initialisation and the
    shuffling reproducible: the same seed gives bit-identical weights and
    predictions on the same machine (the fastloss kernels are bit-identical for
    any thread count; BLAS's matmul is deterministic for a fixed thread count).

    Every training step runs in buffers allocated on the first batch: the batch
    is gathered with ``np.take(..., out=)``, each layer multiplies with
    ``np.matmul(..., out=)``, the loss kernel writes the gradient with respect
    to the logits into a reused buffer (``out=``) and the optimizers update in
    place.

    Examples
    --------
    >>> import numpy as np
    >>> from fastloss.nn import Sequential, Dense, Adam
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((256, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> model = Sequential([Dense(16, activation="relu"), Dense(2)])
    >>> model.compile(optimizer=Adam(learning_rate=1e-2),
    ...               loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> hist = model.fit(X, y, epochs=20, batch_size=32, verbose=0, seed=0)
    >>> hist.history["accuracy"][-1] > 0.9
    True
    >>> model.predict(X[:2]).shape  # class probabilities
    (2, 2)
    """

    def __init__(
        self,
        layers: Sequence[Layer | InputLayer] | None = None,
        *,
        dtype: npt.DTypeLike = "float32",
        name: str = "sequential",
    ) -> None:
        self.dtype = float_dtype(dtype)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self.name = name
        self.layers: list[Layer] = []
        self._input_width: int | None = None  # from an InputLayer
        self.optimizer: Optimizer | None = None
        self.loss: TrainingLoss | None = None
        self.metrics: list[Metric] = []
        self._weighted_names: list[Any] = []
        self.stop_training = False
        self.history: History | None = None
        self._params: list[FloatArray] = []
        self._grads: list[FloatArray] = []
        self._ws = Workspace()  # the gathered batch and the loss gradient
        self._metric_ws = Workspace()
        self._loss_seconds = 0.0
        self._loss_weight = 1.0  # compile(loss_weights=)
        if layers is not None:
            if isinstance(layers, (Dense, Dropout)) or not isinstance(layers, Sequence):
                raise TypeError("layers must be a list of layers")
            for layer in layers:
                self.add(layer)

    # ---- structure -------------------------------------------------------------------

    def add(self, layer: Layer | InputLayer) -> None:
        """Append a layer (before the model is built); an `InputLayer` only as
        the first."""
        if isinstance(layer, InputLayer):
            if self.layers or self._input_width is not None:
                raise ValueError("an Input / InputLayer must come first, and once")
            self._input_width = layer.width
            return
        if not isinstance(layer, (Dense, Dropout)):
            raise TypeError(
                f"layers must be Dense or Dropout, got {type(layer).__name__}"
            )
        if self.built:
            raise ValueError("cannot add a layer to a built model")
        if any(layer is other for other in self.layers):
            raise ValueError("this layer is already in the model")
        if layer.built:
            raise ValueError("the layer is already built (it belongs to a model)")
        if layer.name is None:
            taken = {other.name for other in self.layers}
            base = "dense" if isinstance(layer, Dense) else "dropout"
            k = 0
            while (candidate := base if k == 0 else f"{base}_{k}") in taken:
                k += 1
            layer.name = candidate
        self.layers.append(layer)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def compiled(self) -> bool:
        return self.loss is not None

    @property
    def input_dim(self) -> int | None:
        if self._input_width is not None:
            return self._input_width
        return self.layers[0].input_dim if self.layers else None

    @property
    def output_dim(self) -> int:
        for layer in reversed(self.layers):
            if isinstance(layer, Dense):
                return layer.units
        raise ValueError("the model has no Dense layer")

    def build(self, input_dim: int | None = None, *, seed: int | None = None) -> None:
        """Create the weights for inputs of width `input_dim` (default: the
        first layer's ``input_dim``). ``build(d, seed=s)`` draws the same weights
        as ``fit(..., seed=s)`` on an unbuilt model. Nothing happens if the model
        is already built for that width.
        """
        if not self.layers:
            raise ValueError("the model has no layers")
        if input_dim is None:
            input_dim = self.input_dim
            if input_dim is None:
                raise ValueError(
                    "build needs input_dim (or Dense(..., input_dim=) on the first "
                    "layer)"
                )
        input_dim = positive_int(input_dim, "input_dim")
        init_rng, _, drop_rng = _streams(_check_seed(seed))
        self._check_input_dim(input_dim, "input_dim")
        if not self.built:
            self._build(input_dim, init_rng, drop_rng)

    def _build(
        self,
        input_dim: int,
        rng: np.random.Generator,
        drop_rng: np.random.Generator | None = None,
    ) -> None:
        self.output_dim  # noqa: B018 - raises for a model without a Dense layer
        if drop_rng is None:
            drop_rng = np.random.default_rng()
        d = input_dim
        for layer in self.layers:
            layer.build(d, self.dtype, rng if isinstance(layer, Dense) else drop_rng)
            d = layer.output_width(d)
        self._params = [p for layer in self.layers for p in layer.params()]
        self._grads = [g for layer in self.layers for g in layer.grads()]

    def _check_input_dim(self, width: int, name: str) -> None:
        expected = self.input_dim
        if expected is not None and width != expected:
            raise ValueError(
                f"{name} has {width} features but the model takes {expected} "
                f"(its first layer's input_dim)"
            )

    def count_params(self) -> int:
        """The number of weights (the model must have a known input width)."""
        if self.input_dim is None:
            raise ValueError("the input width is not known yet: build or fit first")
        total, d = 0, self.input_dim
        for layer in self.layers:
            total += layer.count_params(d)
            d = layer.output_width(d)
        return total

    def get_config(self) -> dict[str, Any]:
        """The architecture, as a JSON-able dict."""
        config: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype.name,
            "layers": [layer.get_config() for layer in self.layers],
        }
        if self._input_width is not None:
            config["input_dim"] = self._input_width
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new, unbuilt model with the architecture of `get_config`."""
        layers: list[Layer | InputLayer] = [
            Dropout.from_config(c)
            if c.get("class") == "Dropout"
            else Dense.from_config(c)
            for c in config["layers"]
        ]
        if config.get("input_dim") is not None:
            layers.insert(0, InputLayer((config["input_dim"],)))
        return cls(layers, dtype=config["dtype"], name=config["name"])

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], dtype={self.dtype.name!r})"

    # ---- weights ---------------------------------------------------------------------

    def get_weights(self) -> list[FloatArray]:
        """Copies of the weights, Keras's order: each layer's kernel, then bias."""
        self._require_built("get_weights")
        return [p.copy() for p in self._params]

    def set_weights(self, weights: Sequence[npt.ArrayLike]) -> None:
        """Copy `weights` (`get_weights` order) into the model's arrays, cast to
        its dtype. An unbuilt model is built for the width of the first kernel.

        Raises
        ------
        ValueError
            When the number or a shape of the arrays does not fit the model;
            nothing is changed.
        """
        arrays = [np.asarray(w) for w in weights]
        if not self.layers:
            raise ValueError("the model has no layers")
        width = self.input_dim
        if width is None:
            if not arrays or arrays[0].ndim != 2:
                raise ValueError("the first weight must be a 2-D kernel")
            width = arrays[0].shape[0]
        expected = _weight_shapes(self.layers, width)
        if len(arrays) != len(expected):
            raise ValueError(
                f"the model has {len(expected)} weight arrays, got {len(arrays)}"
            )
        for i, (a, shape) in enumerate(zip(arrays, expected)):
            if a.shape != shape:
                raise ValueError(
                    f"weight {i} has shape {a.shape}, the model's has shape {shape}"
                )
            if a.dtype.kind not in "biuf" or not np.isfinite(a).all():
                raise ValueError(f"weight {i} must be finite numbers")
        if not self.built:
            self._build(width, np.random.default_rng(0))  # overwritten just below
        for p, a in zip(self._params, arrays):
            np.copyto(p, a, casting="unsafe")

    # ---- compile ---------------------------------------------------------------------

    def compile(
        self,
        optimizer: str | Optimizer = "adam",
        loss: str | Callable[..., Any] | Any = None,
        metrics: Sequence[Any] | None = None,
        weighted_metrics: Sequence[Any] | None = None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile: bool | str = "auto",
        auto_scale_loss: bool = True,
        *,
        loss_weights: Any = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics.

        Parameters
        ----------
        optimizer : {"sgd", "adam", "adamw"} or Optimizer, default="adam"
            A name gives the optimizer with Keras's defaults.
        loss : str or fastloss.losses.Loss or fastloss loss function
            A Keras name ("sparse_categorical_crossentropy",
            "categorical_crossentropy", "binary_crossentropy", "mse", "mae",
            "huber", "log_cosh", "binary_focal_crossentropy"), a fastloss name
            ("softmax_cross_entropy", "huber_loss", "smooth_l1_loss", ...), a
            `fastloss.losses` instance with ``from_logits=True`` where it has the
            option (its options, e.g. label smoothing, are used), or a fastloss
            function. The classification losses take the model's output as
            logits: ``"binary_crossentropy"`` is binary cross-entropy *with
            logits* here, not on probabilities as Keras's string means. See
            `fastloss.nn.losses`.
        metrics : list of str, optional
            "accuracy" (picked by the loss, as Keras does),
            "sparse_categorical_accuracy", "categorical_accuracy",
            "binary_accuracy", "mae", "mse", "rmse", "auc", or `AUC()` /
            `RootMeanSquaredError()`. See `fastloss.nn.metrics`.
        weighted_metrics : list of str, optional
            The same metrics, weighted by ``fit``'s ``sample_weight`` and
            ``class_weight`` (and ``evaluate``'s ``sample_weight``); logged under
            their names, with a "weighted_" prefix where `metrics` has the same.
        run_eagerly, steps_per_execution, jit_compile, auto_scale_loss
            Keras's, accepted so that Keras code runs unchanged, and checked
            (a bool; an int >= 1; a bool or "auto"; a bool); they change nothing:
            fastloss.nn always runs step by step in NumPy and C, compiles
            nothing, and has no mixed precision to scale for.
        loss_weights : None, float, or a list or dict of one float, keyword only
            Keras's weight of each output's loss: a model has one output here,
            and its loss (and gradient) is multiplied by the weight, as in Keras.

        Notes
        -----
        Keras's own model: a last layer ``Dense(k, activation="softmax")`` with
        "sparse_categorical_crossentropy" or "categorical_crossentropy" (a name,
        or a class with ``from_logits=False``), or ``activation="sigmoid"`` with
        "binary_crossentropy" / "binary_focal_crossentropy", is *fused*: the
        loss kernel receives the layer's pre-activation logits and the
        activation is not computed in training, exactly as Keras does
        internally; `predict` still returns the probabilities. Without such an
        activation a name takes the outputs as logits, and a
        ``from_logits=False`` class is refused; a probability loss after another
        activation (say a sigmoid before a softmax cross-entropy) is refused.

        Raises
        ------
        ValueError, TypeError
            For an unknown or unsuitable optimizer, loss or metric; the model is
            left as it was.
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'")
        bool_flag(run_eagerly, "run_eagerly")
        bool_flag(auto_scale_loss, "auto_scale_loss")
        positive_int(steps_per_execution, "steps_per_execution")
        if not (isinstance(jit_compile, (bool, np.bool_)) or jit_compile == "auto"):
            raise TypeError(
                f"jit_compile must be a bool or 'auto', got {jit_compile!r}"
            )
        scale = _check_loss_weights(loss_weights)
        opt = get_optimizer(optimizer)
        resolved = resolve_loss(loss)
        fuse = False
        if self.layers:
            resolved.check_units(self.output_dim)
            fuse = _fuses(self.layers[-1], resolved)
        lists = []
        for arg, what in ((metrics, "metrics"), (weighted_metrics, "weighted_metrics")):
            arg = [] if arg is None else arg
            if isinstance(arg, str) or not isinstance(arg, Sequence):
                raise TypeError(f"{what} must be a list of names, e.g. ['accuracy']")
            lists.append(list(arg))
        built = [get_metric(m, resolved) for m in lists[0]]
        plain = {m.name for m in built}
        for m in lists[1]:
            name = m if isinstance(m, str) else getattr(m, "name", None)
            log = f"weighted_{name}" if name in plain else None
            built.append(get_metric(m, resolved, weighted=True, log_name=log))
        names = [m.name for m in built]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"metric names must be unique, got {names}")
        self.optimizer, self.loss, self.metrics = opt, resolved, built
        self._loss_weight = scale
        self._weighted_names = lists[1]
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.fused_output = False
        if fuse:
            assert isinstance(self.layers[-1], Dense)
            self.layers[-1].fused_output = True

    def _compile_config(self) -> dict[str, Any]:
        assert self.optimizer is not None and self.loss is not None
        return {
            "optimizer": {
                "class": type(self.optimizer).__name__,
                "config": self.optimizer.get_config(),
            },
            "loss": self.loss.get_config(),
            "metrics": [m.name for m in self.metrics if not m.weighted],
            "weighted_metrics": [
                m if isinstance(m, str) else m.name for m in self._weighted_names
            ],
            "loss_weights": self._loss_weight,
        }

    def _require_compiled(self, what: str) -> TrainingLoss:
        if self.loss is None or self.optimizer is None:
            raise RuntimeError(
                f"{what} needs a compiled model: call model.compile(optimizer=..., "
                "loss=...) first"
            )
        if not self.layers:
            raise ValueError("the model has no layers")
        return self.loss

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise RuntimeError(
                f"{what}: the model has no weights yet; call fit() or "
                "build(input_dim, seed=...) first"
            )

    # ---- data ------------------------------------------------------------------------

    def _prepare(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        what: str,
        names: tuple[str, str] = ("x", "y"),
    ) -> tuple[FloatArray, npt.NDArray[Any]]:
        """Inputs and targets checked and converted once (see `fit`)."""
        loss = self._require_compiled(what)
        xs = _features(x, names[0], self.dtype)
        self._check_input_dim(xs.shape[1], names[0])
        try:
            y = np.asarray(y)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{names[1]} must be a numeric array: {exc}") from None
        n_y = y.shape[0] if y.ndim else None
        if n_y is not None and n_y != xs.shape[0]:
            raise ValueError(
                f"{names[0]} has {xs.shape[0]} samples but {names[1]} has {n_y}"
            )
        ys = loss.prepare_target(y, self.output_dim, self.dtype, names[1])
        if ys.shape[0] != xs.shape[0]:
            raise ValueError(
                f"{names[0]} has {xs.shape[0]} samples but {names[1]} has {ys.shape[0]}"
            )
        return xs, ys

    # ---- the training step -----------------------------------------------------------

    def _forward(self, x: FloatArray, training: bool = False) -> FloatArray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def _forward_backward(
        self,
        xb: FloatArray,
        yb: npt.NDArray[Any],
        wb: npt.NDArray[np.float64] | None = None,
    ) -> float:
        """Loss of one batch (each sample's weighted by `wb`); fills every
        layer's gradients. Training metrics are updated from the logits before
        the loss kernel runs."""
        assert self.loss is not None
        logits = self._forward(xb, training=True)
        for metric in self.metrics:
            metric.update(logits, yb, self._metric_ws, wb)
        grad = self._ws.get("grad", xb.shape[0], (self.output_dim,), self.dtype)
        t0 = time.perf_counter()
        loss = self.loss.loss_and_grad(logits, yb, grad, wb)
        if self._loss_weight != 1.0:  # compile(loss_weights=)
            loss *= self._loss_weight
            grad *= self._loss_weight
        self._loss_seconds += time.perf_counter() - t0
        delta: FloatArray | None = grad
        for i in range(len(self.layers) - 1, -1, -1):
            assert delta is not None
            delta = self.layers[i].backward(delta, need_input_grad=i > 0)
        return loss

    def loss_and_gradients(
        self, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[float, list[FloatArray]]:
        """The loss of ``(x, y)`` as one batch and its gradient with respect to
        every weight (`get_weights` order; copies), by the same forward and
        backward passes as a training step, without updating anything.
        """
        xs, ys = self._prepare(x, y, "loss_and_gradients")
        self._require_built("loss_and_gradients")
        saved = [(m.total, m.count) for m in self.metrics]
        loss = self._forward_backward(xs, ys)
        for m, (total, count) in zip(self.metrics, saved):
            m.total, m.count = total, count
        return loss, [g.copy() for g in self._grads]

    # ---- fit -------------------------------------------------------------------------

    def fit(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool = True,
        class_weight: Mapping[int, float] | None = None,
        sample_weight: npt.ArrayLike | None = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
        *,
        seed: int | None = None,
    ) -> History:
        """Train from epoch `initial_epoch` up to epoch `epochs` over ``(x, y)``.

        The arguments are Keras's, in Keras's order.

        Parameters
        ----------
        x : array_like of shape (n_samples, n_features)
            Finite numbers; converted once to the model's dtype.
        y : array_like
            Class indices of shape (n_samples,) for "sparse_categorical_
            crossentropy"; rows of shape (n_samples, units) for
            "categorical_crossentropy" (probabilities), "binary_crossentropy"
            (labels in [0, 1]) and regression; a one-unit model also takes
            shape (n_samples,), as Keras does.
        batch_size : int, default=None (32)
            The last batch of an epoch holds the remainder.
        epochs : int, default=1
            The index of the last epoch: training runs ``epochs -
            initial_epoch`` epochs (none if that is not positive), as Keras.
        verbose : {"auto", 0, 1, 2}, default="auto" (1)
            0 silent; 1 a progress bar per epoch on a terminal, one line per
            epoch elsewhere (a file, a pipe); 2 one line per epoch. Every loss
            and metric is shown at any terminal width (see `ProgressBar`).
        callbacks : list of Callback, optional
            Called in the given order, before the `History` and the progress bar.
        validation_split : float in [0, 1), default=0.0
            The fraction of the samples, taken from the end of ``(x, y)`` (and
            `sample_weight`) before any shuffling (as Keras), held out for
            validation.
        validation_data : (x_val, y_val) or (x_val, y_val, sample_weight_val)
            Evaluated after each epoch ("val_" entries in the logs). Takes
            precedence over `validation_split`, as in Keras.
        shuffle : bool, default=True
            Reshuffle the training samples every epoch.
        class_weight : dict of int to float, optional
            Multiplies each sample's loss by the weight of its class (the class
            index, the arg-max of a target row, or the 0/1 label of a one-unit
            model); classes it does not name weigh 1.
        sample_weight : array_like of shape (n_samples,), optional
            Multiplies each sample's loss (and the class weight). The batch loss
            is Keras's: the sum of the weighted losses over the batch size.
        initial_epoch : int, default=0
            The epoch to start at (to resume a run): the logs and callbacks count
            from it.
        steps_per_epoch : int, optional
            Train on only the first `steps_per_epoch` batches of each epoch's
            (shuffled) order; at most the number of batches in the data (Keras
            stops with a warning when arrays run out; this is an error before
            training).
        validation_steps : int, optional
            Evaluate only the first `validation_steps` batches of the validation
            data (at most their number).
        validation_batch_size : int, optional
            The batch size of the validation (default: `batch_size`).
        validation_freq : int, default=1
            Validate after every `validation_freq`-th epoch (epochs counted from
            1, as Keras: with 2, after the 2nd, 4th, ...).
        seed : int, optional
            Seeds the initialisation of the weights (if the model is not built
            yet), the shuffling and the dropout masks; the same seed gives
            bit-identical results. A fastloss.nn argument (keyword only).

        Returns
        -------
        History
            ``.history`` (per-epoch "loss", metrics, "val_loss", "val_<metric>"),
            ``.epoch``, ``.params`` and ``.timings`` ("total" and "loss" seconds,
            "steps"). Also kept as ``model.history``.

        Raises
        ------
        RuntimeError
            When the model is not compiled.
        ValueError, TypeError
            For bad arguments or data: lengths that differ, labels the loss
            cannot take (a class index outside ``[0, units)``, a non-integer class
            index, a binary label outside [0, 1]), NaN or inf in the inputs or
            weights, a feature count the model does not take, an EarlyStopping
            monitor that will not be logged. All checked before anything is
            changed.
        """
        t_start = time.perf_counter()
        self._require_compiled("fit")
        assert self.optimizer is not None
        epochs = positive_int(epochs, "epochs")
        batch_size = _batch(batch_size)
        verbose = _verbosity(verbose)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
        initial_epoch = _nonnegative(initial_epoch, "initial_epoch")
        max_steps = _optional_count(steps_per_epoch, "steps_per_epoch")
        val_steps = _optional_count(validation_steps, "validation_steps")
        val_batch = (
            batch_size
            if validation_batch_size is None
            else positive_int(validation_batch_size, "validation_batch_size")
        )
        validation_freq = positive_int(validation_freq, "validation_freq")
        seed = _check_seed(seed)
        try:
            split = float(validation_split)
        except (TypeError, ValueError):
            raise TypeError(
                f"validation_split must be a float, got {validation_split!r}"
            ) from None
        if not 0.0 <= split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {split}")

        xs, ys = self._prepare(x, y, "fit")
        n_all = xs.shape[0]
        weights: npt.NDArray[np.float64] | None = None
        if sample_weight is not None:
            weights = _weights(sample_weight, n_all, "sample_weight")
        if class_weight is not None:
            cw = _class_weights(class_weight, ys)
            weights = cw if weights is None else weights * cw
        val: tuple[FloatArray, npt.NDArray[Any], Any] | None = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(
                validation_data
            ) not in (2, 3):
                raise ValueError(
                    "validation_data must be (x_val, y_val) or (x_val, y_val, "
                    "sample_weight_val)"
                )
            vx, vy = self._prepare(
                validation_data[0],
                validation_data[1],
                "fit",
                ("validation_data[0]", "validation_data[1]"),
            )
            vw = None
            if len(validation_data) == 3 and validation_data[2] is not None:
                vw = _weights(validation_data[2], vx.shape[0], "validation_data[2]")
            val = (vx, vy, vw)
        elif split:
            at = int(math.floor(n_all * (1.0 - split)))
            if at < 1 or at >= n_all:
                raise ValueError(
                    f"validation_split={validation_split} of {n_all} samples "
                    "leaves an empty training or validation set"
                )
            # Keras weighs neither the held-out samples' loss by class_weight nor
            # by sample_weight: only validation_data's own third element does.
            val = (xs[at:], ys[at:], None)
            xs, ys = xs[:at], ys[:at]
            if weights is not None:
                weights = weights[:at]

        user = self._hooked(callbacks)
        history = History()
        every: list[Callback] = [*user, history]
        if verbose and not any(isinstance(cb, ProgressBar) for cb in user):
            every.append(ProgressBar(verbose))
        n = xs.shape[0]
        steps = math.ceil(n / batch_size)
        if max_steps is not None:
            _first_steps(max_steps, n, batch_size, "steps_per_epoch")
            steps = max_steps
        if val is not None and val_steps is not None:
            n_val = val[0].shape[0]
            end = _first_steps(val_steps, n_val, val_batch, "validation_steps")
            val = (
                val[0][:end],
                val[1][:end],
                None if val[2] is None else val[2][:end],
            )
        names = ["loss", *(m.name for m in self.metrics)]
        keys = names + ([f"val_{k}" for k in names] if val is not None else [])
        params: dict[str, Any] = {
            "epochs": epochs,
            "steps": steps,
            "batch_size": batch_size,
            "samples": n,
            "verbose": verbose,
            "metrics": keys,
        }
        for cb in every:
            cb.set_model(self)
            cb.set_params(params)

        # ---- every check has passed: training starts
        init_rng, shuffle_rng, drop_rng = _streams(seed)
        if not self.built:
            self._build(xs.shape[1], init_rng, drop_rng)
        else:
            for layer in self.layers:
                if isinstance(layer, Dropout) and layer.seed is None:
                    layer._rng = drop_rng
        self.stop_training = False
        self.history = history
        self._loss_seconds = 0.0
        taken = 0
        width = xs.shape[1]
        order = np.arange(n)
        for cb in every:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in every:
                cb.on_epoch_begin(epoch)
            if shuffle:
                order = shuffle_rng.permutation(n)
            for m in self.metrics:
                m.reset()
            loss_sum, seen = 0.0, 0
            for step in range(steps):
                idx = order[step * batch_size : (step + 1) * batch_size]
                b = idx.shape[0]
                xb = self._ws.get("x", b, (width,), self.dtype)
                yb = self._ws.get("y", b, ys.shape[1:], ys.dtype)
                np.take(xs, idx, axis=0, out=xb, mode="clip")  # clip: no buffering
                np.take(ys, idx, axis=0, out=yb, mode="clip")
                wb = None if weights is None else weights[idx]
                loss = self._forward_backward(xb, yb, wb)
                self.optimizer.step(self._params, self._grads)
                taken += 1
                loss_sum += loss * b
                seen += b
                logs = {"loss": loss_sum / seen}
                for m in self.metrics:
                    logs[m.name] = m.result()
                for cb in every:
                    cb.on_batch_end(step, logs)
                if self.stop_training:
                    break
            logs = {"loss": loss_sum / seen}
            for m in self.metrics:
                logs[m.name] = m.result()
            if val is not None and (epoch + 1) % validation_freq == 0:
                for k, v in self._evaluate(*val, val_batch).items():
                    logs[f"val_{k}"] = v
            for cb in every:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in every:
            cb.on_train_end()
        history.params = params
        history.timings = {
            "total": time.perf_counter() - t_start,
            "loss": self._loss_seconds,
            "steps": taken,
        }
        return history

    # ---- evaluate and predict --------------------------------------------------------

    def _evaluate(
        self,
        xs: FloatArray,
        ys: npt.NDArray[Any],
        ws: npt.NDArray[np.float64] | None,
        batch_size: int,
    ) -> dict[str, float]:
        assert self.loss is not None
        for m in self.metrics:
            m.reset()
        total = 0.0
        n = xs.shape[0]
        for start in range(0, n, batch_size):
            xb, yb = xs[start : start + batch_size], ys[start : start + batch_size]
            wb = None if ws is None else ws[start : start + batch_size]
            logits = self._forward(xb)
            t0 = time.perf_counter()
            total += self.loss.loss(logits, yb, wb) * self._loss_weight * xb.shape[0]
            self._loss_seconds += time.perf_counter() - t0
            for m in self.metrics:
                m.update(logits, yb, self._metric_ws, wb)
        out = {"loss": total / n}
        for m in self.metrics:
            out[m.name] = m.result()
        return out

    @overload
    def evaluate(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        batch_size: int | None = ...,
        verbose: int | str = ...,
        sample_weight: npt.ArrayLike | None = ...,
        steps: int | None = ...,
        callbacks: Sequence[Callback] | None = ...,
        *,
        return_dict: Literal[True],
    ) -> dict[str, float]: ...

    @overload
    def evaluate(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        batch_size: int | None = ...,
        verbose: int | str = ...,
        sample_weight: npt.ArrayLike | None = ...,
        steps: int | None = ...,
        callbacks: Sequence[Callback] | None = ...,
        *,
        return_dict: Literal[False] = ...,
    ) -> float | list[float]: ...

    def evaluate(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: npt.ArrayLike | None = None,
        steps: int | None = None,
        callbacks: Sequence[Callback] | None = None,
        *,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """The loss and metrics on ``(x, y)``: means over all samples, computed
        `batch_size` (default 32) samples at a time. Checks as `fit`.

        As Keras: the loss alone (a float) when the model has no metrics, else
        the list ``[loss, *metrics]`` in the order of ``metrics_names``; with
        ``return_dict=True`` the dict ``{"loss": ..., "<metric>": ...}``.
        `sample_weight` (shape (n_samples,)) weighs the loss as in `fit` and the
        weighted metrics. `verbose` ("auto" is 1): 0 prints nothing, 1 and 2 a
        line with the results, as Keras's last progress line. `steps` evaluates
        only the first `steps` batches (at most their number); `callbacks` get
        ``on_test_begin`` and ``on_test_end`` (with the results), as Keras's.
        """
        batch_size = _batch(batch_size)
        verbose = _verbosity(verbose)
        xs, ys = self._prepare(x, y, "evaluate")
        self._require_built("evaluate")
        ws = None
        if sample_weight is not None:
            ws = _weights(sample_weight, xs.shape[0], "sample_weight")
        end = _first_steps(steps, xs.shape[0], batch_size, "steps")
        xs, ys, ws = xs[:end], ys[:end], None if ws is None else ws[:end]
        every = self._hooked(callbacks)
        for cb in every:
            cb.on_test_begin()
        t0 = time.perf_counter()
        out = self._evaluate(xs, ys, ws, batch_size)
        for cb in every:
            cb.on_test_end(dict(out))
        if verbose:
            steps = math.ceil(xs.shape[0] / batch_size)
            took = time.perf_counter() - t0
            items = [f"{steps}/{steps}", f"{took:.0f}s"]
            items += [f"{k}: {v:.4f}" for k, v in out.items()]
            print(" - ".join(items))
        if return_dict:
            return out
        values = list(out.values())
        return values[0] if len(values) == 1 else values

    @property
    def metrics_names(self) -> list[str]:
        """ "loss", then the metrics' log names: the order of `evaluate`'s list."""
        return ["loss", *(m.name for m in self.metrics)]

    def _predict_input(
        self, x: npt.ArrayLike, batch_size: int, steps: int | None = None
    ) -> FloatArray:
        """`x` checked and converted once, cut to its first `steps` batches."""
        self._require_built("predict")
        xs = _features(x, "x", self.dtype)
        xs = xs[: _first_steps(steps, xs.shape[0], batch_size, "steps")]
        self._check_input_dim(xs.shape[1], "x")
        return xs

    def _predict(self, xs: FloatArray, batch_size: int, activate: bool) -> FloatArray:
        """The outputs for `xs` from `_predict_input`."""
        n, units = xs.shape[0], self.output_dim
        out = np.empty((n, units), dtype=self.dtype)
        last = self.layers[-1]
        fused = isinstance(last, Dense) and last.fused_output
        # the logits: the last layer's pre-activation when it is fused (the
        # activation is then the loss's), its output otherwise
        logits_out = fused or last.activation == "linear"
        for start in range(0, n, batch_size):
            logits = self._forward(xs[start : start + batch_size])
            dest = out[start : start + batch_size]
            if activate and logits_out and self.loss is not None:
                self.loss.activate(logits, dest)
            else:
                np.copyto(dest, logits)
        return out

    def predict(
        self,
        x: npt.ArrayLike,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        callbacks: Sequence[Callback] | None = None,
    ) -> FloatArray:
        """The model's predictions for `x`, `batch_size` (default 32) rows at a
        time, as an array of shape (n_samples, units) in the model's dtype.

        As Keras's ``predict`` returns the activated outputs, this applies what
        the loss applies to the logits: the softmax for the softmax
        cross-entropies (class probabilities, rows summing to 1), the sigmoid for
        the binary ones (probabilities of 1), nothing for regression; a last
        layer with its own activation gives that activation's output. An
        uncompiled model returns the last layer's outputs. See `predict_logits`.
        `verbose` is checked and otherwise ignored: nothing is printed. `steps`
        predicts only the first `steps` batches; `callbacks` get
        ``on_predict_begin`` and ``on_predict_end``, as Keras's.
        """
        _verbosity(verbose)
        batch_size = _batch(batch_size)
        every = self._hooked(callbacks)
        xs = self._predict_input(x, batch_size, steps)
        for cb in every:
            cb.on_predict_begin()
        out = self._predict(xs, batch_size, activate=True)
        for cb in every:
            cb.on_predict_end()
        return out

    def _hooked(self, callbacks: Sequence[Callback] | None) -> list[Callback]:
        """evaluate's and predict's callbacks, checked, given the model."""
        every = list(callbacks or [])
        for cb in every:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be Callback instances, got {type(cb).__name__}"
                )
            cb.set_model(self)
        return every

    def predict_logits(
        self, x: npt.ArrayLike, batch_size: int | None = None
    ) -> FloatArray:
        """The raw outputs of the last layer: its pre-activation (the logits)
        when its softmax or sigmoid is fused into the loss, else its outputs,
        `batch_size` rows at a time, shape (n_samples, units)."""
        batch = _batch(batch_size)
        return self._predict(self._predict_input(x, batch), batch, activate=False)

    # ---- summary and files -----------------------------------------------------------

    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print a table of the layers, their output shapes and parameter counts.

        As Keras: printed once (with `print_fn`, default `print`, given the whole
        table as one string) and None returned, so a notebook shows it once.
        """
        rows = [("Layer (type)", "Output Shape", "Activation", "Param #")]
        d = self.input_dim
        for layer in self.layers:
            count = "?" if d is None else f"{layer.count_params(d):,}"
            if isinstance(layer, Dense):
                d = layer.units  # known before the input width is
            elif d is not None:
                d = layer.output_width(d)
            activation = layer.activation
            if isinstance(layer, Dense) and layer.fused_output:
                activation += " (in the loss)"
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    f"(None, {'?' if d is None else d})",
                    activation,
                    count,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]

        def fmt(r: tuple[str, str, str, str]) -> str:
            return (
                f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   "
                f"{r[2]:<{widths[2]}}   {r[3]:>{widths[3]}}"
            )

        rule = "=" * len(fmt(rows[0]))
        lines = [f'Model: "{self.name}" ({self.dtype.name})', fmt(rows[0]), rule]
        lines += [fmt(r) for r in rows[1:]]
        lines.append(rule)
        if self.input_dim is None:
            lines.append("Total params: unknown until the input width is (fit/build)")
        else:
            lines.append(
                f"Total params: {self.count_params():,} (input width {self.input_dim})"
            )
        if self.loss is not None:
            out = self.loss.output
            applied = "" if out == "identity" else f"; predict applies the {out}"
            lines.append(f"Loss: {self.loss.name} ({self.loss.function}{applied})")
            lines.append(f"Optimizer: {self.optimizer!r}")
            if self.metrics:
                lines.append(f"Metrics: {', '.join(m.name for m in self.metrics)}")
        (print if print_fn is None else print_fn)("\n".join(lines))

    def save(self, path: PathLike) -> None:
        """Write the architecture, weights, compile configuration and optimizer
        state to `path`, a ``.npz`` file (written exactly at `path`, atomically).
        See `fastloss.nn.load`.

        A path ending in ``.keras`` or ``.h5`` is written in this same ``.npz``
        format, with a `UserWarning` saying so: `fastloss.nn.load` reads it,
        Keras does not (fastloss.nn writes no Keras archive)."""
        from .io import keras_suffix_warning, save_model

        message = keras_suffix_warning(path)
        if message:
            warnings.warn(message, UserWarning, stacklevel=2)
        save_model(self, path)

    @classmethod
    def load(cls, path: PathLike) -> Sequential:
        """The model saved at `path` (see `fastloss.nn.load`)."""
        from .io import load_model

        return load_model(path)

    def load_weights(self, path: PathLike) -> None:
        """Copy the weights of the model saved at `path` into this one, which
        must have the same layer widths (and input width, if built).

        Raises
        ------
        FileNotFoundError
            When there is no file at `path`.
        ValueError
            When it is not a fastloss.nn model file (or is truncated), or its
            architecture differs from this model's; nothing is changed.
        """
        from .io import load_weights

        load_weights(self, path)


def _fuses(last: Layer, loss: TrainingLoss) -> bool:
    """Whether the loss kernel takes the last layer's pre-activation (Keras's
    fusion of a softmax or sigmoid output with the matching cross-entropy); raises
    for a probability loss the outputs cannot feed (see `Sequential.compile`)."""
    kind = loss.output
    if kind not in ("softmax", "sigmoid") or loss.form == "logits":
        return False
    act = last.activation
    if act == kind:
        return True
    if act == "linear" and loss.form == "name":
        return False  # fastloss.nn's convention: the outputs are logits
    if act == "linear":
        raise ValueError(
            f"{loss.name}: from_logits=False expects probabilities, but the last "
            f"layer has no activation: give it activation={kind!r} (the loss "
            "kernel then takes its logits, as Keras does) or pass from_logits=True"
        )
    raise ValueError(
        f"loss {loss.name!r} takes probabilities from a {kind} output, but the last "
        f"layer's activation is {act!r}: use activation={kind!r}, or a loss with "
        "from_logits=True"
    )


def _weight_shapes(layers: Sequence[Layer], width: int) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    for layer in layers:
        if not isinstance(layer, Dense):
            continue
        shapes.append((width, layer.units))
        if layer.use_bias:
            shapes.append((layer.units,))
        width = layer.units
    return shapes
