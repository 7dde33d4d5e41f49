"""The training loss: a loss name or object resolved to one fastloss kernel.

The model's last layer emits logits (or raw outputs, for regression); the softmax
or sigmoid lives inside the fused loss kernel. So every classification loss here
is the *with-logits* form, whatever name it was given by:

- ``"sparse_categorical_crossentropy"`` (class indices) and
  ``"categorical_crossentropy"`` (one-hot or probability rows): softmax
  cross-entropy of the logits, `fastloss.softmax_cross_entropy`;
- ``"binary_crossentropy"``: `fastloss.binary_cross_entropy_with_logits`. Keras's
  ``binary_crossentropy`` string means probabilities (``from_logits=False``), for
  a model whose last layer has a sigmoid; here the model emits logits and the
  sigmoid is inside the loss, which is exact where a probability would round to 0
  or 1;
- regression: ``"mse"``, ``"mae"``, ``"huber"`` (delta 1), ``"log_cosh"`` and the
  fastloss names ``"smooth_l1_loss"`` etc., on the raw outputs.

A `fastloss.losses` instance is taken with its options (label smoothing, Huber's
delta, ignore_class, ...).

Probabilities, as Keras means them: a Keras name or a ``from_logits=False``
instance of a cross-entropy (`TrainingLoss.form`) after a last layer
``Dense(k, activation="softmax")`` (or ``"sigmoid"``) is *fused*: the model gives
the kernel the pre-activation logits and skips the activation, exactly as Keras
does internally (`Sequential.compile`). A ``from_logits=False`` instance after a
last layer without that activation is refused with a message rather than
silently reinterpreted; a Keras name there takes the outputs as logits, as
above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np
import numpy.typing as npt

import fastloss
from fastloss import _table
from fastloss import losses as _fl_losses

from ._common import FloatArray

__all__ = ["TrainingLoss", "resolve_loss"]

Option = Union[float, int, None]

# name -> (fastloss function, target kind, options), from the loss table
# (fastloss/_table.py): Keras's names with Keras's defaults, then the fastloss
# functional names with their own. Target kinds: "index" (class indices, shape
# (n,)), "prob" (rows of the output's width), "auto" (either, told apart by shape),
# "binary" (labels in [0, 1]), "real" (regression).
_TABLE: dict[str, tuple[str, str, dict[str, Option]]] = {
    **{
        name: (row.function, row.target, dict(row.options))
        for row in _table.KERAS
        if row.function is not None and row.target is not None
        for name in row.names
    },
    **{row.name: (row.name, row.target, {}) for row in _table.LOSSES if row.target},
}
_CLASS_NAMES = {row.cls: row.names[0] for row in _table.KERAS if row.function}
# names that cannot train a logits model, and why
_UNSUPPORTED = {
    **{
        name: row.why_not
        for row in _table.KERAS
        if not row.function
        for name in (*row.names, row.cls)
    },
    **{row.name: row.why_not for row in _table.LOSSES if not row.target},
}
_OUTPUTS = {row.name: row.output for row in _table.LOSSES if row.target}
# Keras's names, which (for the cross-entropies) mean probabilities
_KERAS_KEYS = frozenset(name for row in _table.KERAS for name in row.names)


def _kernel(name: str) -> Callable[..., Any]:
    fn: Callable[..., Any] = getattr(fastloss, name)
    return fn


@dataclass(frozen=True)
class TrainingLoss:
    """A loss resolved for training: a fastloss function, its options and the
    kind of target it takes (see the module doc). `name` is what it was asked for
    by, for display."""

    name: str
    function: str
    target: str
    options: dict[str, Option] = field(default_factory=dict)
    # What the loss, as given, takes from the model: "logits" (a fastloss name,
    # a from_logits=True instance), "probs" (a from_logits=False instance: the
    # last layer must have the matching activation, which is then fused) or
    # "name" (a Keras name of a cross-entropy: fused after the matching
    # activation, else the outputs are logits). See Sequential.compile.
    form: str = "logits"

    @property
    def output(self) -> str:
        """What turns logits into predictions: "softmax", "sigmoid" or
        "identity"."""
        return _OUTPUTS.get(self.function, "identity")

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function": self.function,
            "target": self.target,
            "options": dict(self.options),
            "form": self.form,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainingLoss:
        function = config["function"]
        if (
            function not in _KERNEL_NAMES
            or config["target"] not in _KINDS
            or config.get("form", "logits") not in ("logits", "probs", "name")
        ):
            raise ValueError(f"unknown loss in the configuration: {config!r}")
        return cls(
            config["name"],
            function,
            config["target"],
            dict(config["options"]),
            str(config.get("form", "logits")),
        )

    # ---- checks ----------------------------------------------------------------------

    def check_units(self, units: int) -> None:
        """The last layer's width must suit the loss."""
        if self.output == "softmax" and units < 2:
            raise ValueError(
                f"loss {self.name!r} is a softmax over the last layer's units, which "
                f"has {units}: give it one unit per class (at least 2), or use "
                "'binary_crossentropy' with one unit"
            )

    def target_kind(self, y: npt.NDArray[Any], units: int) -> str:
        if self.target != "auto":
            return self.target
        if y.ndim == 2 and y.shape[1] == units and units > 1:
            return "prob"
        return "index"

    def prepare_target(
        self, y: npt.ArrayLike, units: int, dtype: np.dtype[Any], name: str = "y"
    ) -> npt.NDArray[Any]:
        """`y` checked and converted once for the kernel: int64 class indices of
        shape (n,), or float rows of shape (n, units) in the model's dtype (a
        one-unit model also takes shape (n,), as Keras does)."""
        arr = _numeric(y, name)
        kind = self.target_kind(arr, units)
        if kind == "index":
            ignore = self.options.get("ignore_index")
            return _class_indices(arr, units, ignore, name, self.name)
        return _float_rows(arr, units, dtype, kind, name, self.name)

    # ---- the kernel calls ------------------------------------------------------------

    def _weighting(
        self, target: npt.NDArray[Any], weight: FloatArray | None, units: int
    ) -> dict[str, Any]:
        """The kernel options for Keras's "sum_over_batch_size" of ``weight[i] *
        l[i]``: the sum of the weighted per-sample losses (each the mean over the
        outputs, for the elementwise losses) over the batch size (over the samples
        not ignored, with an ignore_index)."""
        if weight is None:
            return self.options
        denom = target.shape[0]
        ignore = self.options.get("ignore_index")
        if ignore is not None and target.ndim == 1:
            denom = int(np.count_nonzero(target != ignore))
        per = 1.0 / denom if denom else 0.0
        if _table.by_name(self.function).family == "elementwise":
            per /= units
        return {**self.options, "sample_weight": weight * per, "reduction": "sum"}

    def loss_and_grad(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        out: FloatArray,
        weight: FloatArray | None = None,
    ) -> float:
        """The batch-mean loss, each sample's loss times its `weight` (Keras's
        "sum_over_batch_size"); its gradient with respect to the logits is written
        into `out` (a buffer of the logits' shape and dtype: no allocation)."""
        options = self._weighting(target, weight, logits.shape[1])
        loss, _ = _kernel(self.function + "_and_grad")(
            logits, target, out=out, **options
        )
        return float(loss)

    def loss(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        weight: FloatArray | None = None,
    ) -> float:
        """The batch-mean loss (the forward-only kernel), weighted as
        `loss_and_grad`."""
        options = self._weighting(target, weight, logits.shape[1])
        return float(_kernel(self.function)(logits, target, **options))

    def activate(
        self, logits: FloatArray, out: FloatArray, row: FloatArray | None = None
    ) -> FloatArray:
        """The predictions: softmax or sigmoid of the logits (a copy for
        regression), written into `out` (may be `logits`). `row` is an (n, 1)
        scratch buffer for the softmax's row maxima and sums (else allocated)."""
        kind = self.output
        if kind == "softmax":
            if row is None:
                row = np.empty((logits.shape[0], 1), dtype=logits.dtype)
            np.max(logits, axis=1, keepdims=True, out=row)
            np.subtract(logits, row, out=out)
            np.exp(out, out=out)
            np.sum(out, axis=1, keepdims=True, out=row)
            out /= row
        elif kind == "sigmoid":
            # sigmoid(x) = exp(-softplus(-x)): full relative precision in both tails
            np.negative(logits, out=out)
            np.logaddexp(0.0, out, out=out)
            np.negative(out, out=out)
            np.exp(out, out=out)
        elif out is not logits:
            np.copyto(out, logits)
        return out


