"""Plain float64 NumPy twins of the gradient-boosting objectives (never imports
fastloss): each returns (loss, grad, hess) per sample from the textbook formula,
written as directly as float64 allows (logaddexp for softplus, scipy-free), for
moderate scores. The kernel's stable forms are checked against these where both
are accurate, and on extreme scores against limits stated in the tests."""

import numpy as np


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _sp(x):
    return np.logaddexp(0.0, x)


def logistic(x, y, pos_weight=1.0, label_smoothing=0.0):
    ys = y * (1 - label_smoothing) + label_smoothing / 2
    p = _sig(x)
    loss = pos_weight * ys * _sp(-x) + (1 - ys) * _sp(x)
    grad = (1 - ys) * p - pos_weight * ys * (1 - p)
    hess = (pos_weight * ys + 1 - ys) * p * (1 - p)
    return loss, grad, hess


def sigmoid_focal(x, y, alpha=0.25, gamma=2.0):
    a1, a0 = (1.0, 1.0) if alpha is None else (alpha, 1 - alpha)
    p = _sig(x)
    q = 1 - p
    # f(x) = p^g softplus(x): the negative term; the positive one is f(-x)
    f = p**gamma * _sp(x)
    fn = q**gamma * _sp(-x)
    f1 = p**gamma * (gamma * q * _sp(x) + p)
    fn1 = q**gamma * (gamma * p * _sp(-x) + q)  # d/du f(u) at u = -x
    f2 = (
        p**gamma
        * q
        * (gamma**2 * q * _sp(x) - gamma * p * _sp(x) + (2 * gamma + 1) * p)
    )
    fn2 = (
        q**gamma
        * p
        * (gamma**2 * p * _sp(-x) - gamma * q * _sp(-x) + (2 * gamma + 1) * q)
    )
    loss = y * a1 * fn + (1 - y) * a0 * f
    grad = -y * a1 * fn1 + (1 - y) * a0 * f1
    hess = y * a1 * fn2 + (1 - y) * a0 * f2
    return loss, grad, hess


def softmax(x, c, gamma=0.0, class_weight=None):
    """Per row: loss, and the gradient and the diagonal hessian (n, k), from the
    closed forms for gamma = 0 and by central differences of the closed-form
    gradient for gamma > 0 (those are checked against finite differences anyway)."""
    z = x - x.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n, k = x.shape
    rows = np.arange(n)
    pc = p[rows, c]
    logp = z[rows, c] - np.log(np.exp(z).sum(axis=1))
    w = np.ones(n) if class_weight is None else np.asarray(class_weight)[c]
    onehot = np.zeros_like(p)
    onehot[rows, c] = 1
    loss = -w * (1 - pc) ** gamma * logp
    # dL/dx_j = dL/du * u (onehot - p), u = p_c
    dldu = gamma * (1 - pc) ** (gamma - 1) * logp - (1 - pc) ** gamma / pc
    grad = (w * dldu * pc)[:, None] * (onehot - p)
    hess = w[:, None] * p * (1 - p) if gamma == 0 else None
    return loss, grad, hess


def squared_error(x, y):
    r = x - y
    return 0.5 * r**2, r, np.ones_like(r)


def pseudo_huber(x, y, delta=1.0):
    r = x - y
    s = np.sqrt(1 + (r / delta) ** 2)
    return delta**2 * (s - 1), r / s, 1 / s**3


def huber(x, y, delta=1.0, exact_hessian=False):
    r = x - y
    a = np.abs(r)
    loss = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))
    hess = np.where(a <= delta, 1.0, 0.0) if exact_hessian else np.ones_like(r)
    return loss, np.clip(r, -delta, delta), hess


def log_cosh(x, y):
    r = x - y
    # log cosh r = logaddexp(r, -r) - log 2: cosh itself overflows past |r| = 710
    return np.logaddexp(r, -r) - np.log(2.0), np.tanh(r), 1 - np.tanh(r) ** 2


def squared_log_error(x, y):
    d = np.log1p(x) - np.log1p(y)
    return 0.5 * d**2, d / (1 + x), (1 - d) / (1 + x) ** 2


def poisson(x, y, max_delta_step=0.0):
    return np.exp(x) - y * x, np.exp(x) - y, np.exp(x + max_delta_step)


def gamma(x, y):
    return y * np.exp(-x) + x, 1 - y * np.exp(-x), y * np.exp(-x)


def tweedie(x, y, power=1.5):
    a, b = np.exp((1 - power) * x), np.exp((2 - power) * x)
    loss = -y * a / (1 - power) + b / (2 - power)
    return loss, -y * a + b, -y * (1 - power) * a + (2 - power) * b


def quantile(x, y, alpha=0.5):
    r = x - y
    loss = np.where(r > 0, (1 - alpha) * r, -alpha * r)
    return loss, np.where(r > 0, 1 - alpha, -alpha), np.ones_like(r)


def absolute_error(x, y):
    r = x - y
    return np.abs(r), np.sign(r), np.ones_like(r)


ELEMENTWISE = {
    "logistic": logistic,
    "sigmoid_focal": sigmoid_focal,
    "squared_error": squared_error,
    "pseudo_huber": pseudo_huber,
    "huber": huber,
    "log_cosh": log_cosh,
    "squared_log_error": squared_log_error,
    "poisson": poisson,
    "gamma": gamma,
    "tweedie": tweedie,
    "quantile": quantile,
    "absolute_error": absolute_error,
}
