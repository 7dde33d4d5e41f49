"""Row-wise losses of a prediction against a target row: the cosine similarity,
Dice and Tversky losses of Keras 3; and Keras 3's circle loss, row-wise over the
batch's similarity matrix.

Each loss takes rows on the **last** axis and runs one fused C kernel
(src_c/fl_rw_pair.h, a kind of the row-wise family of fastloss/_rowwise.py) that
returns the loss and writes the gradient with respect to the prediction in the
same pass. The Keras-named classes (`fastloss.losses.CosineSimilarity`, `Dice`,
`Tversky`) add Keras's ``axis`` and reductions on top.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._rowwise import (
    _COMMON_DOC,
    _DTYPE_DOC,
    _OUT_DOC,
    _call,
    _fast,
    _rows,
    _sample_weight,
)
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import (
    bool_flag,
    check_out,
    check_reduction,
    dtype_scalar,
    finish_loss,
    float_input,
    grad_buffer,
)

__all__ = [
    "circle_loss",
    "circle_loss_and_grad",
    "cosine_similarity_loss",
    "cosine_similarity_loss_and_grad",
    "dice_loss",
    "dice_loss_and_grad",
    "tversky_loss",
    "tversky_loss_and_grad",
]

# keras.backend.epsilon(), the default of every `epsilon` here
EPSILON = 1e-7


def _pair(
    kind,
    check,
    params,
    pred,
    target,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
    what="feature",
):
    """The shared path of the row-pair losses: `check(dtype, *params)` returns the
    kernel's parameters (p0, p1, p2, p3, 0); `what` names an entry of a row."""
    if sample_weight is None:
        result = _fast(
            _kernels.FAST_ROWWISE,
            kind,
            pred,
            target,
            None,
            None,
            check,
            params,
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    x, res_dtype = _rows(pred, "pred", what)
    shape, dtype = x.shape, x.dtype
    lead = shape[:-1]
    t, _ = float_input(target, "target")
    if t.shape != shape:
        raise ValueError(f"target must have pred's shape {shape}, got {t.shape}")
    t = np.asarray(t, dtype=dtype, order="C")
    p = check(dtype, *params)
    sw = _sample_weight(sample_weight, lead, dtype)
    nt = _resolve_n_threads(n_threads)
    if want_grad and out is not None:
        check_out(
            out,
            shape,
            res_dtype,
            [
                ("pred", pred, dtype),
                ("target", target, dtype),
                ("sample_weight", sample_weight, dtype),
            ],
            allow_alias=pred,
        )
    grad = grad_buffer(x, pred, out, res_dtype, shape) if want_grad else None
    rows = np.empty(lead, dtype=dtype) if reduction == "none" else None
    total = _call(
        kind,
        x,
        t,
        None,
        None,
        None,
        sw,
        (grad,),
        rows,
        p[:4],
        0,
        reduction == "mean",
        nt,
    )
    return finish_loss(total, rows, grad, out, res_dtype)


def _cosine_params(dtype, epsilon):
    """(epsilon, 0, 0, 0, 0), epsilon > 0 checked in compute `dtype`."""
    e = dtype_scalar(epsilon, "epsilon", dtype, 0.0)
    if e == 0:
        raise ValueError("epsilon must be > 0 (the smallest norm), got 0.0")
    return e, 0.0, 0.0, 0.0, 0


def _dice_params(dtype, epsilon):
    """(epsilon, 0, 0, 0, 0), epsilon >= 0 checked in compute `dtype`."""
    return dtype_scalar(epsilon, "epsilon", dtype, 0.0), 0.0, 0.0, 0.0, 0


def _tversky_params(dtype, alpha, beta, epsilon):
    """(alpha, beta, epsilon, 0, 0), each checked in compute `dtype`."""
    a = dtype_scalar(alpha, "alpha", dtype)
    b = dtype_scalar(beta, "beta", dtype)
    return a, b, dtype_scalar(epsilon, "epsilon", dtype, 0.0), 0.0, 0


# --------------------------------------------------------------------------------
# the function pairs
# --------------------------------------------------------------------------------


def cosine_similarity_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = EPSILON,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _pair(
        _kernels.RW_COSINE,
        _cosine_params,
        (epsilon,),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def cosine_similarity_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = EPSILON,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _pair(
        _kernels.RW_COSINE,
        _cosine_params,
        (epsilon,),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


def dice_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = EPSILON,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _pair(
        _kernels.RW_DICE,
        _dice_params,
        (epsilon,),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def dice_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = EPSILON,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _pair(
        _kernels.RW_DICE,
        _dice_params,
        (epsilon,),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


def tversky_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    epsilon: float = EPSILON,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _pair(
        _kernels.RW_TVERSKY,
        _tversky_params,
        (alpha, beta, epsilon),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def tversky_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    epsilon: float = EPSILON,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _pair(
        _kernels.RW_TVERSKY,
        _tversky_params,
        (alpha, beta, epsilon),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


# --------------------------------------------------------------------------------
# docstrings
# --------------------------------------------------------------------------------

_COMMON = _COMMON_DOC.format(
    lead="pred.shape[:-1]",
    norm="``sum_i sample_weight[i]`` instead of the number of rows",
)

_PAIR_PARAMS = f"""\
    Parameters
    ----------
    pred : array_like of shape (..., n_features)
        Predictions, one row on the **last** axis (a 1-D array is one row).
{_DTYPE_DOC}
    target : array_like of pred's shape
        Targets, converted to pred's compute dtype."""

_RETURNS = """\
    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape
        ``pred.shape[:-1]`` with pred's dtype."""

_RETURNS_GRAD = """\
    Returns
    -------
    loss : float or ndarray
        As in `{name}`.
    grad : ndarray of pred's shape
        d(loss)/d(pred) for the chosen reduction ("none": the gradient of the sum
        of the row losses). It is ``out`` when given. There is no target gradient."""

_RAISES = """\
    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed: a
        target of another shape, {what}, an unknown ``reduction``{more}."""

_MORE = (
    ", and for an ``out`` of the wrong shape, dtype or layout, read-only, or "
    "overlapping an input. Nothing is written when an error is raised"
)

_COSINE_PARAMS = f"""{_PAIR_PARAMS}
    epsilon : float > 0, default=1e-7
        The smallest norm: each row is divided by ``max(||row||, epsilon)``, as
        Keras's ``l2_normalize`` (``keras.backend.epsilon()``).
{_COMMON}"""

_COSINE_NOTES = """\
    Notes
    -----
    With ``u = p / max(||p||, eps)`` and ``v = t / max(||t||, eps)`` (2-norms over the
    last axis) and ``s_i`` the sample weight (1 when None)::

        l_i = -s_i * sum(u * v)

    a number in [-1, 1], -1 when the rows point the same way. This is
    ``keras.losses.cosine_similarity(target, pred)`` (note Keras's argument order);
    "sum" adds the ``l_i`` in float64; "mean" divides by the number of rows (``sum_i
    s_i`` with ``sample_weight``). A zero row (of either) gives ``l_i = 0``.

    Gradient: for ``||p|| >= eps`` it is ``-s_i (v - cos u) / ||p||`` with ``cos =
    sum(u * v)``; below ``eps`` the normalisation is the constant ``1 / eps`` and the
    gradient is that of the linear ``-s_i sum(p * v) / eps``, i.e. ``-s_i v / eps``
    (finite; 0 when ``t`` is zero too). So a zero ``pred`` row has a finite gradient
    (``-v / eps``, large: 1e7 times the unit target), never NaN.

    PyTorch: ``torch.nn.functional.cosine_embedding_loss(pred, target, ones)`` is
    ``1 - cos`` per row, i.e. ``1 + l_i`` here, except how a near-zero norm is
    guarded (torch adds 1e-12 to each squared norm; Keras and this clamp each norm
    at ``eps``); the two agree to rounding for rows whose norms are well above
    ``eps``. ``torch.nn.functional.cosine_similarity`` is ``-l_i``, with its own
    ``eps`` (1e-8).

    Numerics: the three row sums (``p.p``, ``t.t``, ``t.p``) are accumulated in
    float64; a float64 row whose squared norm overflows is summed again scaled by
    its largest magnitude, so any finite rows give a finite loss."""

_DICE_PARAMS = f"""{_PAIR_PARAMS}
    epsilon : float >= 0, default=1e-7
        Added to the denominator, as Keras's ``keras.backend.epsilon()``.
{_COMMON}"""

_DICE_NOTES = """\
    Notes
    -----
    With ``I = sum(t * p)`` over the last axis and ``s_i`` the sample weight::

        l_i = s_i * (1 - 2 I / (sum(t) + sum(p) + eps))

    the soft Dice loss, for probabilities ``p`` and (soft) labels ``t`` in [0, 1].
    This is ``keras.losses.dice(target, pred, axis=-1)``; Keras's own default
    (``axis=None``) is the Dice of the whole batch as one row, which
    `fastloss.losses.Dice` gives. "sum" adds the ``l_i`` in float64; "mean" divides
    by the number of rows (``sum_i s_i`` with ``sample_weight``). The gradient is
    ``s_i (2 I / D**2 - 2 t / D)`` with ``D = sum(t) + sum(p) + eps``; a row whose
    ``D`` is 0 (only possible for negative inputs or ``eps = 0``) gives inf or NaN,
    as Keras. PyTorch has no Dice loss. The row sums are accumulated in float64."""

_TVERSKY_PARAMS = f"""{_PAIR_PARAMS}
    alpha : float, default=0.5
        Weight of ``sum((1 - p) * t)`` (finite).
    beta : float, default=0.5
        Weight of ``sum(p * (1 - t))`` (finite).
    epsilon : float >= 0, default=1e-7
        Added to the denominator, as Keras's ``keras.backend.epsilon()``.
{_COMMON}"""

_TVERSKY_NOTES = """\
    Notes
    -----
    With ``I = sum(t * p)`` over the last axis and ``s_i`` the sample weight::

        D = I + alpha * sum((1 - p) * t) + beta * sum(p * (1 - t)) + eps
        l_i = s_i * (1 - I / D)

    exactly ``keras.losses.tversky(target, pred, alpha, beta, axis=-1)``: Keras's
    ``alpha`` multiplies the missed target mass ``sum((1 - p) t)`` and ``beta`` the
    predicted mass off the target ``sum(p (1 - t))`` (its docstring names them the
    other way round; the formula is what is matched). ``alpha = beta = 0.5`` is the
    Dice loss with ``eps`` doubled. Keras's default ``axis=None`` (the whole batch
    as one row) is `fastloss.losses.Tversky`'s. "sum" adds the ``l_i`` in float64;
    "mean" divides by the number of rows (``sum_i s_i`` with ``sample_weight``).
    The gradient is ``s_i (-t / D + I (t (1 - alpha - beta) + beta) / D**2)``.
    The three sums are accumulated in float64, each directly (no ``sum(t) - I``
    cancellation). PyTorch has no Tversky loss."""


def _doc(summary, params, notes, example, name, grad):
    parts = [summary, "", params]
    if grad:
        parts += [_OUT_DOC.format(name="pred"), "", _RETURNS_GRAD.format(name=name)]
    else:
        parts += ["", _RETURNS]
    parts += ["", _RAISES.format(what=_WHAT[name], more=_MORE if grad else ""), ""]
    parts += [notes, "", "    Examples", "    --------", example]
    return "\n".join(parts)


_WHAT = {
    "cosine_similarity_loss": "``epsilon <= 0``",
    "dice_loss": "``epsilon < 0``",
    "tversky_loss": "a non-finite ``alpha`` or ``beta``, ``epsilon < 0``",
}

cosine_similarity_loss.__doc__ = _doc(
    """Cosine similarity loss: minus the cosine of prediction and target rows.

    The forward-only twin of `cosine_similarity_loss_and_grad`.""",
    _COSINE_PARAMS,
    _COSINE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> target = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    >>> pred = np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])
    >>> fastloss.cosine_similarity_loss(pred, target, reduction="none")
    array([-0., -1.,  1.])
""",
    "cosine_similarity_loss",
    False,
)

cosine_similarity_loss_and_grad.__doc__ = _doc(
    """Cosine similarity loss and its gradient with respect to the prediction, from
    one fused kernel call.""",
    _COSINE_PARAMS,
    _COSINE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> pred = np.array([[3.0, 4.0], [0.0, 0.0]])
    >>> target = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> loss, grad = fastloss.cosine_similarity_loss_and_grad(
    ...     pred, target, reduction="sum")
    >>> round(loss, 12)
    -0.6
    >>> grad[0]
    array([-0.128,  0.096])
    >>> grad[1] * 1e-7  # the zero row's gradient: -v / eps
    array([ 0., -1.])
""",
    "cosine_similarity_loss",
    True,
)

dice_loss.__doc__ = _doc(
    """Soft Dice loss of prediction rows against target rows.

    The forward-only twin of `dice_loss_and_grad`.""",
    _DICE_PARAMS,
    _DICE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> target = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    >>> pred = np.array([[0.0, 1.0, 0.0, 1.0], [0.4, 0.0, 0.0, 0.9]])
    >>> fastloss.dice_loss(pred, target, reduction="none").round(6)
    array([0.5     , 0.757576])
""",
    "dice_loss",
    False,
)

dice_loss_and_grad.__doc__ = _doc(
    """Soft Dice loss and its gradient with respect to the prediction, from one
    fused kernel call.""",
    _DICE_PARAMS,
    _DICE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> loss, grad = fastloss.dice_loss_and_grad([[0.5, 0.5]], [[1.0, 0.0]],
    ...                                          epsilon=0.0)
    >>> loss, grad
    (0.5, array([[-0.75,  0.25]]))
""",
    "dice_loss",
    True,
)

tversky_loss.__doc__ = _doc(
    """Tversky loss of prediction rows against target rows.

    The forward-only twin of `tversky_loss_and_grad`.""",
    _TVERSKY_PARAMS,
    _TVERSKY_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> target = np.array([[1.0, 1.0, 0.0, 0.0]])
    >>> pred = np.array([[0.0, 1.0, 0.0, 1.0]])
    >>> fastloss.tversky_loss(pred, target, alpha=0.7, beta=0.3, epsilon=0.0)
    0.5
""",
    "tversky_loss",
    False,
)

tversky_loss_and_grad.__doc__ = _doc(
    """Tversky loss and its gradient with respect to the prediction, from one fused
    kernel call.""",
    _TVERSKY_PARAMS,
    _TVERSKY_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> loss, grad = fastloss.tversky_loss_and_grad(
    ...     [[0.5, 0.5]], [[1.0, 0.0]], alpha=0.5, beta=0.5, epsilon=0.0)
    >>> loss, grad
    (0.5, array([[-0.75,  0.25]]))
""",
    "tversky_loss",
    True,
)


# --------------------------------------------------------------------------------
# circle loss
# --------------------------------------------------------------------------------


def _labels(labels, n):
    """Integer labels of shape (n,) (or (n, 1)) as int64; whole-number floats are
    taken (Keras casts labels to int32)."""
    y = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.shape != (n,):
        raise ValueError(
            f"labels must have shape ({n},) (one per embedding), got {y.shape}"
        )
    if y.dtype.kind == "f":
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ValueError("labels must be integers (whole numbers)")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"labels must be an integer array, got dtype {y.dtype}")
    return np.ascontiguousarray(y, dtype=np.int64)


def circle_active(labels, remove_diagonal):
    """The rows with at least one positive and one negative: the rows with a loss,
    those the "mean" counts."""
    # each row's count of its own label, by binary search in the sorted labels (a
    # third of np.unique's cost at a batch of 32)
    ordered = np.sort(labels)
    same = ordered.searchsorted(labels, "right") - ordered.searchsorted(labels, "left")
    return (same - int(remove_diagonal) > 0) & (labels.size - same > 0)


def _circle(
    embeddings,
    labels,
    gamma,
    margin,
    remove_diagonal,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
):
    check_reduction(reduction)
    x, res_dtype = float_input(embeddings, "embeddings")
    if x.ndim != 2:
        raise ValueError(
            f"embeddings must be 2-D (batch, features), got shape {x.shape}"
        )
    n, dim = x.shape
    if dim < 1:
        raise ValueError("embeddings must have at least one feature")
    dtype = x.dtype
    y = _labels(labels, n)
    g = dtype_scalar(gamma, "gamma", dtype, 0.0)
    m = dtype_scalar(margin, "margin", dtype)
    rd = bool_flag(remove_diagonal, "remove_diagonal")
    sw = _sample_weight(sample_weight, (n,), dtype)
    nt = _resolve_n_threads(n_threads)
    if want_grad and out is not None:
        check_out(
            out,
            x.shape,
            res_dtype,
            [
                ("embeddings", embeddings, dtype),
                ("sample_weight", sample_weight, dtype),
            ],
            allow_alias=embeddings,
        )
    w = np.ones(n) if sw is None else sw.astype(np.float64)
    if reduction == "mean":
        d = float(w[circle_active(y, rd)].sum()) if n else 0.0
        w = w * (1.0 / d if d else 0.0)
    kw = None if (sw is None and reduction != "mean") else w.astype(dtype)
    rows = np.empty(n, dtype=dtype) if reduction == "none" else None
    total = 0.0
    s = x @ x.T  # S = E E^T in the compute dtype, as Keras; G is written over it
    if n:
        total = _call(
            _kernels.RW_CIRCLE,
            s,
            None,
            None,
            y,
            None,
            kw,
            (s,) if want_grad else (),
            rows,
            (g, m, float(rd), 0.0),
            0,
            False,
            nt,
        )
    loss = finish_loss(total, rows, None, None, res_dtype)
    if not want_grad:
        return loss
    grad = s @ x  # dE = (G + G^T) E
    grad += s.T @ x
    if out is not None:
        np.copyto(out, grad, casting="unsafe")
        return loss, out
    return loss, grad.astype(res_dtype, copy=False)


def circle_loss(
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    gamma: float = 80.0,
    margin: float = 0.4,
    remove_diagonal: bool = True,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _circle(
        embeddings,
        labels,
        gamma,
        margin,
        remove_diagonal,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def circle_loss_and_grad(
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    gamma: float = 80.0,
    margin: float = 0.4,
    remove_diagonal: bool = True,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _circle(
        embeddings,
        labels,
        gamma,
        margin,
        remove_diagonal,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


_CIRCLE_PARAMS = """\
    Parameters
    ----------
    embeddings : array_like of shape (batch, n_features)
        The batch's embeddings, L2-normalised for the loss to mean what it says
        (Keras puts a ``UnitNormalization`` layer before it); used as given.
        float32 and float64 are computed as given (float16 in float32, integers
        in float64).
    labels : array_like of integers, shape (batch,) or (batch, 1)
        Class labels, any integer values (whole-number floats are accepted).
    gamma : float >= 0, default=80.0
        Scale of the weighted similarities.
    margin : float, default=0.4
        The relaxation margin ``m``.
    remove_diagonal : bool, default=True
        Leave each embedding's similarity with itself out of its positives.
    sample_weight : array_like of shape (batch,), optional
        Per-row weights (finite, in the range of the other losses' weights).
    reduction : {"mean", "sum", "none"}, default="mean"
        "none" returns the per-row losses (times ``sample_weight``); "sum" adds
        them in float64; "mean" divides that by ``sum_i sample_weight[i]`` (the
        count without weights) over the **rows that have a loss**: those with at
        least one positive and one negative in the batch (Keras's mean skips the
        rows whose loss is 0 the same way). 0.0 when there are none.
    n_threads : int, optional
        OpenMP threads of the row kernel; None uses `fastloss.get_num_threads`.
        Bit-identical for every thread count. The two matrix products run in
        NumPy's BLAS."""

_CIRCLE_NOTES = """\
    Notes
    -----
    With ``S = E E^T``, ``d_ij = max(1 - S_ij, 0)``, positives ``j`` (same label,
    ``j != i`` with ``remove_diagonal``) and negatives (other labels)::

        wp_ij = -gamma * max(m + d_ij, 0) * (m - d_ij)
        wn_ij =  gamma * max(1 + m - d_ij, 0) * (1 - m - d_ij)
        l_i = s_i * softplus(logsumexp_pos(wp_i) + logsumexp_neg(wn_i))

    exactly ``keras.losses.circle(labels, embeddings, gamma=gamma, margin=margin,
    remove_diagonal=remove_diagonal)``. A row with no positive or no negative has
    loss 0 and no gradient. PyTorch has no circle loss.

    Computation: ``S`` is one matrix product in the compute dtype (as Keras); a
    row-wise C kernel (src_c/fl_rw_circle.h) reads each row of ``S`` in float64,
    forms both logsumexps by max-subtraction and the stable softplus, and writes
    ``G = d loss / d S`` over ``S`` itself (no second batch x batch buffer); the
    gradient is ``(G + G^T) E``, two more products. Each ``max(., 0)`` contributes
    the gradient of its argument where that is > 0, and 0 elsewhere."""

circle_loss.__doc__ = f"""Circle loss of a batch of embeddings with integer labels
    (Keras 3's ``keras.losses.circle``).

    The forward-only twin of `circle_loss_and_grad`.

{_CIRCLE_PARAMS}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape
        ``(batch,)`` with the embeddings' dtype.

    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it: embeddings that are not 2-D,
        labels of another length or not integers, ``gamma < 0``, a non-finite
        ``margin``, an unknown ``reduction``.

{_CIRCLE_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> fastloss.circle_loss(emb, [0, 0, 1, 1], reduction="none").round(3)
    array([0.   , 6.402, 6.402, 0.   ])
"""

circle_loss_and_grad.__doc__ = f"""Circle loss and its gradient with respect to the
    embeddings.

{_CIRCLE_PARAMS}
    out : ndarray, optional
        Where to write the gradient: a writeable, C-contiguous array of the
        embeddings' shape and dtype; it may be ``embeddings`` itself (the products
        are formed first). Without it a new array is returned.

    Returns
    -------
    loss : float or ndarray
        As in `circle_loss`.
    grad : ndarray of the embeddings' shape
        d(loss)/d(embeddings) for the chosen reduction ("none": of the sum of the
        row losses), through both sides of ``S = E E^T``.

    Raises
    ------
    ValueError, TypeError
        As in `circle_loss`, and for an ``out`` of the wrong shape, dtype or
        layout, read-only, or overlapping an input.

{_CIRCLE_NOTES}

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> loss, grad = fastloss.circle_loss_and_grad(emb, [0, 0, 1, 1], gamma=1.0)
    >>> grad.shape
    (4, 2)
"""
