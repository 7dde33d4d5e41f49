"""Argument checks and conversions shared by the losses.

Rules: every array argument is converted at most once (to C order and one float
dtype); nothing is written until every check has passed; each error names the
argument and what was wrong.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import operator
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import FloatArray

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_I64 = np.dtype(np.int64)
REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: object) -> None:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'none', 'mean', 'sum', got {reduction!r}"
        )


def float_input(x: Any, name: str) -> tuple[FloatArray, np.dtype[Any]]:
    """Returns (array in C order of float32/float64, the dtype results take).

    float32/float64 are kept, float16 is computed in float32 (results cast back to
    float16), integers and bools become float64. Anything else is a TypeError.
    """
    if type(x) is np.ndarray and (
        x.dtype is _F32 or x.dtype is _F64 or (x.dtype == _F32 or x.dtype == _F64)
    ):
        if not x.flags.c_contiguous:
            x = np.asarray(x, order="C")
        return x, x.dtype
    if x is None:
        raise TypeError(f"{name} must be a numeric array, got None")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        if getattr(x, "requires_grad", False) is True:  # a torch tensor in autograd
            raise TypeError(
                f"{name} is a torch tensor that requires grad: the NumPy API returns "
                "NumPy arrays and cannot take part in autograd. Use fastloss.torch "
                "(e.g. fastloss.torch.cross_entropy) for losses whose gradients flow "
                f"through loss.backward(), or pass {name}.detach() for values only"
            ) from None
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype.itemsize == 2:  # float16 (of either byte order)
            return np.asarray(arr, dtype=_F32, order="C"), _F16
        # float32/float64 of either byte order in native order; long double float64
        dtype = _F32 if arr.dtype.itemsize == 4 else _F64
        return np.asarray(arr, dtype=dtype, order="C"), dtype
    if kind in "iub":
        return np.asarray(arr, dtype=_F64, order="C"), _F64
    if kind == "O":
        for v in arr.flat:  # NumPy would turn None into NaN and parse strings
            if v is None or isinstance(v, (str, bytes)):
                raise TypeError(f"{name} must be numeric; it holds {v!r}")
        try:
            arr = np.asarray(arr, dtype=_F64)
        except (TypeError, ValueError, OverflowError) as exc:  # 10**400 overflows
            raise TypeError(f"{name} must be a numeric array: {exc}") from None
        return np.asarray(arr, order="C"), _F64
    raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")


def _real(value: Any, name: str) -> float:
    """float(value), or TypeError for what is not a real number (a bool, a string,
    an object without __float__)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None


def real_scalar(
    value: Any, name: str, low: float | None = None, high: float | None = None
) -> float:
    """A finite Python float in [low, high]."""
    if (
        (type(value) is float or type(value) is int)  # fast path for the defaults
        and (low is None or value >= low)
        and (high is None or value <= high)
        and math.isfinite(value)
    ):
        return float(value)
    v = _real(value, name)
    if (
        not math.isfinite(v)
        or (low is not None and v < low)
        or (high is not None and v > high)
    ):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be a finite number in [{lo}, {hi}], got {v}")
    return v


# The closed numeric contract (docs/RELIABILITY.md, "Accepted ranges"). Every entry
# of a weight array (class, sample, element and positive-class weights) and every
# weight-like scalar (z_loss, temperature) is 0 or of magnitude in [1 / B, B], B by
# compute dtype. float64, B = 2**200: a product of two weights is at least 2**-400,
# a multiple of 2**-452, so a "mean" normaliser that is not 0 is at least 2**-452,
# never below the 2**-500 at which the softmax kernels rescale it by 2**600 (z_loss
# times that cannot overflow), and a weight over a normaliser of up to 2**62 terms
# (>= 2**-862) is a normal number: full relative precision. float32, B = 2**32: a
# product of three weights (class, sample, positive class: >= 2**-96) stays well
# inside float32's normal range (2**-126). Other real parameters only need to be 0 or
# a normal number of the compute dtype (a subnormal has lost its relative
# precision; beyond the range it is inf).
WEIGHT_BOUND = {_F32: 2.0**32, _F64: 2.0**200}


