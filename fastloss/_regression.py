"""Regression losses: mse, l1, huber, smooth_l1, log_cosh, poisson, msle and mape,
each with its fused ``*_and_grad`` twin (one kernel call for the loss and d loss /
d pred)."""

from __future__ import annotations

import numpy.typing as npt

from ._elementwise import (
    HUBER,
    L1,
    LOG_COSH,
    MAPE,
    MSE,
    MSLE,
    POISSON,
    POISSON_LOG,
    SMOOTH_L1,
    document,
    elementwise_loss,
)
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import bool_flag, real_scalar

__all__ = [
    "huber_loss",
    "huber_loss_and_grad",
    "l1_loss",
    "l1_loss_and_grad",
    "log_cosh_loss",
    "log_cosh_loss_and_grad",
    "mape_loss",
    "mape_loss_and_grad",
    "mse_loss",
    "mse_loss_and_grad",
    "msle_loss",
    "msle_loss_and_grad",
    "poisson_loss",
    "poisson_loss_and_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_and_grad",
]

_PRED_DOC = """\
    pred : array_like
        Predictions, any shape. float32/float64 as given, float16 computed in
        float32, integers as float64. Never modified (unless passed as ``out=``).
    target : array_like
        Targets of the same shape."""

_DELTA_DOC = """\
    delta : float > 0, default=1.0
        Where the loss turns from quadratic to linear (finite)."""

_BETA_DOC = """\
    beta : float >= 0, default=1.0
        Where the loss turns from quadratic to linear (finite); 0 gives exactly
        `l1_loss`, as in PyTorch."""

_NAN_NOTE = """\
    A NaN in ``pred`` or ``target`` makes that element's loss and gradient NaN and
    leaves every other element alone (PyTorch's gradient at a NaN is 0 for some of
    these losses; fastloss does not hide the NaN)."""


def _loss(kind, pred, target, params, weight, sample_weight, reduction, n_threads):
    return elementwise_loss(
        kind,
        pred,
        target,
        params=params,
        weight=weight,
        sample_weight=sample_weight,
        reduction=reduction,
        n_threads=n_threads,
        input_name="pred",
    )


def _loss_and_grad(
    kind, pred, target, params, weight, sample_weight, reduction, n_threads, out
):
    return elementwise_loss(
        kind,
        pred,
        target,
        params=params,
        weight=weight,
        sample_weight=sample_weight,
        reduction=reduction,
        n_threads=n_threads,
        out=out,
        want_grad=True,
        input_name="pred",
    )


def _delta(delta):
    d = real_scalar(delta, "delta")
    if not d > 0:
        raise ValueError(f"delta must be a finite number > 0, got {d}")
    return (d, 0.0, 0.0, 0.0)


def _beta(beta):
    return (real_scalar(beta, "beta", 0.0), 0.0, 0.0, 0.0)


_NO_PARAMS = (0.0, 0.0, 0.0, 0.0)


def _poisson(log_input, eps):
    """(kernel kind, parameters) of the Poisson loss."""
    log = bool_flag(log_input, "log_input")
    e = real_scalar(eps, "eps", 0.0)
    return (POISSON_LOG, _NO_PARAMS) if log else (POISSON, (e, 0.0, 0.0, 0.0))


# ---- mse ---------------------------------------------------------------------------


def mse_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        MSE, pred, target, _NO_PARAMS, weight, sample_weight, reduction, n_threads
    )


def mse_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        MSE, pred, target, _NO_PARAMS, weight, sample_weight, reduction, n_threads, out
    )


_MSE_NOTES = f"""\
    ``loss = (pred - target)**2`` per element, gradient ``2 (pred - target)``. Matches
    ``torch.nn.functional.mse_loss`` (which has no ``weight``/``sample_weight``).

{_NAN_NOTE}"""

