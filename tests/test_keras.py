"""fastloss.losses: the Keras-named classes and get_loss.

Values and gradients are checked against plain float64 NumPy twins of Keras 3's
formulas and reductions (gradients by finite differences), and, where TensorFlow and
Keras are importable (never in CI: ``pytest.importorskip``), against Keras itself with
``tf.GradientTape``: those are marked ``tensorflow`` and run only when asked for
(``--run-tensorflow`` or ``-m tensorflow``, see conftest.py).
"""

import doctest
import os
import zlib

import numpy as np
import pytest

import fastloss
from fastloss import losses as fl

EPS = 1e-7
C = 4  # classes of the categorical cases
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


# ---- float64 twins of Keras 3 ------------------------------------------------------


def _smooth(t, ls):
    return t * (1 - ls) + 0.5 * ls


def _clip(p):
    return np.clip(p, EPS, 1 - EPS)


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def r_mse(t, p):
    return ((p - t) ** 2).mean(-1)


def r_mae(t, p):
    return np.abs(p - t).mean(-1)


def r_huber(t, p, delta=1.0):
    a = np.abs(p - t)
    return np.where(a <= delta, 0.5 * a**2, delta * a - 0.5 * delta**2).mean(-1)


def r_log_cosh(t, p):
    return np.log(np.cosh(p - t)).mean(-1)


def r_bce(t, p, from_logits=False, label_smoothing=0.0):
    y = _smooth(t, label_smoothing)
    if from_logits:
        return (np.logaddexp(0, p) - y * p).mean(-1)
    q = _clip(p)
    return (-(y * np.log(q) + (1 - y) * np.log(1 - q))).mean(-1)


def r_bfce(
    t,
    p,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
):
    y = _smooth(t, label_smoothing)
    if from_logits:
        p = 1 / (1 + np.exp(-p))
    q = _clip(p)
    bce = -(y * np.log(q) + (1 - y) * np.log(1 - q))
    loss = (1 - (y * p + (1 - y) * (1 - p))) ** gamma * bce
    if apply_class_balancing:
        loss = loss * (y * alpha + (1 - y) * (1 - alpha))
    return loss.mean(-1)


def r_cce(t, p, from_logits=False, label_smoothing=0.0):
    y = t * (1 - label_smoothing) + label_smoothing / t.shape[-1]
    if from_logits:
        return -(y * _log_softmax(p)).sum(-1)
    return -(y * np.log(_clip(p / p.sum(-1, keepdims=True)))).sum(-1)


def r_scce(t, p, from_logits=False, ignore_class=None):
    t = np.asarray(t).astype(np.int64)
    if t.ndim == p.ndim:
        t = t[..., 0]
    valid = np.ones(t.shape, bool) if ignore_class is None else t != ignore_class
    z = p if from_logits else np.log(_clip(p))
    picked = np.take_along_axis(_log_softmax(z), np.where(valid, t, 0)[..., None], -1)
    return np.where(valid, -picked[..., 0], 0.0)


def r_cfce(t, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0):
    y = t * (1 - label_smoothing) + label_smoothing / t.shape[-1]
    if from_logits:
        p = np.exp(_log_softmax(p))
    o = _clip(p / p.sum(-1, keepdims=True))
    return (-(np.asarray(alpha) * (1 - o) ** gamma * y * np.log(o))).sum(-1)


def r_kld(t, p):
    t, q = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    return (t * np.log(t / q)).sum(-1)


