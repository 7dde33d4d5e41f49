"""Keras-named loss classes over the fastloss kernels, and `get_loss`.

The classes are the losses people meet first in TensorFlow tutorials, with Keras 3's
arguments, values and default reduction, computed by the fused fastloss kernels::

    loss = fastloss.losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss(y_true, y_pred)                        # a Python float
    value, grad = loss.loss_and_grad(y_true, y_pred)    # grad = d value / d y_pred

Every class computes what ``keras.losses.<Name>`` (Keras 3) computes, including its
reductions, sample weights and the rank matching of ``y_true`` and ``y_pred``; each
class docstring says where the result differs and why. The gradient comes from the
same kernel call as the loss wherever a kernel exists (the kernel applies the
reduction's scaling through the sample weights it is given, so no extra pass over the
gradient is made); where Keras's formula has no fused kernel (probabilities that
Keras renormalises or clips, `KLDivergence`) a plain NumPy path computes it, and the
class docstring says so.

`get_loss` resolves a name or an object to something a training loop can call:

- a Keras loss name (``"sparse_categorical_crossentropy"``, ``"mse"``, ...) or class
  name (``"CategoricalCrossentropy"``) gives a new instance of the class here, built
  with the default arguments (as ``model.compile(loss="...")`` does in Keras); it is
  called as ``loss(y_true, y_pred, sample_weight=None)``;
- a fastloss functional name (``"softmax_cross_entropy"``, ``"mse_loss"``, ...), or
  one of those functions itself, gives a `FunctionalLoss` pair ``(loss,
  loss_and_grad)`` of the two functions, called fastloss-style as ``loss(input,
  target, **options)`` (note the argument order: prediction first);
- an instance of `Loss` and a `FunctionalLoss` pass through unchanged;
- a class where an instance is expected (``get_loss(CategoricalCrossentropy)``), a
  Keras loss object, or an unknown name raise an error that says what to pass.
"""

from __future__ import annotations

import math
import sys
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from . import _table
from ._typing import LossAndGrad, LossValue
from ._validation import (
    check_weight_range,
    derived_weights,
    float_input,
    real_scalar,
)

__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CTC",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "FunctionalLoss",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "Tversky",
    "Hinge",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SquaredHinge",
    "get_loss",
    # Keras's functional forms, their short aliases and get
    "BCE",
    "KLD",
    "MAE",
    "MAPE",
    "MSE",
    "MSLE",
    "bce",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "cosine_similarity",
    "ctc",
    "dice",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "log_cosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]

# keras.backend.epsilon(): Keras clips probabilities to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7

# Keras 3's reductions (`keras.losses.Loss`); None means "none".
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")
_MEANS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")

# Never a class index: stands for ignore_class=None in the softmax kernel's
# ignore_index (targets equal to it are rejected before the kernel sees them).
_NO_IGNORE = -(2**63)

FunctionalLoss = namedtuple("FunctionalLoss", ["loss", "loss_and_grad"])
FunctionalLoss.__doc__ = """\
A fastloss functional loss as returned by `get_loss`: ``(loss, loss_and_grad)``.

``loss(input, target, **options)`` returns the loss and ``loss_and_grad(input,
target, **options)`` returns ``(loss, grad)`` from one kernel call, with the
prediction first and the options of the function (``reduction="mean"`` by default).
"""


def _pkg():
    """The fastloss package (imported before anything here can be called)."""
    return sys.modules[__name__.rpartition(".")[0]]


def _functional(name):
    """The functional loss `name`, called with `sample_weight` treated as derived:
    the classes fold Keras's reduction into the per-sample weights they pass, which
    may leave the contract's range though the caller's weights are in it (the
    caller's are checked in _Plan)."""
    fn = getattr(_pkg(), name)

    def call(*args, **kwargs):
        with derived_weights("sample_weight"):
            return fn(*args, **kwargs)

    return call


# ---- argument handling -------------------------------------------------------------


def _check_reduction(reduction):
    if reduction is None:
        return "none"
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {', '.join(map(repr, REDUCTIONS))} or None, "
            f"got {reduction!r}"
        )
    return reduction


def _check_bool(value, name, cls):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = ""
    if isinstance(value, (np.ndarray, list, tuple)):
        hint = (
            f"; to compute a loss, create the loss first and call it: "
            f"{cls}()(y_true, y_pred)"
        )
    raise TypeError(f"{name} must be a bool, got {type(value).__name__}{hint}")


def _check_axis(axis):
    """Keras's ``axis=``: the class (or averaged) axis, an int; -1 is the last."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {axis!r}")
    return int(axis)


def _bounds(dtype):
    """Keras's clip bounds [EPSILON, 1 - EPSILON] as the dtype rounds them (float32
    clips at 1.0000000116860974e-07 and 0.99999988079071045), as Python floats."""
    return float(dtype.type(EPSILON)), float(dtype.type(1.0 - EPSILON))


def _pred(y_pred):
    """(y_pred as a float array, the dtype results take, whether it is our copy)."""
    x, res_dtype = float_input(y_pred, "y_pred")
    own = not isinstance(y_pred, np.ndarray) or not np.may_share_memory(x, y_pred)
    return x, res_dtype, own


def _match_rank(t, x):
    """Keras's ``squeeze_or_expand_to_same_rank(y_true, y_pred)``: when the ranks
    differ by one and the larger array's last axis is 1, that axis is dropped, except
    that a rank-1 partner gains one instead. Returns reshaped views."""
    if t.ndim == x.ndim + 1 and t.shape[-1] == 1:
        if x.ndim == 1:
            x = x.reshape(x.shape + (1,))
        else:
            t = t.reshape(t.shape[:-1])
    elif x.ndim == t.ndim + 1 and x.shape[-1] == 1:
        if t.ndim == 1:
            t = t.reshape(t.shape + (1,))
        else:
            x = x.reshape(x.shape[:-1])
    return t, x


def _float_pair(y_true, y_pred):
    """Prediction and float target of the same shape, after Keras's rank matching;
    the target is broadcast to the prediction's shape if it is smaller."""
    x, res_dtype, own = _pred(y_pred)
    shape_in = x.shape
    t, _ = float_input(y_true, "y_true")
    t, x = _match_rank(t, x)
    if x.ndim == 0:
        raise ValueError("y_pred must have at least one dimension")
    if t.shape != x.shape:
        try:
            t = np.broadcast_to(t, x.shape)
        except ValueError:
            raise ValueError(
                f"y_true of shape {t.shape} does not match y_pred of shape {x.shape}"
            ) from None
    return t, x, res_dtype, own, shape_in


def _finish_grad(grad, shape_in, res_dtype):
    grad = grad.reshape(shape_in)
    return grad if grad.dtype == res_dtype else grad.astype(res_dtype)


# ---- Keras's reduction, folded into per-sample weights -------------------------------


class _Plan:
    """Keras 3's reduction of per-sample losses ``l`` of shape `shape`.

    ``reduce(l) = scale * sum(w * l)`` for "sum" and the means, where ``w`` (None:
    ones) is `sample_weight` as it multiplies each per-sample loss after Keras's rank
    matching and broadcasting, summed over any axes that broadcasting adds, and
    ``scale`` is 1 or 1 / divisor (0 when the divisor is 0: Keras's
    ``divide_no_nan``). For "none" the result is ``w * l``, or, when the weight
    broadcasts the losses to a larger shape (`spread`), ``l.reshape(shape_b) * sw``;
    its shape is `out`, which differs from `shape` when Keras's rank matching added
    or dropped a trailing axis of 1. `valid` is the ignore_class mask (a callable,
    evaluated only when needed).
    """

    __slots__ = ("none", "mean", "w", "scale", "spread", "out")

    def __init__(self, shape, sample_weight, reduction, valid=None, dtype=None):
        self.none = reduction == "none"
        self.mean = reduction in _MEANS
        self.spread = None
        self.out = shape
        n = math.prod(shape)
        if sample_weight is None:
            self.w = None
            if self.none or reduction == "sum":
                self.scale = 1.0
            else:
                d = n if valid is None else np.count_nonzero(valid())
                self.scale = 1.0 / d if d else 0.0
            return
        sw, _ = float_input(sample_weight, "sample_weight")
        if not np.isfinite(sw).all():
            raise ValueError("sample_weight must be finite (it holds NaN or inf)")
        if dtype is not None:  # the contract's range for the compute dtype
            check_weight_range(sw, "sample_weight", dtype)
        sw = np.asarray(sw, dtype=np.float64)
        shape_b, sw = self._align(shape, sw)
        try:
            full = np.broadcast_shapes(shape_b, sw.shape)
        except ValueError:
            k = sw.ndim
            if not (0 < k < len(shape_b) and sw.shape == shape_b[:k]):
                raise ValueError(
                    f"sample_weight of shape {sw.shape} does not broadcast to the "
                    f"per-sample losses' shape {shape} (y_pred.shape[:-1]; for the "
                    "class-index losses, y_true's shape)"
                ) from None
            # Keras aligns trailing axes and fails here; a weight of the leading
            # axes is broadcast over the others, as in the functional API.
            sw = sw.reshape(sw.shape + (1,) * (len(shape_b) - k))
            full = shape_b
        w = np.broadcast_to(sw, full)
        extra = len(full) - len(shape_b)
        if extra:
            w = w.sum(axis=tuple(range(extra)))
        grown = tuple(
            i for i, d in enumerate(shape_b) if d == 1 and full[extra + i] != 1
        )
        if grown:
            w = w.sum(axis=grown, keepdims=True)
        self.w = np.ascontiguousarray(w, dtype=np.float64).reshape(shape)
        self.out = full
        if full != shape_b:
            self.spread = (shape_b, sw)
        if self.none or reduction == "sum" or not full:
            self.scale = 1.0  # Keras does not reduce a 0-d result at all
            return
        if reduction == "mean_with_sample_weight":
            d = sw.sum() if valid is None else float(self.w[valid()].sum())
        else:
            d = math.prod(full)
            if valid is not None and n:
                d = d * np.count_nonzero(valid()) / n
        self.scale = 1.0 / d if d else 0.0

    @staticmethod
    def _align(shape, sw):
        """Keras's rank matching of the losses (`shape`) and the sample weight."""
        if len(shape) == sw.ndim + 1 and shape[-1] == 1:
            if sw.ndim == 1:
                return shape, sw.reshape(sw.shape + (1,))
            return shape[:-1], sw
        if sw.ndim == len(shape) + 1 and sw.shape[-1] == 1:
            if len(shape) == 1:
                return shape + (1,), sw
            return shape, sw.reshape(sw.shape[:-1])
        return shape, sw

    def kernel_weight(self, lead, factor, mean_ok, full):
        """(sample_weight, reduction) for a kernel whose per-sample shape is `lead`
        (the losses' shape, at least 1-D), that multiplies every per-sample loss by
        `factor` (1 / n_elements for Keras's mean over the last axis). `mean_ok`: the
        kernel's own "mean" is Keras's reduction when there is no weight; `full`: the
        kernel needs the whole per-sample shape (else the leading axis will do)."""
        red = "none" if self.none else "sum"
        if self.w is None or (self.none and self.spread is not None):
            if mean_ok and self.mean and self.w is None:
                return None, "mean"
            c = factor * (1.0 if self.none else self.scale)
            if c == 1.0:
                return None, red
            return np.full(lead if full else lead[:1], c), red
        return (self.w * (factor * self.scale)).reshape(lead), red

    def none_values(self, values, grad):
        """Keras's "none" result from the kernel's per-sample values; when the weight
        spreads the losses, the kernel ran unweighted and the gradient is weighted
        here (a rare case: a weight of more samples than the losses have)."""
        if self.spread is None:
            return values.reshape(self.out)
        shape_b, sw = self.spread
        if grad is not None:
            grad *= self.w.reshape(grad.shape[:-1] + (1,)).astype(grad.dtype)
        return (values.reshape(shape_b) * sw).astype(values.dtype)

    def reduce_numpy(self, values, dtype):
        """The reduction of per-sample values computed in NumPy (float64); "none"
        gives an array of `dtype`."""
        if self.none:
            if self.spread is not None:
                shape_b, sw = self.spread
                values = values.reshape(shape_b) * sw
            elif self.w is not None:
                values = values * self.w
            return np.asarray(values, dtype=dtype).reshape(self.out)
        total = values.sum() if self.w is None else (values * self.w).sum()
        return float(total * self.scale)

    def row_weight(self, shape):
        """d reduce / d l per sample, shaped to multiply an (..., C) array."""
        if self.w is None:
            return self.scale
        return (self.w * self.scale).reshape(shape + (1,))


