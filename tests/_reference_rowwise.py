"""Plain float64 NumPy twins of the row-wise losses (fastloss/_rowwise.py).

Written from the formulas in the docstrings, not from the kernels, and never
importing fastloss: softmaxes by max-subtraction, every operation in float64,
gradients from the closed forms (themselves checked against finite differences
in the tests).

Like ``_reference.reference``, each twin returns, besides the loss and the
gradient, a "scale" for every result: the size of the terms that make it up,
so a stable evaluation in the compute dtype is within a modest multiple of the
unit roundoff times that scale. The tests compare with
``_reference.assert_close``.
"""

from typing import NamedTuple

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


class Result(NamedTuple):
    loss: object  # float for "mean"/"sum", float64 array for "none"
    grad: object  # float64 array, or a tuple of them (triplet)
    loss_scale: object
    grad_scale: object


def _times(coef, value):
    """``coef * value`` where a zero coefficient gives exactly 0 (no 0 * inf)."""
    coef, value = np.broadcast_arrays(np.asarray(coef, float), np.asarray(value))
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(coef == 0, 0.0, coef * value)


def _log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _rows(a):
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1, a.shape[-1]), a.shape


def _sample_weight(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    return np.asarray(sample_weight, dtype=np.float64).reshape(n)


def _reduce(rows, rows_scale, grads, grad_scales, normaliser, lead, reduction):
    """Apply the reduction to row losses and to gradient(s) of their sum."""
    if reduction == "none":
        return Result(rows.reshape(lead), grads, rows_scale.reshape(lead), grad_scales)
    if reduction == "sum":
        return Result(
            float(np.sum(rows)), grads, float(np.sum(rows_scale)), grad_scales
        )
    if reduction != "mean":
        raise ValueError(f"unknown reduction {reduction!r}")
    single = isinstance(grads, np.ndarray)
    if normaliser == 0:
        zero = np.zeros_like(grads) if single else tuple(map(np.zeros_like, grads))
        return Result(0.0, zero, 0.0, zero)
    d = abs(normaliser)
    if single:
        return Result(
            float(np.sum(rows) / normaliser),
            grads / normaliser,
            float(np.sum(rows_scale) / d),
            grad_scales / d,
        )
    return Result(
        float(np.sum(rows) / normaliser),
        tuple(g / normaliser for g in grads),
        float(np.sum(rows_scale) / d),
        tuple(s / d for s in grad_scales),
    )


# --------------------------------------------------------------------------------
# softmax focal loss
# --------------------------------------------------------------------------------


def softmax_focal_loss_ref(
    logits,
    target,
    *,
    alpha=None,
    gamma=2.0,
    class_weight=None,
    ignore_index=-100,
    sample_weight=None,
    reduction="mean",
    **_,
):
    """l_i = -s_i alpha_y (1 - q_y)^gamma log q_y; grad s_i alpha_y K (q - onehot),
    K = (1 - q_y)^gamma + gamma q_y (1 - q_y)^(gamma - 1) (-log q_y), with
    alpha_y = alpha * class_weight[y] (each 1 when None)."""
    x, shape = _rows(logits)
    n, c = x.shape
    y = np.asarray(target).astype(np.int64).reshape(n)
    s = _sample_weight(sample_weight, n)
    a = np.ones(c) if class_weight is None else np.asarray(class_weight, np.float64)
    if alpha is not None:
        a = float(alpha) * a
    keep = y != ignore_index
    ys = np.where(keep, y, 0)
    rows_idx = np.arange(n)
    gamma = float(gamma)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        logq = _log_softmax(x)
        q = np.exp(logq)
        # -log q_y = log sum_c exp(x_c - x_y) = log1p(r), r = sum_{c != y}
        # exp(x_c - x_y): exact as q_y -> 1, where 1 - q_y = r / (1 + r) and
        # log q_y = x_y - lse would round to 0. Used while r cannot overflow.
        x_y = x[rows_idx, ys]
        others = x - x_y[:, None]
        others[rows_idx, ys] = -np.inf
        near = np.max(x, axis=1) - x_y < 700.0
        r = np.sum(np.exp(np.where(near[:, None], others, -np.inf)), axis=1)
        logq_y = logq[rows_idx, ys]
        nu = np.where(near, np.log1p(r), -logq_y)  # cross-entropy of the row
        u = np.where(near, r / (1.0 + r), -np.expm1(logq_y))  # 1 - q_y
        q_y = np.where(near, 1.0 / (1.0 + r), np.exp(logq_y))
        pw = u**gamma
        # rho = nu / u -> 1 as u -> 0
        rho = np.where(u > 0, nu / np.where(u > 0, u, 1.0), 1.0)
        k = pw * (1.0 + _times(gamma * q_y, rho))
        a_y = a[ys]
        rows = s * a_y * _times(pw, nu)
        onehot = np.zeros_like(x)
        onehot[rows_idx, ys] = 1.0
        grad = (s * a_y * k)[:, None] * (q - onehot)
        # error scales: u and nu carry the relative error of the other classes'
        # exponentials, which grows with their exp argument |x_c - max| (rounded
        # in the compute dtype), weighted by their share; (1 + gamma) for u^gamma
        m = np.max(x, axis=1, keepdims=True)
        e_o = _times(np.exp(others), 1.0)
        share = np.where(np.sum(e_o, axis=1) > 0, np.sum(e_o, axis=1), 1.0)
        spread = np.sum(_times(e_o, np.abs(x - m)), axis=1) / share
        rel = (1.0 + gamma) * (2.0 + spread)
        rows_scale = np.abs(s * a_y) * rel * _times(pw, np.abs(nu))
        grad_scale = (np.abs(s * a_y) * rel * k)[:, None] * (
            _times(q, 1.0 + np.abs(logq)) + onehot
        )
    rows[~keep] = 0.0
    rows_scale[~keep] = 0.0
    grad[~keep] = 0.0
    grad_scale[~keep] = 0.0
    return _reduce(
        rows,
        rows_scale,
        grad.reshape(shape),
        grad_scale.reshape(shape),
        float(np.sum(s[keep])),
        shape[:-1],
        reduction,
    )


# --------------------------------------------------------------------------------
# KL divergence with logits
# --------------------------------------------------------------------------------


def kl_div_with_logits_ref(
    student_logits,
    teacher_logits,
    *,
    temperature=1.0,
    teacher_probs=False,
    sample_weight=None,
    reduction="mean",
    **_,
):
    """l_i = s_i T^2 sum_c P_c (log P_c - log Q_c), 0 where P_c == 0;
    grad s_i T ((sum P) Q - P)."""
    sx, shape = _rows(student_logits)
    tx, _ = _rows(teacher_logits)
    n = sx.shape[0]
    t = float(temperature)
    s = _sample_weight(sample_weight, n)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        logq = _log_softmax(sx / t)
        q = np.exp(logq)
        if teacher_probs:
            p = tx
            logp = np.log(p)
        else:
            logp = _log_softmax(tx / t)
            p = np.exp(logp)
        terms = _times(p, logp - logq)
        rows = s * t * t * np.sum(terms, axis=1)
        psum = np.sum(p, axis=1)
        grad = (s * t)[:, None] * (psum[:, None] * q - p)
        rows_scale = (
            np.abs(s)
            * t
            * t
            * (np.sum(_times(p, np.abs(logp) + np.abs(logq) + 1.0), axis=1) + 1.0)
        )
        grad_scale = (np.abs(s) * t)[:, None] * (
            np.abs(psum)[:, None] * _times(q, 1.0 + np.abs(logq))
            + _times(p, 1.0 + np.abs(logp))
        )
    return _reduce(
        rows,
        rows_scale,
        grad.reshape(shape),
        grad_scale.reshape(shape),
        float(np.sum(s)),
        shape[:-1],
        reduction,
    )


# --------------------------------------------------------------------------------
# perplexity
# --------------------------------------------------------------------------------


def perplexity_ref(logits, target, *, ignore_index=-100, **_):
    """exp(mean token cross-entropy over tokens not ignored); 1.0 when none."""
    x, _shape = _rows(logits)
    y = np.asarray(target).astype(np.int64).reshape(-1)
    keep = y != ignore_index
    if not keep.any():
        return 1.0
    ce = -_log_softmax(x[keep])[np.arange(keep.sum()), y[keep]]
    with np.errstate(over="ignore"):
        return float(np.exp(np.mean(ce)))


# --------------------------------------------------------------------------------
# triplet margin loss
# --------------------------------------------------------------------------------


def _pnorm_and_grad(v, p):
    """||v||_p over the last axis and d||v||_p / dv (0 where the norm is 0)."""
    av = np.abs(v)
    if p == 2:
        d = np.sqrt(np.sum(v * v, axis=1))
        inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
        return d, v * inv[:, None]
    if p == 1:
        return np.sum(av, axis=1), np.sign(v)
    # scaled by the max so no power overflows
    mx = np.max(av, axis=1)
    safe = np.where(mx > 0, mx, 1.0)
    d = mx * np.sum((av / safe[:, None]) ** p, axis=1) ** (1.0 / p)
    dsafe = np.where(d > 0, d, 1.0)
    phi = np.sign(v) * (av / dsafe[:, None]) ** (p - 1.0)
    return d, np.where((d > 0)[:, None], phi, 0.0)


def triplet_hinge_ref(
    anchor, positive, negative, *, margin=1.0, p=2, eps=1e-6, swap=False, **_
):
    """The hinge argument d(a, p) - d_neg + margin per row (flat), to spot draws
    that sit on the kink."""
    a, _shape = _rows(anchor)
    pp, _ = _rows(positive)
    nn, _ = _rows(negative)
    d_ap = _pnorm_and_grad(a - pp + eps, float(p))[0]
    d_neg = _pnorm_and_grad(a - nn + eps, float(p))[0]
    if swap:
        d_neg = np.minimum(d_neg, _pnorm_and_grad(pp - nn + eps, float(p))[0])
    return margin + d_ap - d_neg


def triplet_margin_loss_ref(
    anchor,
    positive,
    negative,
    *,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    sample_weight=None,
    reduction="mean",
    **_,
):
    """l_i = s_i max(d(a, p) - d_neg + margin, 0), d(u, v) = ||u - v + eps||_p,
    d_neg = d(a, n) or min(d(a, n), d(p, n)) (swap; ties split the gradient)."""
    a, shape = _rows(anchor)
    pp, _ = _rows(positive)
    nn, _ = _rows(negative)
    n = a.shape[0]
    s = _sample_weight(sample_weight, n)
    p = float(p)
    d_ap, phi_ap = _pnorm_and_grad(a - pp + eps, p)
    d_an, phi_an = _pnorm_and_grad(a - nn + eps, p)
    c_an, c_pn = np.ones(n), np.zeros(n)
    d_neg = d_an
    phi_pn = np.zeros_like(a)
    d_pn = np.zeros(n)
    if swap:
        d_pn, phi_pn = _pnorm_and_grad(pp - nn + eps, p)
        c_an = np.where(d_pn < d_an, 0.0, np.where(d_an < d_pn, 1.0, 0.5))
        c_pn = 1.0 - c_an
        d_neg = np.minimum(d_an, d_pn)
    h = margin + d_ap - d_neg
    active = h >= 0
    rows = s * np.where(active, h, 0.0)
    r = np.where(active, s, 0.0)[:, None]
    g_a = r * (phi_ap - c_an[:, None] * phi_an)
    g_p = r * (-phi_ap - c_pn[:, None] * phi_pn)
    g_n = r * (c_an[:, None] * phi_an + c_pn[:, None] * phi_pn)
    rows_scale = np.abs(s) * (abs(margin) + d_ap + d_an + d_pn)
    phis = np.abs(phi_ap) + np.abs(phi_an) + np.abs(phi_pn)
    gs = np.abs(r) * (phis + 1e-300)
    grads = tuple(g.reshape(shape) for g in (g_a, g_p, g_n))
    scales = tuple(gs.reshape(shape) for _ in range(3))
    return _reduce(
        rows, rows_scale, grads, scales, float(np.sum(s)), shape[:-1], reduction
    )