document(
    mse_loss,
    "Mean squared error between predictions and targets.",
    _PRED_DOC,
    _MSE_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.mse_loss([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])
    3.3333333333333335""",
)
document(
    mse_loss_and_grad,
    "Mean squared error and its gradient with respect to the predictions.",
    _PRED_DOC,
    _MSE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.mse_loss_and_grad([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])
    >>> grad
    array([0.        , 0.66666667, 2.        ])""",
    grad=True,
)


# ---- l1 ----------------------------------------------------------------------------


def l1_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        L1, pred, target, _NO_PARAMS, weight, sample_weight, reduction, n_threads
    )


def l1_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        L1, pred, target, _NO_PARAMS, weight, sample_weight, reduction, n_threads, out
    )


_L1_NOTES = f"""\
    ``loss = |pred - target|`` per element, gradient ``sign(pred - target)``, taken as
    0 where ``pred == target`` (the subgradient PyTorch uses). Matches
    ``torch.nn.functional.l1_loss`` (which has no ``weight``/``sample_weight``).

{_NAN_NOTE}"""

document(
    l1_loss,
    "Mean absolute error between predictions and targets.",
    _PRED_DOC,
    _L1_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.l1_loss([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])  # (0 + 1 + 3) / 3
    1.3333333333333333""",
)
document(
    l1_loss_and_grad,
    "Mean absolute error and its gradient with respect to the predictions.",
    _PRED_DOC,
    _L1_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.l1_loss_and_grad([1.0, 2.0, 0.5], [1.0, 1.0, 1.0])
    >>> grad  # sign(pred - target) / 3
    array([ 0.        ,  0.33333333, -0.33333333])""",
    grad=True,
)


# ---- huber -------------------------------------------------------------------------


def huber_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    delta: float = 1.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        HUBER, pred, target, _delta(delta), weight, sample_weight, reduction, n_threads
    )


def huber_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    delta: float = 1.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        HUBER,
        pred,
        target,
        _delta(delta),
        weight,
        sample_weight,
        reduction,
        n_threads,
        out,
    )


_HUBER_NOTES = f"""\
    With ``r = pred - target``::

        loss = r**2 / 2                   if |r| <= delta
               delta (|r| - delta / 2)    otherwise
        grad = clip(r, -delta, delta)

    Quadratic near 0, linear (robust to outliers) beyond ``delta``; the linear piece
    is evaluated as written, so no ``r**2`` overflows. Matches
    ``torch.nn.functional.huber_loss``; ``huber_loss(delta=d) == d *
    smooth_l1_loss(beta=d)``.

{_NAN_NOTE}"""

document(
    huber_loss,
    "Huber loss between predictions and targets.",
    _PRED_DOC + "\n" + _DELTA_DOC,
    _HUBER_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.huber_loss([0.5, 3.0], [0.0, 0.0], reduction="none")
    array([0.125, 2.5  ])
    >>> fastloss.huber_loss([0.5, 3.0], [0.0, 0.0])  # (0.125 + 2.5) / 2
    1.3125""",
)
document(
    huber_loss_and_grad,
    "Huber loss and its gradient with respect to the predictions.",
    _PRED_DOC + "\n" + _DELTA_DOC,
    _HUBER_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.huber_loss_and_grad(
    ...     [0.5, 3.0, -4.0], [0.0, 0.0, 0.0], delta=2.0, reduction="sum")
    >>> loss  # 0.125 + 2 (3 - 1) + 2 (4 - 1)
    10.125
    >>> grad  # clip(r, -2, 2)
    array([ 0.5,  2. , -2. ])""",
    grad=True,
)


# ---- smooth l1 ---------------------------------------------------------------------


def smooth_l1_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    beta: float = 1.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        SMOOTH_L1,
        pred,
        target,
        _beta(beta),
        weight,
        sample_weight,
        reduction,
        n_threads,
    )


def smooth_l1_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    beta: float = 1.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        SMOOTH_L1,
        pred,
        target,
        _beta(beta),
        weight,
        sample_weight,
        reduction,
        n_threads,
        out,
    )