_KERNEL_NAMES = frozenset(fn for fn, _, _ in _TABLE.values())
_KINDS = ("index", "prob", "auto", "binary", "real")


# ---- resolving what compile() was given ----------------------------------------------


def _known() -> str:
    return ", ".join(sorted(_TABLE, key=str.lower))


def _from_name(name: str) -> TrainingLoss:
    key = _CLASS_NAMES.get(name, name)
    entry = _TABLE.get(key)
    if entry is None:
        if name in _UNSUPPORTED:
            raise ValueError(
                f"loss {name!r} cannot train this model: {_UNSUPPORTED[name]}"
            )
        raise ValueError(f"unknown loss {name!r}; known: {_known()}")
    function, target, options = entry
    named = key in _KERAS_KEYS and _OUTPUTS.get(function) in ("softmax", "sigmoid")
    return TrainingLoss(
        name, function, target, dict(options), "name" if named else "logits"
    )


def _from_instance(loss: Any) -> TrainingLoss:
    cls = type(loss).__name__
    if cls not in _CLASS_NAMES:
        reason = _UNSUPPORTED.get(cls, "it has no with-logits kernel")
        raise ValueError(f"loss {cls} cannot train this model: {reason}")
    if loss.reduction not in ("sum_over_batch_size", "mean"):
        raise ValueError(
            f"{cls}(reduction={loss.reduction!r}): the trainer averages the loss "
            "over each batch; use the default reduction ('sum_over_batch_size')"
        )
    if getattr(loss, "axis", -1) != -1:
        raise ValueError(
            f"{cls}(axis={loss.axis}): the model's outputs have one axis, use -1"
        )
    base = _from_name(_CLASS_NAMES[cls])
    options: dict[str, Option] = dict(base.options)
    if cls == "SparseCategoricalCrossentropy" and loss.ignore_class is not None:
        options["ignore_index"] = int(loss.ignore_class)
    elif cls in ("CategoricalCrossentropy", "BinaryCrossentropy"):
        if loss.label_smoothing:
            options["label_smoothing"] = float(loss.label_smoothing)
    elif cls == "BinaryFocalCrossentropy":
        if loss.label_smoothing:
            raise ValueError(
                "BinaryFocalCrossentropy(label_smoothing=...) has no fused kernel: "
                "smooth the targets yourself, or use label_smoothing=0"
            )
        options["alpha"] = float(loss.alpha) if loss.apply_class_balancing else None
        options["gamma"] = float(loss.gamma)
    elif cls == "Huber":
        options["delta"] = float(loss.delta)
    form = "probs" if getattr(loss, "from_logits", True) is False else "logits"
    return TrainingLoss(loss.name, base.function, base.target, options, form)


