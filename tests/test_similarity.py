"""The cosine similarity, Dice, Tversky and circle losses (fastloss/_similarity.py)
and their Keras-named classes: against the float64 twins of ``_reference_similarity``,
finite differences, Keras 3 (JAX backend) and PyTorch when installed, on extreme
values, across threads and SIMD paths, and on bad input."""

import doctest
import os

import _twin_checks
import numpy as np
import pytest
from _matrix import DTYPES, LAYOUTS, N_THREADS, REDUCTIONS, table_losses
from _reference import (
    assert_close,
    assert_same_bits,
    assert_unchanged,
    non_contiguous,
    numerical_gradient,
    read_only,
    snapshot,
)
from _reference_similarity import (
    circle_loss_ref,
    cosine_similarity_loss_ref,
    dice_loss_ref,
    tversky_loss_ref,
)

import fastloss
import fastloss._similarity
from fastloss import losses as fl

# ---- cases ---------------------------------------------------------------------


def cosine_case(rng, shape, dtype, *, sw=False, **options):
    pred = rng.standard_normal(shape).astype(dtype)
    target = rng.standard_normal(shape).astype(dtype)
    return (pred, target), _kw(rng, shape, sw, options)


def overlap_case(rng, shape, dtype, *, sw=False, **options):
    """Probabilities against soft labels in [0, 1], some exact 0 and 1."""
    pred = rng.random(shape).astype(dtype)
    target = rng.random(shape)
    target[target < 0.3] = 0.0
    target[target > 0.8] = 1.0
    return (pred, target.astype(dtype)), _kw(rng, shape, sw, options)


def _kw(rng, shape, sw, options):
    kw = dict(options)
    if sw:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, shape[:-1])
    return kw


# id -> (loss, loss_and_grad, twin, case builder, option sets), from the table
LOSSES = table_losses(
    "_similarity",
    {
        "cosine_similarity_loss": (
            "cosine",
            cosine_similarity_loss_ref,
            cosine_case,
            [{}, {"epsilon": 1e-3}],
        ),
        "dice_loss": ("dice", dice_loss_ref, overlap_case, [{}, {"epsilon": 0.5}]),
        "tversky_loss": (
            "tversky",
            tversky_loss_ref,
            overlap_case,
            [{}, {"alpha": 0.7, "beta": 0.3}, {"alpha": 0.0, "beta": 1.0}],
        ),
    },
    elsewhere=("circle_loss",),  # embeddings and labels: its own section below
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
    want = LOSSES[name][1](
        pred.astype(np.float16).astype(np.float32),
        target.astype(np.float32),
        reduction="none",
    )
    np.testing.assert_array_equal(loss, want[0].astype(np.float16))
    ints = (rng.integers(0, 2, (4, 8)), rng.integers(0, 2, (4, 8)))
    loss, grad = LOSSES[name][1](*ints, reduction="sum")
    assert grad.dtype == np.float64
    check_twin(name, loss, grad, ints, {"reduction": "sum"})


# ---- finite differences ---------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", IDS)
def test_finite_differences(name, reduction):
    rng = np.random.default_rng(11)
    for options in LOSSES[name][4]:
        (pred, target), kw = LOSSES[name][3](
            rng, (3, 5), np.float64, sw=True, **options
        )
        kw["reduction"] = reduction
        _, grad = LOSSES[name][1](pred, target, **kw)
        num = numerical_gradient(
            lambda x, t=target, kw=kw: LOSSES[name][0](x, t, **kw), pred
        )
        np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-9)


def test_cosine_finite_differences_below_epsilon():
    """Norms below epsilon: the loss is linear in pred there, gradient -v / eps."""
    rng = np.random.default_rng(12)
    target = rng.standard_normal((2, 4))
    pred = 1e-3 * rng.standard_normal((2, 4))
    pred[0] *= 1e-4 / np.linalg.norm(pred[0])  # ||p|| = 1e-4 < eps = 1e-2
    kw = {"epsilon": 1e-2, "reduction": "sum"}
    _, grad = fastloss.cosine_similarity_loss_and_grad(pred, target, **kw)
    num = numerical_gradient(
        lambda x: fastloss.cosine_similarity_loss(x, target, **kw), pred, h=1e-6
    )
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-6)
    v = target[0] / np.linalg.norm(target[0])
    np.testing.assert_allclose(grad[0], -v / 1e-2, rtol=1e-13)


