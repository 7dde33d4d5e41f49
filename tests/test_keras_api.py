"""fastloss.losses' Keras API beyond the classes: `get`, the functional forms, their
short aliases, ``axis=`` and Keras 3's reduction names.

References: the classes themselves over a moved axis (a plain NumPy ``moveaxis``),
finite differences, and Keras 3 on its JAX backend when it imports
(tests/_keras_jax.py; those tests skip cleanly otherwise).
"""

import numpy as np
import pytest
from _keras_jax import keras_jax

from fastloss import losses as fl

RNG = np.random.default_rng(16)


def _probs(shape, axis=-1):
    p = RNG.uniform(0.05, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


def _onehot(n, c):
    return np.eye(c)[RNG.integers(0, c, n)]


def _onehot_along(shape, axis):
    """One-hot rows of `shape` along `axis`."""
    rest = tuple(np.delete(shape, axis))
    rows = _onehot(int(np.prod(rest)), shape[axis]).reshape(rest + (shape[axis],))
    return np.moveaxis(rows, -1, axis)


# ---- get ---------------------------------------------------------------------------

FUNCTION_NAMES = [
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "hinge",
    "squared_hinge",
    "poisson",
    "huber",
    "log_cosh",
    "kl_divergence",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_hinge",
    "categorical_generalized_cross_entropy",
]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_get_function_names_give_the_functions(name):
    assert fl.get(name) is getattr(fl, name)


@pytest.mark.parametrize(
    ("alias", "function"),
    [
        ("mse", "mean_squared_error"),
        ("MSE", "mean_squared_error"),
        ("mae", "mean_absolute_error"),
        ("MAE", "mean_absolute_error"),
        ("kld", "kl_divergence"),
        ("KLD", "kl_divergence"),
        ("bce", "binary_crossentropy"),
        ("BCE", "binary_crossentropy"),
        ("mape", "mean_absolute_percentage_error"),
        ("MAPE", "mean_absolute_percentage_error"),
        ("msle", "mean_squared_logarithmic_error"),
        ("MSLE", "mean_squared_logarithmic_error"),
    ],
)
def test_aliases_are_attributes_and_names(alias, function):
    assert getattr(fl, alias) is getattr(fl, function)
    assert fl.get(alias) is getattr(fl, function)


def test_get_classes_configs_and_passthrough():
    loss = fl.get("CategoricalCrossentropy")
    assert type(loss) is fl.CategoricalCrossentropy and loss.from_logits is False
    loss = fl.get({"class_name": "CategoricalCrossentropy", "config": {"axis": 0}})
    assert loss.axis == 0
    loss = fl.get({"class_name": "Huber"})
    assert loss.delta == 1.0
    mine = fl.Huber(delta=3.0)
    assert fl.get(mine) is mine
    assert type(fl.get(fl.LogCosh)) is fl.LogCosh
    assert fl.get(None) is None
    assert fl.get(np.square) is np.square


def test_get_refuses_clearly():
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'.*classes:"):
        fl.get("crossentropy")
    with pytest.raises(ValueError, match="class_name"):
        fl.get({"class_name": "mse"})
    with pytest.raises(ValueError, match="class_name"):
        fl.get({"config": {}})
    with pytest.raises(TypeError, match="delta"):
        fl.get({"class_name": "LogCosh", "config": {"delta": 2.0}})
    with pytest.raises(TypeError, match="could not interpret"):
        fl.get(3)


# ---- functional forms ----------------------------------------------------------------


def _cases():
    t, p = _onehot(6, 4), _probs((6, 4))
    y = RNG.standard_normal((6, 3))
    b = RNG.integers(0, 2, (6, 3)).astype(float)
    q = RNG.uniform(0.05, 0.95, (6, 3))
    return [
        ("mean_squared_error", fl.MeanSquaredError, {}, y, y[::-1]),
        ("mean_absolute_error", fl.MeanAbsoluteError, {}, y, y[::-1]),
        ("mean_absolute_percentage_error", fl.MeanAbsolutePercentageError, {}, y, q),
        ("mean_squared_logarithmic_error", fl.MeanSquaredLogarithmicError, {}, q, b),
        ("hinge", fl.Hinge, {}, b, y),
        ("squared_hinge", fl.SquaredHinge, {}, b, y),
        ("poisson", fl.Poisson, {}, b, q),
        ("huber", fl.Huber, {"delta": 0.5}, y, y[::-1]),
        ("log_cosh", fl.LogCosh, {}, y, y[::-1]),
        ("kl_divergence", fl.KLDivergence, {}, _probs((6, 4)), p),
        ("binary_crossentropy", fl.BinaryCrossentropy, {"label_smoothing": 0.1}, b, q),
        (
            "binary_focal_crossentropy",
            fl.BinaryFocalCrossentropy,
            {"gamma": 1.5, "from_logits": True},
            b,
            y,
        ),
        ("categorical_crossentropy", fl.CategoricalCrossentropy, {}, t, p),
        (
            "categorical_focal_crossentropy",
            fl.CategoricalFocalCrossentropy,
            {"gamma": 1.0},
            t,
            p,
        ),
        (
            "sparse_categorical_crossentropy",
            fl.SparseCategoricalCrossentropy,
            {"from_logits": True},
            t.argmax(-1),
            y @ RNG.standard_normal((3, 4)),
        ),
    ]


@pytest.mark.parametrize(("name", "cls", "kw", "t", "p"), _cases(), ids=lambda v: "")
def test_functional_forms_are_the_per_sample_losses(name, cls, kw, t, p):
    got = getattr(fl, name)(t, p, **kw)
    want = cls(**kw, reduction="none")(t, p)
    assert got.shape == (6,)
    np.testing.assert_array_equal(got, want)
    # and they are what the mean reduction averages
    assert np.isclose(got.mean(), cls(**kw)(t, p), rtol=1e-12)


# ---- axis ----------------------------------------------------------------------------

AXIS_CASES = [
    (fl.CategoricalCrossentropy, {}, "probs"),
    (fl.CategoricalCrossentropy, {"from_logits": True, "label_smoothing": 0.1}, "x"),
    (fl.CategoricalFocalCrossentropy, {"gamma": 1.0}, "probs"),
    (fl.BinaryCrossentropy, {"from_logits": True}, "x"),
    (fl.BinaryCrossentropy, {}, "probs"),
    (fl.BinaryFocalCrossentropy, {"from_logits": True}, "x"),
    (fl.SparseCategoricalCrossentropy, {"from_logits": True}, "x"),
    (fl.SparseCategoricalCrossentropy, {}, "probs"),
]


@pytest.mark.parametrize(("cls", "kw", "kind"), AXIS_CASES)
@pytest.mark.parametrize("axis", [0, 1, -2])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "none"])
def test_axis_is_the_last_axis_moved(cls, kw, kind, axis, reduction):
    shape = (3, 4, 5)
    x = _probs(shape, axis) if kind == "probs" else RNG.standard_normal(shape)
    if cls is fl.SparseCategoricalCrossentropy:
        t = RNG.integers(0, shape[axis], np.delete(shape, axis % 3))
        t_last = t
    else:
        t = _onehot_along(shape, axis)
        t_last = np.moveaxis(t, axis, -1)
    x_last = np.moveaxis(x, axis, -1)
    loss = cls(**kw, axis=axis, reduction=reduction)
    got, grad = loss.loss_and_grad(t, x)
    want, want_grad = cls(**kw, reduction=reduction).loss_and_grad(t_last, x_last)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, np.moveaxis(want_grad, -1, axis), rtol=1e-12)
    # the gradient by central differences of the loss along a few coordinates
    if reduction == "none":
        return
    h = 1e-6
    for flat in RNG.choice(x.size, 4, replace=False):
        e = np.zeros(x.size)
        e[flat] = h
        e = e.reshape(shape)
        fd = (loss(t, x + e) - loss(t, x - e)) / (2 * h)
        assert np.isclose(grad.flat[flat], fd, rtol=1e-5, atol=1e-8)