def _hinge_labels(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def r_hinge(t, p):
    return np.maximum(1 - _hinge_labels(t) * p, 0).mean(-1)


def r_squared_hinge(t, p):
    return (np.maximum(1 - _hinge_labels(t) * p, 0) ** 2).mean(-1)


def r_msle(t, p):
    return (
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2
    ).mean(-1)


def r_mape(t, p):
    return 100 * np.abs((t - p) / np.maximum(np.abs(t), EPS)).mean(-1)


def r_poisson(t, p):
    return (p - t * np.log(p + EPS)).mean(-1)


def _same_rank(a, b):
    """keras.losses.loss.squeeze_or_expand_to_same_rank, plainly."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b[:, None]
        else:
            a = a[..., 0]
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a[:, None]
        else:
            b = b[..., 0]
    return a, b


def keras_weight(sw, shape):
    """The weight Keras needs for fastloss's `sw` on losses of `shape`: Keras aligns
    trailing axes, so a weight of the leading axes only gets its trailing ones."""
    if sw is None or np.ndim(sw) == 0:
        return sw
    sw = np.asarray(sw)
    try:
        np.broadcast_shapes(_same_rank(np.empty(shape), sw)[1].shape, shape)
    except ValueError:
        return sw.reshape(sw.shape + (1,) * (len(shape) - sw.ndim))
    return sw


def r_reduce(values, sw, reduction, mask=None):
    """keras.losses.loss.reduce_weighted_values, plainly."""
    sw = keras_weight(sw, values.shape)
    if mask is not None:
        if reduction in ("mean", "sum_over_batch_size"):
            valid = mask.sum()
            fmask = np.where(mask, mask.size / valid if valid else 0.0, 0.0)
        else:
            fmask = mask.astype(float)
        if sw is not None:
            fmask, sw = _same_rank(fmask, np.asarray(sw, float))
            sw = sw * fmask
        else:
            sw = fmask
    if sw is not None:
        values, sw = _same_rank(values, np.asarray(sw, float))
        values = values * sw
    if reduction in ("none", None) or values.shape in ((), (0,)):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sw is not None:
        d = np.sum(sw)
    else:
        d = values.size
    return total / d if d else 0.0


REFS = {
    fl.MeanSquaredError: r_mse,
    fl.MeanAbsoluteError: r_mae,
    fl.Huber: r_huber,
    fl.LogCosh: r_log_cosh,
    fl.BinaryCrossentropy: r_bce,
    fl.BinaryFocalCrossentropy: r_bfce,
    fl.CategoricalCrossentropy: r_cce,
    fl.SparseCategoricalCrossentropy: r_scce,
    fl.CategoricalFocalCrossentropy: r_cfce,
    fl.KLDivergence: r_kld,
    fl.Hinge: r_hinge,
    fl.SquaredHinge: r_squared_hinge,
    fl.MeanSquaredLogarithmicError: r_msle,
    fl.MeanAbsolutePercentageError: r_mape,
    fl.Poisson: r_poisson,
}


def reference(cls, params, reduction, y_true, y_pred, sw):
    """Keras's result for float64 inputs, from the twins above."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    if cls is not fl.SparseCategoricalCrossentropy:
        t, p = _same_rank(t, p)
    values = REFS[cls](t, p, **params)
    mask = None
    if params.get("ignore_class") is not None:
        labels = t[..., 0] if t.ndim == p.ndim else t
        mask = labels != params["ignore_class"]
    return r_reduce(values, sw, reduction, mask)


def fd_grad(f, x, h=1e-5):
    """4th-order central differences of the scalar f at x."""
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (8 * (f(x + e) - f(x - e)) - (f(x + 2 * e) - f(x - 2 * e))) / (12 * h)
    return g


# ---- the cases ---------------------------------------------------------------------

# (id, class, constructor arguments, kind of inputs)
CASES = [
    ("mse", fl.MeanSquaredError, {}, "reg"),
    ("mae", fl.MeanAbsoluteError, {}, "reg"),
    ("huber", fl.Huber, {}, "reg"),
    ("huber_delta", fl.Huber, {"delta": 0.3}, "reg"),
    ("log_cosh", fl.LogCosh, {}, "reg"),
    ("bce", fl.BinaryCrossentropy, {}, "bprob"),
    ("bce_ls", fl.BinaryCrossentropy, {"label_smoothing": 0.2}, "bprob"),
    ("bce_logits", fl.BinaryCrossentropy, {"from_logits": True}, "blogit"),
    (
        "bce_logits_ls",
        fl.BinaryCrossentropy,
        {"from_logits": True, "label_smoothing": 0.1},
        "blogit",
    ),
    ("bfce", fl.BinaryFocalCrossentropy, {}, "bprob"),
    (
        "bfce_balanced",
        fl.BinaryFocalCrossentropy,
        {
            "apply_class_balancing": True,
            "alpha": 0.4,
            "gamma": 1.5,
            "label_smoothing": 0.1,
        },
        "bprob",
    ),
    ("bfce_logits", fl.BinaryFocalCrossentropy, {"from_logits": True}, "blogit"),
    (
        "bfce_logits_balanced",
        fl.BinaryFocalCrossentropy,
        {
            "apply_class_balancing": True,
            "gamma": 3.0,
            "from_logits": True,
            "label_smoothing": 0.2,
        },
        "blogit",
    ),
    ("cce", fl.CategoricalCrossentropy, {}, "cprob"),
    ("cce_ls", fl.CategoricalCrossentropy, {"label_smoothing": 0.1}, "cprob"),
    ("cce_logits", fl.CategoricalCrossentropy, {"from_logits": True}, "clogit"),
    (
        "cce_logits_ls",
        fl.CategoricalCrossentropy,
        {"from_logits": True, "label_smoothing": 0.2},
        "clogit",
    ),
    ("scce", fl.SparseCategoricalCrossentropy, {}, "sprob"),
    ("scce_logits", fl.SparseCategoricalCrossentropy, {"from_logits": True}, "slogit"),
    ("scce_ignore", fl.SparseCategoricalCrossentropy, {"ignore_class": -1}, "sprob"),
    (
        "scce_logits_ignore",
        fl.SparseCategoricalCrossentropy,
        {"from_logits": True, "ignore_class": 255},
        "slogit",
    ),
    ("cfce", fl.CategoricalFocalCrossentropy, {}, "cprob"),
    (
        "cfce_ls",
        fl.CategoricalFocalCrossentropy,
        {"alpha": 0.5, "gamma": 1.0, "label_smoothing": 0.1},
        "cprob",
    ),
    (  # the fused kernel: one-hot targets, logits, no smoothing
        "cfce_logits_onehot",
        fl.CategoricalFocalCrossentropy,
        {"from_logits": True},
        "clogit_onehot",
    ),
    (
        "cfce_logits_alpha_list",
        fl.CategoricalFocalCrossentropy,
        {"alpha": [0.125, 0.25, 0.375, 0.5], "gamma": 0.5, "from_logits": True},
        "clogit_onehot",
    ),
    (  # the NumPy path: soft targets
        "cfce_logits_soft",
        fl.CategoricalFocalCrossentropy,
        {"gamma": 0.5, "from_logits": True},
        "clogit",
    ),
    ("kld", fl.KLDivergence, {}, "kl"),
    ("hinge", fl.Hinge, {}, "pm1"),
    ("hinge01", fl.Hinge, {}, "01"),
    ("squared_hinge", fl.SquaredHinge, {}, "pm1"),
    ("squared_hinge01", fl.SquaredHinge, {}, "01"),
    ("msle", fl.MeanSquaredLogarithmicError, {}, "rate"),
    ("mape", fl.MeanAbsolutePercentageError, {}, "reg"),
    ("poisson", fl.Poisson, {}, "rate"),
]
CASE_IDS = [c[0] for c in CASES]

ELEMENTWISE_SHAPES = [(6, 3), (5,), (2, 3, 2), (4, 1)]
ROW_SHAPES = [(6, C), (C,), (2, 3, C)]


def shapes_of(kind):
    elementwise = ("reg", "bprob", "blogit", "pm1", "01", "rate")
    return ELEMENTWISE_SHAPES if kind in elementwise else ROW_SHAPES


def make(kind, shape, rng, params, edges=False):
    """(y_true, y_pred) of `kind`; `edges` adds values that Keras clips."""
    lead = shape[:-1]
    if kind == "reg":
        t = rng.standard_normal(shape)
        # errors kept away from the kinks (0 for MAE, delta for Huber)
        e = rng.uniform(0.05, 0.25, shape) * rng.choice([-1, 1], shape)
        e *= rng.choice([1.0, 8.0], shape)
        return t, t + e
    if kind in ("pm1", "01"):  # hinge labels; scores kept off the margin's kink
        t = rng.choice([-1.0, 1.0] if kind == "pm1" else [0.0, 1.0], shape)
        y = 2 * t - 1 if kind == "01" else t
        m = rng.uniform(0.1, 1.5, shape) * rng.choice([-1, 1], shape)
        return t, (1 - m) * y  # 1 - y p = m
    if kind == "rate":  # counts and positive rates, a negative one raised to 1e-7
        t = rng.poisson(2.0, shape).astype(float)
        p = rng.uniform(0.2, 5.0, shape)
        if edges:
            p.reshape(-1)[0] = -0.5
        return t, p
    if kind == "bprob":
        t = rng.choice([0.0, 1.0, 0.3], shape)
        p = rng.uniform(0.05, 0.95, shape)
        if edges:
            p.reshape(-1)[0], p.reshape(-1)[-1] = 0.0, 1.0
        return t, p
    if kind == "blogit":
        return rng.choice([0.0, 1.0, 0.7], shape), rng.uniform(-6, 6, shape)
    if kind in ("cprob", "clogit", "clogit_onehot", "kl"):
        if kind == "clogit_onehot":
            t = np.eye(C)[rng.integers(0, C, lead)]
        else:
            t = rng.dirichlet(np.ones(C), lead)
            t[..., 0] = 0.0  # a zero target: clipped by KLDivergence
            t /= t.sum(-1, keepdims=True)
        if kind in ("cprob", "kl"):
            p = rng.uniform(0.05, 1.0, shape)
            if kind == "kl":
                p /= p.sum(-1, keepdims=True)
            if edges:
                p.reshape(-1)[1] = 0.0
        else:
            p = rng.normal(0, 2, shape)
        return t, p
    # class indices
    t = rng.integers(0, C, lead)
    ignore = params.get("ignore_class")
    if ignore is not None and t.size > 1:
        t.reshape(-1)[1] = ignore
    if kind == "sprob":
        p = rng.uniform(0.05, 0.95, shape)
        if edges:
            p.reshape(-1)[0], p.reshape(-1)[-1] = 0.0, 1.0
        return t, p
    return t, rng.normal(0, 2, shape)


def weights(shape, kind, rng):
    """Sample weights of every form Keras takes, for per-sample losses of `shape`."""
    lead = shape[:-1]
    out = {"none": None, "scalar": 0.7}
    if lead:
        out["leading"] = rng.uniform(0.1, 2.0, lead[:1])
        out["full"] = rng.uniform(0.1, 2.0, lead)
        if len(lead) == 1:
            out["column"] = out["leading"][:, None]
    else:
        out["spread"] = rng.uniform(0.1, 2.0, (3,))  # Keras broadcasts one sample
    return out


def seeded(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _matrix(full):
    for cid, _, _, kind in CASES:
        for shape in shapes_of(kind):
            for sw_name in weights(shape, kind, seeded(0)):
                for red in REDUCTIONS if full else ("sum_over_batch_size", "none"):
                    yield pytest.param(
                        cid, shape, sw_name, red, id=f"{cid}-{shape}-{sw_name}-{red}"
                    )


def _case(cid):
    return CASES[CASE_IDS.index(cid)]


def kind_of(cid):
    return _case(cid)[3]


def _inputs(cid, shape, sw_name, edges=False):
    _, cls, params, kind = _case(cid)
    rng = seeded(cid, shape, sw_name)
    y_true, y_pred = make(kind, shape, rng, params, edges)
    sw = weights(shape, kind, rng)[sw_name]
    return cls, params, y_true, y_pred, sw


# ---- against the NumPy twins (no TensorFlow needed) ------------------------------


@pytest.mark.parametrize(("cid", "shape", "sw_name", "red"), list(_matrix(True)))
def test_values_match_keras_formulas(cid, shape, sw_name, red):
    cls, params, y_true, y_pred, sw = _inputs(cid, shape, sw_name)
    loss = cls(**params, reduction=red)
    before = y_pred.copy()
    got = loss(y_true, y_pred, sample_weight=sw)
    want = reference(cls, params, red, y_true, y_pred, sw)
    np.testing.assert_array_equal(y_pred, before)
    if red == "none":
        assert isinstance(got, np.ndarray) and got.shape == np.shape(want)
    else:
        assert type(got) is float
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("cid", "shape", "sw_name", "red"), list(_matrix(False)))
def test_gradients_match_finite_differences(cid, shape, sw_name, red):
    cls, params, y_true, y_pred, sw = _inputs(cid, shape, sw_name)
    loss = cls(**params, reduction=red)
    before = y_pred.copy()
    value, grad = loss.loss_and_grad(y_true, y_pred, sample_weight=sw)
    np.testing.assert_array_equal(y_pred, before)
    np.testing.assert_allclose(value, loss(y_true, y_pred, sw), rtol=1e-13)
    assert grad.shape == y_pred.shape and grad.dtype == np.float64
    want = fd_grad(lambda p: np.sum(reference(cls, params, red, y_true, p, sw)), y_pred)
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)