# ---- threads and SIMD paths --------------------------------------------------------


@pytest.mark.parametrize("shape", [(4000, 16), (3, 20000), (1, 70000)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", IDS)
def test_bit_identical_across_threads(name, dtype, shape, simd_path):
    rng = np.random.default_rng(13)
    (pred, target), kw = LOSSES[name][3](rng, shape, dtype, sw=True)
    results = {}
    for reduction in REDUCTIONS:
        for nt in (*N_THREADS, 3):
            results[nt] = LOSSES[name][1](
                pred, target, reduction=reduction, n_threads=nt, **kw
            )
        for nt in results:
            assert_same_bits(results[nt][0], results[1][0])
            assert_same_bits(results[nt][1], results[1][1])
        check_twin(name, *results[1], (pred, target), dict(kw, reduction=reduction))


# ---- extreme values ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_zero_rows(dtype):
    """A zero row gives loss 0 (Keras) and a finite gradient: -v / eps for a zero
    pred, 0 for a zero target, 0 for both."""
    pred = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [0.0, 0.0, 0.0]], dtype)
    target = np.array([[0.0, 3.0, 4.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype)
    loss, grad = fastloss.cosine_similarity_loss_and_grad(
        pred, target, reduction="none"
    )
    np.testing.assert_array_equal(loss, np.zeros(3, dtype))
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad[0], [0.0, -0.6e7, -0.8e7], rtol=1e-6)
    np.testing.assert_array_equal(grad[1:], 0.0)


def test_cosine_extreme_magnitudes():
    """Rows whose squared norms overflow (float64) or underflow: the cosine of any
    finite rows is finite and right."""
    rng = np.random.default_rng(17)
    base_p, base_t = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    want = cosine_similarity_loss_ref(base_p, base_t, reduction="none")
    for sp, st in [(1e200, 1.0), (1.0, 1e250), (1e300, 1e-300), (1e-150, 1e154)]:
        p, t = base_p * sp, base_t * st
        loss, grad = fastloss.cosine_similarity_loss_and_grad(
            p, t, reduction="none", epsilon=1e-300
        )
        np.testing.assert_allclose(loss, want.loss, rtol=1e-12)
        ref = cosine_similarity_loss_ref(p, t, reduction="none", epsilon=1e-300)
        assert_close(grad, ref.grad, ref.grad_scale, np.float64, "grad")
    big = np.finfo(np.float32).max
    p32 = np.array([[big, big, -big]], np.float32)
    loss = fastloss.cosine_similarity_loss(p32, p32, reduction="none")
    np.testing.assert_allclose(loss, [-1.0], rtol=1e-6)


def test_non_finite_inputs_propagate():
    pred = np.array([[np.nan, 1.0], [np.inf, 1.0], [1.0, 1.0]])
    target = np.ones((3, 2))
    for name in IDS:
        loss, grad = LOSSES[name][1](pred, target, reduction="none")
        assert np.isnan(loss[0]) and np.isfinite(loss[2]), name
        assert np.isfinite(grad[2]).all(), name


@pytest.mark.parametrize("name", ["dice", "tversky"])
def test_overlap_empty_rows(name):
    """All-zero rows: loss 1 and gradient -t / D + ... = beta-free 0 for Dice
    (no NaN from 0 / 0: epsilon keeps the denominator positive)."""
    z = np.zeros((2, 4))
    loss, grad = LOSSES[name][1](z, z, reduction="none")
    np.testing.assert_array_equal(loss, [1.0, 1.0])
    assert np.isfinite(grad).all()
    check_twin(name, loss, grad, (z, z), {"reduction": "none"})


def test_mean_with_zero_weights_is_zero():
    rng = np.random.default_rng(19)
    for name in IDS:
        (pred, target), _ = LOSSES[name][3](rng, (3, 4), np.float64)
        loss, grad = LOSSES[name][1](pred, target, sample_weight=np.zeros(3))
        assert loss == 0.0 and not grad.any()


def test_empty_batch():
    for name in IDS:
        loss, grad = LOSSES[name][1](np.zeros((0, 3)), np.zeros((0, 3)))
        assert loss == 0.0 and grad.shape == (0, 3)


# ---- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("name", IDS)
def test_bad_input(name):
    fwd, fused = LOSSES[name][:2]
    x = np.ones((3, 4))
    bad = [
        ((x, np.ones((3, 5))), {}, ValueError, "target must have pred's shape"),
        ((np.float64(1.0), 1.0), {}, ValueError, "pred must have at least 1"),
        ((np.ones((3, 0)), np.ones((3, 0))), {}, ValueError, "at least one feature"),
        ((x, x), {"reduction": "avg"}, ValueError, "reduction"),
        ((x, x), {"sample_weight": np.ones(4)}, ValueError, "sample_weight"),
        ((x, x), {"epsilon": -1.0}, ValueError, "epsilon"),
        ((x, x), {"epsilon": np.inf}, ValueError, "epsilon"),
        (("a", x), {}, TypeError, "pred"),
    ]
    if name == "cosine":
        bad.append(((x, x), {"epsilon": 0.0}, ValueError, "epsilon must be > 0"))
    if name == "tversky":
        bad.append(((x, x), {"alpha": np.nan}, ValueError, "alpha"))
        bad.append(((x, x), {"beta": "1"}, TypeError, "beta"))
    for args, kw, exc, match in bad:
        with pytest.raises(exc, match=match):
            fwd(*args, **kw)
        with pytest.raises(exc, match=match):
            fused(*args, **kw)
    for out, exc, match in [
        (np.ones((3, 5)), ValueError, "out must have shape"),
        (np.ones((3, 4), np.float32), ValueError, "out must have dtype"),
        ([[0.0] * 4] * 3, TypeError, "out must be a numpy.ndarray"),
        (read_only(x), ValueError, "read-only"),
    ]:
        with pytest.raises(exc, match=match):
            fused(x, x.copy(), out=out)
    t = x.copy()
    with pytest.raises(ValueError, match="overlaps target"):
        fused(x.copy(), t, out=t)


def test_doctests():
    for module in (fastloss._similarity,):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0


# ---- PyTorch -----------------------------------------------------------------------


def test_cosine_against_torch():
    """torch's cosine_embedding_loss with y = 1 is 1 - cos: 1 + this loss (rows far
    above epsilon, where the two guards of a small norm do not matter)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(23)
    pred, target = rng.standard_normal((2, 6, 9))
    x = torch.tensor(pred, requires_grad=True)
    ref = torch.nn.functional.cosine_embedding_loss(
        x, torch.tensor(target), torch.ones(6), reduction="sum"
    )
    ref.backward()
    loss, grad = fastloss.cosine_similarity_loss_and_grad(pred, target, reduction="sum")
    np.testing.assert_allclose(loss + 6, ref.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---- Keras 3 -----------------------------------------------------------------------


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() not in ("jax", "numpy"):
        pytest.skip(f"Keras on {keras.backend.backend()}")
    return keras


KERAS_CASES = [
    # (class name, constructor kwargs, y shape)
    ("CosineSimilarity", {}, (5, 7)),
    ("CosineSimilarity", {"axis": 1}, (4, 3, 6)),
    ("CosineSimilarity", {"axis": (1, 2)}, (4, 3, 6)),
    ("Dice", {}, (4, 6)),
    ("Dice", {"axis": (1, 2, 3)}, (3, 2, 4, 2)),
    ("Dice", {"axis": -1}, (5, 7)),
    ("Dice", {"axis": 1}, (4, 3, 6)),
    ("Tversky", {}, (4, 6)),
    ("Tversky", {"alpha": 0.7, "beta": 0.3, "axis": -1}, (5, 7)),
    ("Tversky", {"alpha": 0.2, "beta": 0.9, "axis": (1, 2)}, (3, 4, 5)),
]


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", None, "mean_with_sample_weight"]
)
@pytest.mark.parametrize("cls,kwargs,shape", KERAS_CASES)
def test_classes_against_keras(cls, kwargs, shape, reduction):
    """Values (and the gradient through JAX) of Keras 3 itself, float32."""
    keras = _keras()
    rng = np.random.default_rng(29)
    if cls == "CosineSimilarity":
        y_pred = rng.standard_normal(shape).astype(np.float32)
        y_true = rng.standard_normal(shape).astype(np.float32)
    else:
        y_pred = rng.random(shape).astype(np.float32)
        y_true = (rng.random(shape) > 0.5).astype(np.float32)
    ours = getattr(fl, cls)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
    weights = [None]
    lead = ours_lead = None
    loss, _ = ours.loss_and_grad(y_true, y_pred)
    ours_lead = np.shape(ours.__class__(reduction=None, **kwargs)(y_true, y_pred))
    if ours_lead:
        lead = ours_lead
        weights.append(rng.uniform(0.0, 2.0, lead).astype(np.float32))
    for sw in weights:
        want = np.asarray(theirs(y_true, y_pred, sample_weight=sw))
        got, grad = ours.loss_and_grad(y_true, y_pred, sample_weight=sw)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
        assert np.shape(got) == want.shape
        if keras.backend.backend() == "jax":
            import jax

            def f(p, sw=sw):
                return theirs(y_true, p, sample_weight=sw).sum()

            kgrad = np.asarray(jax.grad(f)(y_pred))
            np.testing.assert_allclose(grad, kgrad, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize(
    "fname,kname,kwargs",
    [
        ("cosine_similarity_loss", "cosine_similarity", {}),
        ("dice_loss", "dice", {"axis": -1}),
        ("tversky_loss", "tversky", {"alpha": 0.3, "beta": 0.6, "axis": -1}),
    ],
)
def test_functional_against_keras(fname, kname, kwargs):
    keras = _keras()
    rng = np.random.default_rng(31)
    p = rng.random((6, 5)).astype(np.float32)
    t = rng.random((6, 5)).astype(np.float32)
    want = np.asarray(getattr(keras.losses, kname)(t, p, **kwargs))
    opts = {k: v for k, v in kwargs.items() if k != "axis"}
    got = getattr(fastloss, fname)(p, t, reduction="none", **opts)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_keras_class_config_and_names():
    assert fl.CosineSimilarity().get_config() == {
        "axis": -1,
        "reduction": "sum_over_batch_size",
        "name": "cosine_similarity",
    }
    assert fl.Dice().get_config()["axis"] is None
    cfg = fl.Tversky(0.2, 0.8, axis=(1, 2)).get_config()
    assert (cfg["alpha"], cfg["beta"], cfg["axis"], cfg["name"]) == (
        0.2,
        0.8,
        (1, 2),
        "tversky",
    )
    assert fl.Dice("sum").reduction == "sum"  # Keras's positional order
    for name, cls in [
        ("circle", fl.Circle),
        ("cosine_similarity", fl.CosineSimilarity),
        ("dice", fl.Dice),
        ("tversky", fl.Tversky),
    ]:
        assert type(fastloss.get_loss(name)) is cls
    with pytest.raises(TypeError, match="axis"):
        fl.Dice(axis=1.5)
    with pytest.raises(TypeError, match="axis"):
        fl.CosineSimilarity(axis=None)
    with pytest.raises(ValueError, match="out of range"):
        fl.Dice(axis=3)(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="twice"):
        fl.Dice(axis=(1, -1))(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="alpha"):
        fl.Tversky(alpha=np.inf)


# ---- circle loss -------------------------------------------------------------------

CIRCLE_OPTIONS = [
    {},
    {"gamma": 2.0, "margin": 0.25},
    {"gamma": 1.0, "remove_diagonal": False},
    {"gamma": 0.0},
]


def circle_case(rng, n, dim, dtype, *, classes=3, unit=True, sw=False):
    e = rng.standard_normal((n, dim))
    if unit:
        e /= np.linalg.norm(e, axis=1, keepdims=True)
    labels = rng.integers(0, classes, n)
    kw = {"sample_weight": rng.uniform(0.0, 2.0, n)} if sw else {}
    return e.astype(dtype), labels, kw


def check_circle(loss, grad, e, labels, kw):
    ref = circle_loss_ref(e, labels, **kw)
    dtype = e.dtype
    if kw.get("reduction", "mean") == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == dtype
        assert loss.shape == (e.shape[0],)
    else:
        assert isinstance(loss, float)
    assert_close(loss, ref.loss, ref.loss_scale, dtype, "loss")
    if grad is not None:
        assert grad.dtype == dtype and grad.shape == e.shape
        assert_close(grad, ref.grad, ref.grad_scale, dtype, "grad")


@pytest.mark.parametrize("sw", [False, True], ids=["", "sw"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_circle_matches_twin(dtype, reduction, sw, simd_path):
    rng = np.random.default_rng(37)
    for options in CIRCLE_OPTIONS:
        for n, dim, classes in [(9, 4, 3), (1, 3, 1), (16, 8, 16), (12, 5, 2)]:
            e, labels, kw = circle_case(rng, n, dim, dtype, classes=classes, sw=sw)
            kw = dict(kw, reduction=reduction, **options)
            loss_only = fastloss.circle_loss(e, labels, **kw)
            loss, grad = fastloss.circle_loss_and_grad(e, labels, **kw)
            assert_same_bits(loss_only, loss)
            check_circle(loss, grad, e, labels, kw)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_circle_finite_differences(reduction):
    """Embeddings of norm ~0.5: every 1 - S_ij > 0, away from the kinks."""
    rng = np.random.default_rng(41)
    for options in CIRCLE_OPTIONS[1:]:
        e, labels, kw = circle_case(rng, 7, 3, np.float64, unit=False, sw=True)
        e *= 0.3
        kw = dict(kw, reduction=reduction, **options)
        _, grad = fastloss.circle_loss_and_grad(e, labels, **kw)
        num = numerical_gradient(
            lambda x, y=labels, kw=kw: fastloss.circle_loss(x, y, **kw), e, h=1e-4
        )
        np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_circle_bit_identical_across_threads(dtype, simd_path):
    rng = np.random.default_rng(43)
    e, labels, kw = circle_case(rng, 300, 16, dtype, classes=7, sw=True)
    for reduction in REDUCTIONS:
        first = fastloss.circle_loss_and_grad(
            e, labels, reduction=reduction, n_threads=1, **kw
        )
        for nt in (2, 3):
            again = fastloss.circle_loss_and_grad(
                e, labels, reduction=reduction, n_threads=nt, **kw
            )
            assert_same_bits(again[0], first[0])
            assert_same_bits(again[1], first[1])
        check_circle(*first, e, labels, dict(kw, reduction=reduction))


@pytest.mark.parametrize("mode", ["out", "inplace", "strided", "readonly"])
def test_circle_layouts_and_out(mode):
    rng = np.random.default_rng(47)
    e, labels, kw = circle_case(rng, 10, 4, np.float64, sw=True)
    want = fastloss.circle_loss_and_grad(e.copy(), labels, **kw)
    if mode == "out":
        out = np.full_like(e, np.nan)
        snap = snapshot(e, labels)
        loss, grad = fastloss.circle_loss_and_grad(e, labels, out=out, **kw)
        assert grad is out
        assert_unchanged(snap)
    elif mode == "inplace":
        loss, grad = fastloss.circle_loss_and_grad(e, labels, out=e, **kw)
        assert grad is e
    else:
        x = non_contiguous(e) if mode == "strided" else read_only(e)
        snap = snapshot(x, labels)
        loss, grad = fastloss.circle_loss_and_grad(x, labels, **kw)
        assert_unchanged(snap)
    assert_same_bits(loss, want[0])
    assert_same_bits(grad, want[1])


def test_circle_rows_without_pairs():
    """No negatives (one class) or no positives (all labels distinct, diagonal
    removed): loss 0, gradient 0, and "mean" over no rows is 0.0."""
    rng = np.random.default_rng(53)
    e = rng.standard_normal((5, 3))
    for labels in ([2, 2, 2, 2, 2], [0, 1, 2, 3, 4]):
        for reduction in REDUCTIONS:
            loss, grad = fastloss.circle_loss_and_grad(e, labels, reduction=reduction)
            assert not np.any(loss) and not grad.any()
    # one row alone in its class: no positives, not counted by "mean"
    labels = [0, 0, 1, 1, 2]
    rows = fastloss.circle_loss(e, labels, reduction="none")
    assert rows[4] == 0.0 and (rows[:4] > 0).all()
    assert fastloss.circle_loss(e, labels) == pytest.approx(rows[:4].mean(), 1e-14)


def test_circle_extremes():
    """A large gamma stays finite (max-subtracted logsumexps, stable softplus);
    a NaN embedding makes the rows that see it NaN; empty batches give 0."""
    rng = np.random.default_rng(59)
    e, labels, _ = circle_case(rng, 8, 4, np.float64)
    for gamma in (1e4, 1e8):
        loss, grad = fastloss.circle_loss_and_grad(e, labels, gamma=gamma)
        assert np.isfinite(loss) and np.isfinite(grad).all()
        check_circle(loss, grad, e, labels, {"gamma": gamma})
    e[0, 0] = np.nan
    rows = fastloss.circle_loss(e, labels, reduction="none")
    assert np.isnan(rows[0])
    loss, grad = fastloss.circle_loss_and_grad(np.zeros((0, 3)), [])
    assert loss == 0.0 and grad.shape == (0, 3)


def test_circle_bad_input():
    e = np.ones((4, 3))
    y = [0, 0, 1, 1]
    bad = [
        ((np.ones(4), y), {}, ValueError, "embeddings must be 2-D"),
        ((np.ones((4, 3, 1)), y), {}, ValueError, "embeddings must be 2-D"),
        ((np.ones((4, 0)), y), {}, ValueError, "at least one feature"),
        ((e, [0, 1, 2]), {}, ValueError, "labels must have shape"),
        ((e, [0.5, 0, 1, 1]), {}, ValueError, "labels must be integers"),
        ((e, ["a", "b", "c", "d"]), {}, TypeError, "labels must be an integer"),
        ((e, y), {"gamma": -1.0}, ValueError, "gamma"),
        ((e, y), {"margin": np.inf}, ValueError, "margin"),
        ((e, y), {"remove_diagonal": 1}, TypeError, "remove_diagonal"),
        ((e, y), {"reduction": "avg"}, ValueError, "reduction"),
        ((e, y), {"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
        (("x", y), {}, TypeError, "embeddings"),
    ]
    for args, kw, exc, match in bad:
        for fn in (fastloss.circle_loss, fastloss.circle_loss_and_grad):
            with pytest.raises(exc, match=match):
                fn(*args, **kw)
    for out, exc, match in [
        (np.ones((4, 2)), ValueError, "out must have shape"),
        (np.ones((4, 3), np.float32), ValueError, "out must have dtype"),
        (read_only(e), ValueError, "read-only"),
    ]:
        with pytest.raises(exc, match=match):
            fastloss.circle_loss_and_grad(e, y, out=out)
    with pytest.raises(ValueError, match="gamma"):
        fl.Circle(gamma=-2.0)
    with pytest.raises(TypeError, match="remove_diagonal"):
        fl.Circle(remove_diagonal="yes")


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", None, "mean_with_sample_weight"]
)
@pytest.mark.parametrize("options", CIRCLE_OPTIONS[:3], ids=str)
def test_circle_against_keras(options, reduction):
    keras = _keras()
    rng = np.random.default_rng(61)
    e, labels, _ = circle_case(rng, 12, 5, np.float32, classes=4)
    labels[-1] = 9  # a row with no positive: Keras masks it out of its means
    ours = fl.Circle(reduction=reduction, **options)
    theirs = keras.losses.Circle(reduction=reduction, **options)
    for sw in (None, rng.uniform(0.0, 2.0, 12).astype(np.float32)):
        want = np.asarray(theirs(labels, e, sample_weight=sw))
        got, grad = ours.loss_and_grad(labels, e, sample_weight=sw)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        if keras.backend.backend() == "jax":
            import jax

            def f(p, sw=sw):
                return theirs(labels, p, sample_weight=sw).sum()

            kgrad = np.asarray(jax.grad(f)(e))
            scale = np.abs(kgrad).max()
            np.testing.assert_allclose(grad, kgrad, rtol=1e-4, atol=1e-5 * scale)
    want_rows = np.asarray(keras.losses.circle(labels, e, **options))
    got_rows = fastloss.circle_loss(e, labels, reduction="none", **options)
    np.testing.assert_allclose(got_rows, want_rows, rtol=1e-5, atol=1e-5)
