"""Plain float64 NumPy twins of the regression losses (never imports fastloss).

Each loss is written from its formula on the residual ``r = pred - target``, one
NumPy expression per piece, every operation in float64. ``reference`` applies the
weights and the reduction the way the package documents them and returns, besides
the loss and the gradient, the "scale" of each result: the sum of the absolute
values of the terms that make it up. Any stable evaluation in a dtype of unit
roundoff u is within a small multiple of u times that scale, so the tests derive
their tolerances from it (``assert_close``).
"""

from typing import NamedTuple

import numpy as np

REDUCTIONS = ("none", "mean", "sum")
LN2 = np.log(2.0)


class Result(NamedTuple):
    loss: object  # float for "mean"/"sum", float64 array for "none"
    grad: np.ndarray  # float64, the input's shape
    loss_scale: object  # same shape as ``loss``
    grad_scale: np.ndarray  # same shape as ``grad``


# ---- per-element loss, gradient and loss scale of a residual r (float64) ---------


def mse(r):
    return r**2, 2.0 * r, r**2


def l1(r):
    return np.abs(r), np.sign(r), np.abs(r)


def huber(r, delta=1.0):
    a = np.abs(r)
    quadratic = 0.5 * r**2
    linear = delta * (a - 0.5 * delta)
    loss = np.where(a <= delta, quadratic, linear)
    return loss, np.clip(r, -delta, delta), np.abs(loss)


def smooth_l1(r, beta=1.0):
    if beta == 0:
        return l1(r)
    a = np.abs(r)
    loss = np.where(a < beta, 0.5 * r**2 / beta, a - 0.5 * beta)
    grad = np.where(a < beta, r / beta, np.sign(r))
    return loss, grad, np.abs(loss)


def log_cosh(r):
    """log(cosh r) = logaddexp(r, -r) - log 2; its scale counts the log 2 that
    cancels for small r (this form is only accurate to ~1e-16 absolute there)."""
    both = np.logaddexp(r, -r)
    return both - LN2, np.tanh(r), np.abs(both) + LN2


def poisson(x, y, log_input=True, eps=1e-8):
    """Poisson negative log-likelihood without the Stirling term, as PyTorch's
    poisson_nll_loss(full=False): exp(x) - y x with x = log(rate) (log_input), else
    x - y log(x + eps) with x = rate. A target of 0 drops its y-term outright (0, not
    0 * inf = NaN, at x = -inf or x + eps = 0). Returns the loss, the gradient and
    their scales (the gradient is a difference that cancels)."""
    if log_input:
        rate = np.exp(x)
        yx = np.where(y == 0, 0.0, y * x)
        return rate - yx, rate - y, np.abs(rate) + np.abs(yx), rate + np.abs(y)
    z = x + eps
    ylog = np.where(y == 0, 0.0, y * np.log(z))
    ratio = np.where(y == 0, 0.0, y / z)
    # rounding x + eps (relative u) moves y log(x + eps) by |y| u: |y| is in the scale
    loss_scale = np.abs(x) + np.abs(ylog) + np.abs(y)
    return x - ylog, 1.0 - ratio, loss_scale, 1.0 + np.abs(ratio)


def keras_labels(y):
    """Keras 3's hinge labels: 2 y - 1 when every target is 0 or 1, else y."""
    return 2.0 * y - 1.0 if np.all((y == 0) | (y == 1)) else y


def hinge(x, y):
    """max(1 - y' x, 0) with Keras's labels y'; gradient -y' inside the margin, 0
    on it and beyond."""
    yl = keras_labels(y)
    m = 1.0 - yl * x
    loss = np.maximum(m, 0.0)
    loss = np.where(np.isnan(m), np.nan, loss)
    grad = np.where(m > 0, -yl, np.where(np.isnan(m), np.nan, 0.0))
    return loss, grad, 1.0 + np.abs(yl * x), np.abs(yl)


def squared_hinge(x, y):
    """max(1 - y' x, 0)**2, gradient -2 y' max(1 - y' x, 0)."""
    yl = keras_labels(y)
    m = 1.0 - yl * x
    h = np.where(m < 0, 0.0, m)
    s = 1.0 + np.abs(yl * x)  # the scale of m's rounding; its square for h ~ 0
    return h**2, -2.0 * yl * h, 2.0 * s * h + s**2 * 1e-7, 2.0 * np.abs(yl) * s


