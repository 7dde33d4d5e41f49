"""Plain float64 NumPy twins of the binary / multi-label losses of fastloss.

Written from the formulas in the docstrings of ``fastloss._binary`` (and from
torchvision's and Keras' definitions), never from the kernels, and never
importing fastloss. Every function returns a ``Result`` like ``_reference``:
the loss and the gradient for the reduction, and for each the sum of the
absolute values of the terms that make it up (the "scale"), from which the
tests derive their tolerances (``_reference.assert_close``).

``torchvision_sigmoid_focal_loss`` is torchvision's formula transcribed
literally (it is not installed here); it overflows and returns NaN where the
stable twins do not, which is the point of the comparison.
"""

import math

import numpy as np
from _reference import REDUCTIONS, Result, _times

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "sigmoid_focal_loss",
    "torchvision_sigmoid_focal_loss",
]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def softplus(x):
    """log(1 + exp(x)) without overflow: logaddexp(0, x)."""
    return np.logaddexp(0.0, x)


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow for either sign."""
    x = _f64(x)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _param(value, dtype):
    """A scalar option as the kernel of ``dtype`` sees it (rounded to it)."""
    with np.errstate(over="ignore"):
        return float(np.asarray(value, dtype=dtype))


def _smooth(y, label_smoothing):
    """Keras smoothing y (1 - ls) + ls / 2, and the scale of its rounding."""
    ls = float(label_smoothing)
    return y * (1.0 - ls) + ls / 2.0, np.abs(y) * (1.0 - ls) + ls / 2.0


def _in(a, dtype):
    """An array option as the kernel of ``dtype`` sees it (rounded to it)."""
    with np.errstate(over="ignore"):
        return np.asarray(a, dtype=dtype).astype(np.float64)


def _reduce(loss, grad, scales, weight, sample_weight, reduction, dtype):
    """Weights (rounded to ``dtype``) and reduction, as the docstrings define them.

    Element weight ``w`` (broadcast) times per-sample weight ``sw`` (over the
    leading axes); "mean" divides by ``sum(sw) * (elements per sample)``, or by
    the element count without ``sample_weight``. A zero weight removes an
    element outright, even a non-finite one.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}")
    loss_scale, grad_scale = scales
    shape = loss.shape
    w = np.ones(shape)
    if weight is not None:
        w = w * np.broadcast_to(_in(weight, dtype), shape)
    denom = float(math.prod(shape))
    if sample_weight is not None:
        sw = _in(sample_weight, dtype)
        w = w * sw.reshape(sw.shape + (1,) * (len(shape) - sw.ndim))
        denom = float(np.sum(sw)) * math.prod(shape[sw.ndim :])
    loss, grad = _times(w, loss), _times(w, grad)
    loss_scale, grad_scale = (
        _times(np.abs(w), loss_scale),
        _times(np.abs(w), grad_scale),
    )
    if reduction == "none":
        return Result(loss, grad, loss_scale, grad_scale)
    if reduction == "sum":
        return Result(float(np.sum(loss)), grad, float(np.sum(loss_scale)), grad_scale)
    if denom == 0:
        return Result(0.0, np.zeros(shape), 0.0, np.zeros(shape))
    d = abs(denom)
    return Result(
        float(np.sum(loss) / denom),
        grad / denom,
        float(np.sum(loss_scale) / d),
        grad_scale / d,
    )


def binary_cross_entropy_with_logits(
    logits,
    target,
    *,
    pos_weight=None,
    label_smoothing=0.0,
    weight=None,
    sample_weight=None,
    reduction="mean",
    dtype=np.float64,
    **_ignored,
):
    """torch's BCE with logits, Keras' label smoothing, fastloss' weights.

    loss = pw y' softplus(-x) + (1 - y') softplus(x)
    grad = (1 - y') sigmoid(x) - pw y' sigmoid(-x)

    ``label_smoothing`` is taken as rounded to the input's ``dtype``.
    """
    x, y = _f64(logits), _f64(target)
    ys, ys_scale = _smooth(y, _param(label_smoothing, dtype))
    pw = np.ones(x.shape[-1:] if x.ndim else ())
    if pos_weight is not None:
        pw = pw * _in(pos_weight, dtype)  # (c,), () or (1,): over the last axis
    a, b = pw * ys, 1.0 - ys
    a_scale, b_scale = np.abs(pw) * ys_scale, 1.0 + ys_scale
    sp_neg, sp_pos = softplus(x), softplus(-x)
    s, sn = sigmoid(x), sigmoid(-x)
    loss = _times(a, sp_pos) + _times(b, sp_neg)
    loss_scale = _times(a_scale, sp_pos) + _times(b_scale, sp_neg)
    grad = b * s - a * sn
    grad_scale = b_scale * s + a_scale * sn
    scales = (loss_scale, grad_scale)
    return _reduce(loss, grad, scales, weight, sample_weight, reduction, dtype)


