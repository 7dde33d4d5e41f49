"""Shared machinery of the elementwise losses (one fused C kernel, many kinds).

Each public elementwise loss is a thin function that names its arguments and
parameters and calls `elementwise_loss`; the kernel kinds are the FL_EW_* values in
src_c/fl_elementwise.h.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._typing import FloatArray
from ._validation import (
    check_copies_out,
    check_out,
    check_reduction,
    check_weight_range,
    dtype_scalar,
    finish_loss,
    float_input,
    grad_buffer,
)

# Kernel kinds by name, as the kernel numbers them (FL_EW_PUBLIC_KINDS in
# src_c/fl_elementwise.h, the one list); the loss table's `kind` column names them.
KINDS: dict[str, int] = dict(_kernels.EW_KINDS)
MSE = KINDS["MSE"]
BCE_LOGITS = KINDS["BCE_LOGITS"]
L1 = KINDS["L1"]
HUBER = KINDS["HUBER"]
SMOOTH_L1 = KINDS["SMOOTH_L1"]
LOG_COSH = KINDS["LOG_COSH"]
BCE_PROB = KINDS["BCE_PROB"]
SIGMOID_FOCAL = KINDS["SIGMOID_FOCAL"]
POISSON_LOG = KINDS["POISSON_LOG"]
POISSON = KINDS["POISSON"]
HINGE = KINDS["HINGE"]
SQUARED_HINGE = KINDS["SQUARED_HINGE"]
MSLE = KINDS["MSLE"]
MAPE = KINDS["MAPE"]

# The user-facing name of each parameter slot p[0..] a kind reads (fl_elementwise.h):
# each must be 0 or a normal number of the compute dtype (docs/RELIABILITY.md).
PARAM_NAMES = {
    HUBER: ("delta",),
    SMOOTH_L1: ("beta",),
    BCE_LOGITS: ("label_smoothing",),
    BCE_PROB: ("epsilon", "label_smoothing"),
    SIGMOID_FOCAL: ("alpha", "gamma"),
    POISSON: ("eps",),
    MSLE: ("epsilon",),
    MAPE: ("epsilon",),
}

COMMON_PARAMS_DOC = """\
    weight : array_like, optional
        Per-element weights, broadcastable to the input's shape (as in PyTorch; a
        weight that is not already of the input's shape is expanded to it once). It
        rescales each element's loss and gradient and does not change the "mean"
        normaliser. An element of weight 0 contributes exactly 0, even if its loss
        is not finite. Finite, each entry 0 or of magnitude in [2**-32, 2**32]
        (float32 computation) or [2**-200, 2**200] (float64): docs/RELIABILITY.md.
    sample_weight : array_like, optional
        Per-sample weights (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64) of shape ``input.shape[:k]`` for some ``k >= 1``
        (typically ``(n_samples,)``), broadcast over the remaining trailing axes. With
        "mean" the result is a weighted mean: the normaliser is the sum of the broadcast
        sample weights instead of the element count.
    reduction : {"mean", "sum", "none"}, default="mean"
        "none" returns the per-element losses (input's shape and dtype); "sum" and
        "mean" return a Python float accumulated in float64.
    n_threads : int, optional
        OpenMP threads; None uses `fastloss.get_num_threads`. Results are
        bit-identical for every thread count."""

OUT_DOC = """\
    out : ndarray, optional
        Where to write the gradient: writeable, C-contiguous, of the input's shape
        and the gradient's dtype. It may be the input array itself (in place); any
        other overlap with an input is an error."""


# A call whose arrays are already in the form this path would give them (exact
# float32/float64 ndarrays of one shape, C order, no weights) runs through the
# compiled fast path of fastloss/_kernels.pyx, which checks that form and takes the
# parameters from `kernel_params`; any other call, or any check failing there, runs
# the general path below (and raises its errors).
_fast = _kernels.fast_call


def kernel_params(
    dtype: np.dtype[Any], kind: int, params: tuple[float, ...]
) -> tuple[float, float, float, float, int]:
    """The kernel's (p0, p1, p2, p3, ignore_index) for `kind`: `params` (floats the
    public function has validated) once each named one is 0 or a normal number of
    the compute `dtype` (the ValueError of `dtype_scalar` if not)."""
    for name, value in zip(PARAM_NAMES.get(kind, ()), params):
        dtype_scalar(value, name, dtype)
    p0, p1, p2, p3 = params
    return p0, p1, p2, p3, 0


def _sample_weight(
    sw: npt.ArrayLike | None, shape: tuple[int, ...], dtype: np.dtype[Any]
) -> tuple[FloatArray | None, int]:
    """(flat sample weights, elements per weight) or (None, 1)."""
    if sw is None:
        return None, 1
    arr, _ = float_input(sw, "sample_weight")
    k = arr.ndim
    if k == 0 or k > len(shape) or arr.shape != shape[:k]:
        raise ValueError(
            "sample_weight must have the shape of the input's leading axes "
            f"(e.g. {shape[:1]}), got {arr.shape}"
        )
    check_weight_range(arr, "sample_weight", dtype)  # the values as given
    with np.errstate(over="ignore"):  # 1e39 becomes inf in float32: refused below
        arr = np.asarray(arr, dtype=dtype, order="C")
    if not np.isfinite(arr).all():
        raise ValueError(
            f"sample_weight must be finite in {dtype} (it holds NaN or inf)"
        )
    t = math.prod(shape[k:])
    return arr.reshape(-1), t


def _elem_weight(
    w: npt.ArrayLike | None, shape: tuple[int, ...], dtype: np.dtype[Any]
) -> FloatArray | None:
    if w is None:
        return None
    arr, _ = float_input(w, "weight")
    if arr.shape != shape:
        try:
            np.broadcast_to(arr, shape)  # a view: only to check the shapes
        except ValueError:
            raise ValueError(
                f"weight of shape {arr.shape} does not broadcast to the input's "
                f"shape {shape}"
            ) from None
    check_weight_range(arr, "weight", dtype)  # the values as given
    with np.errstate(over="ignore"):  # 1e39 becomes inf in float32: refused below
        small = np.asarray(arr, dtype=dtype)
    if not np.isfinite(small).all():
        raise ValueError(f"weight must be finite in {dtype} (it holds NaN or inf)")
    if small.shape != shape:
        small = np.broadcast_to(small, shape)
    return np.asarray(small, order="C").reshape(-1)


def _pos_weight(
    pw: npt.ArrayLike | None, shape: tuple[int, ...], dtype: np.dtype[Any]
) -> FloatArray | None:
    if pw is None:
        return None
    arr, _ = float_input(pw, "pos_weight")
    if not np.isfinite(arr).all():  # the values as given, before broadcasting
        raise ValueError(f"pos_weight must be finite in {dtype} (it holds NaN or inf)")
    check_weight_range(arr, "pos_weight", dtype)
    # finite and in range as given: the conversion to `dtype` cannot overflow
    c = shape[-1] if shape else 1
    if arr.ndim == 0 or arr.shape == (1,):
        arr = np.full(c, arr.reshape(()), dtype=dtype)
    if arr.shape != (c,):
        raise ValueError(
            f"pos_weight must have shape ({c},) (the input's last axis), got "
            f"{arr.shape}"
        )
    return np.asarray(arr, dtype=dtype, order="C")


def elementwise_loss(
    kind,
    input,
    target,
    *,
    params=(0.0, 0.0, 0.0, 0.0),
    weight=None,
    sample_weight=None,
    pos_weight=None,
    reduction="mean",
    n_threads=None,
    out=None,
    want_grad=False,
    input_name="input",
    target_name="target",
):
    """Validate, convert once, run the kernel of `kind`; returns loss or
    (loss, grad). `params` are already-validated floats."""
    if weight is None and sample_weight is None and pos_weight is None:
        result = _fast(
            _kernels.FAST_ELEMENTWISE,
            kind,
            input,
            target,
            None,
            None,
            kernel_params,
            (kind, params),
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    x, res_dtype = float_input(input, input_name)
    shape = x.shape
    dtype = x.dtype
    y, _ = float_input(target, target_name)
    if y.shape != shape:
        raise ValueError(
            f"{target_name} must have the shape of {input_name} {shape}, got {y.shape}"
        )
    y = np.asarray(y, dtype=dtype, order="C")
    kernel_params(dtype, kind, params)
    w = _elem_weight(weight, shape, dtype)
    sw, t = _sample_weight(sample_weight, shape, dtype)
    pw = _pos_weight(pos_weight, shape, dtype)
    nt = _resolve_n_threads(n_threads)
    if want_grad and out is not None:
        check_out(
            out,
            shape,
            res_dtype,
            [
                (input_name, input, dtype),
                (target_name, target, dtype),
                ("weight", weight, dtype),
                ("sample_weight", sample_weight, dtype),
                ("pos_weight", pos_weight, dtype),
            ],
            allow_alias=input,
        )

    n = x.size
    with np.errstate(over="ignore"):  # sample weights of 1e308 may sum to inf
        denom = float(n) if sw is None else float(np.sum(sw, dtype=np.float64)) * t
    scale = (1.0 / denom if denom != 0 else 0.0) if reduction == "mean" else 1.0
    folded = False
    if sw is not None and denom != 0 and not np.isfinite(np.float32(scale)):
        # 1 / D overflows the float32 the kernel may hold it in (sample weights
        # summing below ~3e-39): fold 1 / D into the weights, s_i / D in float64,
        # so a zero gradient stays 0 rather than 0 * inf = NaN.
        sw = (sw.astype(np.float64) / denom).astype(dtype)
        scale, folded = 1.0, True
    if want_grad and out is not None:
        # a broadcast weight, or sample weights with 1 / D folded in, reach the
        # kernel as a copy
        check_copies_out(
            out,
            [
                ("weight", weight, w),
                ("sample_weight", sample_weight, sw),
                ("pos_weight", pos_weight, pw),
            ],
        )

    grad = grad_buffer(x, input, out, res_dtype, shape) if want_grad else None
    elems = np.empty(shape, dtype=dtype) if reduction == "none" else None

    total = _kernels.elementwise(
        kind,
        x.reshape(-1),
        y.reshape(-1),
        w,
        sw,
        pw,
        None if grad is None else grad.reshape(-1),
        None if elems is None else elems.reshape(-1),
        shape[-1] if shape and shape[-1] > 0 else 1,
        t,
        float(params[0]),
        float(params[1]),
        float(params[2]),
        float(params[3]),
        scale,
        nt,
    )
    if reduction == "mean" and not folded:
        total = float(total) / denom if denom != 0 else 0.0
    return finish_loss(total, elems, grad, out, res_dtype)


_F = TypeVar("_F", bound=Callable[..., Any])


def document(
    fn: _F, summary: str, params_doc: str, notes: str, example: str, grad: bool = False
) -> _F:
    """Assemble a numpydoc docstring from the shared pieces."""
    returns = (
        """
    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", the per-element losses.
    grad : ndarray
        d(loss)/d(input) for the chosen reduction ("none": the gradient of the sum),
        of the input's shape; ``out`` when given."""
        if grad
        else """
    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", the per-element losses."""
    )
    fn.__doc__ = f"""{summary}

    Parameters
    ----------
{params_doc}
{COMMON_PARAMS_DOC}{chr(10) + OUT_DOC if grad else ""}
{returns}

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is written.

    Notes
    -----
{notes}

    Examples
    --------
{example}
"""
    return fn