def weight_range(dtype: np.dtype[Any]) -> tuple[float, float]:
    """(smallest, largest) magnitude of a nonzero weight in compute `dtype`."""
    b = WEIGHT_BOUND[_F32 if dtype == _F32 else _F64]
    return 1.0 / b, b


def _range_error(name: str, what: str, value: float, dtype: np.dtype[Any]) -> str:
    lo, hi = weight_range(dtype)
    return (
        f"{name}{what} = {value!r} is out of range: {_dtype_name(dtype)} computation "
        f"takes 0 or a magnitude in [{lo:.3g}, {hi:.3g}] (2**-{int(math.log2(hi))} to "
        f"2**{int(math.log2(hi))}; docs/RELIABILITY.md)"
    )


def _dtype_name(dtype: np.dtype[Any]) -> str:
    return "float32" if dtype == _F32 else "float64"


# Weights that fastloss derives itself from checked ones (Keras's reduction folded
# into per-sample weights, torch's grad_output times the row weights) are passed
# on by name inside `derived_weights`: the contract's range applies to what the
# caller passed, and a legitimate product (1e-6 / 20,000) may fall below it.
_DERIVED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "fastloss_derived_weights", default=frozenset()
)


@contextlib.contextmanager
def derived_weights(*names: str) -> Iterator[None]:
    """Within the block, the weight arguments `names` skip the range check (they
    are still checked for being finite)."""
    token = _DERIVED.set(_DERIVED.get() | frozenset(names))
    try:
        yield
    finally:
        _DERIVED.reset(token)


def check_weight_range(arr: FloatArray, name: str, dtype: np.dtype[Any]) -> None:
    """Every finite entry of `arr`, as the caller gave it (before any conversion to
    `dtype`, which could turn 1e-50 into 0), is 0 or of magnitude in weight_range.
    NaN and inf are left to the caller's finiteness check."""
    if arr.size == 0 or name in _DERIVED.get():
        return
    lo, hi = weight_range(dtype)
    if arr.dtype.kind == "f":
        # bounds beyond what arr's dtype holds would overflow (or underflow) when
        # NumPy casts them to it: float32 weights of a float64 call
        info = np.finfo(arr.dtype)
        hi = min(hi, float(info.max))
        lo = lo if lo >= float(info.smallest_subnormal) else 0.0
    a = np.abs(arr)
    bad = ((a > hi) & (a != np.inf)) | ((a < lo) & (a != 0))
    if bad.any():
        pos = int(np.argmax(bad.reshape(-1)))
        where = f"[{index_str(pos, arr.shape)}]" if arr.ndim else ""
        raise ValueError(_range_error(name, where, float(arr.reshape(-1)[pos]), dtype))


def weight_scalar(
    value: Any, name: str, dtype: np.dtype[Any], low: float | None = 0.0
) -> float:
    """A real scalar >= `low` that is 0 or of magnitude in weight_range(dtype)."""
    v = real_scalar(value, name, low)
    lo, hi = weight_range(dtype)
    if v != 0 and not lo <= abs(v) <= hi:
        raise ValueError(_range_error(name, "", v, dtype))
    return v


def dtype_scalar(
    value: Any,
    name: str,
    dtype: np.dtype[Any],
    low: float | None = None,
    high: float | None = None,
) -> float:
    """real_scalar(value, name, low, high) that is also 0 or a normal number of the
    compute `dtype` (float32 for float16 input)."""
    v = real_scalar(value, name, low, high)
    tiny, top = _NORMAL_RANGE[_F32 if dtype == _F32 else _F64]
    if v != 0 and not tiny <= abs(v) <= top:
        raise ValueError(
            f"{name} = {v!r} is not representable in {_dtype_name(dtype)} "
            f"computation: it must be 0 or of magnitude in [{tiny:.4g}, {top:.4g}]"
        )
    return v


# (smallest, largest) normal magnitude of each compute dtype, looked up once: the
# scalar checks run on every call, and np.finfo costs more than the whole check.
_NORMAL_RANGE = {
    dt: (float(np.finfo(dt).tiny), float(np.finfo(dt).max)) for dt in (_F32, _F64)
}