_SMOOTH_L1_NOTES = f"""\
    With ``r = pred - target``::

        loss = r**2 / (2 beta)    if |r| < beta
               |r| - beta / 2     otherwise
        grad = r / beta           if |r| < beta
               sign(r)            otherwise

    ``beta = 0`` is exactly `l1_loss` (gradient 0 at ``r = 0``). The quadratic piece
    is evaluated as ``r (r / beta) / 2``, which cannot overflow for a large beta.
    Matches ``torch.nn.functional.smooth_l1_loss``; ``smooth_l1_loss(beta=b) ==
    huber_loss(delta=b) / b`` for ``b > 0``.

{_NAN_NOTE}"""

document(
    smooth_l1_loss,
    "Smooth L1 loss between predictions and targets.",
    _PRED_DOC + "\n" + _BETA_DOC,
    _SMOOTH_L1_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.smooth_l1_loss([0.5, 3.0], [0.0, 0.0], beta=2.0, reduction="none")
    array([0.0625, 2.    ])""",
)
document(
    smooth_l1_loss_and_grad,
    "Smooth L1 loss and its gradient with respect to the predictions.",
    _PRED_DOC + "\n" + _BETA_DOC,
    _SMOOTH_L1_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.smooth_l1_loss_and_grad(
    ...     [0.5, 3.0], [0.0, 0.0], beta=2.0, reduction="sum")
    >>> loss  # 0.25 / 4 + (3 - 1)
    2.0625
    >>> grad  # r / beta, sign(r)
    array([0.25, 1.  ])""",
    grad=True,
)


# ---- log cosh ----------------------------------------------------------------------


def log_cosh_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        LOG_COSH, pred, target, _NO_PARAMS, weight, sample_weight, reduction, n_threads
    )


def log_cosh_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        LOG_COSH,
        pred,
        target,
        _NO_PARAMS,
        weight,
        sample_weight,
        reduction,
        n_threads,
        out,
    )


_LOG_COSH_NOTES = f"""\
    With ``r = pred - target``: ``loss = log(cosh(r))``, ``grad = tanh(r)``. About
    ``r**2 / 2`` for small ``|r|`` and ``|r| - log(2)`` for large ones: smooth like
    MSE near 0, robust like L1 far out. Evaluated as
    ``|r| - log(2) + log1p(exp(-2 |r|))`` and ``tanh(|r|) = (1 - e) / (1 + e)``
    from the same ``e = exp(-2 |r|)``, so nothing overflows for any ``r`` (``+-inf``
    gives ``inf`` with gradient ``+-1``), and from polynomials for ``|r| < 1/2``,
    where those forms would cancel: small residuals keep full relative precision.
    PyTorch has no such loss; Keras's ``log_cosh`` averages over the last axis, which
    gives the same "mean" as here.

{_NAN_NOTE}"""

document(
    log_cosh_loss,
    "Log-cosh loss between predictions and targets, stable for any residual.",
    _PRED_DOC,
    _LOG_COSH_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.log_cosh_loss([0.0, 1.0, -2.0], [0.0, 0.0, 0.0], reduction="none")
    array([0.        , 0.43378083, 1.32500275])
    >>> fastloss.log_cosh_loss([1e30], [0.0])  # 1e30 - log(2), no overflow
    1e+30""",
)
document(
    log_cosh_loss_and_grad,
    "Log-cosh loss and its gradient with respect to the predictions.",
    _PRED_DOC,
    _LOG_COSH_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.log_cosh_loss_and_grad(
    ...     [0.0, 1.0, -2.0], [0.0, 0.0, 0.0], reduction="sum")
    >>> grad  # tanh(r)
    array([ 0.        ,  0.76159416, -0.96402758])""",
    grad=True,
)


# ---- poisson -----------------------------------------------------------------------


