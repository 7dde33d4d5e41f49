"""The Poisson loss against its float64 twin (_reference_regression.poisson),
finite differences and PyTorch's poisson_nll_loss, across the dtype x reduction x
layout x n_threads x SIMD matrix (tests/_matrix.py), on extreme values and bad
arguments, and with hypothesis."""

import numpy as np
import pytest
from _matrix import DTYPES, LAYOUTS, N_THREADS, REDUCTIONS
from _reference import (
    assert_same_bits,
    assert_unchanged,
    non_contiguous,
    numerical_gradient,
    read_only,
    snapshot,
)
from _reference_regression import assert_close, reference
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss

FORMS = [{"log_input": True}, {"log_input": False}, {"log_input": False, "eps": 0.5}]
FORM_IDS = ["log", "rate", "rate-eps0.5"]
WEIGHTINGS = ["plain", "weight", "sample_weight", "both"]


def make_case(rng, shape, dtype, form, weighting="plain"):
    """(pred, target, kwargs): counts 0..20 (a quarter of them 0), log-rates in
    [-5, 4] (log_input) or rates in [0, 20] with some exact zeros."""
    target = rng.poisson(rng.uniform(0, 8, shape)).astype(dtype)
    target[rng.random(shape) < 0.25] = 0
    if form.get("log_input", True):
        pred = rng.uniform(-5.0, 4.0, shape)
    else:
        pred = rng.uniform(0.0, 20.0, shape)
        pred[rng.random(shape) < 0.1] = 0.0
    kw = dict(form)
    if weighting in ("weight", "both"):
        kw["weight"] = rng.uniform(0.25, 2.0, shape)
    if weighting in ("sample_weight", "both"):
        sw = rng.uniform(0.0, 2.0, shape[:1])
        if sw.size > 2:
            sw[1] = 0.0
        kw["sample_weight"] = sw
    return pred.astype(dtype), target, kw


def call(pred, target, kw):
    """Both entry points; inputs untouched, the forward-only loss the fused one
    bit for bit."""
    watch = [target, kw.get("weight"), kw.get("sample_weight")]
    if kw.get("out") is not pred:
        watch.append(pred)
    before = snapshot(*watch)
    forward = fastloss.poisson_loss(
        pred, target, **{k: v for k, v in kw.items() if k != "out"}
    )
    assert_unchanged(before)
    loss, grad = fastloss.poisson_loss_and_grad(pred, target, **kw)
    assert_unchanged(before)
    assert_same_bits(forward, loss)
    return loss, grad


def check(loss, grad, pred, target, kw):
    dtype = np.asarray(pred).dtype
    args = {k: v for k, v in kw.items() if k != "out"}
    ref = reference("poisson", pred, target, **args)
    if kw.get("reduction", "mean") == "none":
        assert loss.dtype == dtype and loss.shape == np.shape(pred)
    else:
        assert isinstance(loss, float)
    assert grad.dtype == dtype and grad.shape == np.shape(pred)
    assert_close(loss, ref.loss, ref.loss_scale, dtype, "loss")
    assert_close(grad, ref.grad, ref.grad_scale, dtype, "grad")


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_matches_twin(simd_path, rng, form, dtype, reduction, weighting):
    for shape in [(1,), (7,), (33, 5), (4, 3, 70)]:
        pred, target, kw = make_case(rng, shape, dtype, form, weighting)
        kw["reduction"] = reduction
        loss, grad = call(pred, target, kw)
        check(loss, grad, pred, target, kw)