CLIPPED = [c[0] for c in CASES if c[3] in ("bprob", "sprob", "cprob")]


@pytest.mark.parametrize("cid", CLIPPED)
def test_clipped_probabilities(cid):
    cls, params, kind = _case(cid)[1:]
    shape = shapes_of(kind)[0]
    _, _, y_true, y_pred, _ = _inputs(cid, shape, "none", edges=True)
    loss = cls(**params)
    value, grad = loss.loss_and_grad(y_true, y_pred)
    ref = reference(cls, params, "sum_over_batch_size", y_true, y_pred, None)
    np.testing.assert_allclose(value, ref, rtol=1e-12)
    assert np.isfinite(grad).all()
    clipped = (y_pred < EPS) | (y_pred > 1 - EPS)
    # not for categorical (the renormalisation spreads the gradient) nor focal (its
    # focal factor is not clipped)
    if cls in (fl.BinaryCrossentropy, fl.SparseCategoricalCrossentropy):
        assert (grad[clipped] == 0).all()


@pytest.mark.parametrize("cid", CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtypes(cid, dtype):
    cls, params, y_true, y_pred, sw = _inputs(cid, shapes_of(_case(cid)[3])[0], "full")
    loss = cls(**params)
    value, grad = loss.loss_and_grad(y_true, y_pred.astype(dtype), sw)
    assert type(value) is float and grad.dtype == dtype
    want = reference(cls, params, "sum_over_batch_size", y_true, y_pred, sw)
    np.testing.assert_allclose(value, want, rtol=3e-3 if dtype == np.float16 else 1e-5)
    _, grad64 = loss.loss_and_grad(y_true, y_pred, sw)
    scale = np.abs(grad64).max()
    tol = 1e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(grad, grad64, rtol=tol, atol=tol * scale)


def test_lists_and_integers_are_accepted():
    loss = fl.MeanSquaredError()
    value, grad = loss.loss_and_grad([[0, 1], [2, 3]], [[1, 1], [2, 5]])
    assert value == 1.25 and grad.dtype == np.float64
    np.testing.assert_array_equal(grad, [[0.5, 0.0], [0.0, 1.0]])


def test_rank_matching_follows_keras():
    rng = np.random.default_rng(1)
    t, p = rng.standard_normal(5), rng.standard_normal(5)
    mse = fl.MeanSquaredError(reduction="none")
    # (n,) against (n, 1): the 1-D side gains an axis, so five one-element samples
    for a, b in [(t, p[:, None]), (t[:, None], p)]:
        value, grad = mse.loss_and_grad(a, b)
        np.testing.assert_allclose(value, (p - t) ** 2)
        assert grad.shape == b.shape
    # (n, 1) labels of a sparse loss are squeezed; float labels are truncated
    scce = fl.SparseCategoricalCrossentropy(from_logits=True)
    logits = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    want = scce(labels, logits)
    assert scce(labels[:, None], logits) == want
    assert scce(labels.astype(float) + 0.25, logits) == want
    # a smaller y_true broadcasts to y_pred's shape
    p = rng.standard_normal((4, 3))
    t = rng.standard_normal(3)
    mae = fl.MeanAbsoluteError()
    assert mae(t, p) == mae(np.broadcast_to(t, p.shape).copy(), p)


def test_weights_align_trailing_axes_as_keras():
    rng = np.random.default_rng(3)
    t, p = rng.standard_normal((3, 3, 2)), rng.standard_normal((3, 3, 2))
    sw = np.array([1.0, 2.0, 0.0])
    mse = fl.MeanSquaredError(reduction="sum")
    per_sample = ((p - t) ** 2).mean(-1)
    # Keras multiplies (3, 3) losses by a (3,) weight along the last axis ...
    assert mse(t, p, sw) == pytest.approx((per_sample * sw).sum(), rel=1e-12)
    # ... and a (3, 1) weight along the first, as does a (batch,) weight when the
    # trailing axes differ (an extension: Keras rejects that)
    assert mse(t, p, sw[:, None]) == pytest.approx(
        (per_sample * sw[:, None]).sum(), rel=1e-12
    )
    assert mse(t[:, :2], p[:, :2], sw) == pytest.approx(
        (per_sample[:, :2] * sw[:, None]).sum(), rel=1e-12
    )


def test_none_reduction_is_none():
    rng = np.random.default_rng(2)
    t, p = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    a = fl.Huber(reduction=None)
    assert a.reduction == "none"
    np.testing.assert_array_equal(a(t, p), fl.Huber(reduction="none")(t, p))


def test_ignored_rows_and_empty_batches():
    logits = np.array([[1.0, 2.0, 0.5], [0.3, 0.2, 0.1]])
    scce = fl.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    value, grad = scce.loss_and_grad([-1, -1], logits)
    assert value == 0.0 and not grad.any()
    assert fl.MeanSquaredError()(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    value, grad = fl.CategoricalCrossentropy().loss_and_grad(
        np.zeros((0, 3)), np.zeros((0, 3))
    )
    assert value == 0.0 and grad.shape == (0, 3)


def test_bad_labels_and_shapes():
    logits = np.zeros((2, 3))
    scce = fl.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match="out of range"):
        scce([0, 3], logits)
    with pytest.raises(ValueError, match="out of range"):
        scce([0, -1], logits)  # -1 is a class only when ignore_class says so
    with pytest.raises(ValueError, match="shape"):
        scce([0, 1, 2], logits)
    with pytest.raises(ValueError, match="y_true of shape"):
        fl.MeanSquaredError()(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        fl.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 3)), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        fl.MeanSquaredError()(np.zeros((2, 3)), np.zeros((2, 3)), [1.0, np.nan])
    with pytest.raises(ValueError, match="alpha"):
        fl.CategoricalFocalCrossentropy(alpha=[0.5, 0.5])(np.eye(3), np.eye(3))