def test_axis_is_checked():
    with pytest.raises(TypeError, match="axis must be an int"):
        fl.CategoricalCrossentropy(axis=1.0)
    with pytest.raises(TypeError, match="axis must be an int"):
        fl.BinaryCrossentropy(axis=True)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        fl.CategoricalCrossentropy(axis=2)(np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="y_true must have y_pred's shape"):
        fl.CategoricalCrossentropy(axis=0)(np.eye(3)[:2], np.full((3, 3), 1 / 3))
    cfg = fl.BinaryCrossentropy(axis=0).get_config()
    assert cfg["axis"] == 0 and fl.BinaryCrossentropy.from_config(cfg).axis == 0
    assert "axis" not in repr(fl.BinaryCrossentropy())


# ---- Keras 3 itself ------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    return keras_jax()


@pytest.mark.parametrize(("name", "cls", "kw", "t", "p"), _cases(), ids=lambda v: "")
def test_functional_forms_match_keras(keras, name, cls, kw, t, p):
    want = np.asarray(getattr(keras.losses, name)(t, p, **kw), dtype=np.float64)
    got = getattr(fl, name)(t.astype(np.float32), p.astype(np.float32), **kw)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", "none", None, "mean_with_sample_weight"]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_reduction_names_match_keras(keras, reduction, weighted):
    t, p = _onehot(8, 3), _probs((8, 3))
    sw = RNG.uniform(0.1, 2.0, 8) if weighted else None
    for name, kw in [
        ("CategoricalCrossentropy", {}),
        ("BinaryCrossentropy", {"from_logits": True}),
        ("MeanSquaredError", {}),
    ]:
        ours = getattr(fl, name)(**kw, reduction=reduction)
        theirs = getattr(keras.losses, name)(**kw, reduction=reduction)
        x = p if name != "BinaryCrossentropy" else np.log(p)
        got = ours(t, x, sample_weight=sw)
        want = np.asarray(theirs(t, x, sample_weight=sw), dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("axis", [0, 1])
def test_axis_matches_keras(keras, axis):
    x = RNG.standard_normal((4, 5, 3))
    t = _onehot_along(x.shape, axis)
    for name in ("CategoricalCrossentropy", "BinaryCrossentropy"):
        kw = {"from_logits": True, "axis": axis, "reduction": "none"}
        got = getattr(fl, name)(**kw)(t, x)
        want = np.asarray(getattr(keras.losses, name)(**kw)(t, x), dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=name)


# ---- functional forms with an axis (or none): one value per slice ------------------

AXIS_FUNCTIONAL = [
    ("cosine_similarity", fl.CosineSimilarity, {}),
    ("cosine_similarity", fl.CosineSimilarity, {"axis": 0}),
    ("dice", fl.Dice, {}),
    ("dice", fl.Dice, {"axis": -1}),
    ("tversky", fl.Tversky, {"alpha": 0.3, "beta": 0.7}),
    ("tversky", fl.Tversky, {"axis": 1}),
]


@pytest.mark.parametrize(("name", "cls", "kw"), AXIS_FUNCTIONAL)
def test_axis_functional_forms(name, cls, kw):
    t, p = RNG.random((6, 4)), RNG.random((6, 4))
    got = getattr(fl, name)(t, p, **kw)
    np.testing.assert_array_equal(got, cls(**kw, reduction="none")(t, p))
    # against plain float64 formulas
    axis = kw.get("axis", -1 if name == "cosine_similarity" else None)
    if name == "cosine_similarity":
        want = -(t * p).sum(axis) / np.sqrt((t * t).sum(axis) * (p * p).sum(axis))
    elif name == "dice":
        want = 1 - 2 * (t * p).sum(axis) / (t.sum(axis) + p.sum(axis) + 1e-7)
    else:
        a, b = kw.get("alpha", 0.5), kw.get("beta", 0.5)
        tp = (t * p).sum(axis)
        # Keras's names: its "fp" is sum((1 - y_pred) y_true), "fn" the other
        fp, fn = ((1 - p) * t).sum(axis), (p * (1 - t)).sum(axis)
        want = 1 - tp / (tp + a * fp + b * fn + 1e-7)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize(("name", "cls", "kw"), AXIS_FUNCTIONAL)
def test_axis_functional_forms_match_keras(keras, name, cls, kw):
    t, p = RNG.random((6, 4)), RNG.random((6, 4))
    want = np.asarray(getattr(keras.losses, name)(t, p, **kw), dtype=np.float64)
    got = getattr(fl, name)(t.astype(np.float32), p.astype(np.float32), **kw)
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_ctc_functional_form_matches_keras(keras):
    y = np.array([[1, 2, 0], [3, 0, 0], [2, 2, 1]])
    x = RNG.standard_normal((3, 6, 4)).astype(np.float32)
    got = fl.ctc(y, x)
    np.testing.assert_array_equal(got, fl.CTC(reduction="none")(y, x))
    want = np.asarray(keras.losses.ctc(y, x), dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
