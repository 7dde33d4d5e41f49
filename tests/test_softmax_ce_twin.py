"""The reference twin itself: hand-computed values, a scalar loop, its gradient.

Everything else compares fastloss with ``_reference``; these tests make sure
the twin is right, so those comparisons cannot pass on a shared mistake.
"""

import math

import numpy as np
import pytest
from _matrix import REDUCTIONS
from _reference import (
    OPTIONS,
    make_case,
    numerical_gradient,
    reference,
)


def _loop_loss(
    logits,
    target,
    *,
    class_weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    z_loss=0.0,
    sample_weight=None,
    reduction="mean",
):
    """The contract's per-row formulas with ``math``, one row at a time."""
    x = np.asarray(logits, dtype=np.float64)
    n_classes = x.shape[-1]
    x = x.reshape(-1, n_classes)
    t = np.asarray(target)
    soft = t.dtype.kind == "f"
    t = t.reshape(x.shape) if soft else t.reshape(-1)
    w = [1.0] * n_classes if class_weight is None else [float(v) for v in class_weight]
    s = (
        [1.0] * len(x)
        if sample_weight is None
        else list(np.asarray(sample_weight, np.float64).reshape(-1))
    )
    eps, z = label_smoothing, z_loss
    rows, denom = [], 0.0
    for i, row in enumerate(x):
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        if soft:
            p = [(1 - eps) * float(v) + eps / n_classes for v in t[i]]
            li = -sum(w[c] * p[c] * (row[c] - lse) for c in range(n_classes))
            denom += s[i]
        elif t[i] == ignore_index:
            rows.append(0.0)
            continue
        else:
            y = int(t[i])
            li = (1 - eps) * w[y] * (lse - row[y])
            li += eps / n_classes * sum(w[c] * (lse - row[c]) for c in range(n_classes))
            denom += s[i] * w[y]
        rows.append(s[i] * (li + z * lse * lse))
    if reduction == "none":
        return np.array(rows).reshape(np.shape(logits)[:-1])
    total = math.fsum(rows)
    if reduction == "sum":
        return total
    return 0.0 if denom == 0 else total / denom


def test_hand_computed_two_classes():
    # softmax([0, ln 3]) = [1/4, 3/4]
    logits = np.array([[0.0, math.log(3.0)]])
    ref = reference(logits, np.array([1]), reduction="sum")
    assert ref.loss == pytest.approx(math.log(4.0 / 3.0), rel=1e-15)
    np.testing.assert_allclose(ref.grad, [[0.25, -0.25]], rtol=1e-15)


def test_hand_computed_smoothing_weight_z_loss():
    # C = 2, x = [0, 0]: lse = ln 2, q = [1/2, 1/2]
    lse = math.log(2.0)
    ref = reference(
        np.zeros((1, 2)),
        np.array([0]),
        class_weight=np.array([2.0, 1.0]),
        label_smoothing=0.5,
        z_loss=0.25,
        reduction="sum",
    )
    # (1-eps) w_0 lse + eps/C (w_0 + w_1) lse + z lse^2
    want = 0.5 * 2.0 * lse + 0.25 * 3.0 * lse + 0.25 * lse**2
    assert ref.loss == pytest.approx(want, rel=1e-15)
    coef = 0.5 * 2.0 + 0.5 * 3.0 / 2.0 + 2 * 0.25 * lse
    want_grad = [coef / 2 - 0.5 * 2.0 - 0.25 * 2.0, coef / 2 - 0.25 * 1.0]
    np.testing.assert_allclose(ref.grad, [want_grad], rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_twin_loss_matches_scalar_loop(rng, option, kind, reduction):
    logits, target, kw = make_case(rng, (2, 3, 5), np.float64, kind, **OPTIONS[option])
    want = _loop_loss(logits, target, reduction=reduction, **kw)
    got = reference(logits, target, reduction=reduction, **kw).loss
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    assert np.any(np.asarray(want) != 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("option", ["plain", "weight", "smoothing", "z_loss", "all"])
def test_twin_gradient_matches_finite_differences(rng, option, kind, reduction):
    logits, target, kw = make_case(rng, (3, 4), np.float64, kind, **OPTIONS[option])
    kw["reduction"] = reduction

    def f(x):
        return np.sum(reference(x, target, **kw).loss)

    ref = reference(logits, target, **kw)
    fd = numerical_gradient(f, logits)
    np.testing.assert_allclose(ref.grad, fd, rtol=1e-7, atol=1e-9)
    assert np.max(np.abs(ref.grad)) > 1e-2


def test_one_hot_soft_targets_equal_hard_targets(rng):
    logits, target, kw = make_case(rng, (6, 4), np.float64, "hard", **OPTIONS["all"])
    kw.pop("ignore_index", None)
    target[target == -100] = 2
    onehot = np.eye(4)[target]
    for reduction in ("none", "sum"):
        hard = reference(logits, target, reduction=reduction, **kw)
        soft = reference(logits, onehot, reduction=reduction, **kw)
        np.testing.assert_allclose(soft.loss, hard.loss, rtol=1e-14)
        np.testing.assert_allclose(soft.grad, hard.grad, rtol=1e-13, atol=1e-15)


def test_mask_terms_contribute_zero():
    logits = np.array([[0.0, -np.inf, 1.0]])
    ref = reference(logits, np.array([2]), reduction="sum")
    assert np.isfinite(ref.loss) and ref.grad[0, 1] == 0.0
    soft = reference(logits, np.array([[0.5, 0.0, 0.5]]), reduction="sum")
    assert np.isfinite(soft.loss) and soft.grad[0, 1] == 0.0