def poisson_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    log_input: bool = True,
    eps: float = 1e-8,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    kind, params = _poisson(log_input, eps)
    return _loss(
        kind, pred, target, params, weight, sample_weight, reduction, n_threads
    )


def poisson_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    log_input: bool = True,
    eps: float = 1e-8,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    kind, params = _poisson(log_input, eps)
    return _loss_and_grad(
        kind, pred, target, params, weight, sample_weight, reduction, n_threads, out
    )


_POISSON_PRED_DOC = """\
    pred : array_like
        The predicted rate's log (``log_input=True``) or the rate itself (>= 0), any
        shape. float32/float64 as given, float16 computed in float32, integers as
        float64. Never modified (unless passed as ``out=``).
    target : array_like
        Observed counts (>= 0; any real values are used as given), the same shape.
    log_input : bool, default=True
        Whether ``pred`` is the log of the rate (the usual choice: any real output
        of a model is a valid prediction) or the rate.
    eps : float >= 0, default=1e-8
        Added to the rate inside the log when ``log_input=False``, so that a rate of
        0 costs a finite amount; unused otherwise (as in PyTorch)."""

_POISSON_NOTES = f"""\
    The negative log-likelihood of a Poisson count without its constant
    ``log(target!)``, as ``torch.nn.functional.poisson_nll_loss(full=False)``::

        log_input=True:   loss = exp(pred) - target * pred
                          grad = exp(pred) - target
        log_input=False:  loss = pred - target * log(pred + eps)
                          grad = 1 - target / (pred + eps)

    A target of 0 drops its ``target * ...`` term outright: a log-rate of ``-inf``
    with a count of 0 (or a rate of 0 with ``eps=0``) costs 0 where PyTorch gives
    NaN. ``exp(pred)`` overflows to ``inf`` past ``log`` of the dtype's largest
    number, as in PyTorch; a rate below ``-eps`` gives NaN, as the log of a negative
    number. PyTorch's ``full=True`` (Stirling's approximation of ``log(target!)``,
    a constant of the target) is not offered: it changes no gradient.

{_NAN_NOTE}"""

document(
    poisson_loss,
    "Poisson negative log-likelihood of predicted rates (log-rates by default).",
    _POISSON_PRED_DOC,
    _POISSON_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.poisson_loss([0.0, 1.0], [1.0, 2.0], reduction="none")  # e^x - y x
    array([1.        , 0.71828183])
    >>> loss = fastloss.poisson_loss([2.0], [2.0], log_input=False)
    >>> round(loss, 12)  # 2 - 2 log(2 + 1e-8)
    0.61370562888""",
)
document(
    poisson_loss_and_grad,
    "Poisson negative log-likelihood and its gradient with respect to ``pred``.",
    _POISSON_PRED_DOC,
    _POISSON_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.poisson_loss_and_grad(
    ...     [0.0, 1.0], [1.0, 2.0], reduction="sum")
    >>> grad  # exp(pred) - target
    array([0.        , 0.71828183])""",
    grad=True,
)


# ---- msle and mape (Keras's) ---------------------------------------------------------

# keras.backend.epsilon(), the clip of both losses in Keras
_KERAS_EPSILON = 1e-7


def _epsilon(epsilon):
    return (real_scalar(epsilon, "epsilon", 0.0), 0.0, 0.0, 0.0)


def msle_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = _KERAS_EPSILON,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        MSLE,
        pred,
        target,
        _epsilon(epsilon),
        weight,
        sample_weight,
        reduction,
        n_threads,
    )


def msle_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = _KERAS_EPSILON,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        MSLE,
        pred,
        target,
        _epsilon(epsilon),
        weight,
        sample_weight,
        reduction,
        n_threads,
        out,
    )


_MSLE_PARAMS_DOC = """\
    epsilon : float >= 0, default=1e-7
        Predictions and targets below it are raised to it before the logs (Keras's
        ``keras.backend.epsilon()``), so negative values cost a finite amount."""

