"""The categorical hinge and categorical generalized cross-entropy losses
(fastloss/_categorical.py) and their Keras-named classes: against the float64 twins
of ``_reference_categorical``, finite differences, Keras 3 itself (JAX backend, its
values and jax.grad gradients) and PyTorch's multi_margin_loss where the two meet,
on extreme values, across threads and SIMD paths, and on bad input."""

import doctest

import _twin_checks
import numpy as np
import pytest
from _keras_jax import keras_jax
from _matrix import DTYPES, LAYOUTS, N_THREADS, REDUCTIONS, table_losses
from _reference import (
    assert_same_bits,
    numerical_gradient,
    read_only,
)
from _reference_categorical import (
    categorical_generalized_cross_entropy_loss_ref,
    categorical_hinge_loss_ref,
)

import fastloss
import fastloss._categorical
from fastloss import losses as fl

HINGE = fastloss.categorical_hinge_loss_and_grad
GCE = fastloss.categorical_generalized_cross_entropy_loss_and_grad

# ---- cases ---------------------------------------------------------------------


def _onehot(rng, lead, c):
    y = rng.integers(0, c, lead)
    return y, (np.arange(c) == y[..., None]).astype(np.float64)


def hinge_case(rng, shape, dtype, *, sw=False, **options):
    """Scores against one-hot rows, and against class weights in [0, 1] in every
    third row (Keras uses y_true as given)."""
    pred = 2.0 * rng.standard_normal(shape)
    _, target = _onehot(rng, shape[:-1], shape[-1])
    soft = rng.random(shape)
    rows = (np.arange(np.prod(shape[:-1], dtype=int)) % 3 == 2).reshape(shape[:-1])
    target = np.where(rows[..., None], soft, target)
    return (pred.astype(dtype), target.astype(dtype)), _kw(rng, shape, sw, options)


def gce_case(rng, shape, dtype, *, sw=False, **options):
    """Softmax probabilities against class indices (one ignored)."""
    z = rng.standard_normal(shape)
    probs = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    y = rng.integers(0, shape[-1], shape[:-1])
    if y.size > 2:
        y.reshape(-1)[1] = options.get("ignore_index", -100)
    return (probs.astype(dtype), y), _kw(rng, shape, sw, options)


def _kw(rng, shape, sw, options):
    kw = dict(options)
    if sw:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, shape[:-1])
    return kw


# id -> (loss, loss_and_grad, twin, case builder, option sets), from the table
LOSSES = table_losses(
    "_categorical",
    {
        "categorical_hinge_loss": (
            "hinge",
            categorical_hinge_loss_ref,
            hinge_case,
            [{}],
        ),
        "categorical_generalized_cross_entropy_loss": (
            "gce",
            categorical_generalized_cross_entropy_loss_ref,
            gce_case,
            [{}, {"q": 0.1}, {"q": 1.0}, {"q": 0.9, "ignore_index": 0}],
        ),
    },
)
IDS = list(LOSSES)


def check_twin(name, loss, grad, args, kw):
    _twin_checks.check_twin(LOSSES, name, loss, grad, args, kw)


def run_both(name, args, kw):
    return _twin_checks.run_both(LOSSES, name, args, kw)


