"""The elementwise losses Keras 3 has and PyTorch does not (hinge_loss,
squared_hinge_loss, msle_loss, mape_loss) against their float64 twins
(_reference_regression.py), finite differences and PyTorch's hinge_embedding_loss,
across the dtype x reduction x layout x n_threads x SIMD matrix (tests/_matrix.py),
on extreme values and bad arguments, and with hypothesis; their Keras classes
(Hinge, SquaredHinge, MeanSquaredLogarithmicError, MeanAbsolutePercentageError,
Poisson) against Keras 3 itself on its JAX backend when it imports."""

import os
import sys

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
from fastloss import losses as fl

# id -> (twin name, loss, loss_and_grad, kind of targets, options)
LOSSES = {
    "hinge": ("hinge", fastloss.hinge_loss, fastloss.hinge_loss_and_grad, "pm1", {}),
    "hinge01": ("hinge", fastloss.hinge_loss, fastloss.hinge_loss_and_grad, "01", {}),
    "hinge_real": (
        "hinge",
        fastloss.hinge_loss,
        fastloss.hinge_loss_and_grad,
        "real",
        {},
    ),
    "squared_hinge": (
        "squared_hinge",
        fastloss.squared_hinge_loss,
        fastloss.squared_hinge_loss_and_grad,
        "pm1",
        {},
    ),
    "squared_hinge01": (
        "squared_hinge",
        fastloss.squared_hinge_loss,
        fastloss.squared_hinge_loss_and_grad,
        "01",
        {},
    ),
    "msle": ("msle", fastloss.msle_loss, fastloss.msle_loss_and_grad, "pos", {}),
    "msle_eps": (
        "msle",
        fastloss.msle_loss,
        fastloss.msle_loss_and_grad,
        "pos",
        {"epsilon": 0.5},
    ),
    "mape": ("mape", fastloss.mape_loss, fastloss.mape_loss_and_grad, "real", {}),
    "mape_eps": (
        "mape",
        fastloss.mape_loss,
        fastloss.mape_loss_and_grad,
        "real",
        {"epsilon": 0.25},
    ),
}
IDS = list(LOSSES)
WEIGHTINGS = ["plain", "weight", "sample_weight", "both"]


def make_case(rng, lid, shape, dtype, weighting="plain"):
    """(pred, target, kwargs) for loss `lid`: labels of its kind, scores in [-3, 3]
    (hinge), values around 0 with some negatives (msle, raised to epsilon), targets
    with exact zeros (mape); weights of the requested kind."""
    kind = LOSSES[lid][3]
    if kind == "pm1":
        target = rng.choice([-1.0, 1.0], shape)
    elif kind == "01":
        target = rng.choice([0.0, 1.0], shape)
    elif kind == "pos":
        target = rng.uniform(0.0, 20.0, shape) * (rng.random(shape) < 0.8)
    else:
        target = rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 2, shape)
        target[rng.random(shape) < 0.1] = 0.0
    if kind == "pos":
        pred = rng.uniform(-0.5, 20.0, shape)
    elif kind == "real" and LOSSES[lid][0] == "mape":
        pred = target + rng.standard_normal(shape)
    else:
        pred = rng.uniform(-3.0, 3.0, shape)
    kw = dict(LOSSES[lid][4])
    if weighting in ("weight", "both"):
        kw["weight"] = rng.uniform(0.25, 2.0, shape)
    if weighting in ("sample_weight", "both"):
        sw = rng.uniform(0.0, 2.0, shape[:1])
        if sw.size > 2:
            sw[1] = 0.0
        kw["sample_weight"] = sw
    return pred.astype(dtype), target.astype(dtype), kw


def call(lid, pred, target, kw):
    """Both entry points; inputs untouched, the forward-only loss the fused one
    bit for bit."""
    _, loss_fn, grad_fn, _, _ = LOSSES[lid]
    watch = [target, kw.get("weight"), kw.get("sample_weight")]
    if kw.get("out") is not pred:
        watch.append(pred)
    before = snapshot(*watch)
    forward = loss_fn(pred, target, **{k: v for k, v in kw.items() if k != "out"})
    assert_unchanged(before)
    loss, grad = grad_fn(pred, target, **kw)
    assert_unchanged(before)
    assert_same_bits(forward, loss)
    return loss, grad


