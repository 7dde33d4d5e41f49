"""The regression losses (mse, l1, huber, smooth_l1, log_cosh) against their float64
twins (_reference_regression.py), finite differences and PyTorch, across the option,
dtype, layout and thread matrix, on extreme values, and with hypothesis."""

import doctest
import os

import numpy as np
import pytest
from _matrix import DTYPES, LAYOUTS, N_THREADS, REDUCTIONS, table_losses
from _reference import (
    assert_same_bits,
    assert_unchanged,
    non_contiguous,
    numerical_gradient,
    read_only,
    snapshot,
)
from _reference_regression import assert_close, reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss
import fastloss._regression

# id -> (loss, loss_and_grad, default test parameters), for every regression loss
# of the loss table (fastloss/_table.py)
LOSSES = table_losses(
    "_regression",
    {
        "mse_loss": ("mse", {}),
        "l1_loss": ("l1", {}),
        "huber_loss": ("huber", {"delta": 0.7}),
        "smooth_l1_loss": ("smooth_l1", {"beta": 0.6}),
        "log_cosh_loss": ("log_cosh", {}),
    },
    # not functions of pred - target alone, as every case here: test_poisson.py,
    # test_keras_ew.py
    elsewhere=("poisson_loss", "msle_loss", "mape_loss"),
)
NAMES = list(LOSSES)
# parameter variants beyond the defaults: (name, params)
VARIANTS = [
    ("huber", {"delta": 1e-3}),
    ("huber", {"delta": 1e3}),
    ("huber", {"delta": 1.0}),
    ("smooth_l1", {"beta": 0.0}),
    ("smooth_l1", {"beta": 1e3}),
    ("smooth_l1", {"beta": 1.0}),
]
ALL_CASES = [(name, LOSSES[name][2]) for name in NAMES] + VARIANTS
CASE_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" for n, p in ALL_CASES]
WEIGHTINGS = ["plain", "weight", "weight_row", "sample_weight", "both"]


def make_case(rng, shape, dtype, weighting="plain", decades=(-4.0, 4.0)):
    """``(pred, target, kwargs)``: residual magnitudes spread log-uniformly over
    `decades` (1e-4 .. 1e4), so both pieces of every loss are hit for every test
    parameter, and weights of the requested kind."""
    target = rng.standard_normal(shape).astype(dtype)
    r = rng.standard_normal(shape) * 10.0 ** rng.uniform(*decades, shape)
    pred = (target + r).astype(dtype)
    kw = {}
    if weighting in ("weight", "both"):
        kw["weight"] = rng.uniform(0.25, 2.0, shape)
    if weighting == "weight_row":  # broadcast along the leading axes
        kw["weight"] = rng.uniform(0.25, 2.0, shape[-1:])
    if weighting in ("sample_weight", "both"):
        sw = rng.uniform(0.0, 2.0, shape[:1])
        if sw.size > 2:
            sw[1] = 0.0  # a zero sample weight is legal
        kw["sample_weight"] = sw
    return pred, target, kw


def call(name, pred, target, kw):
    """Both entry points; the inputs stay untouched and the forward-only loss is
    the fused one, bit for bit."""
    loss_fn, grad_fn, _ = LOSSES[name]
    inputs = [target, kw.get("weight"), kw.get("sample_weight")]
    if kw.get("out") is not pred:
        inputs.append(pred)
    before = snapshot(*inputs)
    forward = loss_fn(pred, target, **{k: v for k, v in kw.items() if k != "out"})
    assert_unchanged(before)
    loss, grad = grad_fn(pred, target, **kw)
    assert_unchanged(before)
    assert_same_bits_but_nan(forward, loss)
    return loss, grad


def assert_same_bits_but_nan(a, b):
    """Bit-identical, except that a NaN may be any NaN (its sign and payload are
    not specified by IEEE arithmetic and vary between compiled loops)."""
    if isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b)
        return
    if isinstance(a, np.ndarray):
        nan = np.isnan(a)
        assert np.array_equal(nan, np.isnan(b))
        a, b = np.where(nan, 0, a), np.where(nan, 0, b)
    assert_same_bits(a, b)


