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


def circle_loss_ref(
    embeddings,
    labels,
    *,
    gamma=80.0,
    margin=0.4,
    remove_diagonal=True,
    sample_weight=None,
    reduction="mean",
):
    """Keras 3's circle loss on S = E E^T, its gradient dE = (G + G^T) E with
    G = d loss / d S; "mean" over the rows with a positive and a negative."""
    e = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    n = y.size
    m = margin
    s = e @ e.T
    d = np.maximum(1.0 - s, 0.0)
    pos = y[:, None] == y[None, :]
    if remove_diagonal:
        pos &= ~np.eye(n, dtype=bool)
    neg = y[:, None] != y[None, :]
    wp = -gamma * np.maximum(m + d, 0.0) * (m - d)
    wn = gamma * np.maximum(1.0 + m - d, 0.0) * (1.0 - m - d)
    dds = np.where(1.0 - s > 0.0, -1.0, 0.0)
    dwp = np.where(m + d > 0.0, 2.0 * gamma * d, 0.0) * dds
    dwn = np.where(1.0 + m - d > 0.0, 2.0 * gamma * (d - 1.0), 0.0) * dds
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lp = _logsumexp(np.where(pos, wp, -np.inf))
        ln = _logsumexp(np.where(neg, wn, -np.inf))
        z = lp + ln
        rows = np.logaddexp(0.0, z)
        sig = np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))
        sig = np.where(np.isneginf(z), 0.0, sig)
        g = sig[:, None] * (
            np.where(pos, np.exp(wp - lp[:, None]) * dwp, 0.0)
            + np.where(neg, np.exp(wn - ln[:, None]) * dwn, 0.0)
        )
    g = np.where(np.isneginf(z)[:, None], 0.0, g)
    sw = _sample_weight(sample_weight, n)
    active = pos.any(axis=1) & neg.any(axis=1)
    gw = g * sw[:, None]
    grad = (gw + gw.T) @ e
    # scales: S entries carry the dtype's rounding times |e_i||e_j|; a loss moves
    # by up to 4 gamma (1 + m) per unit of S, so does G (relative), times gamma
    norms = np.sqrt(np.sum(e * e, axis=1))
    k = 4.0 * gamma * (1.0 + abs(m)) * norms * norms.max() * max(e.shape[1], 1)
    rscale = np.abs(rows) + k
    gscale = ((np.abs(gw) + np.abs(gw.T)) @ np.abs(e)) * (1.0 + k.max())
    d_mean = float(np.sum(sw[active]))
    return _reduce(
        rows * sw,
        rscale * np.abs(sw),
        grad,
        gscale,
        d_mean,
        (n,),
        reduction,
    )


def _logsumexp(a):
    mx = np.max(a, axis=1)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    return safe + np.log(np.sum(np.exp(a - safe[:, None]), axis=1))