def check(lid, loss, grad, pred, target, kw):
    dtype = np.asarray(pred).dtype
    args = {k: v for k, v in kw.items() if k not in ("out", "n_threads")}
    ref = reference(LOSSES[lid][0], pred, target, **args)
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
@pytest.mark.parametrize("lid", IDS)
def test_matches_twin(simd_path, rng, lid, dtype, reduction, weighting):
    for shape in [(1,), (7,), (33, 5), (4, 3, 70)]:
        pred, target, kw = make_case(rng, lid, shape, dtype, weighting)
        kw["reduction"] = reduction
        loss, grad = call(lid, pred, target, kw)
        check(lid, loss, grad, pred, target, kw)


@pytest.mark.parametrize("n_threads", N_THREADS)
@pytest.mark.parametrize("layout,out_mode", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lid", IDS)
def test_layouts_out_and_threads(
    simd_path, rng, lid, dtype, layout, out_mode, n_threads
):
    for reduction in REDUCTIONS:
        pred, target, kw = make_case(rng, lid, (9, 4), dtype, "both")
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
        loss, grad = call(lid, pred, target, kw)
        if out_mode is not None:
            assert grad is kw["out"]
        check(lid, loss, grad, original, target, kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lid", IDS)
def test_bit_identical_for_any_thread_count(rng, lid, dtype):
    pred, target, kw = make_case(rng, lid, (300_001,), dtype, "both")
    grad_fn = LOSSES[lid][2]
    got = [grad_fn(pred, target, n_threads=t, **kw) for t in (1, 2, 3)]
    for loss, grad in got[1:]:
        assert_same_bits(loss, got[0][0])
        assert_same_bits(grad, got[0][1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("lid", IDS)
def test_gradient_matches_finite_differences(simd_path, rng, lid, reduction):
    name, loss_fn, grad_fn, _, _ = LOSSES[lid]
    pred, target, kw = make_case(rng, lid, (4, 3), np.float64, "both")
    # away from the kinks: the hinge's margin, msle's epsilon, mape's pred = target
    if name in ("hinge", "squared_hinge"):
        yl = 2 * target - 1 if LOSSES[lid][3] == "01" else target
        m = 1 - yl * pred
        pred = np.where(np.abs(m) < 0.05, pred + 0.2, pred)
    elif name == "msle":
        pred = np.where(np.abs(pred - kw.get("epsilon", 1e-7)) < 0.05, 1.0, pred)
    else:  # and targets away from 0, whose 100 / epsilon drowns the differences
        target = np.where(np.abs(target) < 0.1, 1.0, target)
        pred = np.where(np.abs(pred - target) < 0.05, target + 0.5, pred)
    kw["reduction"] = reduction

    def total(x):
        return np.sum(loss_fn(x, target, **kw))

    _, grad = grad_fn(pred, target, **kw)
    fd = numerical_gradient(total, pred, h=1e-4)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    assert np.max(np.abs(fd)) > 1e-3


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_hinge_matches_pytorch_hinge_embedding(rng, dtype, reduction):
    """hinge_loss(pred, y) == hinge_embedding_loss(y * pred, -1), as documented."""
    torch = pytest.importorskip("torch")
    pred, target, _ = make_case(rng, "hinge", (64, 5), dtype)
    x = torch.tensor(pred * target, requires_grad=True)
    want = torch.nn.functional.hinge_embedding_loss(
        x, -torch.ones_like(x), margin=1.0, reduction=reduction
    )
    want.backward(torch.ones_like(want))
    loss, grad = fastloss.hinge_loss_and_grad(pred, target, reduction=reduction)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss, want.detach().numpy(), rtol=rtol, atol=rtol)
    # d/d pred = y d/dx
    np.testing.assert_allclose(grad, x.grad.numpy() * target, rtol=rtol, atol=rtol)


def test_hinge_labels_follow_keras():
    """0/1 targets are read as -1/1 only when every target is 0 or 1."""
    pred = np.array([0.5, -0.5, 2.0])
    as01 = fastloss.hinge_loss(pred, [1.0, 0.0, 0.0], reduction="none")
    pm1 = fastloss.hinge_loss(pred, [1.0, -1.0, -1.0], reduction="none")
    np.testing.assert_array_equal(as01, pm1)
    np.testing.assert_array_equal(as01, [0.5, 0.5, 3.0])
    # a 0.5 among them: the labels are used as given (0 gives loss 1, gradient 0)
    loss, grad = fastloss.hinge_loss_and_grad(pred, [1.0, 0.0, 0.5], reduction="none")
    np.testing.assert_array_equal(loss, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(grad, [-1.0, 0.0, 0.0])
    # all ones: the same either way
    np.testing.assert_array_equal(
        fastloss.squared_hinge_loss(pred, np.ones(3), reduction="none"),
        [0.25, 2.25, 0.0],
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_extremes(simd_path, dtype):
    big = np.finfo(dtype).max
    inf, nan = np.inf, np.nan
    cases = {
        "hinge": (
            [inf, -inf, big, -big, 0.0, nan, 1.0],
            [1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0],
        ),
        "squared_hinge": (
            [inf, -inf, 1e15, -1e15, 0.0, nan, 1.0],
            [1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0],
        ),
        "msle": (
            [inf, big, -big, -inf, 0.0, 1e-30, nan, 5.0],
            [1.0, 0.0, 3.0, 0.0, big, 1e-30, 1.0, nan],
        ),
        "mape": (
            [1e25, -1e20, 0.0, 1.0, nan, 3.0, big],
            [0.0, 1e-30, 0.0, 1e30, 1.0, nan, -big],
        ),
    }
    fns = {
        "hinge": fastloss.hinge_loss_and_grad,
        "squared_hinge": fastloss.squared_hinge_loss_and_grad,
        "msle": fastloss.msle_loss_and_grad,
        "mape": fastloss.mape_loss_and_grad,
    }
    for name, (x, y) in cases.items():
        x, y = np.array(x, dtype=dtype), np.array(y, dtype=dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grad = fns[name](x, y, reduction="none")
            want = reference(name, x, y, reduction="none")
        assert_close(loss, want.loss, want.loss_scale, dtype, f"{name} loss")
        assert_close(grad, want.grad, want.grad_scale, dtype, f"{name} grad")
        # a NaN input spoils its own element only
        assert np.isnan(loss).sum() == np.isnan(want.loss).sum() >= 1, name
    # msle at +inf: loss inf, gradient 0 (the limit), not NaN
    loss, grad = fastloss.msle_loss_and_grad(
        np.array([np.inf], dtype=dtype), np.ones(1, dtype=dtype), reduction="none"
    )
    assert loss[0] == np.inf and grad[0] == 0


@pytest.mark.parametrize("lid", IDS)
def test_empty_and_zero_normaliser(lid):
    _, _, grad_fn, _, kw = LOSSES[lid]
    empty = np.zeros((0, 3), dtype=np.float32)
    for reduction in REDUCTIONS:
        loss, grad = grad_fn(empty, empty, reduction=reduction, **kw)
        assert grad.shape == (0, 3) and grad.dtype == np.float32
    loss, grad = grad_fn(
        np.full((2, 2), 0.5), np.ones((2, 2)), sample_weight=np.zeros(2), **kw
    )
    assert loss == 0.0 and np.all(grad == 0)


BAD = [
    ({"epsilon": -1e-7}, ValueError, "epsilon"),
    ({"epsilon": np.nan}, ValueError, "epsilon"),
    ({"epsilon": np.inf}, ValueError, "epsilon"),
    ({"epsilon": 1e-40}, ValueError, "epsilon"),  # subnormal in float32
    ({"epsilon": "0.1"}, TypeError, "epsilon"),
    ({"reduction": "avg"}, ValueError, "reduction"),
    ({"weight": np.full(3, np.nan)}, ValueError, "weight"),
    ({"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
]


@pytest.mark.parametrize("kw, error, match", BAD)
@pytest.mark.parametrize("name", ["msle_loss", "mape_loss"])
def test_bad_arguments(name, kw, error, match):
    pred = np.zeros((2, 3), dtype=np.float32)
    target = np.ones((2, 3), dtype=np.float32)
    for fn in (getattr(fastloss, name), getattr(fastloss, name + "_and_grad")):
        with pytest.raises(error, match=match):
            fn(pred, target, **kw)


@pytest.mark.parametrize("kw, error, match", BAD[5:])
@pytest.mark.parametrize("name", ["hinge_loss", "squared_hinge_loss"])
def test_bad_arguments_hinge(name, kw, error, match):
    pred, target = np.zeros((2, 3)), np.ones((2, 3))
    for fn in (getattr(fastloss, name), getattr(fastloss, name + "_and_grad")):
        with pytest.raises(error, match=match):
            fn(pred, target, **kw)
        with pytest.raises(TypeError, match="epsilon"):
            fn(pred, target, epsilon=0.1)  # no such option
    with pytest.raises(ValueError, match="target"):
        getattr(fastloss, name)(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="target"):
        getattr(fastloss, name)(np.zeros(2), ["a", "b"])


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.float64, (6,), elements=st.floats(-30, 30)),
    y=hnp.arrays(np.float64, (6,), elements=st.sampled_from([-1.0, 0.0, 1.0, 2.5])),
    name=st.sampled_from(["hinge", "squared_hinge", "msle", "mape"]),
)
def test_property_matches_twin(x, y, name):
    loss, grad = getattr(fastloss, f"{name}_loss_and_grad")(x, y, reduction="sum")
    want = reference(name, x, y, reduction="sum")
    assert_close(loss, want.loss, want.loss_scale, np.float64, "loss")
    assert_close(grad, want.grad, want.grad_scale, np.float64, "grad")


# ---- the Keras classes against Keras 3 (JAX backend) ------------------------------

KERAS_CLASSES = [
    fl.Hinge,
    fl.SquaredHinge,
    fl.MeanSquaredLogarithmicError,
    fl.MeanAbsolutePercentageError,
    fl.Poisson,
]
KERAS_REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean_with_sample_weight")


@pytest.fixture(scope="module")
def keras():
    """Keras 3 on JAX (or the backend already imported or asked for, unless that is
    TensorFlow without TensorFlow installed)."""
    if "keras" not in sys.modules:
        backend = os.environ.get("KERAS_BACKEND")
        if backend is None or backend == "tensorflow":
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                os.environ["KERAS_BACKEND"] = "jax"
    try:
        keras = pytest.importorskip("keras")
    except Exception as exc:  # a backend that does not load
        pytest.skip(f"keras does not import: {exc}")
    if keras.backend.backend() != "jax":
        pytest.skip(f"Keras is on {keras.backend.backend()}, these use JAX")
    return keras


def keras_inputs(cls, rng, shape):
    if cls in (fl.Hinge, fl.SquaredHinge):
        t = rng.choice([0.0, 1.0], shape)  # converted to -1/1 by both
        p = rng.uniform(-2.0, 2.0, shape)
    elif cls is fl.MeanAbsolutePercentageError:
        t = rng.uniform(0.5, 3.0, shape) * rng.choice([-1, 1], shape)
        p = t + rng.uniform(0.1, 1.0, shape) * rng.choice([-1, 1], shape)
    else:  # rates and counts (msle's negative predictions are raised to 1e-7)
        t = rng.poisson(2.0, shape).astype(np.float64)
        p = rng.uniform(0.1, 5.0, shape)
        if cls is fl.MeanSquaredLogarithmicError:
            p.reshape(-1)[0] = -1.0
    return t.astype(np.float32), p.astype(np.float32)


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 3), (5,), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("cls", KERAS_CLASSES, ids=lambda c: c.__name__)
def test_classes_match_keras(keras, rng, cls, shape, reduction):
    import jax
    import jax.numpy as jnp

    y_true, y_pred = keras_inputs(cls, rng, shape)
    sw = rng.uniform(0.1, 2.0, shape[:-1]).astype(np.float32) if shape[1:] else None
    theirs = getattr(keras.losses, cls.__name__)(reduction=reduction)

    def total(p):
        return jnp.sum(theirs(y_true, p, sample_weight=sw))

    want = np.asarray(theirs(y_true, y_pred, sample_weight=sw))
    want_grad = np.asarray(jax.grad(total)(jnp.asarray(y_pred)))
    ours = cls(reduction=reduction)
    got, grad = ours.loss_and_grad(y_true, y_pred, sample_weight=sw)
    assert np.shape(got) == np.shape(want) and grad.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(
        grad, want_grad, rtol=2e-5, atol=1e-6 * np.abs(want_grad).max()
    )
    assert ours.get_config() == {"reduction": reduction, "name": theirs.name}


@pytest.mark.parametrize("cls", KERAS_CLASSES, ids=lambda c: c.__name__)
def test_keras_string_names(keras, cls):
    """Every Keras name fastloss.get_loss takes for the class is one Keras takes for
    the same loss, with the same value."""
    from fastloss import _table

    row = next(r for r in _table.KERAS if r.cls == cls.__name__)
    y_true, y_pred = keras_inputs(cls, np.random.default_rng(0), (4, 3))
    want = float(np.mean(getattr(keras.losses, cls.__name__)()(y_true, y_pred)))
    for name in (*row.names, row.cls):
        theirs = keras.losses.get(name)
        value = np.mean(theirs(y_true, y_pred))
        np.testing.assert_allclose(value, want, rtol=1e-6)
        got = fastloss.get_loss(name)(y_true, y_pred)
        np.testing.assert_allclose(got, want, rtol=2e-6)