def check(name, loss, grad, pred, target, kw):
    """(loss, grad) match the twin for these inputs, with the right types."""
    dtype = np.asarray(pred).dtype
    ref = reference(name, pred, target, **kw)
    assert isinstance(grad, np.ndarray)
    assert grad.dtype == dtype and grad.shape == np.shape(pred)
    if kw.get("reduction", "mean") == "none":
        assert isinstance(loss, np.ndarray)
        assert loss.dtype == dtype and loss.shape == np.shape(pred)
        loss_dtype = dtype
    else:
        assert isinstance(loss, float)
        # accumulated in float64: only the terms carry the compute dtype's rounding
        loss_dtype = np.float32 if dtype == np.float16 else dtype
    assert_close(loss, ref.loss, ref.loss_scale, loss_dtype, f"{name} loss")
    assert_close(grad, ref.grad, ref.grad_scale, dtype, f"{name} grad")
    return ref


# ---- the option matrix -------------------------------------------------------------


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,params", ALL_CASES, ids=CASE_IDS)
def test_matches_twin(simd_path, rng, name, params, dtype, reduction, weighting):
    pred, target, kw = make_case(rng, (33, 5), dtype, weighting)
    kw.update(params, reduction=reduction)
    loss, grad = call(name, pred, target, kw)
    ref = check(name, loss, grad, pred, target, kw)
    assert np.any(ref.grad != 0) and np.any(np.asarray(ref.loss) != 0)
    for kink in params.values():  # both pieces present
        r = np.abs(pred.astype(np.float64) - target)
        assert np.any(r < kink) or kink == 0
        assert np.any(r > kink)


def test_weighted_mean_is_the_sample_weighted_mean(rng):
    """The "mean" is sum(sw_i * w_ij * l_ij) / (sum(sw) * k), written by hand."""
    pred, target, kw = make_case(rng, (6, 4), np.float64, "both")
    loss_none = fastloss.huber_loss(pred, target, delta=0.5, reduction="none")
    expect = np.sum(kw["sample_weight"][:, None] * kw["weight"] * loss_none) / (
        np.sum(kw["sample_weight"]) * 4
    )
    got = fastloss.huber_loss(pred, target, delta=0.5, reduction="mean", **kw)
    assert got == pytest.approx(expect, rel=1e-13)


