"""Keras 3's categorical hinge and categorical generalized cross-entropy losses.

Each takes rows on the **last** axis and runs one fused C kernel
(src_c/fl_rw_categorical.h, two kinds of the row-wise family of
fastloss/_rowwise.py) that returns the loss and writes the gradient with respect to
the prediction in the same pass. The Keras-named classes are
`fastloss.losses.CategoricalHinge` and `CategoricalGeneralizedCrossEntropy`.
"""

from __future__ import annotations

import numpy.typing as npt

from . import _kernels
from ._config import _resolve_n_threads
from ._rowwise import (
    _COMMON_DOC,
    _DTYPE_DOC,
    _OUT_DOC,
    _fast,
    _indexed_rows,
    _indexed_run,
    _sample_weight,
)
from ._similarity import _COMMON, _MORE, _RETURNS, _pair
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import (
    check_out,
    check_reduction,
    dtype_scalar,
    int_scalar,
)

__all__ = [
    "categorical_generalized_cross_entropy_loss",
    "categorical_generalized_cross_entropy_loss_and_grad",
    "categorical_hinge_loss",
    "categorical_hinge_loss_and_grad",
]


# --------------------------------------------------------------------------------
# categorical hinge
# --------------------------------------------------------------------------------


def _hinge_params(dtype):
    """The kernel's parameters: none."""
    return 0.0, 0.0, 0.0, 0.0, 0


def _hinge(pred, target, sample_weight, reduction, n_threads, out, want_grad):
    return _pair(
        _kernels.RW_CAT_HINGE,
        _hinge_params,
        (),
        pred,
        target,
        sample_weight,
        reduction,
        n_threads,
        out,
        want_grad,
        "class",
    )


def categorical_hinge_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _hinge(pred, target, sample_weight, reduction, n_threads, None, False)


def categorical_hinge_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _hinge(pred, target, sample_weight, reduction, n_threads, out, True)


# --------------------------------------------------------------------------------
# categorical generalized cross-entropy
# --------------------------------------------------------------------------------


def _gce_params(dtype, q, ignore_index):
    """(q, 0, 0, 0, ignore_index): 0 < q <= 1, a normal number of compute `dtype`."""
    v = dtype_scalar(q, "q", dtype, 0.0, 1.0)
    if v == 0:
        raise ValueError("q must be in (0, 1] (0 is the cross-entropy limit), got 0.0")
    return v, 0.0, 0.0, 0.0, int_scalar(ignore_index, "ignore_index")


def _gce(
    probs, target, q, ignore_index, sample_weight, reduction, n_threads, out, want_grad
):
    if sample_weight is None:
        result = _fast(
            _kernels.FAST_ROWWISE,
            _kernels.RW_GCE,
            probs,
            None,
            None,
            target,
            _gce_params,
            (q, ignore_index),
            reduction,
            n_threads,
            out,
            want_grad,
        )
        if result is not None:
            return result
    check_reduction(reduction)
    x, res_dtype, y = _indexed_rows(probs, "probs", target)
    shape, dtype = x.shape, x.dtype
    lead = shape[:-1]
    params = _gce_params(dtype, q, ignore_index)
    ignore_index = params[4]
    sw = _sample_weight(sample_weight, lead, dtype)
    nt = _resolve_n_threads(n_threads)
    if want_grad and out is not None:
        check_out(
            out,
            shape,
            res_dtype,
            [
                ("probs", probs, dtype),
                ("target", target, y.dtype),
                ("sample_weight", sample_weight, dtype),
            ],
            allow_alias=probs,
        )
    return _indexed_run(
        _kernels.RW_GCE,
        (x, probs, res_dtype, y),
        None,
        sw,
        params[:4],
        ignore_index,
        reduction,
        nt,
        out,
        want_grad,
    )