def msle(x, y, epsilon=1e-7):
    """(log1p(max(x, eps)) - log1p(max(y, eps)))**2, gradient 2 r / (1 + u) where
    x > eps, 0 where x was raised to eps and at x = inf (the limit)."""
    u, v = np.where(x < epsilon, epsilon, x), np.where(y < epsilon, epsilon, y)
    lu, lv = np.log1p(u), np.log1p(v)
    r = lu - lv
    s = np.abs(lu) + np.abs(lv)  # the logs' rounding moves r by u s
    grad = np.where((x < epsilon) | (x == np.inf), 0.0, 2.0 * r / (1.0 + u))
    return r**2, grad, 2.0 * s * np.abs(r), 2.0 * s / (1.0 + u)


def mape(x, y, epsilon=1e-7):
    """100 |x - y| / max(|y|, eps), gradient 100 sign(x - y) / max(|y|, eps)."""
    d = np.maximum(np.abs(y), epsilon)
    r = np.longdouble(x) - y  # no overflow of float64 x - y (x87: 15 exponent bits)
    loss = np.asarray(100.0 * np.abs(r) / d, dtype=np.float64)
    grad = 100.0 * np.sign(x - y) / d
    return loss, grad, loss, np.abs(grad)


# Losses of the prediction and the target, not of their difference alone.
ELEMENT_XY = {
    "poisson": poisson,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "msle": msle,
    "mape": mape,
}

ELEMENT = {
    "mse": mse,
    "l1": l1,
    "huber": huber,
    "smooth_l1": smooth_l1,
    "log_cosh": log_cosh,
}


def _times(w, v):
    """``w * v`` with a weight of 0 removing the element outright (even NaN/inf)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(w == 0, 0.0, w * v)


def reference(
    name,
    pred,
    target,
    *,
    weight=None,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
    out=None,
    **params,
):
    """Loss, gradient and their scales for loss ``name`` in float64.

    ``n_threads`` and ``out`` are accepted so the package's keyword arguments can be
    passed unchanged; they do not change the values.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}")
    x = np.asarray(pred, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if name in ELEMENT_XY:
            loss, grad, scale, gscale = ELEMENT_XY[name](x, y, **params)
        else:
            loss, grad, scale = ELEMENT[name](x - y, **params)
            gscale = np.abs(grad)

    w = np.ones(x.shape)
    if weight is not None:
        w = w * np.broadcast_to(np.asarray(weight, dtype=np.float64), x.shape)
    if sample_weight is None:
        denom = float(x.size)
    else:
        sw = np.asarray(sample_weight, dtype=np.float64)
        sw = sw.reshape(sw.shape + (1,) * (x.ndim - sw.ndim))
        w = w * sw
        denom = float(np.sum(np.broadcast_to(sw, x.shape)))

    loss, grad, scale = _times(w, loss), _times(w, grad), _times(np.abs(w), scale)
    gscale = _times(np.abs(w), gscale)
    if reduction == "none":
        return Result(loss, grad, scale, gscale)
    if reduction == "sum":
        return Result(float(np.sum(loss)), grad, float(np.sum(scale)), gscale)
    if denom == 0:  # "mean" of nothing: 0 with a zero gradient
        return Result(0.0, np.zeros(x.shape), 0.0, np.zeros(x.shape))
    return Result(
        float(np.sum(loss)) / denom,
        grad / denom,
        float(np.sum(scale)) / denom,
        gscale / denom,
    )


# ---- comparison --------------------------------------------------------------------

# Unit-roundoff multiples allowed against the scale: float64 and float32 results come
# from a few roundings of the compute dtype; float16 results are float32 results
# rounded to float16 (unit roundoff 4.9e-4).
RTOL = {
    np.dtype(np.float64): 1e-12,
    np.dtype(np.float32): 1e-6,
    np.dtype(np.float16): 1e-3,
}
# Absolute floor for terms that underflow in the compute dtype.
FLOOR = {
    np.dtype(np.float64): 1e-300,
    np.dtype(np.float32): 1e-37,
    np.dtype(np.float16): 1e-7,
}


def assert_close(got, want, scale, dtype, what="value"):
    """``|got - want| <= RTOL[dtype] * scale + FLOOR[dtype]``; NaN and inf must
    match exactly (position and sign)."""
    dtype = np.dtype(dtype)
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), want.shape)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), f"{what}: NaN at the wrong places"
    inf = np.isinf(want)
    assert np.array_equal(got[inf], want[inf]), f"{what}: infinities differ"
    finite = ~nan & ~inf
    assert np.all(np.isfinite(got[finite])), f"{what}: non-finite values"
    err = np.abs(got[finite] - want[finite])
    tol = RTOL[dtype] * scale[finite] + FLOOR[dtype]
    if np.any(err > tol):
        worst = np.argmax(err / tol)
        raise AssertionError(
            f"{what}: {int(np.sum(err > tol))} of {err.size} entries off; worst got "
            f"{got[finite][worst]!r} want {want[finite][worst]!r} "
            f"(err {err[worst]:.3g}, tol {tol[worst]:.3g})"
        )
