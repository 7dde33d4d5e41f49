"""Property tests with hypothesis: finite, non-negative, zero-sum rows, reference."""

import os

import numpy as np
from _reference import assert_same_bits, check_against_reference, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss

# modest by default so the suite stays fast; raise it for a longer hunt
MAX_EXAMPLES = int(os.environ.get("FASTLOSS_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(
    deadline=None,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# float32-representable values, so the same numbers serve both dtypes
LOGIT = st.floats(-60.0, 60.0, allow_nan=False, width=32)
F32_BIG = float(np.float32(3.3e38))
# weights and parameters inside the accepted ranges of float32 computation
# (docs/RELIABILITY.md)
NONNEG = st.just(0.0) | st.floats(2.0**-32, 4.0, width=32)
F32_TINY = float(np.finfo(np.float32).tiny)


@st.composite
def problems(draw, z_loss=True, normalised=False, logit=LOGIT, weights=NONNEG):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    lead = draw(st.sampled_from([(), (0,), (1,), (4,), (2, 3)]))
    n_classes = draw(st.integers(1, 9))
    shape = lead + (n_classes,)
    logits = draw(hnp.arrays(dtype, shape, elements=logit))
    kw = {"reduction": draw(st.sampled_from(["none", "mean", "sum"]))}
    if draw(st.booleans()):
        target = draw(
            hnp.arrays(np.int64, lead, elements=st.integers(0, n_classes - 1))
        )
        if lead and draw(st.booleans()):
            ignored = draw(hnp.arrays(np.bool_, lead))
            target = np.where(ignored, -100, target)
    else:
        p = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.0, 1.0)))
        if normalised:
            total = p.sum(axis=-1, keepdims=True)
            p = np.where(total > 0, p / np.where(total > 0, total, 1), 1 / n_classes)
        target = p.astype(dtype)
    if draw(st.booleans()):
        kw["class_weight"] = draw(
            hnp.arrays(np.float64, (n_classes,), elements=weights)
        )
    if draw(st.booleans()):
        kw["sample_weight"] = draw(hnp.arrays(np.float64, lead, elements=weights))
    kw["label_smoothing"] = draw(st.one_of(st.just(0.0), st.floats(F32_TINY, 1.0)))
    if z_loss:
        kw["z_loss"] = draw(st.one_of(st.just(0.0), st.floats(2.0**-32, 1e-2)))
    kw["n_threads"] = draw(st.sampled_from([1, 2]))
    return logits, target, kw


@SETTINGS
@given(problem=problems())
def test_finite_non_negative_and_matches_reference(simd_path, problem):
    logits, target, kw = problem
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    # every term is a weight times -log q >= 0 or z lse^2 >= 0
    assert np.all(np.asarray(loss) >= 0), loss
    check_against_reference(loss, grad, logits, target, kw)
    assert_same_bits(fastloss.softmax_cross_entropy(logits, target, **kw), loss)


@SETTINGS
@given(problem=problems(z_loss=False, normalised=True))
def test_gradient_rows_sum_to_zero(simd_path, problem):
    """Without z_loss, sum_c g_ic = 0: the softmax Jacobian annihilates ones."""
    logits, target, kw = problem
    _, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    n_classes = logits.shape[-1]
    rows = grad.astype(np.float64).reshape(-1, n_classes)
    # rounding is relative to the terms (q_ic times the row coefficient, and
    # the target weights), which cancel in the sum; not to |g| itself
    scale = reference(logits, target, **kw).grad_scale.reshape(-1, n_classes)
    tol = 10 * np.finfo(grad.dtype).eps * n_classes
    np.testing.assert_array_less(
        np.abs(rows.sum(axis=1)), tol * scale.sum(axis=1) + 1e-30
    )


@SETTINGS
@given(problem=problems())
def test_scaling_sample_weight_scales_sum_not_mean(problem):
    """'sum' is linear in sample_weight; 'mean' divides it back out."""
    logits, target, kw = problem
    kw = dict(kw, sample_weight=None, n_threads=1)
    base = {
        r: fastloss.softmax_cross_entropy_and_grad(
            logits, target, **dict(kw, reduction=r)
        )
        for r in ("sum", "mean")
    }
    sw = np.full(logits.shape[:-1], 4.0)  # a power of two: exact scaling
    for reduction, factor in (("sum", 4.0), ("mean", 1.0)):
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, **dict(kw, reduction=reduction, sample_weight=sw)
        )
        want_loss, want_grad = base[reduction]
        np.testing.assert_allclose(loss, factor * want_loss, rtol=1e-6)
        np.testing.assert_allclose(
            grad,
            factor * want_grad,
            rtol=1e-5,
            atol=1e-6 * factor * np.max(np.abs(want_grad), initial=0.0),
        )


@SETTINGS
@given(
    # z_loss's gradient 2 z lse and a tiny normaliser can overflow float32 for
    # real, so they stay out: this is about the logits' magnitude alone
    problem=problems(
        z_loss=False,
        logit=st.floats(-F32_BIG, F32_BIG, width=32),
        weights=st.floats(0.25, 4.0, width=32),
    ),
    reduction=st.sampled_from(["mean", "sum"]),
)
def test_any_finite_logits_give_finite_gradient_and_reduced_loss(
    simd_path, problem, reduction
):
    logits, target, kw = problem
    kw["reduction"] = reduction
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    check_against_reference(loss, grad, logits, target, kw)
