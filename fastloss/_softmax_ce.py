"""Validated functional API over the fused C kernels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import (
    check_copies_out,
    check_out,
    check_reduction,
    class_index_target,
    dtype_scalar,
    finish_loss,
    float_input,
    grad_buffer,
    index_str,
    int_scalar,
    keras_order_hint,
    renamed,
    weight_array,
    weight_scalar,
)

__all__ = ["softmax_cross_entropy", "softmax_cross_entropy_and_grad"]


# A call whose arrays are already in the form the general path would give them
# (exact float32/float64 ndarrays, C order, class indices, no weights) runs through
# the compiled fast path every loss shares (fastloss/_kernels.pyx), which checks
# that form and the scalars (by `_sce_params`, the general path's own validators);
# any other call, or any check failing there, returns None and
# `_softmax_cross_entropy` runs (and raises its errors) as if it had not been tried.
_fast = _kernels.fast_call
_FAST_SCE = _kernels.FAST_SOFTMAX_CE


def _sce_params(dtype, ignore_index, label_smoothing, z_loss):
    """The fast path's checks of the scalars, the general path's own validators:
    the kernel's (label_smoothing, z_loss, 0, 0, ignore_index) in compute
    `dtype`."""
    eps = dtype_scalar(label_smoothing, "label_smoothing", dtype, 0.0, 1.0)
    z = weight_scalar(z_loss, "z_loss", dtype)
    return eps, z, 0.0, 0.0, int_scalar(ignore_index, "ignore_index")


_SCE_DOC_PARAMS = """\
    Parameters
    ----------
    logits : array_like of shape (..., n_classes)
        Unnormalised scores, classes on the **last** axis (a language model's
        ``(batch, seq, vocab)`` is fine as is; a 1-D array is one row). float32 and
        float64 are used as given; float16 is computed in float32 and the results
        cast back; integers and bools become float64. A non-contiguous array is
        copied to C order once. Never modified (unless passed as ``out=``).
    target : array_like
        Either class indices, an integer array (any integer dtype) of shape
        ``logits.shape[:-1]`` with values in ``[0, n_classes)`` or equal to
        ``ignore_index``; or class probabilities, a float array of the logits'
        shape (used as given, not checked to sum to one).
    class_weight : array_like of shape (n_classes,), optional
        Per-class weights (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64): PyTorch's ``weight=``. (``weight=`` is its
        deprecated spelling here: still accepted, with a DeprecationWarning.)
    ignore_index : int, default=-100
        Rows whose class-index target equals it contribute no loss, no gradient and
        nothing to the "mean" normaliser. Not used with probability targets.
    label_smoothing : float in [0, 1], default=0.0
        Mixes the target with the uniform distribution: ``(1 - eps) * onehot +
        eps / n_classes``, as in PyTorch.
    z_loss : float >= 0, default=0.0
        Adds ``z_loss * logsumexp(logits_row) ** 2`` to each row's loss (the auxiliary
        loss that keeps the softmax normaliser near 1; PyTorch has none). It is
        scaled by ``sample_weight`` but not by ``class_weight``. 0 or of magnitude in
        [2**-32, 2**32] for float32, [2**-200, 2**200] for float64.
    sample_weight : array_like of shape ``logits.shape[:-1]``, optional
        Per-row weights (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64) that scale each row's loss. With "mean" the
        result is a weighted mean: the normaliser becomes ``sum_i sample_weight[i] *
        class_weight[target[i]]`` (``sum_i sample_weight[i]`` for probability
        targets).
    reduction : {"mean", "sum", "none"}, default="mean"
    n_threads : int, optional
        OpenMP threads; None uses `fastloss.get_num_threads` (the OpenMP default,
        honouring ``OMP_NUM_THREADS`` and ``threadpoolctl``). Results are
        bit-identical for every thread count. Small problems run on one thread."""

_SCE_DOC_MATH = """\
    Notes
    -----
    With ``lse_i = log sum_c exp(x_ic)``, class weights ``w``, ``W = sum_c w_c``,
    sample weights ``s``, ``eps = label_smoothing``, ``z = z_loss``, the loss of a
    row with class-index target ``y`` is::

        l_i = s_i * [(1 - eps) w_y (lse_i - x_iy)
                     + eps / C * sum_c w_c (lse_i - x_ic) + z lse_i**2]

    and with probability targets ``p`` (``p' = (1 - eps) p + eps / C``)::

        l_i = s_i * [sum_c w_c p'_ic (lse_i - x_ic) + z lse_i**2]

    where a term with ``w_c p'_ic == 0`` is 0 even if ``x_ic = -inf``. "sum" adds
    the ``l_i`` in float64; "mean" divides that by ``D = sum_i s_i w_{y_i}`` over
    rows not ignored (``D = sum_i s_i`` for probability targets). This is
    ``torch.nn.functional.cross_entropy`` with the class axis moved last, except
    that (a) when ``D == 0`` (no rows, or every target ignored) "mean" gives 0.0
    and a zero gradient where PyTorch gives NaN, so an all-padding batch cannot
    poison training, and (b) ``z_loss`` and ``sample_weight`` do not exist there.

    Numerics: the kernel works with ``x - max(x)`` and forms every loss term from
    ``max(x) - x_c >= 0`` and ``log sum exp(x - max) in [0, log C]`` in float64, so
    any finite logits (±1e30, float32 up to ±3.4e38) give a finite gradient and a
    finite float64 "sum"/"mean". A per-row float32 loss ("none") beyond float32's
    range (e.g. 6e38) is stored as ``inf``. ``-inf`` logits act as masks (zero
    probability, zero gradient); a target class at ``-inf`` has infinite loss. A
    row that is all ``-inf``, or holds NaN or ``+inf``, gives NaN for that row.

    The exp is a vectorised Cephes-style polynomial, within 2 ulp of the correctly
    rounded value; sums are accumulated in float64."""


def _softmax_cross_entropy(
    logits,
    target,
    class_weight,
    ignore_index,
    label_smoothing,
    z_loss,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
):
    if class_weight is None and sample_weight is None:
        result = _fast(
            _FAST_SCE,
            0,
            logits,
            None,
            None,
            target,
            _sce_params,
            (ignore_index, label_smoothing, z_loss),
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    x, res_dtype = float_input(logits, "logits")
    if x.ndim == 0:
        raise ValueError("logits must have at least 1 dimension (..., n_classes)")
    shape = x.shape
    lead = shape[:-1]
    c = shape[-1]
    if c < 1:
        raise ValueError("logits must have at least one class (last axis is empty)")
    n = x.size // c
    dtype = x.dtype

    t = target if type(target) is np.ndarray else np.asarray(target)
    kind = t.dtype.kind
    if kind in "iu":
        y = class_index_target(t, "target", lead)
        prob = None
    elif kind == "f":
        if t.shape != shape:
            if t.shape == lead:
                raise TypeError(
                    "target holds floats of shape logits.shape[:-1]: class indices "
                    "must be an integer array (probabilities need the logits' shape)"
                )
            raise ValueError(
                f"target of probabilities must have the logits' shape {shape}, "
                f"got {t.shape}{keras_order_hint(logits, t)}"
            )
        y = None
        prob = np.asarray(t, dtype=dtype, order="C").reshape(-1)
    else:
        raise TypeError(
            "target must be an integer array of class indices or a float array of "
            f"probabilities, got dtype {t.dtype}"
        )

    w = weight_array(class_weight, "class_weight", (c,), dtype)
    sw = weight_array(sample_weight, "sample_weight", lead, dtype)
    if sw is not None:
        sw = sw.reshape(-1)
    ignore_index = int_scalar(ignore_index, "ignore_index")
    eps = dtype_scalar(label_smoothing, "label_smoothing", dtype, 0.0, 1.0)
    z = weight_scalar(z_loss, "z_loss", dtype)
    if w is not None and y is not None and reduction == "mean":
        w, z = _rescale_class_weights(w, z)
    nt = _resolve_n_threads(n_threads)

    if want_grad and out is not None:
        check_out(
            out,
            shape,
            res_dtype,
            [
                ("logits", logits, dtype),
                ("target", target, dtype if y is None else y.dtype),
                ("class_weight", class_weight, dtype),
                ("sample_weight", sample_weight, dtype),
            ],
            allow_alias=logits,
        )
        # rescaled class weights reach the kernel as a copy
        check_copies_out(out, [("class_weight", class_weight, w)])

    # Gradient buffer: the caller's out= (possibly the logits themselves), else the
    # converted copy of the logits if one was made (it is ours), else a new array.
    grad = grad_buffer(x, logits, out, res_dtype, shape) if want_grad else None
    rows = np.empty(lead, dtype=dtype) if reduction == "none" else None

    try:
        total = _kernels.softmax_cross_entropy(
            x.reshape(-1),
            y,
            prob,
            w,
            sw,
            None if grad is None else grad.reshape(-1),
            None if rows is None else rows.reshape(-1),
            n,
            c,
            ignore_index,
            eps,
            z,
            reduction == "mean",
            nt,
        )
    except IndexError as exc:  # the kernel checked targets before writing anything
        bad = exc.args[0]
        raise ValueError(
            f"target[{index_str(bad, lead)}] (flat position {bad}) = {int(y[bad])} "
            "is out of range: "
            f"class indices must be in [0, {c}) or equal ignore_index "
            f"({ignore_index})"
        ) from None

    return finish_loss(total, rows, grad, out, res_dtype)


def _rescale_class_weights(w: np.ndarray, z: float) -> tuple[np.ndarray, float]:
    """Class weights below 1 scaled by a power of two into [1/2, 1), z_loss alike.

    With class indices, "mean" divides by D = sum_i s_i w_{y_i}: the loss and the
    gradient are unchanged when every weight and z_loss are scaled by one factor,
    and a power of two changes no bit of them. The kernel's per-row factors
    (s_i / D, times eps / C for label smoothing) are finite then: with weights of
    1e-45 (float32) or 5e-324 (float64) they overflowed, and inf * w_k or
    inf - inf made gradients inf or NaN out of a well-defined, O(1) result."""
    top = float(np.max(np.abs(w))) if w.size else 0.0
    if not 0.0 < top < 1.0:
        return w, z
    k = -int(np.frexp(top)[1])  # top * 2**k in [1/2, 1)
    with np.errstate(over="ignore"):
        z_scaled = float(np.ldexp(np.float64(z), k)) if z else 0.0
    if not np.isfinite(z_scaled):  # the result itself overflows: leave it so
        return w, z
    return np.ldexp(w, k).astype(w.dtype, copy=False), z_scaled


def softmax_cross_entropy(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    class_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    weight: npt.ArrayLike | None = None,
) -> LossValue:
    if weight is not None:
        class_weight = renamed(
            "softmax_cross_entropy", "weight", "class_weight", weight, class_weight
        )
    return _softmax_cross_entropy(
        logits,
        target,
        class_weight,
        ignore_index,
        label_smoothing,
        z_loss,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def softmax_cross_entropy_and_grad(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    class_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
    weight: npt.ArrayLike | None = None,
) -> LossAndGrad:
    if weight is not None:
        class_weight = renamed(
            "softmax_cross_entropy_and_grad",
            "weight",
            "class_weight",
            weight,
            class_weight,
        )
    return _softmax_cross_entropy(
        logits,
        target,
        class_weight,
        ignore_index,
        label_smoothing,
        z_loss,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


softmax_cross_entropy.__doc__ = f"""Softmax cross-entropy of logits against targets.

    The forward-only twin of `softmax_cross_entropy_and_grad`: the same kernel with
    the gradient switched off, so it allocates no ``(..., n_classes)`` memory (for
    float32/float64 C-ordered logits it allocates nothing but the "none" result).

{_SCE_DOC_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum" (accumulated in float64); for "none",
        an array of shape ``logits.shape[:-1]`` with the logits' dtype.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed: shapes
        that do not pair, a class index out of range (with its position and value),
        a wrong-length ``class_weight``, ``label_smoothing`` outside [0, 1], an unknown
        ``reduction``, non-numeric input.

{_SCE_DOC_MATH}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=np.float32)
    >>> target = np.array([0, 1])
    >>> round(fastloss.softmax_cross_entropy(logits, target), 4)
    0.3185
    >>> fastloss.softmax_cross_entropy(logits, target, reduction="none").round(4)
    array([0.417, 0.22 ], dtype=float32)
"""

softmax_cross_entropy_and_grad.__doc__ = f"""Softmax cross-entropy and its gradient
    with respect to the logits, from one fused kernel call.

    Each row of logits is read once into cache and the gradient written once: the
    kernel stores ``exp(x - max)`` into the gradient buffer while summing it, then
    rescales it in place. ``out=logits`` overwrites the logits with their gradient,
    so no second ``(..., n_classes)`` buffer exists at all.

{_SCE_DOC_PARAMS}
    out : ndarray, optional
        Where to write the gradient: a writeable, C-contiguous array with the
        logits' shape and the gradient's dtype (the logits' dtype; float64 for
        integer logits). It may be the logits array itself (in place); any other
        overlap with an input is an error. Without it a new array is returned
        (written over the converted copy when the logits had to be converted).

    Returns
    -------
    loss : float or ndarray
        As in `softmax_cross_entropy`.
    grad : ndarray of the logits' shape
        d(loss)/d(logits) for the chosen reduction ("none": the gradient of the sum
        of the row losses). It is ``out`` when given.

    Raises
    ------
    ValueError, TypeError
        As in `softmax_cross_entropy`, and for an ``out`` of the wrong shape, dtype
        or layout, read-only, or overlapping an input. Nothing is written when an
        error is raised.

{_SCE_DOC_MATH}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, np.array([0, 1]))
    >>> grad.round(4)
    array([[-0.1705,  0.1212,  0.0493],
           [ 0.0543, -0.0988,  0.0445]])
    >>> bool(abs(grad.sum(axis=1)).max() < 1e-15)  # softmax gradient rows sum to 0
    True
"""
