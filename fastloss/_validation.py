"""Argument checks and conversions shared by the losses.

Rules: every array argument is converted at most once (to C order and one float
dtype); nothing is written until every check has passed; each error names the
argument and what was wrong.
"""

import math
import operator

import numpy as np

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_I64 = np.dtype(np.int64)
REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'none', 'mean', 'sum', got {reduction!r}"
        )


def float_input(x, name):
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
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype == _F16:
            return np.asarray(arr, dtype=_F32, order="C"), _F16
        if arr.dtype.itemsize > 8:  # long double: computed in float64
            return np.asarray(arr, dtype=_F64, order="C"), _F64
        return np.asarray(arr, order="C"), arr.dtype
    if kind in "iub":
        return np.asarray(arr, dtype=_F64, order="C"), _F64
    if kind == "O":
        if any(v is None for v in arr.flat):  # NumPy would turn None into NaN
            raise TypeError(f"{name} must be numeric; it holds None")
        try:
            arr = np.asarray(arr, dtype=_F64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numeric array: {exc}") from None
        return np.asarray(arr, order="C"), _F64
    raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")


def real_scalar(value, name, low=None, high=None):
    """A finite Python float in [low, high]."""
    if (
        (type(value) is float or type(value) is int)  # fast path for the defaults
        and (low is None or value >= low)
        and (high is None or value <= high)
        and math.isfinite(value)
    ):
        return float(value)
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if (
        not math.isfinite(v)
        or (low is not None and v < low)
        or (high is not None and v > high)
    ):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be a finite number in [{lo}, {hi}], got {v}")
    return v


def int_scalar(value, name):
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None


def weight_array(w, name, shape, dtype):
    """None, or a finite array of exactly `shape`, as C-ordered `dtype`."""
    if w is None:
        return None
    arr, _ = float_input(w, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return np.asarray(arr, dtype=dtype, order="C")


def class_index_target(t, name, lead_shape):
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


def index_str(flat_pos, shape):
    if len(shape) == 0:
        return ""
    return ", ".join(str(int(i)) for i in np.unravel_index(flat_pos, shape))


def check_out(out, shape, dtype, inputs, allow_alias):
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
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for arg_name, original, kernel_dtype in inputs:
        if (
            not isinstance(original, np.ndarray)
            or original is allow_alias
            or (original.dtype == kernel_dtype and original.flags.c_contiguous)
            or original.size == 0
            or out.size == 0
        ):
            continue
        if np.may_share_memory(original, out):
            if arg_name == "logits" and _same_buffer(original, out):
                continue  # another view of exactly the logits: in place
            raise ValueError(
                f"out overlaps {arg_name}; pass out=logits itself for an in-place "
                "gradient, or a separate buffer"
            )


def _same_buffer(a, b):
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.flags.c_contiguous
    )


def grad_buffer(x, original, out, res_dtype, shape):
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


def finish_grad(grad, out, res_dtype):
    if res_dtype is not _F16:
        return grad
    if out is not None:
        np.copyto(out, grad, casting="unsafe")
        return out
    return grad.astype(_F16)