def resolve_loss(loss: Any) -> TrainingLoss:
    """`loss` (a name, a `fastloss.losses.Loss` instance, a fastloss function or
    `FunctionalLoss` pair, or a `TrainingLoss`) as a `TrainingLoss`.

    Raises
    ------
    ValueError
        For an unknown name, a loss that cannot train a logits model (the message
        says what to use instead), or a ``from_logits=False`` instance.
    TypeError
        For anything else.
    """
    if isinstance(loss, TrainingLoss):
        return loss
    if isinstance(loss, str):
        return _from_name(loss)
    if isinstance(loss, _fl_losses.Loss):
        return _from_instance(loss)
    if isinstance(loss, type):
        raise TypeError(
            f"loss must be a name or an instance, got the class {loss.__name__}: "
            f"add () to create one"
        )
    if callable(loss) or isinstance(loss, _fl_losses.FunctionalLoss):
        try:
            pair = fastloss.get_loss(loss)
        except (TypeError, ValueError):
            pair = None
        if isinstance(pair, _fl_losses.FunctionalLoss):
            return _from_name(pair.loss.__name__)
    raise TypeError(
        "loss must be a loss name, a fastloss.losses instance or a fastloss loss "
        f"function, got {type(loss).__name__}"
    )


# ---- target checks -------------------------------------------------------------------