@pytest.mark.parametrize(
    ("make_loss", "error", "match"),
    [
        (lambda: fl.BinaryCrossentropy(reduction="auto"), ValueError, "reduction"),
        (lambda: fl.BinaryCrossentropy(label_smoothing=1.5), ValueError, "smoothing"),
        (lambda: fl.Huber(delta=0.0), ValueError, "delta"),
        (lambda: fl.Huber(delta=-1.0), ValueError, "delta"),
        (lambda: fl.SparseCategoricalCrossentropy(ignore_class=1.5), TypeError, "int"),
        (lambda: fl.BinaryFocalCrossentropy(gamma=-1.0), ValueError, "gamma"),
        (lambda: fl.CategoricalCrossentropy(from_logits="yes"), TypeError, "bool"),
        (lambda: fl.MeanSquaredError(name=3), TypeError, "name"),
        (lambda: fl.MeanSquaredError(0.5), TypeError, "positional"),
    ],
)
def test_constructor_arguments_are_checked(make_loss, error, match):
    with pytest.raises(error, match=match):
        make_loss()


def test_calling_the_class_with_arrays_says_how():
    y = np.eye(3)
    with pytest.raises(
        TypeError, match=r"CategoricalCrossentropy\(\)\(y_true, y_pred\)"
    ):
        fl.CategoricalCrossentropy(y, y)


