"""Plain float64 NumPy twins of the categorical hinge and the categorical generalized
cross-entropy (fastloss/_categorical.py), written from Keras 3's formulas
(keras/src/losses/losses.py: categorical_hinge, categorical_generalized_cross_entropy)
and never importing fastloss. Gradients are the closed forms with JAX's conventions
(checked against finite differences and jax.grad in tests/test_categorical.py);
each result comes with a scale for ``_reference.assert_close``, as in
``_reference_rowwise``."""

import numpy as np
from _reference_rowwise import _reduce, _rows, _sample_weight


def categorical_hinge_loss_ref(pred, target, *, sample_weight=None, reduction="mean"):
    """l = max(max((1 - t) p) - sum(t p) + 1, 0); the gradient splits the max's
    share equally among tied maxima and is halved at the kink (jnp's rules)."""
    p, shape = _rows(pred)
    t, _ = _rows(target)
    n = p.shape[0]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = (1.0 - t) * p
        pos = np.sum(t * p, axis=1)
        neg = np.max(z, axis=1)  # NaN propagates, as in Keras
        m = neg - pos + 1.0
        rows = np.maximum(m, 0.0)
        at_max = z == neg[:, None]
        share = at_max / np.sum(at_max, axis=1, keepdims=True)
        a = np.where(m > 0, 1.0, np.where(m == 0, 0.5, 0.0))
        a = np.where(np.isnan(m), np.nan, a)
        grad = a[:, None] * ((1.0 - t) * share - t)
        sw = _sample_weight(sample_weight, n)
        grad = grad * sw[:, None]
        rscale = (np.sum(np.abs(t * p), axis=1) + np.abs(neg) + 1.0) * np.abs(sw)
    gscale = (np.abs(t) + np.abs(1.0 - t)) * np.abs(sw)[:, None]
    return _reduce(
        rows * sw,
        rscale,
        grad.reshape(shape),
        gscale.reshape(shape),
        float(np.sum(sw)),
        shape[:-1],
        reduction,
    )


def categorical_generalized_cross_entropy_loss_ref(
    probs,
    target,
    *,
    q=0.5,
    ignore_index=-100,
    sample_weight=None,
    reduction="mean",
):
    """l = (1 - p**q) / q with p = sum(probs * one_hot(target)), as Keras writes it
    (so a NaN or inf anywhere in the row gives NaN); gradient -p**(q - 1) at the
    target entry, 0 elsewhere; ignored rows give 0 and leave the "mean"."""
    x, shape = _rows(probs)
    n, c = x.shape
    y = np.asarray(target).reshape(n)
    keep = y != ignore_index
    onehot = np.arange(c) == np.where(keep, y, 0)[:, None]
    sw = _sample_weight(sample_weight, n)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        p = np.sum(x * onehot, axis=1)
        rows = np.where(keep, (1.0 - p**q) / q, 0.0)
        dp = np.where(np.isnan(p), np.nan, -(p ** (q - 1.0)))  # NaN**0 is 1
        # a row of weight 0 has gradient 0 (not 0 * inf)
        dp = np.where(sw == 0, 0.0, dp * sw)
        grad = np.where(onehot & keep[:, None], dp[:, None], 0.0)
        rscale = np.where(keep, (1.0 + np.abs(p) ** q) / q, 0.0) * np.abs(sw)
        gscale = np.abs(grad)
    return _reduce(
        rows * sw,
        rscale,
        grad.reshape(shape),
        gscale.reshape(shape),
        float(np.sum(sw[keep])),
        shape[:-1],
        reduction,
    )