def binary_cross_entropy(
    probs,
    target,
    *,
    epsilon=1e-7,
    label_smoothing=0.0,
    weight=None,
    sample_weight=None,
    reduction="mean",
    dtype=np.float64,
    **_ignored,
):
    """Keras' BCE on probabilities (from_logits=False):

    q = clip(p, eps, 1 - eps),  loss = -(y' log q + (1 - y') log(1 - q))
    grad = (q - y') / (q (1 - q)) inside [eps, 1 - eps], 0 where clipped.

    The bounds are those of the input's ``dtype`` (float32 for float16 input):
    ``eps`` rounded to it, at least its smallest normal number, and ``1 - eps``
    rounded to it, at most the largest number below 1; ``label_smoothing`` is
    rounded to it too.
    """
    p, y = _f64(probs), _f64(target)
    ys, ys_scale = _smooth(y, _param(label_smoothing, dtype))
    info = np.finfo(dtype)
    lo = max(float(np.asarray(epsilon, dtype=dtype)), float(info.tiny))
    hi = min(float(np.asarray(1.0 - lo, dtype=dtype)), 1.0 - float(info.epsneg))
    q = np.clip(p, lo, hi)
    log_q, log_1mq = np.log(q), np.log1p(-q)
    loss = -(ys * log_q + (1.0 - ys) * log_1mq)
    loss_scale = ys_scale * np.abs(log_q) + (1.0 + ys_scale) * np.abs(log_1mq)
    inside = (p >= lo) & (p <= hi)
    denom = q * (1.0 - q)
    grad = np.where(inside, (q - ys) / denom, 0.0)
    grad_scale = np.where(inside, (np.abs(q) + ys_scale + np.abs(q - ys)) / denom, 0.0)
    nan = np.isnan(p) | np.isnan(y)
    grad = np.where(nan, np.nan, grad)
    scales = (loss_scale, grad_scale)
    return _reduce(loss, grad, scales, weight, sample_weight, reduction, dtype)


def sigmoid_focal_loss(
    logits,
    target,
    *,
    alpha=0.25,
    gamma=2.0,
    weight=None,
    sample_weight=None,
    reduction="mean",
    dtype=np.float64,
    **_ignored,
):
    """torchvision's sigmoid focal loss, evaluated in log space.

    s = sigmoid(x), u = 1 - p_t = y (1 - s) + (1 - y) s, with
    log u = logaddexp(log y + log(1 - s), log(1 - y) + log s) so that u**gamma
    does not underflow while ce overflows; ce = y softplus(-x) + (1 - y)
    softplus(x); loss = a_t ce u**gamma. The gradient is the analytic one
    a_t u**gamma [(1 - y) s - y (1 - s) + gamma ce (1 - 2y) s (1 - s) / u]
    (checked against finite differences, mpmath and torch autograd).
    ``alpha`` and ``gamma`` are taken as rounded to the input's ``dtype`` (a
    huge gamma may become inf; 1**inf is then 1, like 0**0).
    """
    x, y = _f64(logits), _f64(target)
    gamma = _param(gamma, dtype)
    if alpha is None or alpha < 0:
        at = np.ones_like(y)
    else:
        alpha = _param(alpha, dtype)
        at = alpha * y + (1.0 - alpha) * (1.0 - y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s, sn = sigmoid(x), sigmoid(-x)
        log_s, log_sn = -softplus(-x), -softplus(x)  # log sigmoid(+-x)
        log_u = np.logaddexp(np.log(y) + log_sn, np.log1p(-y) + log_s)
        ce = _times(y, -log_s) + _times(1.0 - y, -log_sn)
        ug = np.where((gamma == 0) | (log_u == 0), 1.0, np.exp(gamma * log_u))
        # r = s (1 - s) / u (bounded by 2) is s for y = 1 and 1 - s for y = 0,
        # where u itself may underflow
        r = np.where(y == 1, s, np.where(y == 0, sn, s * sn / (y * sn + (1 - y) * s)))
        cr = _times(r, ce)  # x e^-x -> 0 at infinite logits
        # ce = inf (infinite logit, wrong side) has u > 0: inf however small
        # u**gamma is, so no 0 * inf there
        loss = _times(at, np.where(np.isinf(ce), ce, ug * ce))
        bce_grad = (1.0 - y) * s - y * sn
        grad = at * ug * bce_grad + at * gamma * ug * cr * (1.0 - 2.0 * y)
        # u**gamma carries gamma |log u| times the rounding of log u
        cond = 1.0 + gamma * np.where(np.isneginf(log_u), 0.0, np.abs(log_u))
        loss_scale = np.abs(loss) * cond
        grad_scale = (
            np.abs(at)
            * ug
            * cond
            * ((1.0 + y) * s + y * sn + gamma * cr * (1.0 + 2.0 * np.abs(y)))
        )
    nan = np.isnan(x) | np.isnan(y)
    loss = np.where(nan, np.nan, loss)
    grad = np.where(nan, np.nan, grad)
    scales = (loss_scale, grad_scale)
    return _reduce(loss, grad, scales, weight, sample_weight, reduction, dtype)


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss(reduction="none"), literally, in NumPy.

    Per-element losses only. NaN or inf where its intermediate values over- or
    underflow (infinite logits, p rounding to 0 or 1).
    """
    x, y = _f64(inputs), _f64(targets)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = 1.0 / (1.0 + np.exp(-x))
        # torch's binary_cross_entropy_with_logits (no pos_weight):
        # (1 - y) x + max(-x, 0) + log(exp(-max(-x, 0)) + exp(-x - max(-x, 0)))
        m = np.maximum(-x, 0.0)
        ce = (1.0 - y) * x + m + np.log(np.exp(-m) + np.exp(-x - m))
        p_t = p * y + (1.0 - p) * (1.0 - y)
        loss = ce * ((1.0 - p_t) ** gamma)
        if alpha >= 0:
            alpha_t = alpha * y + (1.0 - alpha) * (1.0 - y)
            loss = alpha_t * loss
    return loss