def test_config_round_trip_and_repr():
    loss = fl.CategoricalFocalCrossentropy(
        alpha=[0.1, 0.9], gamma=1.0, from_logits=True, reduction="sum", name="cf"
    )
    config = loss.get_config()
    assert config["alpha"] == [0.1, 0.9] and config["name"] == "cf"
    again = type(loss).from_config(config)
    assert again.get_config() == config
    assert repr(fl.Huber(delta=2.0)) == "Huber(delta=2.0)"
    assert fl.MeanSquaredError().name == "mean_squared_error"


# ---- get_loss --------------------------------------------------------------------

KERAS_NAMES = {
    "sparse_categorical_crossentropy": fl.SparseCategoricalCrossentropy,
    "categorical_crossentropy": fl.CategoricalCrossentropy,
    "binary_crossentropy": fl.BinaryCrossentropy,
    "bce": fl.BinaryCrossentropy,
    "mse": fl.MeanSquaredError,
    "MSE": fl.MeanSquaredError,
    "mean_squared_error": fl.MeanSquaredError,
    "mae": fl.MeanAbsoluteError,
    "mean_absolute_error": fl.MeanAbsoluteError,
    "huber": fl.Huber,
    "log_cosh": fl.LogCosh,
    "kl_divergence": fl.KLDivergence,
    "kld": fl.KLDivergence,
    "binary_focal_crossentropy": fl.BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": fl.CategoricalFocalCrossentropy,
    "CategoricalCrossentropy": fl.CategoricalCrossentropy,
    "Huber": fl.Huber,
    "hinge": fl.Hinge,
    "squared_hinge": fl.SquaredHinge,
    "mean_squared_logarithmic_error": fl.MeanSquaredLogarithmicError,
    "msle": fl.MeanSquaredLogarithmicError,
    "MSLE": fl.MeanSquaredLogarithmicError,
    "mean_absolute_percentage_error": fl.MeanAbsolutePercentageError,
    "mape": fl.MeanAbsolutePercentageError,
    "MAPE": fl.MeanAbsolutePercentageError,
    "poisson": fl.Poisson,
}