# ---- the classes -----------------------------------------------------------------

_L = TypeVar("_L", bound="Loss")


class Loss:
    """Base class of the Keras-named losses.

    A loss is called Keras-style, ``loss(y_true, y_pred, sample_weight=None)``, and
    returns a Python float (an array for ``reduction="none"``);
    ``loss.loss_and_grad(y_true, y_pred, sample_weight=None)`` returns ``(loss,
    grad)`` with ``grad`` the derivative of the loss (of the sum of the losses for
    "none") with respect to ``y_pred``, of ``y_pred``'s shape and float dtype.

    Parameters
    ----------
    reduction : {"sum_over_batch_size", "sum", "none", "mean", \
"mean_with_sample_weight"} or None, default="sum_over_batch_size"
        As in Keras 3. With per-sample losses ``l`` (one per sample: the mean over
        the last axis for the elementwise losses, one per row for the categorical
        ones) and sample weights ``s`` (1 when not given): "sum" is ``sum(s l)``;
        "sum_over_batch_size" and its alias "mean" divide that by the number of
        per-sample losses (``sum(s l) / l.size``: the weights do not change the
        divisor); "mean_with_sample_weight" divides by ``sum(s)``; "none" (or None)
        returns ``s * l``. A zero divisor gives 0.0.
    name : str, optional
        A name for logs; defaults to the Keras name of the loss.

    Notes
    -----
    ``sample_weight`` is a scalar or an array of the per-sample losses' shape
    (``y_pred.shape[:-1]``; for `SparseCategoricalCrossentropy`, ``y_true``'s shape)
    or of its leading axes followed by ones, e.g. ``(batch,)`` or ``(batch, 1)``.
    It follows Keras's rank matching and broadcasting, which align trailing axes:
    for a 1-D ``y_pred`` of an elementwise loss, Keras sees a single sample whose
    loss each of the ``n`` weights multiplies, and so does this. One extension: a
    weight of the leading axes only, e.g. ``(batch,)`` for losses of shape
    ``(batch, steps)``, which Keras rejects (its trailing axes do not match), is
    broadcast over the remaining axes, as in the functional API. (Where both
    readings fit, for ``batch == steps``, Keras's trailing alignment wins.)

    Keras's ``axis`` (always the last axis here) and ``dtype`` arguments are not
    taken.

    ``y_pred`` is used in its own float dtype (float16 is computed in float32 and
    the gradient cast back; integers become float64), where Keras casts to float32.
    """

    _keras_name = "loss"

    def __init__(
        self, *, reduction: str | None = "sum_over_batch_size", name: str | None = None
    ) -> None:
        self.reduction = _check_reduction(reduction)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self.name = self._keras_name if name is None else name

    def __call__(
        self,
        y_true: npt.ArrayLike,
        y_pred: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> LossValue:
        return self._call(y_true, y_pred, sample_weight, False)

    def loss_and_grad(
        self,
        y_true: npt.ArrayLike,
        y_pred: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> LossAndGrad:
        """Returns ``(loss, grad)``: the loss as ``loss(y_true, y_pred,
        sample_weight)`` gives it and its gradient with respect to ``y_pred``."""
        return self._call(y_true, y_pred, sample_weight, True)

    # Whether y_true holds class indices (no class axis) rather than y_pred's shape.
    _sparse = False

    # Whether `_call` moves `axis` last for `_run` (False: `_run` reduces over
    # `self.axis` itself, which may be None or a tuple: the row-pair losses).
    _moves_axis = True

    def _call(self, y_true, y_pred, sample_weight, want_grad):
        """`_run` over the last axis; another `axis` is moved there first (a copy of
        the inputs) and the gradient moved back, as Keras reduces over `axis`."""
        axis = getattr(self, "axis", -1) if self._moves_axis else -1
        if axis == -1:
            return self._run(y_true, y_pred, sample_weight, want_grad)
        x = np.asarray(y_pred)
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(
                f"axis={axis} is out of range for y_pred of shape {x.shape}"
            )
        axis %= x.ndim
        if axis == x.ndim - 1:
            return self._run(y_true, x, sample_weight, want_grad)
        if not self._sparse:
            t = np.asarray(y_true)
            if t.shape != x.shape:
                raise ValueError(
                    f"with axis={self.axis}, y_true must have y_pred's shape "
                    f"{x.shape}, got {t.shape}"
                )
            y_true = np.moveaxis(t, axis, -1)
        out = self._run(y_true, np.moveaxis(x, axis, -1), sample_weight, want_grad)
        if not want_grad:
            return out
        loss, grad = out
        return loss, np.moveaxis(grad, -1, axis)

    # The fastloss functional pair (its loss-only name) that a per-element loss
    # class runs, averaged over the last axis as Keras does, with these options.
    # Classes with another shape of computation override `_run` instead.
    _function: str | None = None
    _function_options: dict[str, Any] = {}

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        if self._function is None:
            raise NotImplementedError
        return self._elementwise(
            self._function,
            y_true,
            y_pred,
            sample_weight,
            want_grad,
            **self._function_options,
        )

    def _params(self):
        return {}

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as a dict (Keras's ``get_config``)."""
        return {**self._params(), "reduction": self.reduction, "name": self.name}

    @classmethod
    def from_config(cls: type[_L], config: dict[str, Any]) -> _L:
        return cls(**config)

    def __repr__(self) -> str:
        args = [
            f"{k}={v!r}"
            for k, v in self._params().items()
            if not (k == "axis" and v == -1)
        ]
        if self.reduction != "sum_over_batch_size":
            args.append(f"reduction={self.reduction!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    # -- shared paths --

    def _elementwise(self, fname, y_true, y_pred, sample_weight, want_grad, **params):
        """An elementwise kernel, averaged over the last axis as Keras does."""
        t, x, res_dtype, own, shape_in = _float_pair(y_true, y_pred)
        shape = x.shape[:-1]
        plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        if not shape:  # one sample: give the kernel a leading axis of length 1
            x, t = x.reshape((1,) + x.shape), t.reshape((1,) + t.shape)
        n_last = x.shape[-1]
        sw, red = plan.kernel_weight(
            x.shape[:-1], 1.0 / n_last if n_last else 0.0, True, False
        )
        kw = dict(params, sample_weight=sw, reduction=red)
        if not want_grad:
            loss = _functional(fname)(x, t, **kw)
            grad = None
        else:
            loss, grad = _functional(fname + "_and_grad")(
                x, t, out=x if own else None, **kw
            )
        if plan.none:
            loss = plan.none_values(loss.sum(axis=-1), grad)
        if not want_grad:
            return loss
        return loss, _finish_grad(grad, shape_in, res_dtype)

    def _softmax(
        self,
        fname,
        x,
        t,
        plan,
        shape,
        res_dtype,
        own,
        shape_in,
        want_grad,
        factor=1.0,
        **params,
    ):
        """A softmax-family kernel over the last axis; `plan` is over `shape`."""
        if not shape:
            x, t = x.reshape((1,) + x.shape), t.reshape((1,) + t.shape)
        sw, red = plan.kernel_weight(x.shape[:-1], factor, factor == 1.0, True)
        kw = dict(params, sample_weight=sw, reduction=red)
        if not want_grad:
            loss = _functional(fname)(x, t, **kw)
            grad = None
        else:
            loss, grad = _functional(fname + "_and_grad")(
                x, t, out=x if own else None, **kw
            )
        if plan.none:
            loss = plan.none_values(loss, grad)
        if not want_grad:
            return loss
        return loss, _finish_grad(grad, shape_in, res_dtype)


class MeanSquaredError(Loss):
    """Mean squared error, Keras's ``keras.losses.MeanSquaredError``.

    ``l = mean((y_pred - y_true)**2, axis=-1)`` per sample, then the reduction. The
    fused `fastloss.mse_loss` kernel computes loss and gradient in one pass.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="mean_squared_error"

    Examples
    --------
    >>> from fastloss.losses import MeanSquaredError
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[1.0, 1.0], [1.0, 0.0]]
    >>> MeanSquaredError()(y_true, y_pred)
    0.5
    >>> MeanSquaredError()(y_true, y_pred, sample_weight=[0.7, 0.3])
    0.25
    >>> loss, grad = MeanSquaredError(reduction="sum").loss_and_grad(y_true, y_pred)
    >>> grad  # 2 (y_pred - y_true) / 2 elements per sample
    array([[1., 0.],
           [1., 0.]])
    """

    _keras_name = "mean_squared_error"

    _function = "mse_loss"


class MeanAbsoluteError(Loss):
    """Mean absolute error, Keras's ``keras.losses.MeanAbsoluteError``.

    ``l = mean(|y_pred - y_true|, axis=-1)`` per sample, then the reduction; fused
    `fastloss.l1_loss` kernel. The gradient at ``y_pred == y_true`` is 0, as
    TensorFlow's.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="mean_absolute_error"

    Examples
    --------
    >>> from fastloss.losses import MeanAbsoluteError
    >>> mae = MeanAbsoluteError()
    >>> mae([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
    0.5
    >>> mae.loss_and_grad([[0.0, 1.0]], [[3.0, -1.0]])
    (2.5, array([[ 0.5, -0.5]]))
    """

    _keras_name = "mean_absolute_error"

    _function = "l1_loss"


class Huber(Loss):
    """Huber loss, Keras's ``keras.losses.Huber``.

    With ``e = y_pred - y_true``, each element's loss is ``e**2 / 2`` where ``|e| <=
    delta`` and ``delta |e| - delta**2 / 2`` beyond; ``l`` is their mean over the last
    axis, then the reduction. Fused `fastloss.huber_loss` kernel (the same function
    as ``torch.nn.functional.huber_loss``).

    Parameters
    ----------
    delta : float > 0, default=1.0
        Where the loss turns from quadratic to linear.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="huber_loss"

    Examples
    --------
    >>> from fastloss.losses import Huber
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[0.6, 0.4], [0.4, 0.6]]
    >>> round(Huber()(y_true, y_pred), 6)  # (0.18 + 0.18 + 0.08 + 0.18) / 4
    0.155
    >>> Huber(delta=0.5).loss_and_grad([[0.0]], [[2.0]])  # 0.5 * 2 - 0.125
    (0.875, array([[0.5]]))
    """

    _keras_name = "huber_loss"
    _function = "huber_loss"

    def __init__(
        self,
        delta: float = 1.0,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.delta = real_scalar(delta, "delta", 0.0)
        if self.delta == 0:
            raise ValueError("delta must be > 0, got 0.0")
        self._function_options = {"delta": self.delta}

    def _params(self):
        return {"delta": self.delta}


class LogCosh(Loss):
    """Log-cosh loss, Keras's ``keras.losses.LogCosh``.

    ``l = mean(log(cosh(y_pred - y_true)), axis=-1)`` per sample, then the
    reduction; fused `fastloss.log_cosh_loss` kernel (stable for any error: Keras
    too uses ``x + softplus(-2x) - log 2``). The gradient is ``tanh(y_pred -
    y_true)`` over the number of elements per sample.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="log_cosh"

    Examples
    --------
    >>> from fastloss.losses import LogCosh
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[1.0, 1.0], [0.0, 0.0]]
    >>> round(LogCosh()(y_true, y_pred), 6)  # log(cosh(1)) / 4
    0.108445
    """

    _keras_name = "log_cosh"

    _function = "log_cosh_loss"


def _check_smoothing(label_smoothing):
    return real_scalar(label_smoothing, "label_smoothing", 0.0, 1.0)


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, Keras's ``keras.losses.BinaryCrossentropy``.

    With ``y = y_true (1 - label_smoothing) + label_smoothing / 2`` and, for
    probabilities, ``q = clip(y_pred, 1e-7, 1 - 1e-7)``, each element's loss is
    ``-(y log q + (1 - y) log(1 - q))``; ``l`` is its mean over the last axis, then
    the reduction. ``from_logits=True`` uses the fused
    `fastloss.binary_cross_entropy_with_logits` kernel (exact for every logit, as
    Keras's ``sigmoid_cross_entropy_with_logits``); ``from_logits=False`` the fused
    `fastloss.binary_cross_entropy` kernel, with Keras's clipping (the gradient is 0
    where ``y_pred`` was clipped, as Keras's).

    Parameters
    ----------
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float in [0, 1], default=0.0
        Squeezes the targets towards 0.5, as above.
    axis : int, default=-1
        The class axis (the axis averaged over, for the binary losses). Another
        axis than the last is moved there first (a copy of the inputs); the
        per-sample losses have ``y_pred``'s shape without it.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="binary_crossentropy"

    Examples
    --------
    Keras's own example, one sample of four labels, then two samples of two:

    >>> import numpy as np
    >>> from fastloss.losses import BinaryCrossentropy
    >>> bce = BinaryCrossentropy(from_logits=True)
    >>> round(bce([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8]), 4)
    0.8655
    >>> y_true = np.array([[0, 1], [0, 0]])
    >>> y_pred = np.array([[-18.6, 0.51], [2.94, -12.8]])
    >>> round(bce(y_true, y_pred, sample_weight=[0.8, 0.2]), 4)
    0.2436
    >>> BinaryCrossentropy(from_logits=True, reduction="none")(y_true, y_pred)
    array([0.23515666, 1.49575924])
    >>> loss, grad = bce.loss_and_grad(y_true, y_pred)
    >>> grad.round(4)  # sigmoid(x) - y over 2 labels and 2 samples
    array([[ 0.    , -0.0938],
           [ 0.2374,  0.    ]])
    """

    _keras_name = "binary_crossentropy"

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axis(axis)
        self.from_logits = _check_bool(from_logits, "from_logits", type(self).__name__)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def _params(self):
        return {
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        if self.from_logits:
            fname, params = "binary_cross_entropy_with_logits", {}
        else:
            fname, params = "binary_cross_entropy", {"epsilon": EPSILON}
        return self._elementwise(
            fname,
            y_true,
            y_pred,
            sample_weight,
            want_grad,
            label_smoothing=self.label_smoothing,
            **params,
        )


class BinaryFocalCrossentropy(Loss):
    """Binary focal cross-entropy, Keras's ``keras.losses.BinaryFocalCrossentropy``.

    With ``y = y_true (1 - label_smoothing) + label_smoothing / 2``, ``p = y_pred``
    (``sigmoid(y_pred)`` for logits), ``p_t = y p + (1 - y)(1 - p)`` and ``bce`` the
    binary cross-entropy of ``p``, each element's loss is ``a (1 - p_t)**gamma bce``
    with ``a = alpha y + (1 - alpha)(1 - y)`` when ``apply_class_balancing`` (else
    1); ``l`` is its mean over the last axis, then the reduction.

    Parameters
    ----------
    apply_class_balancing : bool, default=False
        Weight class 1 by ``alpha`` and class 0 by ``1 - alpha``.
    alpha : float <= 1, default=0.25
        Used only with ``apply_class_balancing``.
    gamma : float >= 0, default=2.0
        Focusing exponent; 0 gives (weighted) binary cross-entropy.
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float in [0, 1], default=0.0
    axis : int, default=-1
        The class axis (the axis averaged over, for the binary losses). Another
        axis than the last is moved there first (a copy of the inputs); the
        per-sample losses have ``y_pred``'s shape without it.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="binary_focal_crossentropy"

    Notes
    -----
    ``from_logits=True`` uses the fused `fastloss.sigmoid_focal_loss` kernel, whose
    ``bce`` is the exact cross-entropy of the logits. So is Keras's on the TensorFlow
    backend (its ``sigmoid`` output carries the logits, and ``bce`` is computed from
    them), and the two agree for every logit. Keras's JAX and PyTorch backends clip
    ``sigmoid(y_pred)`` to ``[1e-7, 1 - 1e-7]`` inside ``bce`` instead, so beyond a
    logit of about ±16 their ``bce`` stops at ``-log(1e-7) = 16.12`` on badly
    misclassified elements, where this one stays exact. Label smoothing is applied
    to ``y_true`` in NumPy before the kernel (one pass over the targets).

    ``from_logits=False`` is computed in NumPy (float64), exactly as Keras, clip
    included: there is no fused kernel for the focal loss of probabilities.

    Examples
    --------
    Keras's example (two samples of two labels):

    >>> from fastloss.losses import BinaryFocalCrossentropy
    >>> y_true = [[0, 1], [0, 0]]
    >>> y_pred = [[0.6, 0.4], [0.4, 0.6]]
    >>> loss = BinaryFocalCrossentropy(gamma=2.0, reduction="none")
    >>> loss(y_true, y_pred).round(4)
    array([0.3299, 0.2058])
    >>> round(BinaryFocalCrossentropy(gamma=2.0)(y_true, y_pred), 4)
    0.2678
    >>> focal = BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True)
    >>> loss, grad = focal.loss_and_grad([[1.0, 0.0]], [[2.0, -1.0]])
    >>> round(loss, 6), grad.round(6)
    (0.008722, array([[-0.000609,  0.019718]]))
    """

    _keras_name = "binary_focal_crossentropy"

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axis(axis)
        cls = type(self).__name__
        self.apply_class_balancing = _check_bool(
            apply_class_balancing, "apply_class_balancing", cls
        )
        self.alpha = real_scalar(alpha, "alpha", None, 1.0)
        self.gamma = real_scalar(gamma, "gamma", 0.0)
        self.from_logits = _check_bool(from_logits, "from_logits", cls)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def _params(self):
        return {
            "apply_class_balancing": self.apply_class_balancing,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }

    def _smoothed(self, t):
        ls = self.label_smoothing
        return t if ls == 0 else t * (1.0 - ls) + 0.5 * ls

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        if self.from_logits:
            if self.label_smoothing:
                t, _ = float_input(y_true, "y_true")
                y_true = self._smoothed(t)
            return self._elementwise(
                "sigmoid_focal_loss",
                y_true,
                y_pred,
                sample_weight,
                want_grad,
                alpha=self.alpha if self.apply_class_balancing else None,
                gamma=self.gamma,
            )
        return self._numpy(y_true, y_pred, sample_weight, want_grad)

    def _numpy(self, y_true, y_pred, sample_weight, want_grad):
        t, x, res_dtype, _, shape_in = _float_pair(y_true, y_pred)
        shape = x.shape[:-1]
        plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        lo, hi = _bounds(x.dtype)
        y = self._smoothed(np.asarray(t, dtype=np.float64))
        p = np.asarray(x, dtype=np.float64)
        q = np.clip(p, lo, hi)
        gamma = self.gamma
        with np.errstate(divide="ignore", invalid="ignore"):
            bce = -(y * np.log(q) + (1.0 - y) * np.log1p(-q))
            u = 1.0 - (y * p + (1.0 - y) * (1.0 - p))  # 1 - p_t
            focal = u**gamma
            a = (
                y * self.alpha + (1.0 - y) * (1.0 - self.alpha)
                if self.apply_class_balancing
                else 1.0
            )
            n_last = x.shape[-1]
            per = 1.0 / n_last if n_last else 0.0
            loss = plan.reduce_numpy((a * focal * bce).sum(axis=-1) * per, res_dtype)
            if not want_grad:
                return loss
            # d/dp of a u**gamma bce: u' = 1 - 2y, bce' = (q - y) / (q (1 - q)) where
            # p was not clipped (the clip's gradient), else 0.
            dbce = np.where((p >= lo) & (p <= hi), (q - y) / (q * (1.0 - q)), 0.0)
            dfocal = gamma * u ** (gamma - 1.0) * (1.0 - 2.0 * y) if gamma else 0.0
            grad = a * (dfocal * bce + focal * dbce) * (per * plan.row_weight(shape))
        return loss, _finish_grad(grad.astype(x.dtype), shape_in, res_dtype)


def _class_target(y_true, shape, what="y_true"):
    """Integer class indices (Keras casts float labels to int64, truncating)."""
    t = np.asarray(y_true)
    if t.dtype.kind == "f":
        if not np.isfinite(t).all():
            raise ValueError(f"{what} holds NaN or inf, not class indices")
        t = t.astype(np.int64)
    elif t.dtype.kind == "b":
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold class indices, got dtype {t.dtype}")
    if t.ndim == len(shape) + 1 and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])  # Keras squeezes (batch, 1) labels
    if t.shape != shape:
        raise ValueError(
            f"{what} of class indices must have shape {shape} (y_pred's shape without "
            f"the class axis), got {t.shape}"
        )
    return t


class SparseCategoricalCrossentropy(Loss):
    """Softmax cross-entropy with integer targets, Keras's
    ``keras.losses.SparseCategoricalCrossentropy``.

    ``y_pred`` has shape ``(..., n_classes)`` (classes last) and ``y_true`` the
    class indices, of shape ``y_pred.shape[:-1]`` (or with a trailing axis of 1).
    The per-sample loss is ``-log softmax(y_pred)[y_true]`` for logits, and
    ``-log(q[y_true] / sum(q))`` with ``q = clip(y_pred, 1e-7, 1 - 1e-7)`` for
    probabilities (Keras takes ``log q`` as logits; the rows are not renormalised
    otherwise). Then the reduction.

    Both use the fused `fastloss.softmax_cross_entropy` kernel: for probabilities it
    runs on ``log(q)`` (computed in NumPy, one temporary array of ``y_pred``'s shape,
    overwritten by the gradient in place), and the gradient is carried back through
    the log and the clip in NumPy (0 where ``y_pred`` was clipped, as Keras's).

    Parameters
    ----------
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits rather than probabilities.
    ignore_class : int, optional
        Samples whose label is this class give no loss and no gradient and are not
        counted by the means (Keras masks them; e.g. -1 or 255 for void pixels).
        Without it, a label outside ``[0, n_classes)`` is an error.
    axis : int, default=-1
        The class axis (the axis averaged over, for the binary losses). Another
        axis than the last is moved there first (a copy of the inputs); the
        per-sample losses have ``y_pred``'s shape without it.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="sparse_categorical_crossentropy"

    Notes
    -----
    Float labels are truncated to integers, as Keras's cast does. Targets must have
    exactly ``y_pred.shape[:-1]`` (Keras's broadcasting of labels is not followed).

    Examples
    --------
    Keras's example:

    >>> import numpy as np
    >>> from fastloss.losses import SparseCategoricalCrossentropy
    >>> y_true = np.array([1, 2])
    >>> y_pred = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    >>> scce = SparseCategoricalCrossentropy()
    >>> round(scce(y_true, y_pred), 4)
    1.1769
    >>> round(scce(y_true, y_pred, sample_weight=np.array([0.3, 0.7])), 4)
    0.8136
    >>> SparseCategoricalCrossentropy(reduction="none")(y_true, y_pred).round(4)
    array([0.0513, 2.3026])

    With logits, a gradient and an ignored class:

    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [1.0, 1.0, 1.0]])
    >>> scce = SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    >>> loss, grad = scce.loss_and_grad(np.array([0, 1, -1]), logits)
    >>> round(loss, 4)
    0.3185
    >>> grad.round(4)  # (softmax - onehot) / 2 valid rows; 0 for the ignored one
    array([[-0.1705,  0.1212,  0.0493],
           [ 0.0543, -0.0988,  0.0445],
           [ 0.    ,  0.    ,  0.    ]])
    """

    _keras_name = "sparse_categorical_crossentropy"

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        *,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axis(axis)
        self.from_logits = _check_bool(from_logits, "from_logits", type(self).__name__)
        if ignore_class is not None:
            if isinstance(ignore_class, (bool, np.bool_)) or not isinstance(
                ignore_class, (int, np.integer)
            ):
                raise TypeError(
                    f"ignore_class must be an int or None, got {ignore_class!r}"
                )
            ignore_class = int(ignore_class)
        self.ignore_class = ignore_class

    _sparse = True

    def _params(self):
        return {
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "axis": self.axis,
        }

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        x, res_dtype, own = _pred(y_pred)
        if x.ndim == 0:
            raise ValueError("y_pred must have at least one dimension (the classes)")
        shape_in = x.shape
        shape = x.shape[:-1]
        t = _class_target(y_true, shape)
        ic = self.ignore_class
        if ic is None:
            ignore = _NO_IGNORE
            if t.size and t.dtype.kind == "i" and t.min() == _NO_IGNORE:
                raise ValueError(f"y_true holds {_NO_IGNORE}, not a class index")
            plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        else:
            ignore = ic
            plan = _Plan(
                shape, sample_weight, self.reduction, lambda: t != ic, dtype=x.dtype
            )
        if self.from_logits:
            return self._softmax(
                "softmax_cross_entropy",
                x,
                t,
                plan,
                shape,
                res_dtype,
                own,
                shape_in,
                want_grad,
                ignore_index=ignore,
            )
        # Keras: logits = log(clip(p, eps, 1 - eps)), then the softmax cross-entropy.
        lo, hi = _bounds(x.dtype)
        q = np.clip(x, lo, hi)
        z = np.log(q)
        out = self._softmax(
            "softmax_cross_entropy",
            z,
            t,
            plan,
            shape,
            x.dtype,
            True,
            shape_in,
            want_grad,
            ignore_index=ignore,
        )
        if not want_grad:
            return out
        loss, g = out  # d/dz, written over z
        # dz/dp = 1 / q inside the clip range, 0 where p was clipped
        np.divide(g, q, out=g)
        g[(x < lo) | (x > hi)] = 0
        return loss, _finish_grad(g, shape_in, res_dtype)


class CategoricalCrossentropy(Loss):
    """Softmax cross-entropy with one-hot or probability targets, Keras's
    ``keras.losses.CategoricalCrossentropy``.

    ``y_true`` and ``y_pred`` have shape ``(..., n_classes)``; with ``y = y_true (1 -
    label_smoothing) + label_smoothing / n_classes``, the per-sample loss is
    ``-sum(y log softmax(y_pred))`` for logits and ``-sum(y log o)`` with ``o =
    clip(y_pred / sum(y_pred), 1e-7, 1 - 1e-7)`` for probabilities (Keras
    renormalises each row, then clips). Then the reduction.

    ``from_logits=True`` uses the fused `fastloss.softmax_cross_entropy` kernel with
    probability targets. ``from_logits=False`` is computed in NumPy (float64): the
    renormalisation and the clip do not fit the fused kernel, so the gradient is
    carried through both (0 where ``o`` was clipped, as Keras's).

    Parameters
    ----------
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float in [0, 1], default=0.0
        Mixes the targets with the uniform distribution, as above.
    axis : int, default=-1
        The class axis (the axis averaged over, for the binary losses). Another
        axis than the last is moved there first (a copy of the inputs); the
        per-sample losses have ``y_pred``'s shape without it.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="categorical_crossentropy"

    Notes
    -----
    For logits, the gradient is the exact one, ``sum(y) softmax(y_pred) - y``;
    TensorFlow's kernel returns ``softmax(y_pred) - y``, which is the same when each
    target row sums to 1 (one-hot or probability targets, smoothed or not) and
    differs for rows that do not.

    Examples
    --------
    Keras's example:

    >>> import numpy as np
    >>> from fastloss.losses import CategoricalCrossentropy
    >>> y_true = np.array([[0, 1, 0], [0, 0, 1]])
    >>> y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> cce = CategoricalCrossentropy()
    >>> round(cce(y_true, y_pred), 4)
    1.1769
    >>> round(cce(y_true, y_pred, sample_weight=np.array([0.3, 0.7])), 4)
    0.8136
    >>> round(CategoricalCrossentropy(reduction="sum")(y_true, y_pred), 4)
    2.3539

    With logits and label smoothing (targets become 0.05 and 0.9):

    >>> cce = CategoricalCrossentropy(from_logits=True, label_smoothing=0.15)
    >>> loss, grad = cce.loss_and_grad(y_true, np.log(y_pred + 0.05))
    >>> round(loss, 4)
    1.1774
    >>> grad.round(4)  # (softmax - smoothed target) / 2
    array([[ 0.0185, -0.0152, -0.0033],
           [ 0.0402,  0.3446, -0.3848]])
    """

    _keras_name = "categorical_crossentropy"

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axis(axis)
        self.from_logits = _check_bool(from_logits, "from_logits", type(self).__name__)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def _params(self):
        return {
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        t, x, res_dtype, own, shape_in = _float_pair(y_true, y_pred)
        shape = x.shape[:-1]
        plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        if self.from_logits:
            return self._softmax(
                "softmax_cross_entropy",
                x,
                np.asarray(t, dtype=x.dtype),
                plan,
                shape,
                res_dtype,
                own,
                shape_in,
                want_grad,
                label_smoothing=self.label_smoothing,
            )
        y = _smooth_onehot(t, self.label_smoothing)
        p = np.asarray(x, dtype=np.float64)
        s = p.sum(axis=-1, keepdims=True)
        lo, hi = _bounds(x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            o = p / s
            oc = np.clip(o, lo, hi)
            loss = plan.reduce_numpy(-(y * np.log(oc)).sum(axis=-1), res_dtype)
            if not want_grad:
                return loss
            go = np.where((o >= lo) & (o <= hi), -y / oc, 0.0)
            go *= plan.row_weight(shape)
            # through o = p / s: dp_k = (go_k - sum_j go_j o_j) / s
            grad = (go - (go * o).sum(axis=-1, keepdims=True)) / s
        return loss, _finish_grad(grad.astype(x.dtype), shape_in, res_dtype)


def _smooth_onehot(t, label_smoothing):
    y = np.asarray(t, dtype=np.float64)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / y.shape[-1]
    return y


def _softmax_rows(x):
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class CategoricalFocalCrossentropy(Loss):
    """Softmax focal cross-entropy, Keras's
    ``keras.losses.CategoricalFocalCrossentropy``.

    With ``y = y_true (1 - label_smoothing) + label_smoothing / n_classes`` and ``o =
    clip(p / sum(p), 1e-7, 1 - 1e-7)`` where ``p = y_pred`` (``softmax(y_pred)`` for
    logits), the per-sample loss is ``-sum(alpha (1 - o)**gamma y log o)`` over the
    classes, then the reduction.

    Parameters
    ----------
    alpha : float or sequence of n_classes floats, default=0.25
        Weight of every class, or one weight per class.
    gamma : float >= 0, default=2.0
        Focusing exponent; 0 gives (alpha-weighted) categorical cross-entropy.
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float in [0, 1], default=0.0
    axis : int, default=-1
        The class axis (the axis averaged over, for the binary losses). Another
        axis than the last is moved there first (a copy of the inputs); the
        per-sample losses have ``y_pred``'s shape without it.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="categorical_focal_crossentropy"

    Notes
    -----
    The fused `fastloss.softmax_focal_loss` kernel takes class indices, so it is
    used when the focal sum has a single term: ``from_logits=True``, no label
    smoothing and one-hot ``y_true`` (checked: one pass over it for the class
    indices). The kernel's loss is the exact ``-alpha_y (1 - q_y)**gamma log q_y``
    of ``q = softmax(y_pred)``; Keras clips ``q`` to ``[1e-7, 1 - 1e-7]``, so where
    the true class's probability is below 1e-7 (its logit more than about 16 below
    the largest) Keras's loss stops growing at ``16.12 alpha`` and its gradient
    loses the log term, while the kernel stays exact; elsewhere they agree.

    Otherwise (probabilities, smoothed or soft targets) the loss is computed in
    NumPy (float64), exactly as Keras, clip included.

    Examples
    --------
    Keras's example:

    >>> from fastloss.losses import CategoricalFocalCrossentropy
    >>> y_true = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    >>> y_pred = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    >>> cfce = CategoricalFocalCrossentropy()
    >>> round(cfce(y_true, y_pred), 4)
    0.2332
    >>> round(cfce(y_true, y_pred, sample_weight=[0.3, 0.7]), 4)
    0.1632
    >>> loss = CategoricalFocalCrossentropy(reduction="none")(y_true, y_pred)
    >>> [round(float(v), 6) for v in loss]
    [3.2e-05, 0.466273]

    With logits (the fused kernel: one-hot targets):

    >>> cfce = CategoricalFocalCrossentropy(from_logits=True, reduction="sum")
    >>> loss, grad = cfce.loss_and_grad([[0, 1, 0]], [[0.0, 1.0, 0.0]])
    >>> round(loss, 6), grad.round(6)
    (0.02477, array([[ 0.023791, -0.047582,  0.023791]]))
    """

    _keras_name = "categorical_focal_crossentropy"

    def __init__(
        self,
        alpha: float | Sequence[float] = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        *,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axis(axis)
        self.alpha: float | list[float]
        if np.ndim(alpha) == 0:
            self.alpha = real_scalar(alpha, "alpha")
        else:
            a, _ = float_input(alpha, "alpha")
            if a.ndim != 1 or not np.isfinite(a).all():
                raise ValueError("alpha must be a finite scalar or a 1-D sequence")
            self.alpha = [float(v) for v in a]
        self.gamma = real_scalar(gamma, "gamma", 0.0)
        self.from_logits = _check_bool(from_logits, "from_logits", type(self).__name__)
        self.label_smoothing = _check_smoothing(label_smoothing)

    def _params(self):
        return {
            "alpha": self.alpha,
            "gamma": self.gamma,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }

    def _alpha(self, n_classes):
        if isinstance(self.alpha, list):
            if len(self.alpha) != n_classes:
                raise ValueError(
                    f"alpha has {len(self.alpha)} values for {n_classes} classes"
                )
            return np.asarray(self.alpha)
        return self.alpha

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        t, x, res_dtype, own, shape_in = _float_pair(y_true, y_pred)
        shape = x.shape[:-1]
        alpha = self._alpha(x.shape[-1])
        plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        if self.from_logits and not self.label_smoothing:
            idx = _onehot_index(t)
            if idx is not None:
                # A scalar alpha scales every sample: it joins the sample weights.
                per_class = not np.isscalar(alpha)
                return self._softmax(
                    "softmax_focal_loss",
                    x,
                    idx,
                    plan,
                    shape,
                    res_dtype,
                    own,
                    shape_in,
                    want_grad,
                    factor=1.0 if per_class else alpha,
                    gamma=self.gamma,
                    class_weight=alpha if per_class else None,
                )
        return self._numpy(t, x, alpha, plan, shape, res_dtype, shape_in, want_grad)

    def _numpy(self, t, x, alpha, plan, shape, res_dtype, shape_in, want_grad):
        y = _smooth_onehot(t, self.label_smoothing)
        p = np.asarray(x, dtype=np.float64)
        lo, hi = _bounds(x.dtype)
        gamma = self.gamma
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.from_logits:
                o = _softmax_rows(p)
                s = None
            else:
                s = p.sum(axis=-1, keepdims=True)
                o = p / s
            oc = np.clip(o, lo, hi)
            log_o = np.log(oc)
            mod = (1.0 - oc) ** gamma
            loss = plan.reduce_numpy(-(alpha * mod * y * log_o).sum(axis=-1), res_dtype)
            if not want_grad:
                return loss
            # d/do of -alpha (1 - o)**gamma y log o, zero where o was clipped
            dmod = gamma * (1.0 - oc) ** (gamma - 1.0) if gamma else 0.0
            go = alpha * y * (dmod * log_o - mod / oc)
            go = np.where((o >= lo) & (o <= hi), go, 0.0)
            go *= plan.row_weight(shape)
            inner = (go * o).sum(axis=-1, keepdims=True)
            # softmax: dx = o (go - <go, o>); renormalisation: dp = (go - <go, o>) / s
            grad = o * (go - inner) if s is None else (go - inner) / s
        return loss, _finish_grad(grad.astype(x.dtype), shape_in, res_dtype)


def _onehot_index(t):
    """Class indices of one-hot rows of `t`, or None if any row is not one-hot."""
    if t.size == 0 or t.shape[-1] == 0:
        return None
    idx = np.argmax(t, axis=-1)
    top = np.take_along_axis(t, idx[..., None], axis=-1)
    if (top == 1).all() and (t.sum(axis=-1) == 1).all() and t.min() >= 0:
        return idx  # rows of nonnegative values with a 1 and sum 1: one-hot
    return None


class KLDivergence(Loss):
    """Kullback-Leibler divergence, Keras's ``keras.losses.KLDivergence``.

    With ``t = clip(y_true, 1e-7, 1)`` and ``q = clip(y_pred, 1e-7, 1)``, the
    per-sample loss is ``sum(t log(t / q))`` over the last axis, then the reduction.
    Both are probabilities (not renormalised, as in Keras); the gradient is
    ``-t / q`` where ``y_pred`` was not clipped and 0 where it was.

    Computed in NumPy (float64): the fused `fastloss.kl_div_with_logits` takes
    logits and normalises them with a softmax, which Keras's formula does not do, so
    it gives Keras's value only for rows of ``y_pred`` that sum to 1 and need no
    clip.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="kl_divergence"

    Examples
    --------
    >>> import numpy as np
    >>> from fastloss.losses import KLDivergence
    >>> y_true = np.array([[0.5, 0.5], [1.0, 0.0]])
    >>> y_pred = np.array([[0.25, 0.75], [0.5, 0.5]])
    >>> round(KLDivergence()(y_true, y_pred), 6)  # (0.143841 + log 2) / 2
    0.418493
    >>> loss, grad = KLDivergence(reduction="sum").loss_and_grad(y_true, y_pred)
    >>> grad.round(6)  # -t / q; t = 1e-7 where y_true is 0
    array([[-2.      , -0.666667],
           [-2.      , -0.      ]])
    """

    _keras_name = "kl_divergence"

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        t, x, res_dtype, _, shape_in = _float_pair(y_true, y_pred)
        shape = x.shape[:-1]
        plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        lo, _ = _bounds(x.dtype)
        tc = np.clip(np.asarray(t, dtype=np.float64), lo, 1.0)
        p = np.asarray(x, dtype=np.float64)
        q = np.clip(p, lo, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = plan.reduce_numpy((tc * np.log(tc / q)).sum(axis=-1), res_dtype)
            if not want_grad:
                return loss
            grad = np.where((p >= lo) & (p <= 1.0), -tc / q, 0.0)
            grad *= plan.row_weight(shape)
        return loss, _finish_grad(grad.astype(x.dtype), shape_in, res_dtype)


class Hinge(Loss):
    """Hinge loss, Keras's ``keras.losses.Hinge``.

    ``l = mean(max(1 - y * y_pred, 0), axis=-1)`` per sample with labels ``y`` in
    {-1, 1}, then the reduction. As in Keras, when every entry of ``y_true`` is 0 or
    1 the labels are ``2 y_true - 1``; otherwise they are used as given. Fused
    `fastloss.hinge_loss` kernel; the gradient is ``-y`` (over the elements per
    sample) inside the margin and 0 outside it and on it.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="hinge"

    Examples
    --------
    >>> from fastloss.losses import Hinge
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]  # 0/1 labels: -1/1
    >>> y_pred = [[0.6, 0.4], [0.4, 0.6]]
    >>> round(Hinge()(y_true, y_pred), 6)  # (1.6 + 0.6 + 1.4 + 1.6) / 4
    1.3
    >>> Hinge(reduction="sum").loss_and_grad([[1.0, -1.0]], [[0.5, -2.0]])
    (0.25, array([[-0.5,  0. ]]))
    """

    _keras_name = "hinge"

    _function = "hinge_loss"


class SquaredHinge(Loss):
    """Squared hinge loss, Keras's ``keras.losses.SquaredHinge``.

    ``l = mean(max(1 - y * y_pred, 0)**2, axis=-1)`` per sample with labels ``y``
    in {-1, 1} (0/1 labels converted as in `Hinge`), then the reduction. Fused
    `fastloss.squared_hinge_loss` kernel.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="squared_hinge"

    Examples
    --------
    >>> from fastloss.losses import SquaredHinge
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[0.6, 0.4], [0.4, 0.6]]
    >>> round(SquaredHinge()(y_true, y_pred), 6)  # (2.56 + 0.36 + 1.96 + 2.56) / 4
    1.86
    """

    _keras_name = "squared_hinge"

    _function = "squared_hinge_loss"


class MeanSquaredLogarithmicError(Loss):
    """Mean squared logarithmic error, Keras's
    ``keras.losses.MeanSquaredLogarithmicError``.

    ``l = mean((log1p(max(y_pred, 1e-7)) - log1p(max(y_true, 1e-7)))**2, axis=-1)``
    per sample, then the reduction. Fused `fastloss.msle_loss` kernel (``log1p``
    where Keras writes ``log(x + 1)``: the same function, more accurate for small
    values); the gradient is 0 where ``y_pred`` was raised to 1e-7.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="mean_squared_logarithmic_error"

    Examples
    --------
    >>> from fastloss.losses import MeanSquaredLogarithmicError
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[1.0, 1.0], [1.0, 0.0]]
    >>> msle = MeanSquaredLogarithmicError()
    >>> round(msle(y_true, y_pred), 6)  # 2 (log(2) - log1p(1e-7))**2 / 4
    0.240226
    """

    _keras_name = "mean_squared_logarithmic_error"

    _function = "msle_loss"
    _function_options = {"epsilon": EPSILON}


class MeanAbsolutePercentageError(Loss):
    """Mean absolute percentage error, Keras's
    ``keras.losses.MeanAbsolutePercentageError``.

    ``l = 100 mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1)`` per sample
    (a percentage), then the reduction. Fused `fastloss.mape_loss` kernel; the
    gradient is ``100 sign(y_pred - y_true) / max(|y_true|, 1e-7)`` over the
    elements per sample.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="mean_absolute_percentage_error"

    Examples
    --------
    Keras's example:

    >>> from fastloss.losses import MeanAbsolutePercentageError
    >>> y_true = [100.0, 200.0, 300.0]
    >>> y_pred = [90.0, 210.0, 310.0]
    >>> round(MeanAbsolutePercentageError()(y_true, y_pred), 6)
    6.111111
    """

    _keras_name = "mean_absolute_percentage_error"

    _function = "mape_loss"
    _function_options = {"epsilon": EPSILON}


class Poisson(Loss):
    """Poisson loss of predicted rates, Keras's ``keras.losses.Poisson``.

    ``l = mean(y_pred - y_true log(y_pred + 1e-7), axis=-1)`` per sample, then the
    reduction: ``y_pred`` is the rate itself (Keras models end in an ``exponential``
    or ``softplus`` activation for it). Fused `fastloss.poisson_loss` kernel with
    ``log_input=False, eps=1e-7`` (Keras's ``keras.backend.epsilon()``); the
    gradient is ``1 - y_true / (y_pred + 1e-7)``. It is PyTorch's
    ``poisson_nll_loss(log_input=False, eps=1e-7, full=False)``, averaged over the
    last axis (PyTorch's default ``eps`` is 1e-8).

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="poisson"

    Notes
    -----
    A ``y_true`` of 0 drops its term outright: where ``y_pred + 1e-7 <= 0`` such
    an element costs ``y_pred`` here and NaN (``0 * log`` of a non-positive
    number) in Keras; elsewhere the two agree.

    Examples
    --------
    >>> from fastloss.losses import Poisson
    >>> y_true = [[0.0, 1.0], [0.0, 0.0]]
    >>> y_pred = [[1.0, 1.0], [0.0, 0.0]]
    >>> round(Poisson()(y_true, y_pred), 6)  # (1 + 1 - log(1 + 1e-7)) / 4
    0.5
    >>> Poisson(reduction="sum").loss_and_grad([[2.0]], [[4.0]])[1].round(6)
    array([[0.5]])
    """

    _keras_name = "poisson"

    _function = "poisson_loss"
    _function_options = {"log_input": False, "eps": EPSILON}


class CTC(Loss):
    """CTC loss (Connectionist Temporal Classification), Keras's
    ``keras.losses.CTC``.

    ``y_true`` holds label sequences of shape (batch, max_length), padded with 0
    (Keras's mask index, which is also the blank class); ``y_pred`` holds logits of
    shape (batch, frames, classes), not normalised (Keras applies a log-softmax).
    Each sample's loss is the CTC negative log-likelihood of its labels (the
    nonzero entries of its row, which must come first) over all of its frames;
    the reduction follows. The gradient is with respect to the logits.

    Computed by the fused kernel of `fastloss.ctc_loss` (``blank=0``,
    ``from_logits=True``, ``batch_first=True``), in float64 inside; Keras computes
    in float32 (optax's recursion). Differences: a row whose labels cannot be
    aligned to the frames (more labels, plus the blanks between repeated labels,
    than frames) has an infinite loss here, where Keras's stand-in for
    ``log(0)`` (-1e5) gives a large finite one; a row with a 0 between labels is
    an error here (Keras counts the nonzero labels and then reads that many
    entries from the start, the 0 included). Keras's ``dtype`` argument is not
    taken. The relation to ``torch.nn.functional.ctc_loss``: torch's "mean"
    divides each loss by its target length, Keras's reductions do not;
    `fastloss.ctc_loss` is torch's.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="ctc"

    Examples
    --------
    >>> import numpy as np
    >>> from fastloss.losses import CTC
    >>> y_true = np.array([[1, 2]])
    >>> y_pred = np.zeros((1, 3, 3))  # uniform: 5 alignments of 27
    >>> round(CTC()(y_true, y_pred), 6)
    1.686399
    """

    _keras_name = "ctc"

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        x, res_dtype, own = _pred(y_pred)
        if x.ndim != 3:
            raise ValueError(
                "y_pred must be 3-D (batch, frames, classes) logits, got shape "
                f"{x.shape}"
            )
        t = np.asarray(y_true)
        if t.dtype.kind == "f" and np.array_equal(t, np.round(t)):
            t = t.astype(np.int64)  # Keras casts its labels to int32
        if t.dtype.kind not in "iu":
            raise TypeError(f"y_true must hold integer labels, got dtype {t.dtype}")
        if t.ndim != 2 or t.shape[0] != x.shape[0]:
            raise ValueError(
                f"y_true must have shape ({x.shape[0]}, max_length) (labels padded "
                f"with 0), got {t.shape}"
            )
        n, frames, _ = x.shape
        lengths = np.count_nonzero(t, axis=-1)
        late = (t[:, 1:] != 0) & (t[:, :-1] == 0)  # a label after the padding
        if late.any():
            i, k = np.unravel_index(int(np.argmax(late)), late.shape)
            k += 1
            raise ValueError(
                f"y_true[{i}, {k}] = {t[i, k]} follows a 0: the labels of a row "
                "must come first, padded with 0 (the blank) after them"
            )
        plan = _Plan((n,), sample_weight, self.reduction, dtype=x.dtype)
        sw, red = plan.kernel_weight((n,), 1.0, False, True)
        kw = dict(
            blank=0,
            from_logits=True,
            batch_first=True,
            sample_weight=sw,
            reduction=red,
        )
        args = (x, t, np.full(n, frames), lengths)
        if not want_grad:
            loss = _functional("ctc_loss")(*args, **kw)
            grad = None
        else:
            loss, grad = _functional("ctc_loss_and_grad")(
                *args, out=x if own else None, **kw
            )
        if plan.none:
            loss = plan.none_values(loss, grad)
        if not want_grad:
            return loss
        return loss, _finish_grad(grad, x.shape, res_dtype)


# ---- the row-pair losses: CosineSimilarity, Dice, Tversky ---------------------------


def _check_axes(axis):
    """Keras's `axis`: None, an int or a tuple/list of ints (range checked per call)."""
    items = () if axis is None else axis if isinstance(axis, (tuple, list)) else (axis,)
    for a in items:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(
                f"axis must be None, an int or a tuple of ints, got {axis!r}"
            )
    return tuple(int(a) for a in axis) if isinstance(axis, (tuple, list)) else axis


def _axes(axis, ndim):
    """The reduced axes as sorted non-negative ints (None: all of them)."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    if any(not -ndim <= a < ndim for a in items):
        raise ValueError(f"axis {axis!r} is out of range for y_pred of {ndim} dims")
    axes = sorted(a % ndim for a in items)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis {axis!r} names an axis twice")
    return tuple(axes)


def _pair_rows(loss, fname, axis, y_true, y_pred, sample_weight, want_grad, **params):
    """A row-pair kernel (`fastloss.cosine_similarity_loss`, ...) over Keras's
    `axis`: the reduced axes are moved last and flattened into one row per sample
    (a copy only when they are not already the trailing axes)."""
    t, x, res_dtype, own, shape_in = _float_pair(y_true, y_pred)
    axes = _axes(axis, x.ndim)
    keep = [a for a in range(x.ndim) if a not in axes]
    order = keep + list(axes)
    shape = tuple(x.shape[a] for a in keep)
    moved = order != list(range(x.ndim))
    if moved:
        x, t, own = np.ascontiguousarray(x.transpose(order)), t.transpose(order), True
    plan = _Plan(shape, sample_weight, loss.reduction, dtype=x.dtype)
    lead = shape if shape else (1,)
    rows = lead + (math.prod(x.shape[len(keep) :]),)
    x2, t2 = x.reshape(rows), np.reshape(t, rows)
    sw, red = plan.kernel_weight(lead, 1.0, True, True)
    kw = dict(params, sample_weight=sw, reduction=red)
    if not want_grad:
        value = _functional(fname)(x2, t2, **kw)
        grad = None
    else:
        value, grad = _functional(fname + "_and_grad")(
            x2, t2, out=x2 if own else None, **kw
        )
    if plan.none:
        value = plan.none_values(value, grad)
    if not want_grad:
        return value
    grad = grad.reshape(x.shape)
    if moved:
        grad = np.ascontiguousarray(grad.transpose(np.argsort(order)))
    return value, _finish_grad(grad, shape_in, res_dtype)


class _RowPairLoss(Loss):
    """A loss of (y_true, y_pred) rows through a row-pair kernel (`_function`, with
    `_function_options`) over Keras's `axis`, which `_pair_rows` moves last and
    flattens into one row per sample."""

    _moves_axis = False  # _run reduces over self.axis itself
    axis: Any = -1

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        return _pair_rows(
            self,
            self._function,
            self.axis,
            y_true,
            y_pred,
            sample_weight,
            want_grad,
            **self._function_options,
        )


class CosineSimilarity(_RowPairLoss):
    """Cosine similarity loss, Keras's ``keras.losses.CosineSimilarity``.

    ``l = -sum(u * v, axis)`` per sample with ``u = y_pred / max(||y_pred||,
    1e-7)`` and ``v`` likewise of ``y_true`` (Keras's ``l2_normalize`` over
    `axis`), then the reduction: a number in [-1, 1], -1 for rows pointing the same
    way, 0 when either row is zero. Fused `fastloss.cosine_similarity_loss` kernel
    (see it for the gradient, which is finite for zero rows, and for PyTorch's
    ``cosine_embedding_loss``, which is ``1 + l``).

    Parameters
    ----------
    axis : int or tuple of ints, default=-1
        The axis (axes) of a sample's vector.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="cosine_similarity"

    Examples
    --------
    Keras's example:

    >>> from fastloss.losses import CosineSimilarity
    >>> y_true = [[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    >>> y_pred = [[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]]
    >>> CosineSimilarity(reduction="none")(y_true, y_pred)
    array([-0., -1.,  1.])
    >>> round(CosineSimilarity()(y_true, y_pred), 6)
    0.0
    """

    _keras_name = "cosine_similarity"
    _function = "cosine_similarity_loss"
    _function_options = {"epsilon": EPSILON}

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axes(axis)
        if self.axis is None:
            raise TypeError("axis must be an int or a tuple of ints, got None")

    def _params(self):
        return {"axis": self.axis}


class Dice(_RowPairLoss):
    """Dice loss, Keras's ``keras.losses.Dice``.

    ``l = 1 - 2 sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)`` with the
    sums over `axis`, then the reduction. Keras's default ``axis=None`` sums over
    every axis: one loss for the whole batch (so the reduction and a per-sample
    weight do nothing useful); ``axis=(1, 2, 3)`` on images gives one loss per
    image. Fused `fastloss.dice_loss` kernel over the samples' flattened axes.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="dice"
    axis : int or tuple of ints, optional
        The axes summed over; None (the default) sums over all of them.

    Notes
    -----
    ``y_true`` and ``y_pred`` are rank-matched as for every class here (Keras's
    ``dice`` does not match ranks and would broadcast ``(n,)`` against ``(n, 1)`` to
    ``(n, n)``). With ``axis=None`` the whole batch is one row, computed on one
    thread.

    Examples
    --------
    Keras's example (two 2x2x1 images):

    >>> from fastloss.losses import Dice
    >>> y_true = [[[[1.0], [1.0]], [[0.0], [0.0]]],
    ...           [[[1.0], [1.0]], [[0.0], [0.0]]]]
    >>> y_pred = [[[[0.0], [1.0]], [[0.0], [1.0]]],
    ...           [[[0.4], [0.0]], [[0.0], [0.9]]]]
    >>> Dice(axis=(1, 2, 3), reduction=None)(y_true, y_pred).round(6)
    array([0.5     , 0.757576])
    >>> round(Dice()(y_true, y_pred), 6)
    0.616438
    """

    _keras_name = "dice"
    _function = "dice_loss"
    _function_options = {"epsilon": EPSILON}

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        axis: int | Sequence[int] | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.axis = _check_axes(axis)

    def _params(self):
        return {"axis": self.axis}


class Tversky(_RowPairLoss):
    """Tversky loss, Keras's ``keras.losses.Tversky``.

    With ``I = sum(y_true * y_pred)`` over `axis`, ``l = 1 - I / (I + alpha
    sum((1 - y_pred) y_true) + beta sum(y_pred (1 - y_true)) + 1e-7)`` per sample,
    then the reduction (Keras's formula: see `fastloss.tversky_loss` on which term
    each coefficient weights). ``alpha = beta = 0.5`` is the Dice loss. Keras's
    default ``axis=None`` sums over every axis (one loss for the batch). Fused
    `fastloss.tversky_loss` kernel.

    Parameters
    ----------
    alpha : float, default=0.5
    beta : float, default=0.5
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="tversky"
    axis : int or tuple of ints, optional
        The axes summed over; None (the default) sums over all of them.

    Examples
    --------
    >>> from fastloss.losses import Tversky
    >>> y_true = [[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
    >>> y_pred = [[0.0, 1.0, 0.0, 1.0], [0.4, 0.0, 0.0, 0.9]]
    >>> tversky = Tversky(alpha=0.7, beta=0.3, axis=-1, reduction=None)
    >>> tversky(y_true, y_pred).round(6)  # 1 - 1/2, 1 - 0.4/1.79
    array([0.5     , 0.776536])
    """

    _keras_name = "tversky"
    _function = "tversky_loss"

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        axis: int | Sequence[int] | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.alpha = real_scalar(alpha, "alpha")
        self.beta = real_scalar(beta, "beta")
        self.axis = _check_axes(axis)
        self._function_options = {
            "alpha": self.alpha,
            "beta": self.beta,
            "epsilon": EPSILON,
        }

    def _params(self):
        return {"alpha": self.alpha, "beta": self.beta, "axis": self.axis}


class Circle(Loss):
    """Circle loss, Keras's ``keras.losses.Circle`` (Sun et al., 2020).

    ``y_true`` holds integer labels of shape ``(batch,)`` and ``y_pred`` the
    batch's (L2-normalised) embeddings ``(batch, features)``; each row's loss
    scores its similarities with every other embedding of the batch, positives
    (same label) and negatives, as `fastloss.circle_loss` documents; then the
    reduction. The gradient is with respect to the embeddings.

    Parameters
    ----------
    gamma : float >= 0, default=80.0
    margin : float, default=0.4
    remove_diagonal : bool, default=True
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`. Keras masks out the rows whose loss is 0 (no positive or no
        negative in the batch): its means divide by the number (or the weight)
        of the other rows, and so do these.
    name : str, default="circle"

    Notes
    -----
    Keras's mask is ``loss > 0``; here it is "the row has a positive and a
    negative", the same rows unless a loss underflows to 0 (``softplus`` of
    less than about -88 in float32, which the defaults cannot reach). Computed by
    the fused row kernel of `fastloss.circle_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastloss.losses import Circle
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(Circle()([0, 0, 1, 1], emb), 4)  # the mean of the 4 rows' losses
    3.2009
    """

    _keras_name = "circle"

    def __init__(
        self,
        gamma: float = 80.0,
        margin: float = 0.4,
        remove_diagonal: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.gamma = real_scalar(gamma, "gamma", 0.0)
        self.margin = real_scalar(margin, "margin")
        self.remove_diagonal = _check_bool(
            remove_diagonal, "remove_diagonal", type(self).__name__
        )

    def _params(self):
        return {
            "gamma": self.gamma,
            "margin": self.margin,
            "remove_diagonal": self.remove_diagonal,
        }

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        from ._similarity import _labels, circle_active

        x, res_dtype, own = _pred(y_pred)
        if x.ndim != 2:
            raise ValueError(
                f"y_pred must be 2-D embeddings (batch, features), got {x.shape}"
            )
        y = _labels(y_true, x.shape[0])
        active = circle_active(y, self.remove_diagonal)
        plan = _Plan(
            (x.shape[0],),
            sample_weight,
            self.reduction,
            valid=lambda: active,
            dtype=x.dtype,
        )
        sw, red = plan.kernel_weight((x.shape[0],), 1.0, True, True)
        kw = {
            "gamma": self.gamma,
            "margin": self.margin,
            "remove_diagonal": self.remove_diagonal,
            "sample_weight": sw,
            "reduction": red,
        }
        if not want_grad:
            value = _functional("circle_loss")(x, y, **kw)
            grad = None
        else:
            value, grad = _functional("circle_loss_and_grad")(
                x, y, out=x if own else None, **kw
            )
        if plan.none:
            value = plan.none_values(value, grad)
        if not want_grad:
            return value
        return value, _finish_grad(grad, x.shape, res_dtype)


# ---- CategoricalHinge, CategoricalGeneralizedCrossEntropy ---------------------------


class CategoricalHinge(_RowPairLoss):
    """Categorical hinge loss, Keras's ``keras.losses.CategoricalHinge``.

    ``l = max(neg - pos + 1, 0)`` per sample with ``pos = sum(y_true * y_pred)`` and
    ``neg = max((1 - y_true) * y_pred)`` over the last axis, then the reduction.
    ``y_true`` holds one-hot rows (or per-class weights, used as given) and
    ``y_pred`` scores of the same shape. Fused `fastloss.categorical_hinge_loss`
    kernel: see it for the subgradient (JAX's: ties of the maximum share it, half
    at the kink), NaN rows, and how PyTorch's ``multi_margin_loss`` differs.

    Parameters
    ----------
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="categorical_hinge"

    Examples
    --------
    >>> from fastloss.losses import CategoricalHinge
    >>> y_true = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    >>> y_pred = [[0.25, 1.0, 0.5], [0.5, 1.0, -0.25]]
    >>> CategoricalHinge()(y_true, y_pred)  # (0.5 + 1.5) / 2
    1.0
    >>> CategoricalHinge(reduction="sum").loss_and_grad(y_true, y_pred)[1]
    array([[ 0., -1.,  1.],
           [-1.,  1.,  0.]])
    """

    _keras_name = "categorical_hinge"
    _function = "categorical_hinge_loss"

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)


def _check_q(q, one_ok):
    """Keras's ``0 < q < 1`` (its class's check), or ``0 < q <= 1`` (`one_ok`)."""
    v = real_scalar(q, "q")
    if not (0.0 < v < 1.0 or (one_ok and v == 1.0)):
        interval = "(0, 1]" if one_ok else "(0, 1)"
        raise ValueError(f"q must be in the interval {interval}, got {v}")
    return v


class CategoricalGeneralizedCrossEntropy(Loss):
    """Generalized cross-entropy (Zhang & Sabuncu, 2018), Keras's
    ``keras.losses.CategoricalGeneralizedCrossEntropy``.

    ``y_true`` holds class indices of shape ``y_pred.shape[:-1]`` (or with a
    trailing axis of 1) and ``y_pred`` probabilities ``(..., n_classes)``; with
    ``p`` the probability of the true class, the per-sample loss is ``(1 -
    p**q) / q``, then the reduction. No clipping and no renormalisation, as in
    Keras. Fused `fastloss.categorical_generalized_cross_entropy_loss` kernel (see
    it for the gradient, ``-p**(q - 1)`` at the true class, ``p = 0`` and NaN).

    Parameters
    ----------
    q : float in (0, 1), default=0.5
        The noise parameter (Keras's range and default): towards 0 the loss
        approaches the cross-entropy, towards 1 the mean absolute error.
    reduction : str or None, default="sum_over_batch_size"
        See `Loss`.
    name : str, default="categorical_generalized_cross_entropy"

    Notes
    -----
    Differences from Keras, on input Keras mishandles: labels of shape ``(batch,
    1)`` are squeezed to ``(batch,)`` as Keras's docstring says (Keras 3.15
    broadcasts them against every row instead), and a label outside ``[0,
    n_classes)`` is an error (Keras's ``one_hot`` gives a zero row and the loss
    ``1 / q``). Float labels are truncated to integers, as Keras's cast does.
    Keras 3.15's ``keras.losses.get`` does not know this class's names;
    `fastloss.losses.get` and `fastloss.get_loss` do.

    Examples
    --------
    Keras's example:

    >>> import numpy as np
    >>> from fastloss.losses import CategoricalGeneralizedCrossEntropy
    >>> y_true = np.array([0, 1, 0, 1])
    >>> y_pred = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]])
    >>> round(CategoricalGeneralizedCrossEntropy()(y_true, y_pred), 6)
    0.35986
    >>> gce = CategoricalGeneralizedCrossEntropy(q=0.25, reduction="none")
    >>> gce(y_true, y_pred).round(6)
    array([0.341235, 0.217034, 0.479553, 0.479553])
    """

    _keras_name = "categorical_generalized_cross_entropy"

    def __init__(
        self,
        q: float = 0.5,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name)
        self.q = _check_q(q, False)

    _sparse = True

    def _params(self):
        return {"q": self.q}

    def _run(self, y_true, y_pred, sample_weight, want_grad):
        x, res_dtype, own = _pred(y_pred)
        if x.ndim == 0:
            raise ValueError("y_pred must have at least one dimension (the classes)")
        shape = x.shape[:-1]
        t = _class_target(y_true, shape)
        bad = (t < 0) | (t >= x.shape[-1])
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"y_true{list(pos)} = {t[pos]} is not a class index in [0, "
                f"{x.shape[-1]}) (y_pred's last axis)"
            )
        plan = _Plan(shape, sample_weight, self.reduction, dtype=x.dtype)
        return self._softmax(
            "categorical_generalized_cross_entropy_loss",
            x,
            t,
            plan,
            shape,
            res_dtype,
            own,
            x.shape,
            want_grad,
            q=self.q,
            ignore_index=_NO_IGNORE,  # every index was checked above
        )


# ---- get_loss ----------------------------------------------------------------------

# The classes and Keras 3's string names (keras.losses.get) for each, from the loss
# table (fastloss/_table.py); a name makes an instance with the defaults.
_CLASSES = tuple(globals()[row.cls] for row in _table.KERAS)
_KERAS_NAMES = {
    **{name: globals()[row.cls] for row in _table.KERAS for name in row.names},
    **{cls.__name__: cls for cls in _CLASSES},
}


def _functional_names():
    """Every fastloss loss ``name`` that has a ``name_and_grad`` twin."""
    return sorted(row.name for row in _table.LOSSES if row.grad)


def _functional_pair(name):
    pkg = _pkg()
    return FunctionalLoss(getattr(pkg, name), getattr(pkg, name + "_and_grad"))


def get_loss(
    loss: str | Loss | FunctionalLoss | Callable[..., Any],
) -> Loss | FunctionalLoss:
    """Resolve a loss name or object to a callable loss.

    Parameters
    ----------
    loss : str, Loss, FunctionalLoss or a fastloss loss function
        - A Keras name (``"sparse_categorical_crossentropy"``,
          ``"categorical_crossentropy"``, ``"binary_crossentropy"``, ``"mse"`` /
          ``"mean_squared_error"``, ``"mae"`` / ``"mean_absolute_error"``,
          ``"huber"``, ``"log_cosh"``, ``"kl_divergence"`` / ``"kld"``,
          ``"binary_focal_crossentropy"``, ``"categorical_focal_crossentropy"``)
          or class name (``"CategoricalCrossentropy"``): a new instance of that
          class with its default arguments (so ``from_logits=False``, as Keras's
          ``model.compile(loss="...")``).
        - A fastloss functional name (``"softmax_cross_entropy"``,
          ``"mse_loss"``, ...: every public ``name`` with a ``name_and_grad``), or
          either function of such a pair: the `FunctionalLoss` pair ``(loss,
          loss_and_grad)``. A functional name is looked up before the Keras names.
        - A `Loss` instance or a `FunctionalLoss`: returned as is.

    Returns
    -------
    Loss or FunctionalLoss
        A `Loss` is called ``loss(y_true, y_pred, sample_weight=None)`` and has
        ``loss.loss_and_grad(...)``, Keras's reductions and argument order. A
        `FunctionalLoss` ``(loss, loss_and_grad)`` is called fastloss-style,
        prediction first: ``loss_and_grad(input, target, **options)``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    TypeError
        For a loss class instead of an instance (the message says to add
        ``()``), a Keras loss object (it names the fastloss class to use), or
        anything else that is not a loss.

    Examples
    --------
    >>> import fastloss
    >>> fastloss.get_loss("sparse_categorical_crossentropy")
    SparseCategoricalCrossentropy(from_logits=False, ignore_class=None)
    >>> pair = fastloss.get_loss("mse_loss")
    >>> pair.loss is fastloss.mse_loss, pair.loss_and_grad is fastloss.mse_loss_and_grad
    (True, True)
    >>> fastloss.get_loss(fastloss.losses.Huber)
    Traceback (most recent call last):
        ...
    TypeError: get_loss got the class Huber, not an instance: add () to create one, \
as in Huber()
    """
    if isinstance(loss, (Loss, FunctionalLoss)):
        return loss
    if isinstance(loss, type):
        if issubclass(loss, Loss):
            n = loss.__name__
            raise TypeError(
                f"get_loss got the class {n}, not an instance: add () to create "
                f"one, as in {n}()"
            )
        raise TypeError(f"get_loss expected a loss, got the class {loss.__name__}")
    if isinstance(loss, str):
        if loss in _functional_names():
            return _functional_pair(loss)
        cls = _KERAS_NAMES.get(loss)
        if cls is not None:
            return cls()
        raise ValueError(
            f"unknown loss {loss!r}. Keras names: "
            f"{', '.join(sorted(_KERAS_NAMES, key=str.lower))}. fastloss functional "
            f"names: {', '.join(_functional_names())}"
        )
    kind = type(loss)
    if kind.__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
        ours = _KERAS_NAMES.get(kind.__name__)
        hint = (
            f"; use fastloss.losses.{ours.__name__} with the same arguments"
            if ours is not None
            else ""
        )
        raise TypeError(f"get_loss got a Keras object ({kind.__name__}){hint}")
    if callable(loss):
        name = getattr(loss, "__name__", "")
        base = name[: -len("_and_grad")] if name.endswith("_and_grad") else name
        if base in _functional_names():
            pair = _functional_pair(base)
            if loss is pair.loss or loss is pair.loss_and_grad:
                return pair
    raise TypeError(
        "get_loss expected a loss name, a fastloss.losses.Loss instance or a "
        f"fastloss loss function, got {kind.__name__}"
    )


# ---- Keras's functional forms, aliases and get ---------------------------------------
#
# ``keras.losses.<name>(y_true, y_pred, ...)`` returns the per-sample losses (no
# reduction, no sample weights): the class with ``reduction="none"``. Each form here
# is that, with Keras 3's signature.


def _per_sample(cls, y_true, y_pred, **params):
    return cls(**params, reduction="none")(y_true, y_pred)


def mean_squared_error(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample ``mean((y_pred - y_true)**2, axis=-1)``: Keras's
    ``keras.losses.mean_squared_error``, `MeanSquaredError` with
    ``reduction="none"``.

    Examples
    --------
    >>> from fastloss.losses import mean_squared_error
    >>> mean_squared_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]])
    array([0.5, 0.5])
    """
    return _per_sample(MeanSquaredError, y_true, y_pred)


def mean_absolute_error(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample ``mean(|y_pred - y_true|, axis=-1)``: Keras's
    ``keras.losses.mean_absolute_error`` (`MeanAbsoluteError`, no reduction)."""
    return _per_sample(MeanAbsoluteError, y_true, y_pred)


def mean_absolute_percentage_error(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike
) -> LossValue:
    """Per-sample ``100 mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)``:
    Keras's ``keras.losses.mean_absolute_percentage_error``
    (`MeanAbsolutePercentageError`, no reduction)."""
    return _per_sample(MeanAbsolutePercentageError, y_true, y_pred)


def mean_squared_logarithmic_error(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike
) -> LossValue:
    """Per-sample ``mean((log1p(y_pred) - log1p(y_true))**2, axis=-1)``: Keras's
    ``keras.losses.mean_squared_logarithmic_error``
    (`MeanSquaredLogarithmicError`, no reduction)."""
    return _per_sample(MeanSquaredLogarithmicError, y_true, y_pred)


def hinge(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample ``mean(max(1 - y_true * y_pred, 0), axis=-1)`` (0/1 labels made
    -1/1): Keras's ``keras.losses.hinge`` (`Hinge`, no reduction)."""
    return _per_sample(Hinge, y_true, y_pred)


def squared_hinge(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample ``mean(max(1 - y_true * y_pred, 0)**2, axis=-1)``: Keras's
    ``keras.losses.squared_hinge`` (`SquaredHinge`, no reduction)."""
    return _per_sample(SquaredHinge, y_true, y_pred)


def poisson(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample ``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``: Keras's
    ``keras.losses.poisson`` (`Poisson`, no reduction)."""
    return _per_sample(Poisson, y_true, y_pred)


def huber(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, delta: float = 1.0
) -> LossValue:
    """Per-sample Huber loss: Keras's ``keras.losses.huber`` (`Huber`, no
    reduction)."""
    return _per_sample(Huber, y_true, y_pred, delta=delta)


def log_cosh(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample log-cosh loss: Keras's ``keras.losses.log_cosh`` (`LogCosh`, no
    reduction)."""
    return _per_sample(LogCosh, y_true, y_pred)


def kl_divergence(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample KL divergence: Keras's ``keras.losses.kl_divergence``
    (`KLDivergence`, no reduction)."""
    return _per_sample(KLDivergence, y_true, y_pred)


def binary_crossentropy(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> LossValue:
    """Per-sample binary cross-entropy (mean over `axis`): Keras's
    ``keras.losses.binary_crossentropy`` (`BinaryCrossentropy`, no reduction).

    Examples
    --------
    >>> from fastloss.losses import binary_crossentropy
    >>> binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).round(4)
    array([0.9163, 0.7136])
    """
    return _per_sample(
        BinaryCrossentropy,
        y_true,
        y_pred,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        axis=axis,
    )


def binary_focal_crossentropy(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> LossValue:
    """Per-sample binary focal cross-entropy: Keras's
    ``keras.losses.binary_focal_crossentropy`` (`BinaryFocalCrossentropy`, no
    reduction)."""
    return _per_sample(
        BinaryFocalCrossentropy,
        y_true,
        y_pred,
        apply_class_balancing=apply_class_balancing,
        alpha=alpha,
        gamma=gamma,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        axis=axis,
    )


def categorical_crossentropy(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> LossValue:
    """Per-sample categorical cross-entropy over the class axis `axis`: Keras's
    ``keras.losses.categorical_crossentropy`` (`CategoricalCrossentropy`, no
    reduction).

    Examples
    --------
    >>> from fastloss.losses import categorical_crossentropy
    >>> y_true = [[0, 1, 0], [0, 0, 1]]
    >>> categorical_crossentropy(y_true, [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).round(4)
    array([0.0513, 2.3026])
    """
    return _per_sample(
        CategoricalCrossentropy,
        y_true,
        y_pred,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        axis=axis,
    )


def categorical_focal_crossentropy(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alpha: float | Sequence[float] = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> LossValue:
    """Per-sample categorical focal cross-entropy: Keras's
    ``keras.losses.categorical_focal_crossentropy``
    (`CategoricalFocalCrossentropy`, no reduction)."""
    return _per_sample(
        CategoricalFocalCrossentropy,
        y_true,
        y_pred,
        alpha=alpha,
        gamma=gamma,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
        axis=axis,
    )


def categorical_hinge(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample ``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)``
    over the last axis: Keras's ``keras.losses.categorical_hinge``
    (`CategoricalHinge`, no reduction).

    Examples
    --------
    >>> from fastloss.losses import categorical_hinge
    >>> categorical_hinge([[0, 1, 0], [1, 0, 0]], [[0.25, 1.0, 0.5], [0.5, 1.0, 0.0]])
    array([0.5, 1.5])
    """
    return _per_sample(CategoricalHinge, y_true, y_pred)


def categorical_generalized_cross_entropy(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, q: float
) -> LossValue:
    """Per-sample ``(1 - p**q) / q`` with ``p`` the probability of the class
    ``y_true``: Keras's ``keras.losses.categorical_generalized_cross_entropy``
    (`CategoricalGeneralizedCrossEntropy`, no reduction). ``q`` is required, as in
    Keras, and may be 1 here (``1 - p``; Keras's functional form does not check
    ``q``, its class refuses 1); it must be in (0, 1].

    Examples
    --------
    >>> from fastloss.losses import categorical_generalized_cross_entropy
    >>> categorical_generalized_cross_entropy([0, 1], [[0.25, 0.75], [0.5, 0.5]], 1.0)
    array([0.75, 0.5 ])
    """
    loss = CategoricalGeneralizedCrossEntropy(reduction="none")
    loss.q = _check_q(q, True)
    return loss(y_true, y_pred)


def cosine_similarity(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, axis: int = -1
) -> LossValue:
    """Per-sample ``-cos(y_true, y_pred)`` along `axis` (from -1 to 1; -1 for the
    same direction): Keras's ``keras.losses.cosine_similarity`` (`CosineSimilarity`,
    no reduction).

    Examples
    --------
    >>> from fastloss.losses import cosine_similarity
    >>> cosine_similarity([[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [-2.0, -2.0]]).round(6)
    array([-1.,  1.])
    """
    return _per_sample(CosineSimilarity, y_true, y_pred, axis=axis)


def dice(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    axis: int | tuple[int, ...] | None = None,
) -> LossValue:
    """``1 - 2 sum(y_true y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)`` over
    `axis` (None: every axis, one value): Keras's ``keras.losses.dice`` (`Dice`,
    no reduction).

    Examples
    --------
    >>> from fastloss.losses import dice
    >>> round(float(dice([[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])), 6)
    0.2
    """
    return _per_sample(Dice, y_true, y_pred, axis=axis)


def tversky(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alpha: float = 0.5,
    beta: float = 0.5,
    axis: int | tuple[int, ...] | None = None,
) -> LossValue:
    """``1 - TP / (TP + alpha FP + beta FN + 1e-7)`` over `axis` (None: every axis,
    one value): Keras's ``keras.losses.tversky`` (`Tversky`, no reduction).

    Examples
    --------
    >>> from fastloss.losses import tversky
    >>> round(float(tversky([[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])), 6)
    0.2
    """
    return _per_sample(Tversky, y_true, y_pred, alpha=alpha, beta=beta, axis=axis)


def ctc(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> LossValue:
    """Per-sample CTC loss of label rows `y_true` (padded with 0, Keras's blank) and
    logits `y_pred` of shape (batch, frames, classes): Keras's ``keras.losses.ctc``
    (`CTC`, no reduction)."""
    return _per_sample(CTC, y_true, y_pred)


def sparse_categorical_crossentropy(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> LossValue:
    """Per-sample cross-entropy of class indices: Keras's
    ``keras.losses.sparse_categorical_crossentropy``
    (`SparseCategoricalCrossentropy`, no reduction; an ignored sample's loss is 0).

    Examples
    --------
    >>> from fastloss.losses import sparse_categorical_crossentropy
    >>> y_pred = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    >>> sparse_categorical_crossentropy([1, 2], y_pred).round(4)
    array([0.0513, 2.3026])
    """
    return _per_sample(
        SparseCategoricalCrossentropy,
        y_true,
        y_pred,
        from_logits=from_logits,
        ignore_class=ignore_class,
        axis=axis,
    )


# tf.keras's short names, as attributes (Keras 3 knows them only as get() names).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
bce = BCE = binary_crossentropy

_FUNCTIONS = {
    f.__name__: f
    for f in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        hinge,
        squared_hinge,
        poisson,
        huber,
        log_cosh,
        kl_divergence,
        binary_crossentropy,
        binary_focal_crossentropy,
        categorical_crossentropy,
        categorical_focal_crossentropy,
        sparse_categorical_crossentropy,
        categorical_hinge,
        categorical_generalized_cross_entropy,
    )
}
_ALIASES = {
    "mse": mse,
    "MSE": MSE,
    "mae": mae,
    "MAE": MAE,
    "kld": kld,
    "KLD": KLD,
    "bce": bce,
    "BCE": BCE,
    "mape": mape,
    "MAPE": MAPE,
    "msle": msle,
    "MSLE": MSLE,
}


def get(
    identifier: str | dict[str, Any] | Loss | Callable[..., Any] | None,
) -> Loss | Callable[..., Any] | None:
    """A loss from its name or configuration, as ``keras.losses.get``.

    Parameters
    ----------
    identifier : str, dict, Loss, callable or None
        - A function name (``"categorical_crossentropy"``, ``"mse"``,
          ``"KLD"``, ...): the functional form here, which returns the
          per-sample losses.
        - A class name (``"CategoricalCrossentropy"``): a new instance with the
          default arguments.
        - A configuration ``{"class_name": "CategoricalCrossentropy", "config":
          {"from_logits": True}}`` (Keras's ``serialize`` form; `config` may be
          omitted): an instance built with it.
        - A `Loss` instance or any other callable: returned as is; a `Loss`
          class: an instance of it, with the defaults.
        - None: None.

    Returns
    -------
    Loss, function or None

    Raises
    ------
    ValueError
        For an unknown name or class name (the message lists the known ones), or
        a malformed configuration.
    TypeError
        For anything else, and for a configuration whose arguments the class does
        not take.

    See Also
    --------
    get_loss : fastloss's resolver, which also knows the fastloss functional names
        and always gives something with a gradient.

    Examples
    --------
    >>> from fastloss import losses
    >>> losses.get("categorical_crossentropy") is losses.categorical_crossentropy
    True
    >>> losses.get("CategoricalCrossentropy")
    CategoricalCrossentropy(from_logits=False, label_smoothing=0.0)
    >>> losses.get({"class_name": "Huber", "config": {"delta": 2.0}})
    Huber(delta=2.0)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        config = identifier.get("config") or {}
        cls = _KERAS_NAMES.get(name) if isinstance(name, str) else None
        if cls is None or cls.__name__ != name or not isinstance(config, dict):
            raise ValueError(
                "a loss configuration is {'class_name': <a class of "
                f"fastloss.losses>, 'config': {{...}}}}, got {identifier!r}; "
                f"classes: {', '.join(c.__name__ for c in _CLASSES)}"
            )
        return cls.from_config(config)
    if isinstance(identifier, str):
        fn = _FUNCTIONS.get(identifier) or _ALIASES.get(identifier)
        if fn is not None:
            return fn
        cls = _KERAS_NAMES.get(identifier)
        if cls is not None and cls.__name__ == identifier:
            return cls()
        raise ValueError(
            f"unknown loss {identifier!r}; functions: "
            f"{', '.join([*_FUNCTIONS, *_ALIASES])}; classes: "
            f"{', '.join(c.__name__ for c in _CLASSES)}"
        )
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(
        f"could not interpret the loss identifier {identifier!r}: give a name, a "
        "configuration dict, a Loss or a function"
    )