@pytest.mark.parametrize("n_threads", N_THREADS)
@pytest.mark.parametrize("layout,out_mode", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_layouts_out_and_threads(
    simd_path, rng, name, dtype, layout, out_mode, n_threads
):
    for reduction in REDUCTIONS:
        pred, target, kw = make_case(rng, (9, 4), dtype, "both")
        kw.update(LOSSES[name][2], reduction=reduction, n_threads=n_threads)
        if layout != "contiguous":
            change = non_contiguous if layout == "strided" else read_only
            pred, target = change(pred), change(target)
            kw["weight"] = change(kw["weight"])
            kw["sample_weight"] = change(kw["sample_weight"])
            if layout == "strided":
                assert not pred.flags.c_contiguous
        original = pred.copy()
        if out_mode == "out":
            kw["out"] = np.full(pred.shape, np.nan, dtype=dtype)
        elif out_mode == "inplace":
            kw["out"] = pred
        loss, grad = call(name, pred, target, kw)
        if out_mode is not None:
            assert grad is kw["out"]
        if out_mode == "inplace":
            assert grad is pred
        check(name, loss, grad, original, target, kw)


@pytest.mark.parametrize("name", NAMES)
def test_sample_weight_over_trailing_axes(rng, name):
    """sample_weight of shape input.shape[:2] on a 3-d input, with a row weight."""
    pred, target, _ = make_case(rng, (3, 4, 5), np.float64)
    kw = dict(LOSSES[name][2], sample_weight=rng.uniform(0, 2, (3, 4)))
    kw["weight"] = rng.uniform(0.5, 1.5, 5)
    for reduction in REDUCTIONS:
        kw["reduction"] = reduction
        loss, grad = call(name, pred, target, kw)
        check(name, loss, grad, pred, target, kw)


@pytest.mark.parametrize("name", NAMES)
def test_zero_normaliser_and_empty_input(name):
    pred = np.array([[1.0, -2.0], [3.0, 0.5]])
    target = np.zeros((2, 2))
    params = LOSSES[name][2]
    loss, grad = LOSSES[name][1](pred, target, sample_weight=np.zeros(2), **params)
    assert loss == 0.0 and np.all(grad == 0)
    empty = np.zeros((0, 3), dtype=np.float32)
    for reduction in REDUCTIONS:
        loss, grad = LOSSES[name][1](empty, empty, reduction=reduction, **params)
        assert grad.shape == (0, 3) and grad.dtype == np.float32
        if reduction == "none":
            assert loss.shape == (0, 3)
        else:
            assert loss == 0.0


@pytest.mark.parametrize("name", NAMES)
def test_array_likes_and_integers(name):
    params = LOSSES[name][2]
    pred, target = [[1, 5], [2, -3]], [[0, 1], [2, 2]]
    want = LOSSES[name][1](
        np.array(pred, dtype=float), np.array(target, dtype=float), **params
    )
    got = LOSSES[name][1](pred, target, **params)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


# ---- gradients: finite differences and kinks ---------------------------------------


def _away_from_kinks(rng, shape, kinks, margin=0.05):
    """Residuals in [-3, 3] at least `margin` from every kink (and from 0)."""
    r = rng.uniform(-3.0, 3.0, shape)
    for k in [0.0, *kinks]:
        for s in (k, -k):
            near = np.abs(r - s) < margin
            r[near] = s + margin * np.where(r[near] >= s, 1.0, -1.0)
    return r


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,params", ALL_CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(simd_path, rng, name, params, reduction):
    kinks = [p for p in params.values() if p < 1e2]
    scale = 1e-3 if params.get("delta") == 1e-3 else 1.0
    target = rng.standard_normal((4, 3))
    pred = target + scale * _away_from_kinks(rng, (4, 3), [k / scale for k in kinks])
    kw = dict(params, reduction=reduction, weight=rng.uniform(0.5, 2.0, 3))
    kw["sample_weight"] = rng.uniform(0.5, 2.0, 4)
    loss_fn, grad_fn, _ = LOSSES[name]

    def total(x):
        return np.sum(loss_fn(x, target, **kw))

    _, grad = grad_fn(pred, target, **kw)
    # h well inside the margin: each difference stays on one smooth piece
    fd = numerical_gradient(total, pred, h=min(1e-3, 1e-2 * scale))
    atol = 1e-9 * scale
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=atol)
    assert np.max(np.abs(fd)) > 1e3 * atol, "finite differences are trivially small"


def test_subgradients_at_the_kinks(simd_path):
    """l1 and smooth_l1 (beta=0) take 0 at r = 0; huber and smooth_l1 are
    continuous at |r| = delta / beta, with the outer gradient there (as PyTorch)."""
    t = np.zeros(5)
    r = np.array([0.0, 0.5, -0.5, 2.0, -2.0])
    _, g = fastloss.l1_loss_and_grad(r, t, reduction="sum")
    np.testing.assert_array_equal(g, [0, 1, -1, 1, -1])
    _, g = fastloss.smooth_l1_loss_and_grad(r, t, beta=0.0, reduction="sum")
    np.testing.assert_array_equal(g, [0, 1, -1, 1, -1])
    loss, g = fastloss.smooth_l1_loss_and_grad(r, t, beta=0.5, reduction="none")
    np.testing.assert_array_equal(g, [0, 1, -1, 1, -1])
    np.testing.assert_array_equal(loss, [0, 0.25, 0.25, 1.75, 1.75])
    loss, g = fastloss.huber_loss_and_grad(r, t, delta=0.5, reduction="none")
    np.testing.assert_array_equal(g, [0, 0.5, -0.5, 0.5, -0.5])
    np.testing.assert_array_equal(loss, [0, 0.125, 0.125, 0.875, 0.875])
    # -0.0 residual: +0 gradient, +0 loss
    loss, g = fastloss.l1_loss_and_grad([-0.0], [0.0], reduction="none")
    assert not np.signbit(g[0]) and not np.signbit(loss[0])