@pytest.mark.parametrize(("name", "cls"), KERAS_NAMES.items())
def test_get_loss_keras_names(name, cls):
    loss = fastloss.get_loss(name)
    assert type(loss) is cls
    assert loss.get_config() == cls().get_config()  # Keras's defaults
    assert fastloss.get_loss(name) is not loss  # a new instance each time


def _functional_names():
    names = set(fastloss.__all__)
    return sorted(n for n in names if n + "_and_grad" in names)


@pytest.mark.parametrize("name", _functional_names())
def test_get_loss_functional_names(name):
    pair = fastloss.get_loss(name)
    assert isinstance(pair, fl.FunctionalLoss)
    fn, fn_grad = pair  # a pair
    assert fn is getattr(fastloss, name)
    assert fn_grad is getattr(fastloss, name + "_and_grad")
    assert fastloss.get_loss(fn) == pair and fastloss.get_loss(fn_grad) == pair
    assert fastloss.get_loss(pair) is pair


def test_get_loss_functional_pair_is_callable():
    loss, loss_and_grad = fastloss.get_loss("mse_loss")
    assert loss([1.0, 3.0], [1.0, 1.0]) == 2.0
    assert loss_and_grad([1.0, 3.0], [1.0, 1.0])[1].tolist() == [0.0, 2.0]