@pytest.mark.parametrize("n_threads", N_THREADS)
@pytest.mark.parametrize("layout,out_mode", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_layouts_out_and_threads(
    simd_path, rng, form, dtype, layout, out_mode, n_threads
):
    for reduction in REDUCTIONS:
        pred, target, kw = make_case(rng, (9, 4), dtype, form, "both")
        kw.update(reduction=reduction, n_threads=n_threads)
        if layout != "contiguous":
            change = non_contiguous if layout == "strided" else read_only
            pred, target = change(pred), change(target)
            kw["weight"] = change(kw["weight"])
            kw["sample_weight"] = change(kw["sample_weight"])
        original = pred.copy()
        if out_mode == "out":
            kw["out"] = np.full(pred.shape, np.nan, dtype=dtype)
        elif out_mode == "inplace":
            kw["out"] = pred
        loss, grad = call(pred, target, kw)
        if out_mode is not None:
            assert grad is kw["out"]
        check(loss, grad, original, target, kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_bit_identical_for_any_thread_count(rng, form, dtype):
    pred, target, kw = make_case(rng, (300_001,), dtype, form, "both")
    got = [
        fastloss.poisson_loss_and_grad(pred, target, n_threads=t, **kw)
        for t in (1, 2, 3)
    ]
    for loss, grad in got[1:]:
        assert_same_bits(loss, got[0][0])
        assert_same_bits(grad, got[0][1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_gradient_matches_finite_differences(simd_path, rng, form, reduction):
    target = rng.poisson(3.0, (4, 3)).astype(np.float64)
    if form["log_input"]:
        pred = rng.uniform(-2.0, 2.0, (4, 3))
    else:
        pred = rng.uniform(0.5, 5.0, (4, 3))  # away from the pole at -eps
    kw = dict(form, reduction=reduction, weight=rng.uniform(0.5, 2.0, (4, 3)))
    kw["sample_weight"] = rng.uniform(0.5, 2.0, 4)

    def total(x):
        return np.sum(fastloss.poisson_loss(x, target, **kw))

    _, grad = fastloss.poisson_loss_and_grad(pred, target, **kw)
    fd = numerical_gradient(total, pred, h=1e-3)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-10)
    assert np.max(np.abs(fd)) > 1e-3


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_matches_pytorch(rng, form, dtype, reduction):
    torch = pytest.importorskip("torch")
    pred, target, kw = make_case(rng, (64, 5), dtype, form)
    x = torch.tensor(pred, requires_grad=True)
    want = torch.nn.functional.poisson_nll_loss(
        x,
        torch.tensor(target),
        log_input=form["log_input"],
        eps=form.get("eps", 1e-8),
        reduction=reduction,
    )
    want.backward(torch.ones_like(want))
    loss, grad = fastloss.poisson_loss_and_grad(pred, target, reduction=reduction, **kw)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, want.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extremes(simd_path, dtype):
    big = np.finfo(dtype).max
    # log_input: exp overflows to inf (loss and gradient, as PyTorch); a target of 0
    # at a log-rate of -inf is a certain zero count: loss 0, gradient 0 (PyTorch: NaN)
    pred = np.array([-1e4, 1e4, -np.inf, 0.0, 50.0, -50.0], dtype=dtype)
    target = np.array([3.0, 1.0, 0.0, 0.0, 2.0, 0.0], dtype=dtype)
    loss, grad = fastloss.poisson_loss_and_grad(pred, target, reduction="none")
    want = reference("poisson", pred, target, reduction="none")
    assert_close(loss, want.loss, want.loss_scale, dtype, "loss")
    assert_close(grad, want.grad, want.grad_scale, dtype, "grad")
    assert loss[2] == 0 and grad[2] == 0
    assert np.isinf(loss[1]) and np.isinf(grad[1])
    # rates: 0 with a zero count is 0; 0 with a count pays -y log(eps)
    pred = np.array([0.0, 0.0, big, 1e-30], dtype=dtype)
    target = np.array([0.0, 4.0, 1.0, 1.0], dtype=dtype)
    loss, grad = fastloss.poisson_loss_and_grad(
        pred, target, log_input=False, reduction="none"
    )
    want = reference("poisson", pred, target, log_input=False, reduction="none")
    assert_close(loss, want.loss, want.loss_scale, dtype, "loss")
    assert_close(grad, want.grad, want.grad_scale, dtype, "grad")
    assert loss[0] == 0 and np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))


def test_empty_and_zero_normaliser():
    empty = np.zeros((0, 3), dtype=np.float32)
    for reduction in REDUCTIONS:
        loss, grad = fastloss.poisson_loss_and_grad(empty, empty, reduction=reduction)
        assert grad.shape == (0, 3) and grad.dtype == np.float32
    loss, grad = fastloss.poisson_loss_and_grad(
        np.ones((2, 2)), np.ones((2, 2)), sample_weight=np.zeros(2)
    )
    assert loss == 0.0 and np.all(grad == 0)


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"eps": -1e-8}, ValueError, "eps"),
        ({"eps": np.nan}, ValueError, "eps"),
        ({"eps": np.inf}, ValueError, "eps"),
        ({"eps": "0.1"}, TypeError, "eps"),
        ({"log_input": 1}, TypeError, "log_input"),
        ({"log_input": None}, TypeError, "log_input"),
        ({"reduction": "avg"}, ValueError, "reduction"),
        ({"weight": np.full(3, np.nan)}, ValueError, "weight"),
    ],
)
def test_bad_arguments(kw, error, match):
    pred, target = np.zeros((2, 3)), np.ones((2, 3))
    with pytest.raises(error, match=match):
        fastloss.poisson_loss_and_grad(pred, target, **kw)
    with pytest.raises(error, match=match):
        fastloss.poisson_loss(pred, target, **kw)


def test_target_shape_must_match():
    with pytest.raises(ValueError, match="target"):
        fastloss.poisson_loss(np.zeros((2, 3)), np.zeros((3, 2)))


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.float64, (6,), elements=st.floats(-30, 30)),
    y=hnp.arrays(np.float64, (6,), elements=st.integers(0, 50).map(float)),
    log_input=st.booleans(),
)
def test_property_matches_twin(x, y, log_input):
    if not log_input:
        x = np.abs(x)
    loss, grad = fastloss.poisson_loss_and_grad(
        x, y, log_input=log_input, reduction="sum"
    )
    want = reference("poisson", x, y, log_input=log_input, reduction="sum")
    assert_close(loss, want.loss, want.loss_scale, np.float64, "loss")
    assert_close(grad, want.grad, want.grad_scale, np.float64, "grad")