# ---- PyTorch -----------------------------------------------------------------------

TORCH_CASES = [
    ("mse", {}),
    ("l1", {}),
    ("huber", {}),
    ("huber", {"delta": 0.7}),
    ("huber", {"delta": 1e-3}),
    ("huber", {"delta": 50.0}),
    ("smooth_l1", {}),
    ("smooth_l1", {"beta": 0.6}),
    ("smooth_l1", {"beta": 0.0}),
    ("smooth_l1", {"beta": 50.0}),
]


def torch_loss(name, pred, target, reduction, params):
    """torch's loss and autograd gradient, in float64."""
    torch = pytest.importorskip("torch")
    fn = {
        "mse": torch.nn.functional.mse_loss,
        "l1": torch.nn.functional.l1_loss,
        "huber": torch.nn.functional.huber_loss,
        "smooth_l1": torch.nn.functional.smooth_l1_loss,
    }[name]
    x = torch.tensor(np.asarray(pred, dtype=np.float64), requires_grad=True)
    y = torch.tensor(np.asarray(target, dtype=np.float64))
    loss = fn(x, y, reduction=reduction, **params)
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name,params", TORCH_CASES, ids=[f"{n}-{p}" for n, p in TORCH_CASES]
)
def test_matches_torch(simd_path, rng, name, params, dtype, reduction):
    pytest.importorskip("torch")
    pred, target, _ = make_case(rng, (7, 6), dtype)
    # exact kinks too: r = 0 and r = +-delta / beta (dyadic, so exact in float32)
    pred[0, :3] = target[0, :3]
    k = np.float32(params.get("delta", params.get("beta", 1.0)))
    pred[1, :2] = target[1, :2] + np.array([k, -k], dtype=dtype)
    kw = dict(params, reduction=reduction)
    loss, grad = call(name, pred, target, kw)
    t_loss, t_grad = torch_loss(name, pred, target, reduction, params)
    # torch runs in float64 on the same (dtype) inputs; tolerance from the twin
    ref = reference(name, pred, target, **kw)
    loss_dtype = dtype
    assert_close(loss, t_loss, ref.loss_scale, loss_dtype, "loss vs torch")
    assert_close(grad, t_grad, ref.grad_scale, dtype, "grad vs torch")


# ---- extremes ----------------------------------------------------------------------

F32_BIG = float(np.float32(3e38))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,params", ALL_CASES, ids=CASE_IDS)
def test_huge_residuals(simd_path, name, params, dtype):
    """+-1e30 (and 3e38 in float32, 1e300 in float64): every value the dtype can
    hold comes out finite and right (no overflow inside the robust losses); one it
    cannot hold is inf; "sum" and "mean" accumulate the terms in float64."""
    big = F32_BIG if dtype == np.float32 else 1e300
    pred = np.array([1e30, -1e30, 1e4, -1e4, big, -big, 0.25], dtype=dtype)
    target = np.zeros_like(pred)
    terms = reference(name, pred, target, reduction="none", **params).loss
    with np.errstate(over="ignore"):
        overflows = ~np.isfinite(terms.astype(dtype))
    for reduction in REDUCTIONS:
        kw = dict(params, reduction=reduction)
        loss, grad = call(name, pred, target, kw)
        ref = reference(name, pred, target, **kw)
        with np.errstate(over="ignore"):
            want_grad = ref.grad.astype(dtype)  # inf where the dtype overflows
            if reduction == "none":
                want = ref.loss.astype(dtype)
            else:
                want = np.inf if overflows.any() else ref.loss
        if name == "mse" and dtype == np.float32:
            # 2 r overflows before "mean" scales it down: inf, not 2 r / 7
            np.testing.assert_array_equal(grad[4:6], [np.inf, -np.inf])
            want_grad[4:6] = grad[4:6]
        assert_close(loss, want, ref.loss_scale, dtype, "loss")
        assert_close(grad, want_grad, ref.grad_scale, dtype, "grad")
    if name != "mse":  # robust losses: overflow only where the value is out of range
        assert np.all(np.isfinite(grad))
        assert not overflows[:4].any() and np.isfinite(loss) == (not overflows.any())
    if name == "log_cosh":
        np.testing.assert_array_equal(grad[:6], [1, -1, 1, -1, 1, -1])
        none = fastloss.log_cosh_loss(pred, target, reduction="none")
        assert none[0] == dtype(1e30) and none[4] == dtype(big)
        assert none[2] == pytest.approx(1e4 - np.log(2), rel=1e-7)
        total = fastloss.log_cosh_loss(pred[:6], target[:6], reduction="sum")
        want = 2 * float(dtype(1e30)) + 2 * float(dtype(big)) + 2e4 - 6 * np.log(2)
        assert total == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,params", ALL_CASES, ids=CASE_IDS)