def categorical_generalized_cross_entropy_loss(
    probs: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    q: float = 0.5,
    ignore_index: int = -100,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _gce(
        probs,
        target,
        q,
        ignore_index,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def categorical_generalized_cross_entropy_loss_and_grad(
    probs: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    q: float = 0.5,
    ignore_index: int = -100,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _gce(
        probs,
        target,
        q,
        ignore_index,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


# --------------------------------------------------------------------------------
# docstrings
# --------------------------------------------------------------------------------

_RAISES = """\
    Raises
    ------
    ValueError, TypeError
        For any malformed argument, naming it, before anything is computed: {what},
        an unknown ``reduction``, a ``sample_weight`` of the wrong shape or
        range{more}."""


_HINGE_PARAMS = f"""\
    Parameters
    ----------
    pred : array_like of shape (..., n_classes)
        Scores (any real values, not probabilities), classes on the **last** axis
        (a 1-D array is one row).
{_DTYPE_DOC}
    target : array_like of pred's shape
        One-hot rows (Keras also allows per-class weights: any real values are
        used as given), converted to pred's compute dtype.
{_COMMON}"""

_HINGE_RETURNS_GRAD = """\
    Returns
    -------
    loss : float or ndarray
        As in `categorical_hinge_loss`.
    grad : ndarray of pred's shape
        d(loss)/d(pred) for the chosen reduction ("none": the gradient of the sum
        of the row losses); a subgradient at ties and at the kink (Notes). It is
        ``out`` when given. There is no target gradient."""

_HINGE_NOTES = """\
    Notes
    -----
    With target row ``t``, score row ``p`` and ``s_i`` the sample weight (1 when
    None)::

        pos = sum(t * p)
        neg = max((1 - t) * p)
        l_i = s_i * max(neg - pos + 1, 0)

    exactly ``keras.losses.categorical_hinge(target, pred)`` (note Keras's
    argument order). For one-hot rows this is the Crammer-Singer multi-class hinge
    ``max(1 + max_{k != y} p_k - p_y, 0)``, except that the target's own entry
    stays in Keras's max as 0: when every other score is negative, ``neg`` is 0,
    not the largest other score. "sum" adds the ``l_i`` in float64; "mean" divides
    by the number of rows (``sum_i s_i`` with ``sample_weight``).

    Gradient (a subgradient, with Keras 3 on JAX's conventions)::

        dl_i/dp_k = s_i * a * ((1 - t_k) [k attains neg] / N - t_k)

    with ``N`` the number of entries attaining the maximum ``neg`` (a tie shares
    its gradient equally, as ``jnp.max``), and ``a`` 1 where ``neg - pos + 1 > 0``,
    0 where it is negative and 1/2 exactly at the kink (``jnp.maximum``'s tie
    rule; PyTorch's ``clamp_min`` would give 1 there).

    Non-finite values: a NaN anywhere in a row, also from ``0 * inf`` (an infinite
    score where the target is 0, or on the target's entry of ``(1 - t) * p``),
    makes that row's loss NaN and its gradient row NaN, as in Keras. The row sums
    and the maximum are formed in float64.

    PyTorch: ``torch.nn.functional.multi_margin_loss(pred, y)`` (``p=1,
    margin=1``) with class indices ``y`` is a different multi-class hinge: it
    sums ``max(0, 1 - p_y + p_k)`` over **every** other class ``k`` and divides
    by ``n_classes``, where this takes only the largest other score (and Keras's
    0 for the target's slot). They agree only when at most one other class is
    inside the margin, up to the factor ``1 / n_classes``."""

_GCE_PARAMS = f"""\
    Parameters
    ----------
    probs : array_like of shape (..., n_classes)
        Predicted probabilities, classes on the **last** axis (a 1-D array is one
        row), used as given: rows are not renormalised and not clipped (as Keras).
{_DTYPE_DOC}
    target : array_like of integers, shape ``probs.shape[:-1]``
        Class indices (any integer dtype) in ``[0, n_classes)`` or equal to
        ``ignore_index``.
    q : float in (0, 1], default=0.5
        The noise parameter: ``q -> 0`` approaches the cross-entropy ``-log p``
        (more sensitive to wrong labels), ``q = 1`` is ``1 - p``, a mean absolute
        error (robust to them). It must be a normal number of the compute dtype.
        (Keras's class takes ``0 < q < 1``; ``q = 1`` is its functional form's
        limit.)
    ignore_index : int, default=-100
        Rows whose target equals it contribute no loss, no gradient and nothing to
        the "mean" normaliser.
{
    _COMMON_DOC.format(
        lead="probs.shape[:-1]",
        norm="``sum_i sample_weight[i]`` over the rows not ignored",
    )
}"""

_GCE_RETURNS = """\
    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none", an array of shape
        ``probs.shape[:-1]`` with the probabilities' dtype."""

_GCE_RETURNS_GRAD = """\
    Returns
    -------
    loss : float or ndarray
        As in `categorical_generalized_cross_entropy_loss`.
    grad : ndarray of the probabilities' shape
        d(loss)/d(probs) for the chosen reduction ("none": the gradient of the sum
        of the row losses): nonzero only at each row's target entry. It is
        ``out`` when given."""

_GCE_NOTES = """\
    Notes
    -----
    The generalized cross-entropy of Zhang & Sabuncu (2018). With ``p`` the
    probability of row ``i``'s target class and ``s_i`` the sample weight (1 when
    None)::

        l_i = s_i * (1 - p**q) / q
        dl_i/dp = -s_i * p**(q - 1)      (0 for every other entry of the row)

    exactly ``keras.losses.categorical_generalized_cross_entropy(target, probs,
    q)``. Rows whose target is ``ignore_index`` give 0. "sum" adds the ``l_i`` in
    float64; "mean" divides that by ``D = sum_i s_i`` over the rows not ignored
    (their count without weights); when ``D == 0`` "mean" gives 0.0 and a zero
    gradient.

    Numerics: ``1 - p**q`` is computed as ``-expm1(q * log(p))`` in float64, so
    small ``q`` loses nothing to cancellation and ``q -> 0`` tends to ``-log p``
    (Keras's float32 ``(1 - p**q) / q`` cancels there). There is no clipping,
    as in Keras: ``p = 0`` gives the largest loss, ``1 / q``, and an infinite
    gradient ``-inf`` (for ``q < 1``; a row of weight 0 has gradient 0);
    ``p > 1`` gives a negative loss; ``p < 0`` gives NaN (for ``q < 1``).
    As Keras's ``sum(probs * one_hot(target))``, a NaN or an infinity anywhere in
    a row makes its ``p``, hence its loss and target gradient, NaN (the row's
    other gradient entries stay 0); ``p = inf`` at the target itself gives a loss
    of ``-inf``.

    Differences from Keras: a class index outside ``[0, n_classes)`` is an error
    here (Keras's ``one_hot`` gives a zero row, hence the loss ``1 / q``), and
    targets must be integers (Keras truncates floats; its class does). PyTorch has
    no generalized cross-entropy; in torch ops it is
    ``(1 - probs.gather(-1, y[..., None])[..., 0] ** q) / q``."""


def _doc(summary, params, returns, raises, notes, example, name, grad):
    """A numpydoc docstring; `name` is the input the gradient is taken for."""
    parts = [summary, "", params]
    if grad:
        parts.append(_OUT_DOC.format(name=name))
    parts += ["", returns, "", raises, "", notes, "", "    Examples", "    --------"]
    return "\n".join(parts + [example])


_HINGE_WHAT = "a target of another shape"
_GCE_WHAT = (
    "a target of the wrong shape or not of integers, a class index out of range "
    "(with its position and value), ``q`` outside (0, 1]"
)

categorical_hinge_loss.__doc__ = _doc(
    """Categorical (Crammer-Singer) hinge loss of score rows against one-hot rows,
    Keras 3's ``categorical_hinge``.

    The forward-only twin of `categorical_hinge_loss_and_grad`.""",
    _HINGE_PARAMS,
    _RETURNS,
    _RAISES.format(what=_HINGE_WHAT, more=""),
    _HINGE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> target = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> pred = np.array([[0.25, 1.0, 0.5], [0.5, 1.0, -0.25], [0.0, -0.5, 2.0]])
    >>> fastloss.categorical_hinge_loss(pred, target, reduction="none")
    array([0.5, 1.5, 0. ])
""",
    "pred",
    False,
)

categorical_hinge_loss_and_grad.__doc__ = _doc(
    """Categorical hinge loss and its gradient with respect to the scores, from one
    fused kernel call.""",
    _HINGE_PARAMS,
    _HINGE_RETURNS_GRAD,
    _RAISES.format(what=_HINGE_WHAT, more=_MORE),
    _HINGE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> target = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    >>> pred = np.array([[0.5, 1.0, 0.5], [0.5, 1.0, -0.25]])
    >>> loss, grad = fastloss.categorical_hinge_loss_and_grad(
    ...     pred, target, reduction="sum")
    >>> loss
    2.0
    >>> grad  # row 0: a tie for the largest other score shares its gradient
    array([[ 0.5, -1. ,  0.5],
           [-1. ,  1. ,  0. ]])
""",
    "pred",
    True,
)

categorical_generalized_cross_entropy_loss.__doc__ = _doc(
    """Generalized cross-entropy (Zhang & Sabuncu) of probabilities against class
    indices, Keras 3's ``categorical_generalized_cross_entropy``.

    The forward-only twin of `categorical_generalized_cross_entropy_loss_and_grad`.""",
    _GCE_PARAMS,
    _GCE_RETURNS,
    _RAISES.format(what=_GCE_WHAT, more=""),
    _GCE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]])
    >>> target = np.array([0, 1, 0, 1])
    >>> round(fastloss.categorical_generalized_cross_entropy_loss(probs, target), 6)
    0.35986
    >>> fastloss.categorical_generalized_cross_entropy_loss(
    ...     probs, target, q=1.0, reduction="none")  # 1 - p
    array([0.3, 0.2, 0.4, 0.4])
""",
    "probs",
    False,
)

categorical_generalized_cross_entropy_loss_and_grad.__doc__ = _doc(
    """Generalized cross-entropy and its gradient with respect to the
    probabilities, from one fused kernel call.""",
    _GCE_PARAMS,
    _GCE_RETURNS_GRAD,
    _RAISES.format(what=_GCE_WHAT, more=_MORE),
    _GCE_NOTES,
    """\
    >>> import numpy as np, fastloss
    >>> probs = np.array([[0.25, 0.75], [0.64, 0.36]])
    >>> loss, grad = fastloss.categorical_generalized_cross_entropy_loss_and_grad(
    ...     probs, np.array([0, 0]), reduction="sum")
    >>> round(loss, 12)  # (1 - 0.5) / 0.5 + (1 - 0.8) / 0.5
    1.4
    >>> grad  # -p**(q - 1) at the target, 0 elsewhere
    array([[-2.  ,  0.  ],
           [-1.25,  0.  ]])
""",
    "probs",
    True,
)