def bool_flag(value: Any, name: str) -> bool:
    """A Python or NumPy bool as a bool; anything else (1, None, "yes") is a
    TypeError."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {value!r}")


def renamed(fn: str, old: str, new: str, old_value: Any, new_value: Any) -> Any:
    """The value of keyword `new` of ``fastloss.<fn>`` given either as `new` or as
    its deprecated spelling `old`: the old one warns (a DeprecationWarning that
    names the new one, pointing at the caller's line) and both at once is a
    TypeError. Call it directly from the public function (the warning's stack
    level counts on that)."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise TypeError(
            f"{fn}() got both {new}= and its deprecated spelling {old}=: pass only "
            f"{new}="
        )
    warnings.warn(
        f"fastloss.{fn}: {old}= is deprecated and will be removed in a future "
        f"release; use {new}= (the same values)",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def whole_number(value: Any, name: str, low: int | None, what: str) -> int:
    """An int (not a bool) >= low (None: any); `what` says what is accepted in the
    messages ("a positive int", "an int >= 0", ...)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {what}, got {value!r}") from None
    if low is not None and n < low:
        raise ValueError(f"{name} must be {what}, got {n}")
    return n


def positive_int(value: Any, name: str) -> int:
    """An int >= 1 (not a bool): a count, a width, a number of epochs."""
    return whole_number(value, name, 1, "a positive int")


def real_interval(
    value: Any, name: str, low: float, high: float, closed: bool
) -> float:
    """A finite float in [low, high] (``[low, high)`` unless `closed`): a rate."""
    v = _real(value, name)
    if not (math.isfinite(v) and low <= v and (v <= high if closed else v < high)):
        interval = f"[{low}, {high}{']' if closed else ')'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def positive_real(value: Any, name: str) -> float:
    """A finite float > 0: a learning rate, an epsilon."""
    v = real_interval(value, name, 0.0, math.inf, False)
    if v == 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def int_scalar(value: Any, name: str) -> int:
    """An int that fits in int64 (the kernels' index type)."""
    if type(value) is int and -(2**63) <= value < 2**63:
        return value
    v = whole_number(value, name, None, "an int")
    if not -(2**63) <= v < 2**63:
        raise ValueError(f"{name} must fit in a 64-bit integer, got {v}")
    return v


def weight_array(
    w: npt.ArrayLike | None, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]
) -> FloatArray | None:
    """None, or a finite array of exactly `shape`, as C-ordered `dtype`."""
    if w is None:
        return None
    arr, _ = float_input(w, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    check_weight_range(arr, name, dtype)  # the values as given
    with np.errstate(over="ignore"):  # 1e39 becomes inf in float32: refused below
        arr = np.asarray(arr, dtype=dtype, order="C")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite in {dtype} (it holds NaN or inf)")
    return arr


def keras_order_hint(logits: object, target: npt.NDArray[Any]) -> str:
    """A sentence for a shape error when the call looks like Keras's argument
    order `(y_true, y_pred)`: class indices where the logits go, and float scores of
    shape logits.shape + (n_classes,) where the target goes. Else ""."""
    first = np.asarray(logits) if not isinstance(logits, np.ndarray) else logits
    if (
        first.dtype.kind in "iub"
        and target.dtype.kind == "f"
        and target.ndim == first.ndim + 1
        and target.shape[:-1] == first.shape
    ):
        return (
            ". The first argument holds integers of the shape the second has "
            "without its last axis: this looks like Keras's argument order "
            "(y_true, y_pred); fastloss takes (logits, target), the scores first"
        )
    return ""


def class_index_target(
    t: npt.NDArray[Any], name: str, lead_shape: tuple[int, ...]
) -> npt.NDArray[np.int64]:
    """Integer targets of shape `lead_shape` as a flat int64 array."""
    if t.shape != lead_shape:
        raise ValueError(
            f"{name} of class indices must have shape {lead_shape} (the logits' shape "
            f"without the class axis), got {t.shape}"
        )
    if t.dtype == np.uint64 and t.size and t.max() > np.iinfo(np.int64).max:
        pos = int(np.argmax(t > np.iinfo(np.int64).max))
        raise ValueError(
            f"{name}[{index_str(pos, lead_shape)}] = {t.reshape(-1)[pos]} is not a "
            "valid class index"
        )
    t = np.asarray(t, dtype=_I64, order="C")
    return t if t.ndim == 1 else t.reshape(-1)


def index_str(flat_pos: int, shape: tuple[int, ...]) -> str:
    if len(shape) == 0:
        return ""
    return ", ".join(str(int(i)) for i in np.unravel_index(flat_pos, shape))


def check_out(
    out: object,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    inputs: Iterable[tuple[str, object, np.dtype[Any]]],
    allow_alias: object,
) -> None:
    """`out` must be a writeable C-contiguous ndarray of `shape` and `dtype` that
    shares no memory with the inputs, except that it may be exactly `allow_alias`
    (the logits). `inputs` holds (name, original argument, dtype the kernel gets).
    Inputs the kernel gets uncopied are checked there, by pointer, at no cost; an
    ndarray copied on the way (other dtype or layout) is checked here."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    if out.dtype != dtype:
        raise ValueError(f"out must have dtype {dtype}, got {out.dtype}")
    flags = out.flags  # one flags object: each .flags access builds a new one
    if not flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not flags.writeable:
        raise ValueError("out is read-only")
    if out.size == 0:
        return
    for arg_name, original, kernel_dtype in inputs:
        if (
            original is None
            or not isinstance(original, np.ndarray)
            or (original is allow_alias and out is original)  # in place
            or (original.dtype == kernel_dtype and original.flags.c_contiguous)
            or original.size == 0
        ):
            continue
        if np.may_share_memory(original, out):
            if arg_name == "logits" and _same_buffer(original, out):
                continue  # another view of exactly the logits: in place
            raise ValueError(
                f"out overlaps {arg_name}; pass out=logits itself for an in-place "
                "gradient, or a separate buffer"
            )


def check_copies_out(out: object, args: Iterable[tuple[str, object, object]]) -> None:
    """`args` holds (name, the caller's argument, the array the kernel gets). An
    argument the kernel gets as a copy (broadcast, rescaled, folded) escapes the
    kernel's pointer check, so its original must not overlap `out` here."""
    for arg_name, original, used in args:
        if (
            isinstance(original, np.ndarray)
            and original.size
            and used is not None
            and not np.may_share_memory(original, used)
            and np.may_share_memory(original, out)
        ):
            raise ValueError(f"out overlaps {arg_name}; pass a separate buffer")


def _same_buffer(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.flags.c_contiguous
    )


def grad_buffer(
    x: FloatArray,
    original: object,
    out: FloatArray | None,
    res_dtype: np.dtype[Any],
    shape: tuple[int, ...],
) -> FloatArray:
    """Where the kernel writes a gradient: the float32 copy of float16 input (cast
    back afterwards), the caller's out= (possibly the input itself), a converted copy
    of the input that is ours, or a new array."""
    if res_dtype is _F16:
        return x
    if out is not None:
        return out
    if x is not original and not np.may_share_memory(x, original):
        return x
    return np.empty(shape, dtype=x.dtype)


def finish_grad(
    grad: FloatArray, out: FloatArray | None, res_dtype: np.dtype[Any]
) -> FloatArray:
    if res_dtype is not _F16:
        return grad
    if out is not None:
        np.copyto(out, grad, casting="unsafe")
        return out
    return grad.astype(_F16)


def finish_loss(
    total: float,
    rows: FloatArray | None,
    grad: FloatArray | None,
    out: FloatArray | None,
    res_dtype: np.dtype[Any],
) -> Any:
    """What every loss call returns: the reduced loss as a Python float (``rows`` is
    None), or the per-row/per-element losses the kernel wrote into ``rows`` (cast
    back to float16 for float16 input); with the gradient the kernel wrote into
    ``grad`` (see finish_grad) when there is one."""
    loss: float | FloatArray
    if rows is None:
        loss = float(total)
    else:
        loss = rows.astype(_F16) if res_dtype is _F16 else rows
    if grad is None:
        return loss
    return loss, finish_grad(grad, out, res_dtype)