_MSLE_NOTES = f"""\
    With ``u = max(pred, epsilon)`` and ``v = max(target, epsilon)``::

        loss = (log1p(u) - log1p(v))**2
        grad = 2 (log1p(u) - log1p(v)) / (1 + u)   where pred > epsilon, else 0

    Keras 3's ``mean_squared_logarithmic_error`` (``keras.losses.MSLE``), which
    averages over the last axis: the same "mean" as here. ``log1p`` where Keras
    writes ``log(u + 1)``: the same function, without the rounding of ``u + 1``
    that loses the digits of a small ``u``. PyTorch has no such loss. ``pred = inf``
    gives ``inf`` with gradient 0 (the limit).

{_NAN_NOTE}"""

document(
    msle_loss,
    "Mean squared logarithmic error between predictions and targets.",
    _PRED_DOC + "\n" + _MSLE_PARAMS_DOC,
    _MSLE_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.msle_loss([0.0, 1.0, 3.0], [0.0, 3.0, 1.0], reduction="none")
    array([0.        , 0.48045301, 0.48045301])""",
)
document(
    msle_loss_and_grad,
    "Mean squared logarithmic error and its gradient with respect to the predictions.",
    _PRED_DOC + "\n" + _MSLE_PARAMS_DOC,
    _MSLE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.msle_loss_and_grad(
    ...     [1.0, -5.0], [3.0, 3.0], reduction="sum")
    >>> grad  # 2 log(2 / 4) / 2; 0 where pred was raised to epsilon
    array([-0.69314718,  0.        ])""",
    grad=True,
)


def mape_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = _KERAS_EPSILON,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _loss(
        MAPE,
        pred,
        target,
        _epsilon(epsilon),
        weight,
        sample_weight,
        reduction,
        n_threads,
    )


def mape_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = _KERAS_EPSILON,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _loss_and_grad(
        MAPE,
        pred,
        target,
        _epsilon(epsilon),
        weight,
        sample_weight,
        reduction,
        n_threads,
        out,
    )


_MAPE_PARAMS_DOC = """\
    epsilon : float >= 0, default=1e-7
        The smallest divisor: ``|target|`` below it is raised to it (Keras's
        ``keras.backend.epsilon()``), so a target of 0 costs a finite amount. With
        0, a target of 0 gives ``inf`` (or NaN where ``pred`` is 0 too)."""

_MAPE_NOTES = f"""\
    A percentage, as Keras 3's ``mean_absolute_percentage_error``
    (``keras.losses.MAPE``), which averages over the last axis (the same "mean" as
    here)::

        loss = 100 |pred - target| / max(|target|, epsilon)
        grad = 100 sign(pred - target) / max(|target|, epsilon)   (0 at pred = target)

    ``sklearn.metrics.mean_absolute_percentage_error`` returns the fraction (this
    over 100) with ``epsilon`` the float64 machine epsilon. PyTorch has no such
    loss.

{_NAN_NOTE}"""

document(
    mape_loss,
    "Mean absolute percentage error between predictions and targets.",
    _PRED_DOC + "\n" + _MAPE_PARAMS_DOC,
    _MAPE_NOTES,
    """\
    >>> import fastloss
    >>> round(fastloss.mape_loss([90.0, 210.0, 310.0], [100.0, 200.0, 300.0]), 6)
    6.111111""",
)
document(
    mape_loss_and_grad,
    "Mean absolute percentage error and its gradient with respect to the predictions.",
    _PRED_DOC + "\n" + _MAPE_PARAMS_DOC,
    _MAPE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.mape_loss_and_grad(
    ...     [90.0, 4.0], [100.0, -2.0], reduction="sum")
    >>> loss  # 10 + 300 (percent)
    310.0
    >>> grad  # 100 sign(pred - target) / |target|
    array([-1., 50.])""",
    grad=True,
)