def test_get_loss_passes_instances_through():
    loss = fl.Huber(delta=0.5)
    assert fastloss.get_loss(loss) is loss
    assert fastloss.get_loss is fl.get_loss


@pytest.mark.parametrize(
    "cls",
    sorted(set(KERAS_NAMES.values()), key=lambda c: c.__name__),
    ids=lambda c: c.__name__,
)
def test_get_loss_class_instead_of_instance(cls):
    name = cls.__name__
    with pytest.raises(TypeError, match=rf"add \(\).*{name}\(\)"):
        fastloss.get_loss(cls)


def test_get_loss_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown loss 'cross_entropy'") as info:
        fastloss.get_loss("cross_entropy")
    message = str(info.value)
    for name in [
        "sparse_categorical_crossentropy",
        "mse",
        "kld",
        "softmax_cross_entropy",
    ]:
        assert name in message
    with pytest.raises(ValueError, match="unknown"):
        fastloss.get_loss("Mse")  # names are case-sensitive, as in Keras


def test_get_loss_rejects_other_objects():
    for bad in [3, None, np.zeros(3), dict, lambda a, b: 0.0]:
        with pytest.raises(TypeError, match="get_loss"):
            fastloss.get_loss(bad)
    keras_like = type(
        "CategoricalCrossentropy", (), {"__module__": "keras.src.losses.losses"}
    )()
    with pytest.raises(TypeError, match="fastloss.losses.CategoricalCrossentropy"):
        fastloss.get_loss(keras_like)


