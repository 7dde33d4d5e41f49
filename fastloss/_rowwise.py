"""Row-wise losses over the last axis (softmax focal, KL divergence, perplexity,
triplet margin).

Each loss takes rows on the **last** axis and runs one fused C kernel
(src_c/fl_rowwise*.h) that returns the loss and writes the gradient in the same
pass; `perplexity` reuses the softmax cross-entropy kernel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._softmax_ce import _softmax_cross_entropy, softmax_cross_entropy
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import (
    _F16,
    _F32,
    bool_flag,
    check_copies_out,
    check_out,
    check_reduction,
    class_index_target,
    derived_weights,
    dtype_scalar,
    finish_grad,
    finish_loss,
    float_input,
    grad_buffer,
    index_str,
    int_scalar,
    keras_order_hint,
    real_scalar,
    renamed,
    weight_array,
    weight_scalar,
)

__all__ = [
    "kl_div_with_logits",
    "kl_div_with_logits_and_grad",
    "perplexity",
    "softmax_focal_loss",
    "softmax_focal_loss_and_grad",
    "triplet_margin_loss",
    "triplet_margin_loss_and_grad",
]


# --------------------------------------------------------------------------------
# shared checks and plumbing
# --------------------------------------------------------------------------------


# A call whose arrays are already in the form the general path would give them
# (exact float32/float64 ndarrays, C order, no weights) runs through the compiled
# fast path of fastloss/_kernels.pyx, which checks that form and takes the scalars
# from the loss's `_*_params` (the general path's own checks); any other call, or
# any check failing there, runs the general path (and raises its errors).
_fast = _kernels.fast_call


def _rows(x, name, what):
    """(C-ordered float32/float64 array, result dtype) with rows on the last axis;
    `what` names an entry of a row ("class", "feature")."""
    arr, res_dtype = float_input(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension (..., n_{what}s)")
    if arr.shape[-1] < 1:
        raise ValueError(f"{name} must have at least one {what} (the last axis)")
    return arr, res_dtype


def _positive(value, name):
    v = real_scalar(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def _indexed_rows(x, name, target):
    """(rows of `x` as `_rows` gives them, result dtype, flat int64 class indices
    of `target`), which must hold integers of shape ``x.shape[:-1]``."""
    arr, res_dtype = _rows(x, name, "class")
    t = target if type(target) is np.ndarray else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"target must be an integer array of class indices, got dtype {t.dtype}"
            + keras_order_hint(x, t)
        )
    return arr, res_dtype, class_index_target(t, "target", arr.shape[:-1])


def _sample_weight(sample_weight, lead, dtype):
    sw = weight_array(sample_weight, "sample_weight", lead, dtype)
    return None if sw is None else sw.reshape(-1)


def _flat(a):
    return None if a is None else a.reshape(-1)


def _call(kind, x, x2, x3, y, alpha, sw, grads, rows, params, ignore, mean, nt):
    n = x.size // x.shape[-1]
    g1, g2, g3 = (tuple(grads) + (None, None, None))[:3]
    return _kernels.rowwise(
        kind,
        x.reshape(-1),
        _flat(x2),
        _flat(x3),
        y,
        alpha,
        sw,
        _flat(g1),
        _flat(g2),
        _flat(g3),
        _flat(rows),
        n,
        x.shape[-1],
        ignore,
        *(float(v) for v in params),
        mean,
        nt,
    )


_COMMON_DOC = """\
    sample_weight : array_like of shape ``{lead}``, optional
        Per-row weights (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64) that scale each row's loss. With "mean" the
        result is a weighted mean: the normaliser becomes {norm}.
    reduction : {{"mean", "sum", "none"}}, default="mean"
        "none" returns the per-row losses (times ``sample_weight``), of shape
        ``{lead}`` and the input's dtype; "sum" and "mean" return a Python float
        accumulated in float64.
    n_threads : int, optional
        OpenMP threads; None uses `fastloss.get_num_threads`. Results are
        bit-identical for every thread count. Small problems run on one thread."""

_OUT_DOC = """\
    out : ndarray, optional
        Where to write the gradient: a writeable, C-contiguous array of the
        {name}' shape and the gradient's dtype ({name}' dtype; float64 for integer
        input). It may be ``{name}`` itself (in place); any other overlap with an
        input is an error. Without it a new array is returned."""

_DTYPE_DOC = """\
    float32 and float64 are computed as given; float16 is computed in float32 and the
    results cast back; integers and bools become float64. A non-contiguous array is
    copied to C order once. Inputs are never modified (unless passed as ``out=``)."""


# --------------------------------------------------------------------------------
# softmax focal loss
# --------------------------------------------------------------------------------


def _focal(
    logits,
    target,
    alpha,
    gamma,
    class_weight,
    ignore_index,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
):
    if alpha is None and class_weight is None and sample_weight is None:
        result = _fast(
            _kernels.FAST_ROWWISE,
            _kernels.RW_FOCAL,
            logits,
            None,
            None,
            target,
            _focal_params,
            (gamma, ignore_index),
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    x, res_dtype, y = _indexed_rows(logits, "logits", target)
    shape, dtype = x.shape, x.dtype
    lead, c = shape[:-1], shape[-1]
    g = dtype_scalar(gamma, "gamma", dtype, 0.0)
    a = _focal_class_weight(alpha, class_weight, c, dtype)
    sw = _sample_weight(sample_weight, lead, dtype)
    ignore_index = int_scalar(ignore_index, "ignore_index")
    nt = _resolve_n_threads(n_threads)
    if g == 0.0 and a is None:
        # Plain cross-entropy: its own kernel (the same loss, and its short-row
        # path); this also makes gamma=0 equal softmax_cross_entropy bit for bit.
        return _softmax_cross_entropy(
            logits,
            target,
            None,
            ignore_index,
            0.0,
            0.0,
            sample_weight,
            reduction,
            n_threads,
            out,
            want_grad,
        )
    if want_grad and out is not None:
        check_out(
            out,
            shape,
            res_dtype,
            [
                ("logits", logits, dtype),
                ("target", target, y.dtype),
                ("class_weight", class_weight, dtype),
                ("sample_weight", sample_weight, dtype),
            ],
            allow_alias=logits,
        )
        # alpha times the class weights reaches the kernel as a copy
        check_copies_out(out, [("class_weight", class_weight, a)])
    return _indexed_run(
        _kernels.RW_FOCAL,
        (x, logits, res_dtype, y),
        a,
        sw,
        (g, 0.0, 0.0, 0.0),
        ignore_index,
        reduction,
        nt,
        out,
        want_grad,
    )


def _indexed_run(
    kind, rows_in, cw, sw, params, ignore_index, reduction, nt, out, want_grad
):
    """The kernel call of a row-wise loss against class indices, once its inputs
    are checked (`out` too): `rows_in` is what `_indexed_rows` returned with the
    caller's array second, ``(x, given, res_dtype, y)``. The gradient buffer, the
    per-row losses for "none", an out-of-range class as a ValueError, the result."""
    x, given, res_dtype, y = rows_in
    lead, c = x.shape[:-1], x.shape[-1]
    grad = grad_buffer(x, given, out, res_dtype, x.shape) if want_grad else None
    rows = np.empty(lead, dtype=x.dtype) if reduction == "none" else None
    try:
        total = _call(
            kind,
            x,
            None,
            None,
            y,
            cw,
            sw,
            (grad,),
            rows,
            params,
            ignore_index,
            reduction == "mean",
            nt,
        )
    except IndexError as exc:  # the kernel checked targets before writing anything
        raise _out_of_range(exc, y, lead, c, ignore_index) from None
    return finish_loss(total, rows, grad, out, res_dtype)


def _out_of_range(exc, y, lead, c, ignore_index):
    """The ValueError for the kernel's IndexError(flat position) of a class index
    out of range."""
    bad = exc.args[0]
    return ValueError(
        f"target[{index_str(bad, lead)}] (flat position {bad}) = {int(y[bad])} "
        f"is out of range: class indices must be in [0, {c}) or equal "
        f"ignore_index ({ignore_index})"
    )


def _focal_class_weight(alpha, class_weight, c, dtype):
    """The kernel's per-class factors: ``alpha * class_weight`` (either may be
    None), None when both are."""
    w = weight_array(class_weight, "class_weight", (c,), dtype)
    if alpha is None:
        return w
    a = weight_scalar(alpha, "alpha", dtype)
    if w is None:
        return np.full(c, a, dtype=dtype)
    with derived_weights("alpha * class_weight"):
        return weight_array(
            np.float64(a) * w.astype(np.float64), "alpha * class_weight", (c,), dtype
        )


def _focal_params(dtype, gamma, ignore_index):
    """The fast path's checks of `_focal`'s scalars, in compute `dtype`."""
    g = dtype_scalar(gamma, "gamma", dtype, 0.0)
    return g, 0.0, 0.0, 0.0, int_scalar(ignore_index, "ignore_index")


def softmax_focal_loss(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    alpha: float | None = None,
    gamma: float = 2.0,
    class_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    if alpha is not None and np.ndim(alpha) != 0:
        alpha, class_weight = (
            None,
            renamed("softmax_focal_loss", "alpha", "class_weight", alpha, class_weight),
        )
    return _focal(
        logits,
        target,
        alpha,
        gamma,
        class_weight,
        ignore_index,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def softmax_focal_loss_and_grad(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    alpha: float | None = None,
    gamma: float = 2.0,
    class_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    if alpha is not None and np.ndim(alpha) != 0:
        alpha, class_weight = (
            None,
            renamed(
                "softmax_focal_loss_and_grad",
                "alpha",
                "class_weight",
                alpha,
                class_weight,
            ),
        )
    return _focal(
        logits,
        target,
        alpha,
        gamma,
        class_weight,
        ignore_index,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


_FOCAL_COMMON = _COMMON_DOC.format(
    lead="logits.shape[:-1]",
    norm="``sum_i sample_weight[i]`` over the rows not ignored",
)

_FOCAL_PARAMS = f"""\
    Parameters
    ----------
    logits : array_like of shape (..., n_classes)
        Unnormalised scores, classes on the **last** axis (a 1-D array is one row).
{_DTYPE_DOC}
    target : array_like of integers, shape ``logits.shape[:-1]``
        Class indices (any integer dtype) in ``[0, n_classes)`` or equal to
        ``ignore_index``.
    alpha : float >= 0, optional
        Balance factor that scales every row's loss and gradient, as ``alpha`` of
        `fastloss.sigmoid_focal_loss` and of Keras's ``CategoricalFocalCrossentropy``
        (whose default is 0.25; here None, i.e. 1). 0 or of magnitude in [2**-32,
        2**32] for float32, [2**-200, 2**200] for float64. An array here is the
        deprecated spelling of ``class_weight`` (accepted with a
        DeprecationWarning).
    gamma : float >= 0, default=2.0
        Focusing parameter: ``gamma = 0`` is plain cross-entropy.
    class_weight : array_like of shape (n_classes,), optional
        Per-class weight (finite; 0 or of magnitude in [2**-32, 2**32] for float32,
        [2**-200, 2**200] for float64) of the row's target class, the "alpha-balanced"
        focal loss of the paper. It scales each row's loss and gradient and does
        **not** change the "mean" normaliser (a per-class loss scale, as in the
        focal-loss paper and torchvision's ``sigmoid_focal_loss``; PyTorch's
        ``cross_entropy(weight=)`` divides by the sum of the weights instead: use
        `fastloss.softmax_cross_entropy` with ``class_weight=`` for that).
    ignore_index : int, default=-100
        Rows whose target equals it contribute no loss, no gradient and nothing to
        the "mean" normaliser.
{_FOCAL_COMMON}"""

_FOCAL_NOTES = """\
    Notes
    -----
    With ``q = softmax(x_i)``, target ``y``, ``s_i`` the sample weight (1 when None)
    and ``alpha_y = alpha * class_weight[y]`` (each 1 when None), the loss of a row
    is::

        l_i = -s_i * alpha_y * (1 - q_y)**gamma * log(q_y)

    Rows whose target is ``ignore_index`` give 0. "sum" adds the ``l_i`` in float64;
    "mean" divides that by ``D = sum_i s_i`` over the rows not ignored (the count of
    such rows without ``sample_weight``, as ``torch.nn.functional.cross_entropy``
    without class weights); when ``D == 0`` (every row ignored) "mean" gives 0.0 and
    a zero gradient. PyTorch has no softmax focal loss; in torch ops the same loss
    is::

        logp = F.log_softmax(x, -1).gather(-1, y[..., None])[..., 0]
        loss = -alpha * class_weight[y] * (1 - logp.exp()) ** gamma * logp

    The gradient is ``s_i alpha_y K (q - onehot(y))`` with
    ``K = (1 - q_y)**gamma + gamma q_y (1 - q_y)**(gamma - 1) (-log q_y)``, formed
    as ``(1 - q_y)**gamma (1 + gamma q_y rho)`` with ``rho = -log(q_y) / (1 - q_y)
    -> 1`` so it stays finite for every ``gamma >= 0`` as ``q_y -> 1`` (also for
    ``gamma < 1``, where ``(1 - q_y)**(gamma - 1)`` alone diverges).

    Numerics: the kernel reads each row once into cache, stores ``exp(x - max)``
    into the gradient buffer while summing it in float64, and rescales it in place.
    ``1 - q_y`` is the sum of the other classes' exponentials over the total (no
    ``1 - q_y`` cancellation), and ``log q_y`` is ``x_y - logsumexp(x)`` (as
    ``-log1p(sum_{c != y} exp(x_c - x_y))`` when ``x_y`` is near the maximum),
    never ``log(q_y)`` of a rounded probability, so logits of any finite magnitude
    (±1e30) give finite results and a confident correct row a tiny, accurate loss.
    ``-inf`` logits act as masks; a target at ``-inf`` has infinite loss. With
    ``gamma == 0``, no ``alpha`` and no ``class_weight`` the call runs the softmax
    cross-entropy kernel and equals `fastloss.softmax_cross_entropy` exactly."""

softmax_focal_loss.__doc__ = f"""Softmax (multi-class) focal loss of logits against
    class indices.

    The forward-only twin of `softmax_focal_loss_and_grad` (the same kernel with the
    gradient switched off: no ``(..., n_classes)`` memory is written).