def test_nan_and_inf_stay_in_their_element(simd_path, name, params, dtype):
    pred = np.array([0.5, np.nan, 2.0, np.inf, -np.inf, np.inf, 1.0, -3.0], dtype)
    target = np.array([0.0, 0.0, np.nan, 0.0, 0.0, np.inf, 0.0, 0.0], dtype)
    nan_at = [1, 2, 5]
    for reduction in ("none", "sum"):
        kw = dict(params, reduction=reduction)
        loss, grad = call(name, pred, target, kw)
        check(name, loss, grad, pred, target, kw)
        assert np.array_equal(np.flatnonzero(np.isnan(grad)), nan_at)
        if reduction == "none":
            assert np.array_equal(np.flatnonzero(np.isnan(loss)), nan_at)
            assert np.all(loss[[3, 4]] == np.inf)
        else:
            assert np.isnan(loss)
    # a weight of 0 removes an element outright, NaN or not
    w = np.ones(8)
    w[nan_at] = 0.0
    loss, grad = call(name, pred, target, dict(params, weight=w, reduction="sum"))
    assert loss == np.inf and np.all(grad[nan_at] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_cosh_keeps_relative_precision_for_small_residuals(simd_path, dtype):
    """log cosh r ~ r^2 / 2 and tanh r ~ r must not lose digits to cancellation.
    Reference: log1p(2 sinh(r/2)^2) and tanh in float64, accurate to a few ulp."""
    tiny = 1e-150 if dtype == np.float64 else 1e-18
    r = np.concatenate([np.geomspace(tiny, 3.0, 3000), np.linspace(0.4, 0.6, 1001)])
    r = np.concatenate([r, -r]).astype(dtype)
    loss, grad = fastloss.log_cosh_loss_and_grad(r, np.zeros_like(r), reduction="none")
    r64 = r.astype(np.float64)
    want_l = np.log1p(2.0 * np.sinh(r64 / 2) ** 2)
    eps = np.finfo(dtype).eps
    # the residual is exact; a few roundings of the compute dtype remain
    np.testing.assert_allclose(loss, want_l, rtol=8 * eps, atol=0)
    np.testing.assert_allclose(grad, np.tanh(r64), rtol=4 * eps, atol=0)


def test_smooth_l1_and_huber_do_not_overflow_for_large_parameters(simd_path):
    """r (r / beta) / 2, not r^2 / (2 beta): finite in float32 for beta = 1e30."""
    r = np.array([1e20, -3e25], dtype=np.float32)
    loss, grad = fastloss.smooth_l1_loss_and_grad(
        r, np.zeros_like(r), beta=1e30, reduction="none"
    )
    np.testing.assert_allclose(loss, [5e9, 4.5e20], rtol=1e-6)
    np.testing.assert_allclose(grad, [1e-10, -3e-5], rtol=1e-6)
    # huber's linear piece beyond delta stays finite where r^2 / 2 is not
    loss = fastloss.huber_loss(np.float32([1e30]), np.float32([0]), reduction="none")
    np.testing.assert_allclose(loss, [1e30], rtol=1e-6)


# ---- threads, float16 --------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_bit_identical_for_any_thread_count(name, dtype, restore_threads):
    rng = np.random.default_rng(7)
    n = 3_000_000 + 17  # not a multiple of the block
    pred = rng.standard_normal(n).astype(dtype)
    target = rng.standard_normal(n).astype(dtype)
    params = LOSSES[name][2]
    sw = rng.uniform(0, 2, n)
    a = LOSSES[name][1](pred, target, n_threads=1, sample_weight=sw, **params)
    b = LOSSES[name][1](pred, target, n_threads=2, sample_weight=sw, **params)
    assert_same_bits(a[0], b[0])
    assert_same_bits(a[1], b[1])
    c = LOSSES[name][1](pred, target, n_threads=2, sample_weight=sw, **params)
    assert_same_bits(b[0], c[0])
    assert_same_bits(b[1], c[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_threaded_run_matches_twin(simd_path, rng, name, dtype):
    """Large enough for the kernel to really use two threads (small inputs stay
    serial), with every kind of weight."""
    pred, target, kw = make_case(rng, (25_001, 4), dtype, "both")
    kw.update(LOSSES[name][2], n_threads=2)
    for reduction in REDUCTIONS:
        kw["reduction"] = reduction
        loss, grad = LOSSES[name][1](pred, target, **kw)
        check(name, loss, grad, pred, target, kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", NAMES)
def test_float16_is_computed_in_float32(simd_path, rng, name, reduction):
    # residuals below 100: their squares fit in float16
    pred, target, kw = make_case(rng, (6, 5), np.float16, "both", (-2.0, 1.0))
    kw.update(LOSSES[name][2], reduction=reduction)
    loss, grad = call(name, pred, target, kw)
    check(name, loss, grad, pred, target, kw)
    loss32, grad32 = LOSSES[name][1](
        pred.astype(np.float32), target.astype(np.float32), **kw
    )
    np.testing.assert_array_equal(grad, grad32.astype(np.float16))
    if reduction == "none":
        np.testing.assert_array_equal(loss, loss32.astype(np.float16))
    else:
        assert_same_bits(loss, loss32)
    out = np.full(pred.shape, np.nan, dtype=np.float16)
    _, got = LOSSES[name][1](pred, target, out=out, **kw)
    assert got is out
    np.testing.assert_array_equal(out, grad)


# ---- errors ------------------------------------------------------------------------

BAD_PARAMS = [
    ("huber", {"delta": 0.0}, ValueError, "delta"),
    ("huber", {"delta": -1.0}, ValueError, "delta"),
    ("huber", {"delta": float("nan")}, ValueError, "delta"),
    ("huber", {"delta": float("inf")}, ValueError, "delta"),
    ("huber", {"delta": "x"}, TypeError, "delta"),
    ("huber", {"delta": True}, TypeError, "delta"),
    ("huber", {"delta": None}, TypeError, "delta"),
    ("smooth_l1", {"beta": -1e-9}, ValueError, "beta"),
    ("smooth_l1", {"beta": float("nan")}, ValueError, "beta"),
    ("smooth_l1", {"beta": float("inf")}, ValueError, "beta"),
    ("smooth_l1", {"beta": [1.0]}, TypeError, "beta"),
]
BAD_ARGS = [
    ({"target": np.zeros((4, 2))}, ValueError, "target"),
    ({"target": np.zeros(4)}, ValueError, "target"),
    ({"target": None}, TypeError, "target"),
    ({"target": np.full((4, 3), "a")}, TypeError, "target"),
    ({"pred": np.zeros((4, 3), dtype=complex)}, TypeError, "pred"),
    ({"weight": np.ones(2)}, ValueError, "weight"),
    ({"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
    ({"sample_weight": np.array([1.0, np.nan, 1.0, 1.0])}, ValueError, "sample_weight"),
    ({"reduction": "avg"}, ValueError, "reduction"),
    ({"reduction": None}, ValueError, "reduction"),
    ({"out": np.zeros((3, 4))}, ValueError, "out"),
    ({"out": np.zeros((4, 3), dtype=np.float32)}, ValueError, "out"),
    ({"out": np.zeros((4, 6))[:, ::2]}, ValueError, "out"),
    ({"out": read_only(np.zeros((4, 3)))}, ValueError, "out"),
    ({"out": [[0.0] * 3] * 4}, TypeError, "out"),
    ({"out": "target"}, ValueError, "out"),  # out= the target: overlap
]


def _error_call(name, params, change, exc, word):
    rng = np.random.default_rng(0)
    args = {"pred": rng.standard_normal((4, 3)), "target": rng.standard_normal((4, 3))}
    kw = {"out": np.full((4, 3), 7.0), "weight": np.ones((4, 3))}
    kw.update(LOSSES[name][2], **params)
    args.update({k: v for k, v in change.items() if k in args})
    kw.update({k: v for k, v in change.items() if k not in args})
    if isinstance(kw["out"], str):
        kw["out"] = args[kw["out"]]
    before = snapshot(
        *[v for v in [*args.values(), *kw.values()] if hasattr(v, "dtype")]
    )
    with pytest.raises(exc, match=word):
        LOSSES[name][1](args["pred"], args["target"], **kw)
    assert_unchanged(before)
    if "out" not in change:
        kw.pop("out")
        with pytest.raises(exc, match=word):
            LOSSES[name][0](args["pred"], args["target"], **kw)
        assert_unchanged(before)


@pytest.mark.parametrize(
    "name,params,exc,word", BAD_PARAMS, ids=[f"{b[0]}-{b[1]}" for b in BAD_PARAMS]
)
def test_bad_parameters_raise_and_write_nothing(name, params, exc, word):
    _error_call(name, params, {}, exc, word)


@pytest.mark.parametrize("change,exc,word", BAD_ARGS, ids=[str(b[0]) for b in BAD_ARGS])
@pytest.mark.parametrize("name", NAMES)
def test_bad_arguments_raise_and_write_nothing(name, change, exc, word):
    _error_call(name, {}, change, exc, word)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        fastloss.huber_loss([1.0], [0.0], 2.0)
    with pytest.raises(TypeError):
        fastloss.smooth_l1_loss_and_grad([1.0], [0.0], 0.5)


# ---- properties, docs --------------------------------------------------------------

SETTINGS = settings(
    deadline=None,
    max_examples=int(os.environ.get("FASTLOSS_HYPOTHESIS_EXAMPLES", "40")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
VALUE = st.floats(-1e3, 1e3, allow_nan=False, width=32)
# weights are cast to the compute dtype: keep them clear of float32 underflow
WEIGHT = st.one_of(st.just(0.0), st.floats(1e-3, 4.0))


@st.composite
def problems(draw):
    name = draw(st.sampled_from(NAMES))
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.sampled_from([(1,), (5,), (3, 4), (2, 2, 3)]))
    pred = draw(hnp.arrays(dtype, shape, elements=VALUE))
    target = draw(hnp.arrays(dtype, shape, elements=VALUE))
    kw = {"reduction": draw(st.sampled_from(REDUCTIONS))}
    kw["n_threads"] = draw(st.sampled_from([1, 2]))
    if name == "huber":
        kw["delta"] = draw(st.floats(1e-3, 1e3))
    if name == "smooth_l1":
        kw["beta"] = draw(st.one_of(st.just(0.0), st.floats(0.0, 1e3)))
    if draw(st.booleans()):
        kw["weight"] = draw(hnp.arrays(np.float64, shape, elements=WEIGHT))
    if draw(st.booleans()):
        kw["sample_weight"] = draw(hnp.arrays(np.float64, shape[:1], elements=WEIGHT))
    return name, pred, target, kw


@SETTINGS
@given(problem=problems())
def test_property_finite_nonnegative_and_matches_twin(problem):
    name, pred, target, kw = problem
    loss, grad = call(name, pred, target, kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert np.all(np.asarray(loss) >= 0)
    check(name, loss, grad, pred, target, kw)


def test_docstring_examples():
    result = doctest.testmod(
        fastloss._regression, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted >= 25
    assert result.failed == 0


def test_public_api():
    for name in NAMES:
        for suffix in ("_loss", "_loss_and_grad"):
            fn = getattr(fastloss, name + suffix)
            assert name + suffix in fastloss.__all__
            assert "Examples" in fn.__doc__ and "Parameters" in fn.__doc__