def _numeric(y: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return arr


def _first(mask: npt.NDArray[np.bool_]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _class_indices(
    arr: npt.NDArray[Any],
    units: int,
    ignore: Option | None,
    name: str,
    loss: str,
) -> npt.NDArray[np.int64]:
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        hint = ""
        if arr.ndim == 2 and arr.shape[1] == units:
            hint = "; for one-hot or probability rows use 'categorical_crossentropy'"
        raise ValueError(
            f"{name} for {loss!r} must hold one class index per sample, shape "
            f"(n_samples,), got shape {arr.shape}{hint}"
        )
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first(bad)[0]
            raise ValueError(f"{name}[{i}] = {arr[i]}: class indices must be finite")
        bad = arr != np.floor(arr)
        if bad.any():
            i = _first(bad)[0]
            raise ValueError(
                f"{name}[{i}] = {arr[i]} is not an integer: {loss!r} needs class "
                "indices (for probability rows use 'categorical_crossentropy')"
            )
    ok = (arr >= 0) & (arr < units)
    if ignore is not None:
        ok |= arr == ignore
    if not ok.all():
        i = _first(~ok)[0]
        v = arr[i].item()
        why = "negative" if v < 0 else f">= {units}, the last layer's units"
        raise ValueError(
            f"{name}[{i}] = {v} is not a class index ({why}): {loss!r} needs "
            f"labels in [0, {units}) for a last layer of {units} units"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def _float_rows(
    arr: npt.NDArray[Any],
    units: int,
    dtype: np.dtype[Any],
    kind: str,
    name: str,
    loss: str,
) -> FloatArray:
    if arr.ndim == 1 and units == 1:
        arr = arr.reshape(-1, 1)  # Keras accepts (n,) targets for one output unit
    if arr.ndim != 2 or arr.shape[1] != units:
        shapes = f"(n_samples, {units})" + (" or (n_samples,)" if units == 1 else "")
        hint = ""
        if kind == "prob" and arr.ndim == 1:
            hint = "; for class indices use 'sparse_categorical_crossentropy'"
        raise ValueError(
            f"{name} for {loss!r} must have shape {shapes} to match the last "
            f"layer's {units} units, got shape {arr.shape}{hint}"
        )
    with np.errstate(over="ignore"):  # reported below, with the position
        out = np.ascontiguousarray(arr, dtype=dtype)
    bad = ~np.isfinite(out)
    if bad.any():
        raise ValueError(
            f"{name}{list(_first(bad))} is {out[_first(bad)]}: targets must be finite"
        )
    if kind in ("binary", "prob"):
        bad = (out < 0) | (out > 1)
        if bad.any():
            pos = _first(bad)
            what = "labels" if kind == "binary" else "probabilities"
            raise ValueError(
                f"{name}{list(pos)} = {out[pos]}: {loss!r} needs {what} in [0, 1]"
            )
    return out