{_FOCAL_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape
        ``logits.shape[:-1]`` with the logits' dtype.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed: shapes
        that do not pair, a class index out of range (with its position and value),
        ``class_weight`` of the wrong length, ``gamma < 0``, an unknown
        ``reduction``.

{_FOCAL_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> target = np.array([0, 1])
    >>> fastloss.softmax_focal_loss(logits, target, reduction="none").round(6)
    array([0.048492, 0.008585])
    >>> round(fastloss.softmax_focal_loss(logits, target, gamma=0.0), 6)  # = CE
    0.31854
"""

softmax_focal_loss_and_grad.__doc__ = f"""Softmax focal loss and its gradient with
    respect to the logits, from one fused kernel call.

{_FOCAL_PARAMS}
{_OUT_DOC.format(name="logits")}

    Returns
    -------
    loss : float or ndarray
        As in `softmax_focal_loss`.
    grad : ndarray of the logits' shape
        d(loss)/d(logits) for the chosen reduction ("none": the gradient of the sum
        of the row losses). It is ``out`` when given.

    Raises
    ------
    ValueError, TypeError
        As in `softmax_focal_loss`, and for an ``out`` of the wrong shape, dtype or
        layout, read-only, or overlapping an input. Nothing is written when an
        error is raised.

{_FOCAL_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> loss, grad = fastloss.softmax_focal_loss_and_grad(logits, np.array([0, 1]))
    >>> round(loss, 6)
    0.028539
    >>> grad.round(4)
    array([[-0.0518,  0.0368,  0.015 ],
           [ 0.0059, -0.0107,  0.0048]])
"""


# --------------------------------------------------------------------------------
# KL divergence with logits
# --------------------------------------------------------------------------------


def _kl(
    student_logits,
    teacher_logits,
    temperature,
    teacher_probs,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
):
    if teacher_probs is False and sample_weight is None:
        result = _fast(
            _kernels.FAST_ROWWISE,
            _kernels.RW_KL_LOGITS,
            student_logits,
            teacher_logits,
            None,
            None,
            _kl_params,
            (temperature,),
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    x, res_dtype = _rows(student_logits, "student_logits", "class")
    shape, dtype = x.shape, x.dtype
    lead = shape[:-1]
    probs = bool_flag(teacher_probs, "teacher_probs")
    t, _ = float_input(teacher_logits, "teacher_logits")
    if t.shape != shape:
        raise ValueError(
            f"teacher_logits must have the student_logits' shape {shape}, got {t.shape}"
        )
    t = np.asarray(t, dtype=dtype, order="C")
    if probs and t.size:
        lo, hi = t.min(), t.max()  # NaN propagates into both
        if not (lo >= 0 and hi < np.inf):
            bad = np.flatnonzero(~((t >= 0) & (t < np.inf)))[0]
            raise ValueError(
                "teacher_logits holds probabilities (teacher_probs=True) and must be "
                f"finite and >= 0: teacher_logits[{index_str(bad, shape)}] = "
                f"{t.reshape(-1)[bad]}"
            )
    temp = _kl_params(dtype, temperature)[0]
    sw = _sample_weight(sample_weight, lead, dtype)
    nt = _resolve_n_threads(n_threads)
    if want_grad and out is not None:
        check_out(
            out,
            shape,
            res_dtype,
            [
                ("student_logits", student_logits, dtype),
                ("teacher_logits", teacher_logits, dtype),
                ("sample_weight", sample_weight, dtype),
            ],
            allow_alias=student_logits,
        )
    grad = grad_buffer(x, student_logits, out, res_dtype, shape) if want_grad else None
    rows = np.empty(lead, dtype=dtype) if reduction == "none" else None
    total = _call(
        _kernels.RW_KL_PROBS if probs else _kernels.RW_KL_LOGITS,
        x,
        t,
        None,
        None,
        None,
        sw,
        (grad,),
        rows,
        (temp, 0.0, 0.0, 0.0),
        0,
        reduction == "mean",
        nt,
    )
    return finish_loss(total, rows, grad, out, res_dtype)


def _kl_params(dtype, temperature):
    """The temperature as the kernel's parameters, checked in compute `dtype`."""
    temp = _positive(temperature, "temperature")
    weight_scalar(temp, "temperature", dtype)  # 1 / T and T**2 stay normal
    return temp, 0.0, 0.0, 0.0, 0


def kl_div_with_logits(
    student_logits: npt.ArrayLike,
    teacher_logits: npt.ArrayLike,
    *,
    temperature: float = 1.0,
    teacher_probs: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _kl(
        student_logits,
        teacher_logits,
        temperature,
        teacher_probs,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def kl_div_with_logits_and_grad(
    student_logits: npt.ArrayLike,
    teacher_logits: npt.ArrayLike,
    *,
    temperature: float = 1.0,
    teacher_probs: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _kl(
        student_logits,
        teacher_logits,
        temperature,
        teacher_probs,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


_KL_COMMON = _COMMON_DOC.format(
    lead="student_logits.shape[:-1]",
    norm="``sum_i sample_weight[i]`` instead of the number of rows",
)

_KL_PARAMS = f"""\
    Parameters
    ----------
    student_logits : array_like of shape (..., n_classes)
        The student's unnormalised scores, classes on the **last** axis.
{_DTYPE_DOC}
    teacher_logits : array_like of the student's shape
        The teacher's unnormalised scores, or with ``teacher_probs=True`` its
        probabilities (finite, >= 0, used as given: rows are not renormalised and
        ``temperature`` does not apply to them). Converted to the student's dtype.
    temperature : float > 0, default=1.0
        Both softmaxes are taken of ``logits / temperature`` and the loss is scaled
        by ``temperature**2`` (Hinton et al.'s distillation loss, whose gradient
        scale then does not depend on the temperature). In [2**-32, 2**32] for
        float32, [2**-200, 2**200] for float64 (so that 1 / T and T**2 are normal
        numbers).
    teacher_probs : bool, default=False
        Whether ``teacher_logits`` already holds probabilities.
{_KL_COMMON}"""

_KL_NOTES = """\
    Notes
    -----
    With ``P = softmax(t_i / T)`` (or the given probabilities ``p_i``),
    ``Q = softmax(s_i / T)`` and ``s_i`` the sample weight (1 when None)::

        l_i = s_i * T**2 * sum_c P_c (log P_c - log Q_c)

    where a class with ``P_c == 0`` contributes 0, even where the student's logit is
    ``-inf``. "sum" adds the ``l_i`` in float64; "mean" divides by the number of
    rows (``sum_i s_i`` with ``sample_weight``), PyTorch's "batchmean" for 2-D
    input. The gradient is for the student only: ``s_i T (Q - P)`` (``s_i T ((sum_c
    p_c) Q - p)`` for probabilities, which need not sum to one).

    This is, for 2-D input, ::

        F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1),
                 log_target=True, reduction="batchmean") * T**2

    and with ``teacher_probs=True``
    ``F.kl_div(F.log_softmax(s / T, -1), p, reduction="batchmean") * T**2``.
    Differences: for more than 2 dimensions PyTorch's "batchmean" divides by the
    first dimension only, fastloss by the number of rows (the product of all but
    the last); a zero probability facing a ``-inf`` student logit is 0 here and NaN
    in PyTorch (``0 * -inf``).

    Numerics: one fused pass per row pair reads both rows into cache (their
    maxima), stores the student's exponentials into the gradient buffer while
    summing both rows' exponentials in float64, and rescales in place while the
    rows are in cache (the teacher's exponentials are recomputed there rather than
    kept in a second buffer). Log-ratios are formed from ``(t_c - max t) - (s_c -
    max s)`` in float64, so logits of any finite magnitude give finite results;
    ``-inf`` teacher logits are masks (zero probability). The temperature enters
    through ``1 / T`` rounded to the compute dtype. When the two distributions
    nearly agree, the loss is a small difference of ``O(|t - s|)`` terms and its
    relative accuracy degrades accordingly (as in any evaluation of KL)."""

kl_div_with_logits.__doc__ = f"""Kullback-Leibler divergence of the student's softmax
    from the teacher's, ``T**2 KL(softmax(t/T) || softmax(s/T))`` per row.

    The forward-only twin of `kl_div_with_logits_and_grad`.

{_KL_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape
        ``student_logits.shape[:-1]`` with the student's dtype.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed: shapes
        that differ, ``temperature <= 0`` or not finite, negative or non-finite
        probabilities, an unknown ``reduction``.

{_KL_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> student = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> teacher = np.array([[1.5, 1.5, 0.0], [0.0, 3.0, 0.0]])
    >>> round(fastloss.kl_div_with_logits(student, teacher), 6)
    0.075851
    >>> round(fastloss.kl_div_with_logits(student, teacher, temperature=2.0), 6)
    0.096569
    >>> fastloss.kl_div_with_logits(student, student, reduction="none")
    array([0., 0.])
"""

kl_div_with_logits_and_grad.__doc__ = f"""KL divergence with logits and its gradient
    with respect to the student's logits, from one fused kernel call.

{_KL_PARAMS}
{_OUT_DOC.format(name="student_logits")}

    Returns
    -------
    loss : float or ndarray
        As in `kl_div_with_logits`.
    grad : ndarray of the student's shape
        d(loss)/d(student_logits) for the chosen reduction ("none": the gradient of
        the sum of the row losses). It is ``out`` when given. There is no teacher
        gradient (distillation keeps the teacher fixed).

    Raises
    ------
    ValueError, TypeError
        As in `kl_div_with_logits`, and for an ``out`` of the wrong shape, dtype or
        layout, read-only, or overlapping an input. Nothing is written when an
        error is raised.

{_KL_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> student = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    >>> teacher = np.array([[1.5, 1.5, 0.0], [0.0, 3.0, 0.0]])
    >>> loss, grad = fastloss.kl_div_with_logits_and_grad(student, teacher)
    >>> grad.round(4)
    array([[ 0.1046, -0.1037, -0.0009],
           [ 0.0317, -0.0535,  0.0218]])
    >>> bool(abs(grad.sum(axis=1)).max() < 1e-15)  # Q - P sums to 0 in each row
    True
"""


# --------------------------------------------------------------------------------
# perplexity
# --------------------------------------------------------------------------------


def perplexity(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    class_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    sample_weight: npt.ArrayLike | None = None,
    n_threads: int | None = None,
) -> float:
    """Perplexity: the exponential of the mean token cross-entropy.

    Parameters
    ----------
    logits : array_like of shape (..., n_classes)
        Unnormalised scores, classes (the vocabulary) on the **last** axis, e.g. a
        language model's ``(batch, seq, vocab)``; as in
        `fastloss.softmax_cross_entropy`.
    target : array_like of integers, shape ``logits.shape[:-1]``
        Token indices in ``[0, n_classes)`` or equal to ``ignore_index`` (padding).
        Probability targets of the logits' shape are accepted as in
        `fastloss.softmax_cross_entropy` (the exponential of the mean soft
        cross-entropy).
    class_weight : array_like of shape (n_classes,), optional
        Per-class weights, as in `fastloss.softmax_cross_entropy`: the mean is then
        the class-weighted mean ``sum_i w_{y_i} CE_i / sum_i w_{y_i}``.
    ignore_index : int, default=-100
        Tokens with this target count neither in the sum nor in the token count.
    sample_weight : array_like of shape ``logits.shape[:-1]``, optional
        Per-token weights, as in `fastloss.softmax_cross_entropy` (e.g. 0 for
        padding): the mean is then the weighted mean.
    n_threads : int, optional
        OpenMP threads; None uses `fastloss.get_num_threads`. Bit-identical for any.

    Returns
    -------
    ppl : float
        ``exp(mean cross-entropy)`` as a Python float; ``inf`` when the mean
        cross-entropy exceeds ~709.78 (float64's exp overflows), NaN when it is NaN.

    Raises
    ------
    ValueError, TypeError
        As `fastloss.softmax_cross_entropy` (a token index out of range names its
        position and value).

    Notes
    -----
    ``ppl = exp(sum_i CE_i / N)`` over the ``N`` tokens not ignored (with weights:
    ``exp(sum_i s_i w_{y_i} CE_i / sum_i s_i w_{y_i})``), with ``CE_i``
    the cross-entropy of token ``i``, computed by the softmax cross-entropy kernel
    (forward only, no gradient memory). This equals
    ``torch.exp(F.cross_entropy(logits.flatten(0, -2), target.flatten(),
    ignore_index=ignore_index))``. When every token is ignored (or there are none)
    the mean cross-entropy is 0 by fastloss's convention, so the perplexity is
    ``exp(0) = 1.0`` (PyTorch gives NaN).

    There is no ``perplexity_and_grad``: perplexity is a monotone transform of the
    mean cross-entropy, which is what is trained
    (`fastloss.softmax_cross_entropy_and_grad`); its own gradient is that gradient
    times the perplexity, a rescaling that only makes the step size depend on the
    current loss. It has no ``reduction`` either: it is always the exponential of
    the mean (of the sum it would be meaningless).

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.log(np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]]))
    >>> fastloss.perplexity(logits, np.array([0, 1]))  # mean CE = log 2
    2.0
    >>> fastloss.perplexity(logits, np.array([-100, -100]))  # nothing to score
    1.0
    """
    ce = softmax_cross_entropy(
        logits,
        target,
        class_weight=class_weight,
        ignore_index=ignore_index,
        sample_weight=sample_weight,
        reduction="mean",
        n_threads=n_threads,
    )
    try:
        return math.exp(ce)
    except OverflowError:
        return math.inf


# --------------------------------------------------------------------------------
# triplet margin loss
# --------------------------------------------------------------------------------

_TRIPLET_NAMES = ("anchor", "positive", "negative")


def _check_triplet_out(out, shape, res_dtype, dtype, originals, sample_weight):
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise TypeError(
            "out must be None or a tuple of 3 arrays (grad_anchor, grad_positive, "
            f"grad_negative), got {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        )
    inputs = [(nm, o, dtype) for nm, o in zip(_TRIPLET_NAMES, originals)]
    inputs.append(("sample_weight", sample_weight, dtype))
    for j, buf in enumerate(out):
        try:
            check_out(buf, shape, res_dtype, inputs, allow_alias=originals[j])
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            if msg.startswith("out "):
                msg = f"out[{j}] " + msg[4:]
            raise type(exc)(msg) from None
        for k in range(j):
            if np.may_share_memory(buf, out[k]):
                raise ValueError(f"out[{j}] overlaps out[{k}]")


def _triplet(
    anchor,
    positive,
    negative,
    margin,
    p,
    eps,
    swap,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
):
    if sample_weight is None:
        result = _fast(
            _kernels.FAST_ROWWISE,
            _kernels.RW_TRIPLET,
            anchor,
            positive,
            negative,
            None,
            _triplet_params,
            (margin, p, eps, swap),
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    originals = (anchor, positive, negative)
    arrays, dtypes = [], []
    for name, v in zip(_TRIPLET_NAMES, originals):
        arr, rd = _rows(v, name, "feature")
        arrays.append(arr)
        dtypes.append(rd)
    shape = arrays[0].shape
    for name, arr in zip(_TRIPLET_NAMES[1:], arrays[1:]):
        if arr.shape != shape:
            raise ValueError(
                f"{name} must have the anchor's shape {shape}, got {arr.shape}"
            )
    res_dtype = np.result_type(*dtypes)
    if res_dtype == _F16:
        res_dtype = _F16
    dtype = _F32 if res_dtype is _F16 else res_dtype
    arrays = [np.asarray(arr, dtype=dtype, order="C") for arr in arrays]
    lead = shape[:-1]
    params = _triplet_params(dtype, margin, p, eps, swap)
    sw = _sample_weight(sample_weight, lead, dtype)
    nt = _resolve_n_threads(n_threads)
    if want_grad and out is not None:
        _check_triplet_out(out, shape, res_dtype, dtype, originals, sample_weight)
    grads = ()
    if want_grad:
        outs = (None, None, None) if out is None else tuple(out)
        grads = tuple(
            grad_buffer(x, o, ob, res_dtype, shape)
            for x, o, ob in zip(arrays, originals, outs)
        )
    rows = np.empty(lead, dtype=dtype) if reduction == "none" else None
    total = _call(
        _kernels.RW_TRIPLET,
        arrays[0],
        arrays[1],
        arrays[2],
        None,
        None,
        sw,
        grads,
        rows,
        params[:4],
        0,
        reduction == "mean",
        nt,
    )
    loss = finish_loss(total, rows, None, None, res_dtype)
    if not want_grad:
        return loss
    outs = (None, None, None) if out is None else tuple(out)
    return loss, tuple(finish_grad(g, o, res_dtype) for g, o in zip(grads, outs))


def _triplet_params(dtype, margin, p, eps, swap):
    """(margin, p, eps, swap as 1.0 or 0.0, 0): the kernel's parameters, each
    checked in compute `dtype`."""
    m = dtype_scalar(margin, "margin", dtype)
    pn = dtype_scalar(p, "p", dtype, 1.0)
    e = dtype_scalar(eps, "eps", dtype)
    return m, pn, e, 1.0 if bool_flag(swap, "swap") else 0.0, 0


def triplet_margin_loss(
    anchor: npt.ArrayLike,
    positive: npt.ArrayLike,
    negative: npt.ArrayLike,
    *,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _triplet(
        anchor,
        positive,
        negative,
        margin,
        p,
        eps,
        swap,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def triplet_margin_loss_and_grad(
    anchor: npt.ArrayLike,
    positive: npt.ArrayLike,
    negative: npt.ArrayLike,
    *,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: Sequence[FloatArray] | None = None,
) -> tuple[LossValue, tuple[FloatArray, FloatArray, FloatArray]]:
    return _triplet(
        anchor,
        positive,
        negative,
        margin,
        p,
        eps,
        swap,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


_TRIPLET_COMMON = _COMMON_DOC.format(
    lead="anchor.shape[:-1]",
    norm="``sum_i sample_weight[i]`` instead of the number of rows",
)

_TRIPLET_PARAMS = f"""\
    Parameters
    ----------
    anchor, positive, negative : array_like of shape (..., n_features)
        Embeddings, vectors on the **last** axis (a 1-D array is one triplet), all
        of the same shape. They are computed in their common promoted dtype.
{_DTYPE_DOC}
    margin : float, default=1.0
        Finite.
    p : float >= 1, default=2
        Order of the norm (finite; 1, 2 and any real ``p >= 1``).
    eps : float, default=1e-6
        Added to each difference before the norm, as PyTorch's
        ``pairwise_distance`` (not to the norm).
    swap : bool, default=False
        Use ``min(d(a, n), d(p, n))`` as the negative distance (the distance swap of
        Balntas et al.).
{_TRIPLET_COMMON}"""

_TRIPLET_NOTES = """\
    Notes
    -----
    With ``d(u, v) = ||u - v + eps||_p`` over the last axis and ``s_i`` the sample
    weight (1 when None)::

        d_neg = d(a, n), or min(d(a, n), d(p, n)) with swap
        l_i = s_i * max(d(a, p) - d_neg + margin, 0)

    "sum" adds the ``l_i`` in float64; "mean" divides by the number of rows
    (``sum_i s_i`` with ``sample_weight``). This is
    ``torch.nn.functional.triplet_margin_loss(anchor, positive, negative,
    margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)``.

    The gradient is a subgradient: 0 for rows whose hinge is inactive
    (``d(a, p) - d_neg + margin < 0``); at the kink (``== 0``) the active branch's,
    as PyTorch's ``clamp_min``. ``d d(u, v) / d u_k = phi(v_k)`` with
    ``phi = v_k / d`` (p = 2), ``sign(v_k)`` (p = 1), ``sign(v_k) (|v_k| / d)**(p -
    1)`` (general p), and 0 where ``d == 0``; with ``swap`` the negative distance's
    gradient goes to the smaller one, half to each on an exact tie (as PyTorch).

    Numerics: all arithmetic is in float64 whatever the dtype; a general-p norm is
    computed as ``M * (sum_k (|v_k| / M)**p)**(1/p)`` with ``M = max_k |v_k|``, so
    no power overflows; p = 2 sums squares in float64 (exact range for any float32
    input and float64 differences below ~1e154)."""

triplet_margin_loss.__doc__ = f"""Triplet margin loss of anchor, positive and negative
    embeddings (vectors on the last axis).

    The forward-only twin of `triplet_margin_loss_and_grad`.

{_TRIPLET_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape
        ``anchor.shape[:-1]`` with the inputs' dtype.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed: shapes
        that differ, ``p < 1``, a non-finite ``margin`` or ``eps``, an unknown
        ``reduction``.

{_TRIPLET_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> anchor = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> positive = np.array([[3.0, 4.0], [1.0, 2.0]])
    >>> negative = np.array([[0.0, 1.0], [4.0, 5.0]])
    >>> fastloss.triplet_margin_loss(anchor, positive, negative, eps=0.0,
    ...                              reduction="none")
    array([5., 0.])
    >>> fastloss.triplet_margin_loss(anchor, positive, negative, p=1, eps=0.0,
    ...                              reduction="none")
    array([7., 0.])
"""

triplet_margin_loss_and_grad.__doc__ = f"""Triplet margin loss and its gradients with
    respect to the anchor, the positive and the negative, from one kernel call.

{_TRIPLET_PARAMS}
    out : tuple of 3 ndarrays, optional
        Where to write ``(grad_anchor, grad_positive, grad_negative)``: each a
        writeable, C-contiguous array of the inputs' shape and the gradients' dtype.
        ``out[0]`` may be ``anchor`` itself, ``out[1]`` ``positive``, ``out[2]``
        ``negative`` (in place); any other overlap, with an input or between the
        three, is an error. Without it new arrays are returned.

    Returns
    -------
    loss : float or ndarray
        As in `triplet_margin_loss`.
    grads : tuple of 3 ndarrays ``(grad_anchor, grad_positive, grad_negative)``
        The gradients of the loss (for the chosen reduction; "none": of the sum of
        the row losses) with respect to each input, each of the inputs' shape. They
        are the ``out`` arrays when given.

    Raises
    ------
    ValueError, TypeError
        As in `triplet_margin_loss`, and for an ``out`` that is not a 3-tuple of
        arrays of the right shape, dtype and layout, is read-only, or overlaps an
        input or another output. Nothing is written when an error is raised.

{_TRIPLET_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> anchor = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> positive = np.array([[3.0, 4.0], [1.0, 2.0]])
    >>> negative = np.array([[0.0, 1.0], [4.0, 5.0]])
    >>> loss, (ga, gp, gn) = fastloss.triplet_margin_loss_and_grad(
    ...     anchor, positive, negative, eps=0.0)
    >>> loss
    2.5
    >>> ga
    array([[-0.3,  0.1],
           [ 0. ,  0. ]])
    >>> gp
    array([[0.3, 0.4],
           [0. , 0. ]])
"""