# ---- the twins: dtype x reduction x options x weights x SIMD path ----------------


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 40), (7,), (3, 1)], ids=str)
@pytest.mark.parametrize("sw", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", IDS)
def test_matches_twin(name, dtype, reduction, sw, shape, simd_path):
    _twin_checks.check_matches_twin(LOSSES, name, dtype, reduction, sw, shape)


@pytest.mark.parametrize("layout,mode", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", IDS)
def test_layouts_and_out(name, dtype, layout, mode):
    _twin_checks.check_layouts_and_out(LOSSES, name, dtype, layout, mode)


@pytest.mark.parametrize("name", IDS)
def test_float16_and_integer_inputs(name):
    rng = np.random.default_rng(7)
    (pred, target), kw = LOSSES[name][3](rng, (4, 8), np.float64)
    loss, grad = LOSSES[name][1](pred.astype(np.float16), target, reduction="none")
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    t32 = target.astype(np.float32) if target.dtype.kind == "f" else target
    want = LOSSES[name][1](
        pred.astype(np.float16).astype(np.float32), t32, reduction="none"
    )
    np.testing.assert_array_equal(loss, want[0].astype(np.float16))
    np.testing.assert_array_equal(grad, want[1].astype(np.float16))
    ints = (rng.integers(0, 2, (4, 8)), target)  # integer scores / probabilities
    loss, grad = LOSSES[name][1](*ints, reduction="sum")
    assert grad.dtype == np.float64
    check_twin(name, loss, grad, ints, {"reduction": "sum"})


# ---- finite differences ---------------------------------------------------------


def _away_from_kinks(rng, n, c):
    """Hinge rows whose scores (and Keras's 0 in the target's slot) are 0.1 apart
    and whose margin is at least 0.1 from 0: no tie and no kink within reach of
    the differences' steps."""
    pred = np.empty((n, c))
    target = np.zeros((n, c))
    for i in range(n):
        while True:
            p = rng.uniform(-2.0, 2.0, c)
            y = rng.integers(0, c)
            z = np.where(np.arange(c) == y, 0.0, p)
            gaps = np.diff(np.sort(z))
            m = z.max() - p[y] + 1.0
            if gaps.min() > 0.1 and abs(m) > 0.1:
                pred[i], target[i, y] = p, 1.0
                break
    return pred, target


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hinge_finite_differences(reduction):
    rng = np.random.default_rng(11)
    pred, target = _away_from_kinks(rng, 6, 5)
    kw = {"reduction": reduction, "sample_weight": rng.uniform(0.5, 2.0, 6)}
    loss, grad = HINGE(pred, target, **kw)
    assert loss > 0 and (grad != 0).any()
    num = numerical_gradient(
        lambda x: fastloss.categorical_hinge_loss(x, target, **kw), pred, h=1e-3
    )
    np.testing.assert_allclose(grad, num, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("q", [0.5, 0.05, 0.999, 1.0])
def test_gce_finite_differences(q, reduction):
    rng = np.random.default_rng(12)
    probs = rng.uniform(0.05, 1.0, (5, 4))
    y = rng.integers(0, 4, 5)
    kw = {"q": q, "reduction": reduction, "sample_weight": rng.uniform(0.5, 2.0, 5)}
    _, grad = GCE(probs, y, **kw)
    num = numerical_gradient(
        lambda x: fastloss.categorical_generalized_cross_entropy_loss(x, y, **kw),
        probs,
        h=1e-4,
    )
    np.testing.assert_allclose(grad, num, rtol=1e-8, atol=1e-9)


# ---- threads and SIMD paths --------------------------------------------------------


@pytest.mark.parametrize("shape", [(4000, 16), (3, 20000), (1, 70000)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", IDS)
def test_bit_identical_across_threads(name, dtype, shape, simd_path):
    rng = np.random.default_rng(13)
    (pred, target), kw = LOSSES[name][3](rng, shape, dtype, sw=True)
    for reduction in REDUCTIONS:
        results = {}
        for nt in (*N_THREADS, 3):
            results[nt] = LOSSES[name][1](
                pred, target, reduction=reduction, n_threads=nt, **kw
            )
            forward = LOSSES[name][0](
                pred, target, reduction=reduction, n_threads=nt, **kw
            )
            assert_same_bits(forward, results[nt][0])
        for nt in results:
            assert_same_bits(results[nt][0], results[1][0])
            assert_same_bits(results[nt][1], results[1][1])
        check_twin(name, *results[1], (pred, target), dict(kw, reduction=reduction))


# ---- categorical hinge: ties, the kink, Keras's zero slot, extremes ------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_hinge_ties_kink_and_target_slot(dtype, simd_path):
    """Exact subgradients: a tie of the largest other score shares it (1/2, 1/3);
    exactly at the kink the factor is 1/2; when every other score is negative the
    target's own slot (0) is the max, so only -t remains."""
    target = np.array([[0, 1, 0, 0]] * 5, dtype)
    pred = np.array(
        [
            [0.5, 0.25, 0.5, 0.0],  # tie of two: m = 1.25
            [0.75, 0.5, 0.75, 0.75],  # tie of three: m = 1.25
            [0.5, 1.5, 0.25, 0.0],  # kink: m = 0
            [-1.0, -2.0, -3.0, -4.0],  # max is the target's slot: m = 3
            [0.5, 3.0, 0.0, 0.0],  # inactive: m = -1.5
        ],
        dtype,
    )
    loss, grad = HINGE(pred, target, reduction="none")
    np.testing.assert_array_equal(loss, np.array([1.25, 1.25, 0.0, 3.0, 0.0], dtype))
    third = np.float64(1.0) / 3.0
    want = np.array(
        [
            [0.5, -1.0, 0.5, 0.0],
            [third, -1.0, third, third],
            [0.5, -0.5, 0.0, 0.0],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_array_equal(grad, want.astype(dtype))
    check_twin("hinge", loss, grad, (pred, target), {"reduction": "none"})


@pytest.mark.parametrize("dtype", DTYPES)
def test_hinge_huge_scores(dtype):
    """Scores near the dtype's range: the row sums are float64, so the margins are
    exact where they fit the dtype."""
    big = 1e37 if dtype == np.float32 else 1e300
    target = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype)
    pred = np.array([[big, -big, 0.0], [big, -big, 1.0], [-big, -big, 1.0]], dtype)
    loss, grad = HINGE(pred, target, reduction="none")
    want = np.array([2 * big, 0.0, 1.0], dtype=np.float64)  # pos - neg = 1 + 0
    want[2] = 0.0  # neg = max(0, 0, 0) from the zero slots, pos = 1: m = 0 -> 0
    np.testing.assert_allclose(loss, want, rtol=1e-6)
    np.testing.assert_array_equal(grad[0], np.array([1.0, -1.0, 0.0], dtype))
    check_twin("hinge", loss, grad, (pred, target), {"reduction": "none"})
    total = fastloss.categorical_hinge_loss(pred, target, reduction="sum")
    assert total == float(np.float64(dtype(2 * big)))


def test_hinge_non_finite_rows_are_nan():
    """NaN anywhere, and 0 * inf (an infinite score off the target, or on it in
    (1 - t) * p), make the row NaN, loss and gradient, as in Keras; other rows are
    untouched."""
    pred = np.array(
        [
            [np.nan, 1.0, 0.0],
            [np.inf, 1.0, 0.0],
            [0.0, np.inf, 0.0],
            [-np.inf, 1.0, 0.0],
            [0.5, 1.0, 0.0],
        ]
    )
    target = np.array([[0.0, 1.0, 0.0]] * 5)
    loss, grad = HINGE(pred, target, reduction="none")
    assert np.isnan(loss[:4]).all() and np.isnan(grad[:4]).all()
    assert loss[4] == 0.5 and np.isfinite(grad[4]).all()
    assert np.isnan(fastloss.categorical_hinge_loss(pred, target, reduction="sum"))
    check_twin("hinge", loss, grad, (pred, target), {"reduction": "none"})
    t_nan = target.copy()
    t_nan[4, 2] = np.nan
    assert np.isnan(fastloss.categorical_hinge_loss(pred[4:], t_nan[4:]))


# ---- GCE: the range of p and q -----------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_gce_probability_edges(dtype, simd_path):
    """p = 0 (no clip, as Keras): loss 1/q and gradient -inf; p = 1: loss 0,
    gradient -1; p > 1: a negative loss; p < 0: NaN; q = 1: 1 - p and -1 for any
    p, negative ones included."""
    probs = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 1.5], [-0.5, 1.0]], dtype)
    y = np.array([0, 0, 1, 0])
    loss, grad = GCE(probs, y, q=0.5, reduction="none")
    with np.errstate(invalid="ignore"):
        want_loss = np.array([2.0, 0.0, 2.0 * (1 - np.sqrt(1.5)), np.nan])
    np.testing.assert_allclose(loss, want_loss.astype(dtype), rtol=1e-6)
    want_grad = np.array(
        [[-np.inf, 0.0], [-1.0, 0.0], [0.0, -1.0 / np.sqrt(1.5)], [np.nan, 0.0]]
    )
    np.testing.assert_allclose(grad, want_grad.astype(dtype), rtol=1e-6)
    loss, grad = GCE(probs, y, q=1.0, reduction="none")
    np.testing.assert_array_equal(loss, np.array([1.0, 0.0, -0.5, 1.5], dtype))
    np.testing.assert_array_equal(grad, np.array([[-1, 0], [-1, 0], [0, -1], [-1, 0]]))
    # a row of weight 0 has gradient 0 even at p = 0
    _, grad = GCE(probs[:1], y[:1], sample_weight=np.zeros(1), reduction="sum")
    np.testing.assert_array_equal(grad, np.zeros((1, 2), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gce_tiny_probabilities(dtype):
    """Subnormal p: the log is taken in float64, so the loss is 1/q to rounding and
    the gradient -p**(q - 1), or -inf where that overflows the dtype."""
    tiny = np.finfo(dtype).smallest_subnormal
    probs = np.array([[tiny, 1.0], [np.finfo(dtype).tiny, 1.0]], dtype)
    y = np.array([0, 0])
    for q in (0.5, 0.1):
        loss, grad = GCE(probs, y, q=q, reduction="none")
        p = probs[:, 0].astype(np.float64)
        want = (1.0 - p**q) / q
        np.testing.assert_allclose(loss, want.astype(dtype), rtol=1e-6)
        with np.errstate(over="ignore"):
            want_g = (-(p ** (q - 1.0))).astype(dtype)
        np.testing.assert_allclose(grad[:, 0], want_g, rtol=1e-6)
        assert (grad[:, 1] == 0).all()


@pytest.mark.parametrize("q", [1e-8, 1e-12, 1e-30])
def test_gce_small_q_is_cross_entropy(q):
    """q -> 0: (1 - p**q) / q = -log p - q log(p)**2 / 2 - q**2 log(p)**3 / 6 +
    O(q**3): the kernel's expm1 form keeps every digit where (1 - p**q) / q would
    cancel."""
    p = np.array([0.9, 0.5, 1e-3, 1e-200, 1.0 - 1e-12])
    probs = np.stack([p, 1.0 - p], axis=1)
    loss, grad = GCE(probs, np.zeros(5, int), q=q, reduction="none")
    lp = np.log(p)
    series = -lp - q * lp**2 / 2 - q**2 * lp**3 / 6
    np.testing.assert_allclose(loss, series, rtol=1e-13)
    np.testing.assert_allclose(grad[:, 0], -np.exp((q - 1.0) * lp), rtol=1e-13)
    f32 = probs[:3].astype(np.float32)
    loss32 = fastloss.categorical_generalized_cross_entropy_loss(
        f32, np.zeros(3, int), q=1e-7, reduction="none"
    )
    lp32 = np.log(f32[:, 0].astype(np.float64))
    np.testing.assert_allclose(loss32, -lp32, rtol=2e-6)


def test_gce_q_near_one():
    rng = np.random.default_rng(17)
    probs = rng.uniform(0.0, 1.0, (5, 3))
    y = rng.integers(0, 3, 5)
    for q in (1.0 - 1e-7, 1.0 - 1e-15):
        loss, grad = GCE(probs, y, q=q, reduction="none")
        check_twin("gce", loss, grad, (probs, y), {"q": q, "reduction": "none"})
        p = probs[np.arange(5), y]
        np.testing.assert_allclose(loss, 1.0 - p, rtol=1e-6)


def test_gce_non_finite_rows():
    """As Keras's sum(probs * one_hot): NaN or inf anywhere in the row gives NaN
    (0 * inf), its gradient NaN at the target entry and 0 elsewhere; inf at the
    target itself is a loss of -inf."""
    probs = np.array(
        [[np.nan, 0.5, 0.5], [np.inf, 0.5, 0.5], [0.2, 0.3, 0.5], [0.2, np.inf, 0.5]]
    )
    y = np.array([1, 1, 1, 1])
    loss, grad = GCE(probs, y, reduction="none")
    assert np.isnan(loss[:2]).all() and loss[2] > 0 and loss[3] == -np.inf
    assert np.isnan(grad[:2, 1]).all() and (grad[:2, [0, 2]] == 0).all()
    assert grad[3, 1] == 0 and np.isfinite(grad[2]).all()
    check_twin("gce", loss, grad, (probs, y), {"reduction": "none"})


def test_gce_ignore_index():
    probs = np.array([[0.25, 0.75], [0.5, 0.5], [0.64, 0.36]])
    y = np.array([0, -1, 0])
    loss, grad = GCE(probs, y, ignore_index=-1, reduction="mean")
    assert loss == pytest.approx((1.0 + 0.4) / 2, rel=1e-14)
    np.testing.assert_allclose(grad, [[-1.0, 0.0], [0.0, 0.0], [-0.625, 0.0]])
    loss, grad = GCE(probs, np.full(3, -1), ignore_index=-1)
    assert loss == 0.0 and not grad.any()
    with pytest.raises(ValueError, match=r"target\[1\] .* = -1 is out of range"):
        GCE(probs, y)  # -1 without ignore_index=-1


# ---- empty, zero normaliser ---------------------------------------------------------


def test_mean_with_zero_weights_is_zero():
    rng = np.random.default_rng(19)
    for name in IDS:
        (pred, target), _ = LOSSES[name][3](rng, (3, 4), np.float64)
        loss, grad = LOSSES[name][1](pred, target, sample_weight=np.zeros(3))
        assert loss == 0.0 and not grad.any()


def test_empty_batch():
    loss, grad = HINGE(np.zeros((0, 3)), np.zeros((0, 3)))
    assert loss == 0.0 and grad.shape == (0, 3)
    loss, grad = GCE(np.zeros((0, 3)), np.zeros(0, int))
    assert loss == 0.0 and grad.shape == (0, 3)


# ---- bad input ---------------------------------------------------------------------


def _raises_both(name, args, kw, exc, match):
    fwd, fused = LOSSES[name][:2]
    with pytest.raises(exc, match=match):
        fwd(*args, **kw)
    with pytest.raises(exc, match=match):
        fused(*args, **kw)


def test_hinge_bad_input():
    x = np.ones((3, 4))
    for args, kw, exc, match in [
        ((x, np.ones((3, 5))), {}, ValueError, "target must have pred's shape"),
        ((np.float64(1.0), 1.0), {}, ValueError, "pred must have at least 1"),
        ((np.ones((3, 0)), np.ones((3, 0))), {}, ValueError, "at least one class"),
        ((x, x), {"reduction": "avg"}, ValueError, "reduction"),
        ((x, x), {"sample_weight": np.ones(4)}, ValueError, "sample_weight"),
        ((x, x), {"sample_weight": [1.0, np.nan, 1.0]}, ValueError, "sample_weight"),
        (("a", x), {}, TypeError, "pred"),
        ((x, "a"), {}, TypeError, "target"),
        ((x, x), {"q": 0.5}, TypeError, "q"),
    ]:
        _raises_both("hinge", args, kw, exc, match)
    _check_bad_out(HINGE, x, x.copy(), "target")


def test_gce_bad_input():
    x = np.full((3, 4), 0.25)
    y = np.array([0, 1, 3])
    for args, kw, exc, match in [
        ((x, np.array([0, 1])), {}, ValueError, r"shape \(3,\)"),
        ((x, y.astype(float)), {}, TypeError, "integer array of class indices"),
        ((x, np.array([0, 4, 1])), {}, ValueError, r"target\[1\] .* = 4 is out"),
        ((x, np.array([0, 1, -2])), {}, ValueError, r"target\[2\] .* = -2 is out"),
        ((np.float64(1.0), y), {}, ValueError, "probs must have at least 1"),
        ((np.ones((3, 0)), y), {}, ValueError, "at least one class"),
        ((x, y), {"q": 0.0}, ValueError, r"q must be in \(0, 1\]"),
        ((x, y), {"q": -0.5}, ValueError, "q must be a finite number in"),
        ((x, y), {"q": 1.5}, ValueError, "q must be a finite number in"),
        ((x, y), {"q": np.nan}, ValueError, "q must be a finite number"),
        ((x, y), {"q": "0.5"}, TypeError, "q must be a real number"),
        ((x, y), {"q": True}, TypeError, "q must be a real number"),
        ((x, y), {"q": 1e-320}, ValueError, "not representable"),
        ((x, y), {"ignore_index": 0.5}, TypeError, "ignore_index"),
        ((x, y), {"reduction": None}, ValueError, "reduction"),
        ((x, y), {"sample_weight": np.ones(4)}, ValueError, "sample_weight"),
        ((y, x), {}, TypeError, "Keras's argument order"),
        (("a", y), {}, TypeError, "probs"),
    ]:
        _raises_both("gce", args, kw, exc, match)
    # float32 computation: q must be a normal float32
    with pytest.raises(ValueError, match="not representable in float32"):
        GCE(x.astype(np.float32), y, q=1e-39)
    _check_bad_out(GCE, x, y, "probs")


def _check_bad_out(fused, x, second, name):
    for out, exc, match in [
        (np.ones((3, 5)), ValueError, "out must have shape"),
        (np.ones((3, 4), np.float32), ValueError, "out must have dtype"),
        ([[0.0] * 4] * 3, TypeError, "out must be a numpy.ndarray"),
        (read_only(x), ValueError, "read-only"),
        (np.ones((4, 3)).T, ValueError, "C-contiguous"),
    ]:
        with pytest.raises(exc, match=match):
            fused(x.copy(), second, out=out)
    if name == "target":  # the second float input may not be out
        with pytest.raises(ValueError, match="overlaps target"):
            fused(x.copy(), second, out=second)
    big = np.zeros((2,) + x.shape)
    big[0] = x
    with pytest.raises(ValueError, match="overlaps"):  # a view into the input
        fused(big[0], second, out=big.reshape(-1)[1 : 1 + x.size].reshape(x.shape))


def test_doctests():
    result = doctest.testmod(
        fastloss._categorical, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted > 0


# ---- PyTorch -----------------------------------------------------------------------


def test_hinge_against_torch_multi_margin():
    """torch's multi_margin_loss sums max(0, 1 - p_y + p_k) over every other class
    and divides by C; with one other class inside the margin, and that one the
    largest and >= 0 (so Keras's zero slot does not win), the two are C apart.
    With two classes inside the margin they differ, as the docstring says."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    pred = np.array([[0.3, 1.0, -2.0, -3.0], [2.0, 0.5, -1.5, -4.0]])
    y = np.array([1, 0])
    target = np.eye(4)[y]
    x = torch.tensor(pred, requires_grad=True)
    ref = F.multi_margin_loss(x, torch.tensor(y), reduction="sum")
    ref.backward()
    loss, grad = HINGE(pred, target, reduction="sum")
    np.testing.assert_allclose(loss, 4 * ref.item(), rtol=1e-14)
    np.testing.assert_allclose(grad, 4 * x.grad.numpy(), rtol=1e-14)
    two = np.array([[0.3, 1.0, 0.2, -3.0]])
    ref = F.multi_margin_loss(torch.tensor(two), torch.tensor([1])).item()
    assert fastloss.categorical_hinge_loss(two, np.eye(4)[[1]]) != pytest.approx(
        4 * ref
    )


# ---- Keras 3 -----------------------------------------------------------------------

KERAS_REDUCTIONS = ["sum_over_batch_size", "sum", None, "mean_with_sample_weight"]


def _keras_inputs(cls, rng, shape):
    if cls == "CategoricalHinge":
        y_true = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
        y_pred = rng.uniform(-2.0, 2.0, shape)
        return y_true.astype(np.float32), y_pred.astype(np.float32)
    y_pred = rng.uniform(0.05, 1.0, shape)
    y_pred /= y_pred.sum(axis=-1, keepdims=True)
    return rng.integers(0, shape[-1], shape[:-1]), y_pred.astype(np.float32)


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS)
@pytest.mark.parametrize(
    "cls,kwargs,shape",
    [
        ("CategoricalHinge", {}, (6, 4)),
        ("CategoricalHinge", {}, (2, 3, 5)),
        ("CategoricalGeneralizedCrossEntropy", {}, (6, 4)),
        ("CategoricalGeneralizedCrossEntropy", {"q": 0.1}, (5, 3)),
        ("CategoricalGeneralizedCrossEntropy", {"q": 0.9}, (2, 3, 5)),
    ],
)
def test_classes_against_keras(cls, kwargs, shape, reduction):
    """Values (and the gradient through JAX) of Keras 3 itself, float32, with and
    without sample weights."""
    keras = keras_jax()
    import jax

    rng = np.random.default_rng(29)
    y_true, y_pred = _keras_inputs(cls, rng, shape)
    ours = getattr(fl, cls)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
    for sw in (None, rng.uniform(0.0, 2.0, shape[:-1]).astype(np.float32)):
        want = np.asarray(theirs(y_true, y_pred, sample_weight=sw))
        got, grad = ours.loss_and_grad(y_true, y_pred, sample_weight=sw)
        assert np.shape(got) == want.shape and grad.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
        assert_same_bits(got, ours(y_true, y_pred, sample_weight=sw))

        def total(p, sw=sw):
            return theirs(y_true, p, sample_weight=sw).sum()

        kgrad = np.asarray(jax.grad(total)(y_pred))
        np.testing.assert_allclose(grad, kgrad, rtol=2e-5, atol=2e-6)
    want_config = dict(theirs.get_config(), reduction=reduction or "none")
    want_config.pop("dtype", None)  # fastloss's classes take no dtype
    assert ours.get_config() == want_config


def test_hinge_subgradient_is_jax():
    """Ties of the max and the kink: the same subgradient as jax.grad of Keras's
    categorical_hinge (the conventions the docstring promises)."""
    keras = keras_jax()
    import jax

    target = np.array([[0, 1, 0, 0]] * 4, np.float32)
    pred = np.array(
        [
            [0.5, 0.25, 0.5, 0.0],
            [0.75, 0.5, 0.75, 0.75],
            [0.5, 1.5, 0.25, 0.0],
            [-1.0, -2.0, -3.0, -4.0],
        ],
        np.float32,
    )
    kgrad = jax.grad(lambda p: keras.losses.categorical_hinge(target, p).sum())(pred)
    _, grad = HINGE(pred, target, reduction="sum")
    np.testing.assert_allclose(grad, np.asarray(kgrad), rtol=1e-6)


@pytest.mark.parametrize("q", [0.5, 0.05, 1.0])
def test_functional_forms_against_keras(q):
    keras = keras_jax()
    rng = np.random.default_rng(31)
    t, p = _keras_inputs("CategoricalHinge", rng, (6, 5))
    want = np.asarray(keras.losses.categorical_hinge(t, p))
    np.testing.assert_allclose(fl.categorical_hinge(t, p), want, rtol=2e-6, atol=1e-6)
    y, probs = _keras_inputs("CategoricalGeneralizedCrossEntropy", rng, (6, 5))
    want = np.asarray(keras.losses.categorical_generalized_cross_entropy(y, probs, q))
    got = fl.categorical_generalized_cross_entropy(y, probs, q)
    # Keras's float32 (1 - p**q) / q cancels: about one float32 ulp of 1 / q
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-7 / q)
    direct = fastloss.categorical_generalized_cross_entropy_loss(
        probs, y, q=q, reduction="none"
    )
    assert_same_bits(got, direct)


def test_keras_q_check_and_float_labels():
    """The class refuses q outside (0, 1) as Keras does (the functional form also
    takes q = 1); float labels are truncated as Keras's cast."""
    keras = keras_jax()
    for q in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"q must be in the interval \(0, 1\)"):
            keras.losses.CategoricalGeneralizedCrossEntropy(q=q)
        with pytest.raises(ValueError, match=r"q must be in the interval \(0, 1\)"):
            fl.CategoricalGeneralizedCrossEntropy(q=q)
    with pytest.raises(TypeError, match="q"):
        fl.CategoricalGeneralizedCrossEntropy(q="0.5")
    with pytest.raises(ValueError, match=r"interval \(0, 1\]"):
        fl.categorical_generalized_cross_entropy([0], [[0.5, 0.5]], 0.0)
    probs = np.array([[0.7, 0.3], [0.5, 0.5]], np.float32)
    labels = np.array([1.7, 0.2], np.float32)
    want = np.asarray(
        keras.losses.categorical_generalized_cross_entropy(labels, probs, 0.5)
    )
    got = fl.categorical_generalized_cross_entropy(labels, probs, 0.5)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_keras_differences_on_bad_labels():
    """Where Keras 3.15 mishandles labels, fastloss follows its docstring: (batch,
    1) labels are one label per row (Keras broadcasts them to batch x batch), and a
    label out of range is an error (Keras's one_hot gives p = 0, loss 1 / q)."""
    probs = np.array([[0.7, 0.3], [0.5, 0.5]])
    gce = fl.CategoricalGeneralizedCrossEntropy(reduction=None)
    np.testing.assert_array_equal(gce([[1], [0]], probs), gce([1, 0], probs))
    for bad in ([2, 0], [0, -1]):
        with pytest.raises(ValueError, match=r"y_true\[\d\] = .* is not a class"):
            gce(bad, probs)
    with pytest.raises(ValueError, match="shape"):
        gce([0, 1, 1], probs)
    with pytest.raises(ValueError, match="NaN"):
        gce([np.nan, 0.0], probs)


def test_keras_class_config_and_names():
    assert fl.CategoricalHinge().get_config() == {
        "reduction": "sum_over_batch_size",
        "name": "categorical_hinge",
    }
    cfg = fl.CategoricalGeneralizedCrossEntropy(0.25, "sum").get_config()
    assert cfg == {
        "q": 0.25,
        "reduction": "sum",
        "name": "categorical_generalized_cross_entropy",
    }
    assert fl.CategoricalHinge("sum").reduction == "sum"  # Keras's positional order
    for name, cls in [
        ("categorical_hinge", fl.CategoricalHinge),
        ("CategoricalHinge", fl.CategoricalHinge),
        (
            "categorical_generalized_cross_entropy",
            fl.CategoricalGeneralizedCrossEntropy,
        ),
        ("CategoricalGeneralizedCrossEntropy", fl.CategoricalGeneralizedCrossEntropy),
    ]:
        assert type(fastloss.get_loss(name)) is cls
    assert fl.get("categorical_hinge") is fl.categorical_hinge
    assert fl.get("categorical_generalized_cross_entropy") is (
        fl.categorical_generalized_cross_entropy
    )
    assert type(fl.get("CategoricalGeneralizedCrossEntropy")) is (
        fl.CategoricalGeneralizedCrossEntropy
    )
    loss = fl.get(
        {"class_name": "CategoricalGeneralizedCrossEntropy", "config": {"q": 0.3}}
    )
    assert loss.q == 0.3
    pair = fastloss.get_loss("categorical_hinge_loss")
    assert pair.loss_and_grad is fastloss.categorical_hinge_loss_and_grad
    assert repr(fl.CategoricalGeneralizedCrossEntropy(0.3)) == (
        "CategoricalGeneralizedCrossEntropy(q=0.3)"
    )