def test_docstring_examples():
    result = doctest.testmod(fl, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 60
    assert result.failed == 0


# ---- against Keras 3 (TensorFlow), when installed --------------------------------


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras is not on the TensorFlow backend")
    return keras


def keras_loss_and_grad(keras, cls, params, reduction, y_true, y_pred, sw, dtype):
    import tensorflow as tf

    loss = getattr(keras.losses, cls.__name__)(
        **params, reduction=reduction, dtype=dtype
    )
    x = tf.Variable(np.asarray(y_pred, dtype=dtype))
    with tf.GradientTape() as tape:
        value = loss(np.asarray(y_true), x, sample_weight=sw)
        total = tf.reduce_sum(value)
    grad = tape.gradient(total, x)
    grad = np.zeros(x.shape, dtype) if grad is None else grad.numpy()
    return value.numpy(), grad


def _tolerance(cid):
    # Keras's log_cosh subtracts log(2) rounded to float32 (ops.log(2.0) before the
    # cast), so every element is off by 1.9e-9 there.
    return {"rtol": 1e-9, "atol": 3e-8 if cid == "log_cosh" else 1e-12}


@pytest.mark.tensorflow
@pytest.mark.parametrize(("cid", "shape", "sw_name", "red"), list(_matrix(True)))
def test_matches_keras(keras, cid, shape, sw_name, red):
    cls, params, y_true, y_pred, sw = _inputs(cid, shape, sw_name, edges=True)
    per_sample = y_pred.shape[:-1] if kind_of(cid)[0] != "s" else np.shape(y_true)
    want, want_grad = keras_loss_and_grad(
        keras, cls, params, red, y_true, y_pred, keras_weight(sw, per_sample), "float64"
    )
    got, grad = cls(**params, reduction=red).loss_and_grad(y_true, y_pred, sw)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, **_tolerance(cid))
    np.testing.assert_allclose(grad, want_grad, **_tolerance(cid))


@pytest.mark.tensorflow
@pytest.mark.parametrize("cid", CASE_IDS)
def test_matches_keras_float32(keras, cid):
    shape = shapes_of(_case(cid)[3])[0]
    cls, params, y_true, y_pred, sw = _inputs(cid, shape, "leading", edges=True)
    y_pred = y_pred.astype(np.float32)
    want, want_grad = keras_loss_and_grad(
        keras, cls, params, "sum_over_batch_size", y_true, y_pred, sw, "float32"
    )
    got, grad = cls(**params).loss_and_grad(y_true, y_pred, sw)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-5)
    np.testing.assert_allclose(
        grad, want_grad, rtol=2e-4, atol=2e-6 * np.abs(want_grad).max()
    )


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_get_loss_names_are_keras_names(keras, name):
    cls = KERAS_NAMES[name]
    kind = next(c[3] for c in CASES if c[1] is cls and not c[2])
    y_true, y_pred = make(kind, shapes_of(kind)[0], seeded(name), {})
    k = keras.losses.get(name)
    want = (
        np.mean(k(y_true, y_pred))
        if not isinstance(k, keras.losses.Loss)
        else k(y_true, y_pred)
    )
    np.testing.assert_allclose(fastloss.get_loss(name)(y_true, y_pred), want, rtol=1e-5)


@pytest.mark.tensorflow
def test_focal_losses_at_large_logits(keras):
    """The documented behaviour beyond Keras's probability clip (1e-7): Keras's
    BinaryFocalCrossentropy on TensorFlow takes the logits back from its sigmoid and
    stays exact, as here; its CategoricalFocalCrossentropy clips the softmax, so its
    loss stops growing where the fused kernel's does not."""
    t = np.array([[1.0], [1.0]])
    x = np.array([[-10.0], [-30.0]])
    args = ("none", t, x, None, "float64")
    bfce = fl.BinaryFocalCrossentropy
    want, want_grad = keras_loss_and_grad(keras, bfce, {"from_logits": True}, *args)
    got, grad = bfce(from_logits=True, reduction="none").loss_and_grad(t, x)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-9)
    assert got[1] == pytest.approx(30.0)

    t = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    x = np.array([[0.0, 5.0, 1.0], [0.0, 30.0, 1.0]])  # the second: q_y = 9e-14
    args = ("none", t, x, None, "float64")
    cfce = fl.CategoricalFocalCrossentropy
    want, _ = keras_loss_and_grad(keras, cfce, {"from_logits": True}, *args)
    got = cfce(from_logits=True, reduction="none")(t, x)
    assert got[0] == pytest.approx(want[0], rel=1e-9)
    assert want[1] == pytest.approx(-0.25 * np.log(EPS), rel=1e-6)  # Keras: clipped
    assert got[1] == pytest.approx(0.25 * 30.0, rel=1e-6)  # exact: alpha (-log q_y)
