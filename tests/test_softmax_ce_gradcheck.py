"""The fused gradient against finite differences of fastloss's own loss (float64)."""

import numpy as np
import pytest
from _matrix import REDUCTIONS
from _reference import OPTIONS, make_case, numerical_gradient

import fastloss

GRAD_OPTIONS = [
    "plain",
    "weight",
    "ignore",
    "smoothing",
    "z_loss",
    "sample_weight",
    "all",
]


def _check(logits, target, kw):
    def loss(x):
        return np.sum(fastloss.softmax_cross_entropy(x, target, **kw))

    _, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    fd = numerical_gradient(loss, logits)
    # truncation ~h^4 = 1e-12 and rounding ~1e-16 / h: 1e-9 leaves a margin
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)
    assert np.max(np.abs(fd)) > 1e-2, "finite differences are trivially zero"


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("option", GRAD_OPTIONS)
def test_gradient_matches_finite_differences(simd_path, rng, option, kind, reduction):
    logits, target, kw = make_case(rng, (3, 4), np.float64, kind, **OPTIONS[option])
    kw["reduction"] = reduction
    _check(logits, target, kw)


@pytest.mark.parametrize("shape", [(2, 2, 3), (5,)], ids=str)
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_gradient_matches_finite_differences_other_shapes(simd_path, rng, shape, kind):
    logits, target, kw = make_case(rng, shape, np.float64, kind, **OPTIONS["all"])
    for reduction in REDUCTIONS:
        _check(logits, target, dict(kw, reduction=reduction))


def test_gradient_with_large_z_loss_and_unnormalised_soft_targets(rng):
    logits = 4.0 * rng.standard_normal((3, 5))
    target = rng.random((3, 5)) * 2.0
    kw = {"z_loss": 0.5, "label_smoothing": 0.3, "class_weight": rng.uniform(0, 3, 5)}
    _check(logits, target, kw)
