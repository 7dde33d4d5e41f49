"""Plain float64 NumPy twins of the cosine similarity, Dice and Tversky losses
(fastloss/_similarity.py), written from Keras 3's formulas as the docstrings give
them, never importing fastloss. Gradients are the closed forms (checked against
finite differences in tests/test_similarity.py); each result comes with a scale
(the size of the terms that make it up) for ``_reference.assert_close``, as in
``_reference_rowwise``."""

import numpy as np
from _reference_rowwise import _reduce, _rows, _sample_weight

EPS = 1e-7  # keras.backend.epsilon()


def _finish(rows, rscale, grad, gscale, sample_weight, lead, shape, reduction):
    n = rows.shape[0]
    sw = _sample_weight(sample_weight, n)
    grad = grad * sw[:, None]
    gscale = gscale * np.abs(sw)[:, None]
    res = _reduce(
        rows * sw,
        rscale * np.abs(sw),
        grad.reshape(shape),
        gscale.reshape(shape),
        float(np.sum(sw)),
        lead,
        reduction,
    )
    return res


def _norm(a):
    """Row 2-norms, scaled by the largest magnitude so no square overflows."""
    m = np.max(np.abs(a), axis=1)
    safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
    return safe * np.sqrt(np.sum((a / safe[:, None]) ** 2, axis=1))


def cosine_similarity_loss_ref(
    pred, target, *, epsilon=EPS, sample_weight=None, reduction="mean"
):
    """l = -sum(u v), u = p / max(||p||, eps), v = t / max(||t||, eps)."""
    p, shape = _rows(pred)
    t, _ = _rows(target)
    with np.errstate(over="ignore", invalid="ignore"):
        npn = _norm(p)
        ntn = _norm(t)
        clamped = ~(npn >= epsilon)
        ip = 1.0 / np.maximum(npn, epsilon)
        it = 1.0 / np.maximum(ntn, epsilon)
        u = p * ip[:, None]
        v = t * it[:, None]
        cos = np.sum(u * v, axis=1)
        # d/dp of -sum(p v) ip: -(v - cos u) ip, or -v / eps where clamped
        grad = np.where(
            clamped[:, None], -v / epsilon, -(v - cos[:, None] * u) * ip[:, None]
        )
        rscale = 1.0 + np.sum(np.abs(u * v), axis=1)
        gscale = (np.abs(v) + rscale[:, None] * np.abs(u)) * ip[:, None]
    return _finish(
        -cos, rscale, grad, gscale, sample_weight, shape[:-1], shape, reduction
    )


def dice_loss_ref(pred, target, *, epsilon=EPS, sample_weight=None, reduction="mean"):
    """l = 1 - 2 I / (sum t + sum p + eps), I = sum t p."""
    p, shape = _rows(pred)
    t, _ = _rows(target)
    inter = np.sum(t * p, axis=1)
    den = np.sum(t, axis=1) + np.sum(p, axis=1) + epsilon
    absden = np.sum(np.abs(t), axis=1) + np.sum(np.abs(p), axis=1) + epsilon
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = 1.0 - 2.0 * inter / den
        grad = -2.0 * t / den[:, None] + (2.0 * inter / den**2)[:, None]
        k = absden / np.abs(den)  # the conditioning of the denominator
        rscale = 1.0 + 2.0 * np.sum(np.abs(t * p), axis=1) / np.abs(den) * k
        gscale = (2.0 * np.abs(t) + rscale[:, None]) / np.abs(den)[:, None] * k[:, None]
    return _finish(
        rows, rscale, grad, gscale, sample_weight, shape[:-1], shape, reduction
    )


def tversky_loss_ref(
    pred,
    target,
    *,
    alpha=0.5,
    beta=0.5,
    epsilon=EPS,
    sample_weight=None,
    reduction="mean",
):
    """l = 1 - I / (I + alpha sum (1 - p) t + beta sum p (1 - t) + eps)."""
    p, shape = _rows(pred)
    t, _ = _rows(target)
    inter = np.sum(t * p, axis=1)
    fneg = np.sum((1.0 - p) * t, axis=1)
    fpos = np.sum(p * (1.0 - t), axis=1)
    den = inter + alpha * fneg + beta * fpos + epsilon
    absden = (
        np.sum(np.abs(t * p), axis=1)
        + abs(alpha) * np.sum(np.abs((1.0 - p) * t), axis=1)
        + abs(beta) * np.sum(np.abs(p * (1.0 - t)), axis=1)
        + epsilon
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = inter / den
        rows = 1.0 - r
        # d den / d p = t - alpha t + beta (1 - t)
        grad = -t / den[:, None] + (inter / den**2)[:, None] * (
            t * (1.0 - alpha - beta) + beta
        )
        k = absden / np.abs(den)
        rscale = 1.0 + np.abs(r) * k
        gscale = (
            (
                np.abs(t) * (1.0 + rscale[:, None] * abs(1.0 - alpha - beta))
                + rscale[:, None] * abs(beta)
            )
            / np.abs(den)[:, None]
            * k[:, None]
        )
    return _finish(
        rows, rscale, grad, gscale, sample_weight, shape[:-1], shape, reduction
    )
