"""Fused linear cross-entropy: ``softmax_cross_entropy(hidden @ weight.T + bias)``
without the ``(n_rows, n_classes)`` logits.

A language model's output layer turns ``hidden`` (N x D) into logits (N x V) and
takes their cross-entropy. With V in the 10^5 and N in the 10^4 the logits and
their gradient take gigabytes, yet every row of them is needed only briefly. This
module walks over blocks of rows ("chunks"): one BLAS matmul writes a chunk's
logits into a buffer reused for every chunk, the fused softmax cross-entropy
kernel overwrites them with their gradient ``G`` in the same pass (reduction
"sum"), and two more matmuls turn ``G`` into the chunk's rows of ``grad_hidden``
and its share of ``grad_weight``. The "mean" normaliser comes from all targets
up front, so the chunks never need each other.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from . import _blas, _kernels
from ._blas import gemm_tn_accumulate
from ._config import _resolve_n_threads
from ._normalizer import normalizer
from ._typing import FloatArray, LossValue
from ._validation import (
    _F16,
    _F32,
    _F64,
    check_reduction,
    class_index_target,
    dtype_scalar,
    float_input,
    index_str,
    int_scalar,
    weight_array,
    weight_scalar,
)

__all__ = ["linear_cross_entropy", "linear_cross_entropy_and_grad"]

# chunk_size=None: a chunk of logits of about this many bytes ...
CHUNK_BYTES = 64 * 2**20
# ... but never fewer rows than in_features, clipped to [MIN_CHUNK_ROWS,
# MAX_WEIGHT_ROWS] (while there are that many rows). Each chunk costs passes over
# weight (two matmuls read it) and grad_weight (read and written) of
# n_classes * in_features items whatever its size, against n_rows * n_classes
# logits and n_rows * n_classes * in_features multiply-adds of useful work: with
# at least in_features rows those passes weigh no more than the logits
# themselves. Measured (N=8192, D=1024, float32, 2 threads): 256 rows take 14%
# (V=128256) and 10% (V=32000) longer than 1024 rows; 1536 is within noise.
MIN_CHUNK_ROWS = 256
MAX_WEIGHT_ROWS = 1024
# grad_weight += G.T @ h goes through a scratch buffer (NumPy's matmul cannot
# accumulate into its output), in blocks of grad_weight rows: a block is as large
# as the chunk of logits, clipped to [1 MiB, 8 MiB] (large enough for efficient
# BLAS calls, small enough to stay a fraction of the logits it replaces) ...
_ACC_BYTES = (2**20, 8 * 2**20)
# ... unless NumPy's own BLAS can be called with beta = 1 (see _blas): then the
# product accumulates into grad_weight in the same call, with no scratch buffer
# and no extra pass. False forces the fallback (the tests run both).
_USE_NUMPY_BLAS = True


def default_chunk_size(
    n_rows: int, n_classes: int, itemsize: int, n_in: int = 0
) -> int:
    """Rows per chunk for ``chunk_size=None``: ``CHUNK_BYTES`` of logits, but at
    least ``n_in`` rows clipped to [``MIN_CHUNK_ROWS``, ``MAX_WEIGHT_ROWS``]; at
    most ``n_rows`` (and at least 1)."""
    floor = min(MAX_WEIGHT_ROWS, max(MIN_CHUNK_ROWS, n_in))
    rows = max(floor, CHUNK_BYTES // (max(n_classes, 1) * itemsize))
    return max(1, min(n_rows, rows))


def _operand(x, name):
    """(array, the dtype it asks the results in). float32/float64 arrays come back
    as they are, in any layout (converted once, later, if need be); anything else
    goes through `float_input`."""
    if type(x) is np.ndarray and x.dtype in (_F32, _F64):
        return x, x.dtype
    return float_input(x, name)


def _positive_int(value, name):
    v = int_scalar(value, name)
    if v < 1:
        raise ValueError(f"{name} must be None or an int >= 1, got {v}")
    return v


def _linear_cross_entropy(
    hidden,
    weight,
    target,
    bias,
    class_weight,
    sample_weight,
    ignore_index,
    label_smoothing,
    z_loss,
    reduction,
    chunk_size,
    n_threads,
    want_grad,
):
    # ---- validate and convert everything before any work --------------------
    check_reduction(reduction)
    h, h_res = _operand(hidden, "hidden")
    w, w_res = _operand(weight, "weight")
    if h.ndim == 0:
        raise ValueError("hidden must have at least 1 dimension (..., in_features)")
    if w.ndim != 2:
        raise ValueError(
            "weight must be 2-D of shape (n_classes, in_features), as in "
            f"torch.nn.functional.linear; got shape {w.shape}"
        )
    n_classes, n_in = w.shape
    if n_classes < 1:
        raise ValueError("weight must have at least one row (n_classes >= 1)")
    if h.shape[-1] != n_in:
        raise ValueError(
            f"hidden's last axis ({h.shape[-1]}) must equal weight.shape[1] "
            f"({n_in}), the number of input features"
        )
    res_dtypes = [h_res, w_res]
    b = None
    if bias is not None:
        b, b_res = _operand(bias, "bias")
        if b.shape != (n_classes,):
            raise ValueError(
                f"bias must have shape ({n_classes},) (weight.shape[0]), got {b.shape}"
            )
        res_dtypes.append(b_res)
    # NumPy's promotion of the inputs' dtypes; float16 is computed in float32
    res_dtype = np.result_type(*res_dtypes)
    dtype = _F64 if res_dtype == _F64 else _F32
    lead = h.shape[:-1]
    n = int(np.prod(lead, dtype=np.int64))

    t = target if type(target) is np.ndarray else np.asarray(target)
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f":
            raise TypeError(
                "target must be an integer array of class indices; probability "
                "targets are not supported (they would take the (..., n_classes) "
                "memory this function exists to avoid)"
            )
        raise TypeError(
            f"target must be an integer array of class indices, got dtype {t.dtype}"
        )
    if t.shape != lead:
        raise ValueError(
            f"target must have shape {lead} (hidden.shape[:-1]), got {t.shape}"
        )
    y = class_index_target(t, "target", lead)
    ignore = int_scalar(ignore_index, "ignore_index")
    keep = y != ignore
    bad = keep & ((y < 0) | (y >= n_classes))
    if bad.any():
        pos = int(np.argmax(bad))
        raise ValueError(
            f"target[{index_str(pos, lead)}] (flat position {pos}) = {int(y[pos])} "
            f"is out of range: class indices must be in [0, {n_classes}) "
            f"(weight.shape[0]) or equal ignore_index ({ignore})"
        )
    cw = weight_array(class_weight, "class_weight", (n_classes,), dtype)
    sw = weight_array(sample_weight, "sample_weight", lead, dtype)
    if sw is not None:
        sw = sw.reshape(-1)
    eps = dtype_scalar(label_smoothing, "label_smoothing", dtype, 0.0, 1.0)
    z = weight_scalar(z_loss, "z_loss", dtype)
    if chunk_size is not None:
        chunk_size = _positive_int(chunk_size, "chunk_size")
    nt = _resolve_n_threads(n_threads)

    # at most one copy each; C- or Fortran-ordered weights go to BLAS as they are
    h = np.asarray(h, dtype=dtype, order="C").reshape(n, n_in)
    w = np.asarray(w, dtype=dtype)
    if not (w.flags.c_contiguous or w.flags.f_contiguous):
        w = np.ascontiguousarray(w)
    if b is not None:
        b = np.asarray(b, dtype=dtype)

    # ---- outputs ------------------------------------------------------------
    # Ignored rows contribute exactly nothing (contract), so only the kept rows
    # are computed; their losses and gradient rows stay 0.
    kept = None if keep.all() else np.flatnonzero(keep)
    n_kept = n if kept is None else kept.size
    rows_out = np.zeros(n, dtype=dtype) if reduction == "none" else None
    if want_grad:
        grad_h = np.zeros((n, n_in), dtype=dtype)
        grad_w = np.zeros((n_classes, n_in), dtype=dtype)
        grad_b = None if b is None else np.zeros(n_classes, dtype=dtype)
    denom = normalizer(y, keep, cw, sw) if reduction == "mean" else 1.0

    if n_kept and denom != 0.0:
        total = _chunks(
            h,
            w,
            b,
            y,
            cw,
            sw,
            kept,
            n_kept,
            ignore,
            eps,
            z,
            chunk_size,
            nt,
            rows_out,
            (grad_h, grad_w, grad_b) if want_grad else None,
        )
    else:  # nothing to compute; with "mean" and D == 0 the contract gives 0
        total = 0.0

    # ---- finish -------------------------------------------------------------
    if rows_out is not None:  # reduction == "none"
        loss = rows_out.reshape(lead).astype(res_dtype, copy=False)
    elif reduction == "mean":
        loss = total / denom if denom != 0.0 else 0.0
    else:
        loss = total
    if not want_grad:
        return loss
    grads = [grad_h.reshape(*lead, n_in), grad_w]
    if grad_b is not None:
        grads.append(grad_b)
    if reduction == "mean" and denom != 0.0 and denom != 1.0:
        for g in grads:
            np.divide(g, denom, out=g)
    if res_dtype == _F16:
        grads = [g.astype(_F16) for g in grads]
    return (loss, *grads)


def _chunks(
    h, w, b, y, cw, sw, kept, n_kept, ignore, eps, z, chunk_size, nt, rows_out, grads
):
    """Runs the chunk loop; returns the summed loss (float64). Writes the row
    losses into ``rows_out`` and the gradients of the *sum* into ``grads``."""
    n_classes, n_in = w.shape
    dtype = h.dtype
    cs = chunk_size or default_chunk_size(n_kept, n_classes, dtype.itemsize, n_in)
    cs = min(cs, n_kept)
    logits_buf = np.empty((cs, n_classes), dtype=dtype)
    w_t = w.T
    gathered = kept is not None
    if kept is not None:  # the rows not ignored are gathered here, chunk by chunk
        h_buf = np.empty((cs, n_in), dtype=dtype)
        rows_buf = np.empty(cs, dtype=dtype) if rows_out is not None else None
    if grads is not None:
        grad_h, grad_w, grad_b = grads
        blas = _USE_NUMPY_BLAS and _blas.available(dtype)
        acc_buf = None  # made on first use, only when the BLAS call is not possible
        if n_kept > cs:
            bias_buf = None if grad_b is None else np.empty(n_classes, dtype=dtype)

    total = 0.0
    for start in range(0, n_kept, cs):
        stop = min(start + cs, n_kept)
        m = stop - start
        first = start == 0
        logits = logits_buf[:m]
        if kept is not None:
            rows = kept[start:stop]
            h_c = np.take(h, rows, axis=0, out=h_buf[:m], mode="clip")
            lr = None if rows_buf is None else rows_buf[:m]
        else:
            rows = slice(start, stop)
            h_c = h[rows]
            lr = None if rows_out is None else rows_out[rows]
        y_c = y[rows]
        sw_c = None if sw is None else sw[rows]

        np.matmul(h_c, w_t, out=logits)
        if b is not None:
            np.add(logits, b, out=logits)
        flat = logits.reshape(-1)
        # the fused kernel: loss of the chunk ("sum"), gradient over the logits
        total += _kernels.softmax_cross_entropy(
            flat,  # IN  the chunk's logits
            y_c,  # IN  class indices
            None,  # IN  (no probability targets)
            cw,  # IN  class weights
            sw_c,  # IN  sample weights
            None if grads is None else flat,  # OUT gradient, over the logits
            lr,  # OUT row losses ("none")
            m,
            n_classes,
            ignore,
            eps,
            z,
            False,
            nt,
        )
        if gathered and lr is not None:
            rows_out[rows] = lr
        if grads is None:
            continue

        g = logits  # now d(sum of losses)/d(logits) of the chunk
        if blas and gemm_tn_accumulate(g, h_c, grad_w, 0.0 if first else 1.0):
            pass  # grad_weight (+)= G.T @ h in one BLAS call
        elif first:
            np.matmul(g.T, h_c, out=grad_w)
        else:
            if acc_buf is None:
                low, high = _ACC_BYTES
                acc_bytes = min(high, max(low, logits_buf.nbytes))
                acc_rows = acc_bytes // (max(n_in, 1) * dtype.itemsize)
                acc_rows = max(1, min(n_classes, acc_rows))
                acc_buf = np.empty((acc_rows, n_in), dtype=dtype)
            for v0 in range(0, n_classes, acc_rows):
                v1 = min(v0 + acc_rows, n_classes)
                part = acc_buf[: v1 - v0]
                np.matmul(g[:, v0:v1].T, h_c, out=part)
                np.add(grad_w[v0:v1], part, out=grad_w[v0:v1])
        if grad_b is not None:
            if first:
                np.sum(g, axis=0, out=grad_b)
            else:
                np.add(grad_b, np.sum(g, axis=0, out=bias_buf), out=grad_b)
        if gathered:  # after grad_weight: h_buf is free to take the rows
            grad_h[rows] = np.matmul(g, w, out=h_buf[:m])
        else:
            np.matmul(g, w, out=grad_h[rows])
    return total


_LCE_DOC_PARAMS = """\
    Parameters
    ----------
    hidden : array_like of shape (..., in_features)
        The layer's input, rows on the leading axes (``(batch, seq, in_features)``
        is fine as is). Never modified.
    weight : array_like of shape (n_classes, in_features)
        The layer's weight, as in ``torch.nn.functional.linear`` (a C- or
        Fortran-ordered array is used as is: ``W.T`` of a stored ``(in_features,
        n_classes)`` matrix costs no copy).
    target : array_like of int, shape ``hidden.shape[:-1]``
        Class indices (any integer dtype) in ``[0, n_classes)`` or equal to
        ``ignore_index``. Probability targets are not supported: they would be the
        ``(..., n_classes)`` array this function avoids.
    bias : array_like of shape (n_classes,), optional
        The layer's bias. When given, ``_and_grad`` also returns its gradient.
    class_weight : array_like of shape (n_classes,), optional
        Per-class weights (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64): the ``weight`` argument of
        `softmax_cross_entropy` and of ``torch.nn.functional.cross_entropy``, renamed
        because ``weight`` is the layer's here.
    sample_weight : array_like of shape ``hidden.shape[:-1]``, optional
        Per-row weights (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64) that scale each row's loss; "mean" becomes a
        weighted mean, as in `softmax_cross_entropy`.
    ignore_index : int, default=-100
        Rows whose target equals it contribute no loss, no gradient and nothing
        to the "mean" normaliser. They are skipped: no matmul touches them.
    label_smoothing : float in [0, 1], default=0.0
        As in `softmax_cross_entropy` (and PyTorch).
    z_loss : float >= 0, default=0.0
        Adds ``z_loss * logsumexp(logits_row) ** 2`` to each row's loss, as in
        `softmax_cross_entropy`.
    reduction : {"mean", "sum", "none"}, default="mean"
        "mean" divides the sum by ``D =`` `cross_entropy_normalizer` ``(target,
        class_weight=class_weight, ignore_index=ignore_index,
        sample_weight=sample_weight)``, computed from all targets before the
        first chunk; it is 0 (and the gradients are 0) when ``D == 0``.
    chunk_size : int >= 1, optional
        Rows of logits materialised at a time. None picks ``min(n_rows,
        max(clip(in_features, 256, 1024), 64 MiB // (n_classes * itemsize)))``,
        where ``n_rows`` counts the rows not ignored and ``itemsize`` is 4
        (float32) or 8 (float64): a 64 MiB chunk of logits, but at least
        ``in_features`` rows (between 256 and 1024), because every chunk passes
        over ``weight`` and ``grad_weight`` whatever its size. Float32 with
        ``in_features=1024``: 1024 rows (125 MiB at V=32000, 501 MiB at
        V=128256). It depends on nothing else (not on the machine), so results
        are reproducible (given the BLAS). The chunk size changes only rounding
        (the order in which per-chunk parts of the loss, ``grad_weight`` and
        ``grad_bias`` are added), not what is computed.
    n_threads : int, optional
        OpenMP threads of the softmax cross-entropy kernel, as in
        `softmax_cross_entropy`. The matmuls run on NumPy's BLAS, whose threads
        are its own (limit them with ``threadpoolctl``)."""

_LCE_DOC_NOTES = """\
    Notes
    -----
    With ``x_i = weight @ hidden_i + bias`` (the logits of row ``i``) the loss is
    exactly `softmax_cross_entropy` ``(x, target, class_weight=class_weight, ...)`` of
    the materialised logits, row loss::

        l_i = s_i * [(1 - eps) w_y (lse_i - x_iy)
                     + eps / C * sum_c w_c (lse_i - x_ic) + z lse_i**2]

    and, with ``G = dloss/dx`` (the fused kernel's gradient, of shape (N, C))::

        grad_hidden = G @ weight,   grad_weight = G.T @ hidden,
        grad_bias = G.sum(axis=0)

    This is ``torch.nn.functional.cross_entropy(F.linear(hidden, weight, bias),
    target)`` with its ``weight`` renamed ``class_weight``, and the differences of
    `softmax_cross_entropy` (0 instead of NaN when every target is ignored;
    ``z_loss`` and ``sample_weight`` added).

    Memory: the logits exist one chunk at a time, in one buffer of
    ``chunk_size * n_classes`` items that is reused for every chunk and
    overwritten in place with the chunk's gradient; besides it and the returned
    arrays, ``O(chunk_size * in_features)`` for gathering rows when some are
    ignored. ``grad_weight`` accumulates in the BLAS call (``gemm`` with
    ``beta = 1``, through the BLAS NumPy bundles); where that BLAS cannot be
    found, through a scratch block of at most 8 MiB and an extra pass. The
    materialised computation needs ``n_rows * n_classes`` items for the logits
    alone. ``hidden`` is copied only if it is not C-ordered or not of the compute
    dtype.

    Dtypes: the results take NumPy's promotion of the dtypes of ``hidden``,
    ``weight`` and ``bias`` (integers count as float64): float32 with float32
    stays float32, anything with float64 is float64 (the others are converted,
    a copy), float16 with float16 is computed in float32 and the results cast
    back to float16. ``class_weight`` and ``sample_weight`` are converted to the
    compute dtype. "mean" and "sum" are Python floats added up in float64; the
    matmuls accumulate in the compute dtype (BLAS)."""


@overload
def linear_cross_entropy(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: Literal["mean", "sum"] = ...,
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> float: ...
@overload
def linear_cross_entropy(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: Literal["none"],
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> FloatArray: ...
@overload
def linear_cross_entropy(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: str = ...,
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> LossValue: ...
def linear_cross_entropy(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> LossValue:
    result: LossValue = _linear_cross_entropy(
        hidden,
        weight,
        target,
        bias,
        class_weight,
        sample_weight,
        ignore_index,
        label_smoothing,
        z_loss,
        reduction,
        chunk_size,
        n_threads,
        False,
    )
    return result


@overload
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: Literal["mean", "sum"] = ...,
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> tuple[float, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: Literal["none"],
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> tuple[FloatArray, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: str = ...,
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> tuple[LossValue, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: Literal["mean", "sum"] = ...,
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> tuple[float, FloatArray, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: Literal["none"],
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = ...,
    class_weight: npt.ArrayLike | None = ...,
    sample_weight: npt.ArrayLike | None = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    z_loss: float = ...,
    reduction: str = ...,
    chunk_size: int | None = ...,
    n_threads: int | None = ...,
) -> (
    tuple[LossValue, FloatArray, FloatArray]
    | tuple[LossValue, FloatArray, FloatArray, FloatArray]
): ...
def linear_cross_entropy_and_grad(
    hidden: npt.ArrayLike,
    weight: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    bias: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> (
    tuple[LossValue, FloatArray, FloatArray]
    | tuple[LossValue, FloatArray, FloatArray, FloatArray]
):
    result: (
        tuple[LossValue, FloatArray, FloatArray]
        | tuple[LossValue, FloatArray, FloatArray, FloatArray]
    ) = _linear_cross_entropy(
        hidden,
        weight,
        target,
        bias,
        class_weight,
        sample_weight,
        ignore_index,
        label_smoothing,
        z_loss,
        reduction,
        chunk_size,
        n_threads,
        True,
    )
    return result


linear_cross_entropy.__doc__ = f"""Cross-entropy of a linear layer's output,
    without materialising the logits.

    The loss of `linear_cross_entropy_and_grad` without any gradient work: per
    chunk one matmul and the forward-only kernel. Peak extra memory is one chunk
    of logits (see ``chunk_size``), not ``n_rows * n_classes``.

{_LCE_DOC_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum" (accumulated in float64); for "none",
        an array of shape ``hidden.shape[:-1]`` in the result dtype (Notes), 0
        for ignored rows.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before any work: ``hidden`` and
        ``weight`` whose feature axes differ, a ``weight`` that is not 2-D, a
        ``bias``/``class_weight``/``sample_weight``/``target`` of the wrong
        shape, a class index out of range (with its position and value), float
        targets, ``label_smoothing`` outside [0, 1], an unknown ``reduction``, a
        ``chunk_size`` below 1, non-numeric input.

{_LCE_DOC_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> rng = np.random.default_rng(0)
    >>> hidden = rng.standard_normal((6, 4))           # 6 rows, 4 features
    >>> weight = rng.standard_normal((10, 4))          # 10 classes
    >>> target = np.array([3, 1, 4, 1, 5, -100])       # the last row is padding
    >>> loss = fastloss.linear_cross_entropy(hidden, weight, target, chunk_size=4)
    >>> logits = hidden @ weight.T                     # what it avoids building
    >>> bool(np.isclose(loss, fastloss.softmax_cross_entropy(logits, target)))
    True
"""

linear_cross_entropy_and_grad.__doc__ = f"""Cross-entropy of a linear layer's
    output and its gradients with respect to the layer's input, weight and bias,
    without materialising the logits.

    Per chunk of rows: ``logits = hidden[chunk] @ weight.T (+ bias)`` into a
    reused buffer (BLAS), the fused softmax cross-entropy kernel turning them into
    their gradient ``G`` in place, ``grad_hidden[chunk] = G @ weight`` and
    ``grad_weight += G.T @ hidden[chunk]`` (BLAS), ``grad_bias += G.sum(0)``.
    "mean" divides by the normaliser of all targets, computed first.

{_LCE_DOC_PARAMS}

    Returns
    -------
    loss : float or ndarray
        As in `linear_cross_entropy`.
    grad_hidden : ndarray of the shape of ``hidden``
    grad_weight : ndarray of shape (n_classes, in_features)
    grad_bias : ndarray of shape (n_classes,)
        Only when ``bias`` is given (a 4-tuple then, else a 3-tuple).
        The gradients of the loss for the chosen reduction ("none": of the sum of
        the row losses), in the result dtype (Notes), newly allocated.

    Raises
    ------
    ValueError, TypeError
        As in `linear_cross_entropy`.

{_LCE_DOC_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> rng = np.random.default_rng(0)
    >>> hidden = rng.standard_normal((6, 4)).astype(np.float32)
    >>> weight = rng.standard_normal((10, 4)).astype(np.float32)
    >>> bias = np.zeros(10, dtype=np.float32)
    >>> target = np.array([3, 1, 4, 1, 5, -100])
    >>> loss, g_hidden, g_weight, g_bias = fastloss.linear_cross_entropy_and_grad(
    ...     hidden, weight, target, bias=bias, chunk_size=4)
    >>> g_hidden.shape, g_weight.shape, g_bias.shape, g_weight.dtype
    ((6, 4), (10, 4), (10,), dtype('float32'))
    >>> g_hidden[-1]                                  # the ignored row
    array([0., 0., 0., 0.], dtype=float32)

    The same from the materialised logits, for comparison:

    >>> _, g = fastloss.softmax_cross_entropy_and_grad(hidden @ weight.T, target)
    >>> bool(np.allclose(g_hidden, g @ weight, atol=1e-6))
    True
    >>> bool(np.allclose(g_weight, g.T @ hidden, atol=1e-6))
    True
"""
