"""fastloss.nn: whole-network gradients against central finite differences, and
forward values and losses against a plain float64 NumPy twin written here."""

import numpy as np
import pytest

from fastloss import losses as fl_losses
from fastloss.nn import Dense, Sequential
from fastloss.nn.activations import ACTIVATIONS

# ---- the plain NumPy twin ------------------------------------------------------------

_K = np.sqrt(2.0 / np.pi)
TWIN_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),  # Keras's slope
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "gelu": lambda z: 0.5 * z * (1.0 + np.tanh(_K * (z + 0.044715 * z**3))),
    "softmax": lambda z: (
        np.exp(z - z.max(axis=1, keepdims=True))
        / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)
    ),
}


def twin_forward(model, x):
    weights = iter(model.get_weights())
    a = np.asarray(x, dtype=np.float64)
    for layer in model.layers:
        z = a @ next(weights)
        if layer.use_bias:
            z = z + next(weights)
        a = TWIN_ACTIVATIONS[layer.activation](z)
    return a


def _lse(x):
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def twin_loss(kind, out, y, **opt):
    """Batch-mean loss of the outputs (logits for classification)."""
    n = out.shape[0]
    if kind == "sparse":
        ignore = opt.get("ignore")
        keep = np.ones(n, bool) if ignore is None else y != ignore
        yk = np.where(keep, y, 0)
        rows = _lse(out) - out[np.arange(n), yk]
        gamma = opt.get("gamma")
        if gamma is not None:  # softmax focal
            p = np.exp(-rows)
            rows = (1.0 - p) ** gamma * rows
        return rows[keep].mean()
    if kind == "categorical":
        c = out.shape[1]
        t = y * (1.0 - opt.get("ls", 0.0)) + opt.get("ls", 0.0) / c
        return (t * (_lse(out)[:, None] - out)).sum(axis=1).mean()
    if kind in ("bce", "focal"):
        t = y * (1.0 - opt.get("ls", 0.0)) + opt.get("ls", 0.0) / 2
        ce = t * _softplus(-out) + (1.0 - t) * _softplus(out)
        if kind == "bce":
            return ce.mean()
        p = _sigmoid(out)
        pt = p * t + (1.0 - p) * (1.0 - t)
        alpha = opt.get("alpha")
        at = 1.0 if alpha is None else alpha * t + (1.0 - alpha) * (1.0 - t)
        return (at * ce * (1.0 - pt) ** opt["gamma"]).mean()
    r = out - y
    a = np.abs(r)
    if kind == "mse":
        return (r**2).mean()
    if kind == "mae":
        return a.mean()
    if kind == "huber":
        d = opt.get("delta", 1.0)
        return np.where(a <= d, 0.5 * r**2, d * (a - 0.5 * d)).mean()
    if kind == "smooth_l1":
        return np.where(a < 1.0, 0.5 * r**2, a - 0.5).mean()
    if kind == "log_cosh":
        return np.log(np.cosh(r)).mean()
    raise AssertionError(kind)


# ---- cases: (compile loss, twin kind, twin options, output units, target maker) ------


def _index(rng, n, c):
    return rng.integers(0, c, n)


def _probs(rng, n, c):
    p = rng.random((n, c)) + 0.1
    return p / p.sum(axis=1, keepdims=True)


def _labels(rng, n, c):
    return (rng.random((n, c)) > 0.5).astype(float)


def _soft(rng, n, c):
    return rng.random((n, c))


def _real(rng, n, c):
    return rng.standard_normal((n, c)) * 1.5


def _index_some_ignored(rng, n, c):
    y = rng.integers(0, c, n)
    y[::5] = -1
    return y


LOSS_CASES = {
    "sparse_categorical_crossentropy": (
        "sparse_categorical_crossentropy",
        "sparse",
        {},
        4,
        _index,
    ),
    "categorical_crossentropy": (
        "categorical_crossentropy",
        "categorical",
        {},
        4,
        _probs,
    ),
    "softmax_cross_entropy": ("softmax_cross_entropy", "sparse", {}, 3, _index),
    "softmax_focal_loss": ("softmax_focal_loss", "sparse", {"gamma": 2.0}, 3, _index),
    "binary_crossentropy": ("binary_crossentropy", "bce", {}, 3, _labels),
    "binary_cross_entropy_with_logits soft": (
        "binary_cross_entropy_with_logits",
        "bce",
        {},
        2,
        _soft,
    ),
    "binary_focal_crossentropy": (
        "binary_focal_crossentropy",
        "focal",
        {"gamma": 2.0},
        2,
        _labels,
    ),
    "sigmoid_focal_loss": (
        "sigmoid_focal_loss",
        "focal",
        {"gamma": 2.0, "alpha": 0.25},
        2,
        _labels,
    ),
    "mse": ("mse", "mse", {}, 3, _real),
    "mae": ("mae", "mae", {}, 3, _real),
    "huber": ("huber", "huber", {}, 2, _real),
    "smooth_l1_loss": ("smooth_l1_loss", "smooth_l1", {}, 2, _real),
    "log_cosh": ("log_cosh", "log_cosh", {}, 2, _real),
    "Huber(delta=0.5)": (fl_losses.Huber(delta=0.5), "huber", {"delta": 0.5}, 2, _real),
    "CategoricalCrossentropy(label_smoothing=0.1)": (
        fl_losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        "categorical",
        {"ls": 0.1},
        3,
        _probs,
    ),
    "SparseCategoricalCrossentropy(ignore_class=-1)": (
        fl_losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
        "sparse",
        {"ignore": -1},
        3,
        _index_some_ignored,
    ),
    "BinaryCrossentropy(label_smoothing=0.2)": (
        fl_losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
        "bce",
        {"ls": 0.2},
        2,
        _labels,
    ),
    "BinaryFocalCrossentropy(apply_class_balancing=True)": (
        fl_losses.BinaryFocalCrossentropy(
            apply_class_balancing=True, alpha=0.3, gamma=1.5, from_logits=True
        ),
        "focal",
        {"alpha": 0.3, "gamma": 1.5},
        1,
        _labels,
    ),
}

N, D = 12, 5


def _model(hidden_act, units, loss, out_act=None, rng=None, use_bias=True):
    model = Sequential(
        [
            Dense(6, activation=hidden_act, kernel_initializer="he_normal"),
            Dense(5, activation=hidden_act, use_bias=use_bias),
            Dense(units, activation=out_act),
        ],
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss=loss)
    model.build(D, seed=int(rng.integers(1 << 30)))
    # larger weights than the initialiser's, so every nonlinearity is exercised
    model.set_weights(
        [w * 1.5 + 0.1 * rng.standard_normal(w.shape) for w in model.get_weights()]
    )
    return model


def _finite_difference(model, x, y, h=1e-6):
    base = model.get_weights()
    grads = []
    for k, w in enumerate(base):
        g = np.empty_like(w)
        for idx in np.ndindex(w.shape):
            values = []
            for step in (h, -h):
                moved = [a.copy() for a in base]
                moved[k][idx] += step
                model.set_weights(moved)
                values.append(
                    model.evaluate(
                        x, y, batch_size=len(x), verbose=0, return_dict=True
                    )["loss"]
                )
            g[idx] = (values[0] - values[1]) / (2 * h)
        grads.append(g)
    model.set_weights(base)
    return grads


def _check_gradients(model, x, y):
    loss, grads = model.loss_and_gradients(x, y)
    numeric = _finite_difference(model, x, y)
    assert len(grads) == len(numeric) == len(model.get_weights())
    for i, (g, fd) in enumerate(zip(grads, numeric)):
        assert g.shape == fd.shape
        scale = max(np.abs(fd).max(), 1e-3)
        np.testing.assert_allclose(g, fd, rtol=0, atol=1e-6 * scale, err_msg=f"w{i}")
    return loss


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradients_of_every_weight_per_hidden_activation(activation, rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _model(activation, 3, "sparse_categorical_crossentropy", rng=rng)
    _check_gradients(model, x, y)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradients_with_an_activated_output_layer(activation, rng):
    # the activation's derivative on the last layer too (regression on its output)
    x = rng.standard_normal((N, D))
    y = rng.standard_normal((N, 2)) * 0.5
    model = _model("tanh", 2, "mse", out_act=activation, rng=rng, use_bias=False)
    _check_gradients(model, x, y)


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_gradients_of_every_weight_per_loss(case, rng):
    loss, _, _, units, make = LOSS_CASES[case]
    x = rng.standard_normal((N, D))
    y = make(rng, N, units)
    model = _model("gelu", units, loss, rng=rng)
    _check_gradients(model, x, y)


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_loss_value_matches_the_numpy_twin(case, rng):
    loss, kind, opts, units, make = LOSS_CASES[case]
    x = rng.standard_normal((40, D))
    y = make(rng, 40, units)
    model = _model("leaky_relu", units, loss, rng=rng)
    out = twin_forward(model, x)
    want = twin_loss(
        kind, out, y if units > 1 or y.ndim == 1 else y.reshape(-1, 1), **opts
    )
    got = model.evaluate(x, y, batch_size=40, return_dict=True)["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # batched evaluation is the same mean (up to rounding); ignored rows excepted
    if "ignore" not in opts:
        np.testing.assert_allclose(
            model.evaluate(x, y, batch_size=8, return_dict=True)["loss"],
            want,
            rtol=1e-12,
        )


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_the_numpy_twin(activation, dtype, rng):
    model = Sequential(
        [Dense(7, activation=activation), Dense(3, activation=activation)], dtype=dtype
    )
    model.build(4, seed=1)
    x = rng.standard_normal((50, 4)) * 3
    got = model.predict_logits(x)
    assert got.dtype == np.dtype(dtype)
    want = twin_forward(model, x)
    tol = 1e-12 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_gelu_and_leaky_relu_are_torchs_tanh_gelu_and_slope_0_2():
    torch = pytest.importorskip("torch")
    z = np.linspace(-8, 8, 101)
    model = Sequential([Dense(101, activation="gelu", use_bias=False)], dtype="float64")
    model.set_weights([np.diag(z)])
    got = model.predict_logits(np.ones((1, 101)))[0]
    want = torch.nn.functional.gelu(torch.from_numpy(z), approximate="tanh").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    model = Sequential(
        [Dense(101, activation="leaky_relu", use_bias=False)], dtype="float64"
    )
    model.set_weights([np.diag(z)])
    got = model.predict_logits(np.ones((1, 101)))[0]
    want = torch.nn.functional.leaky_relu(torch.from_numpy(z), 0.2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_derivatives_at_the_kink_and_nan_are_torchs(dtype):
    """The subgradient at z = 0 (either sign) is that of the left side, and NaN
    gets the left side's too, as torch's threshold_backward (a plain NumPy twin:
    where z > 0 the right side's slope, else the left side's)."""
    z0 = np.array([-3.0, -0.0, 0.0, 1e-30, 2.0, np.nan, -np.inf, np.inf], dtype)
    for name, left in (("relu", 0.0), ("leaky_relu", 0.2)):
        z = z0.copy()
        ACTIVATIONS[name].derivative(z, np.empty_like(z), None)
        want = np.where(z0 > 0, 1.0, left).astype(dtype)
        assert z.dtype == dtype
        np.testing.assert_array_equal(z, want)
        # +0.0, not -0.0: the derivative multiplies delta, whose sign it keeps
        assert not np.signbit(z).any()


def test_sigmoid_activation_is_finite_for_huge_inputs():
    model = Sequential([Dense(3, activation="sigmoid", use_bias=False)])
    model.set_weights([np.diag([-1e4, 0.0, 1e4]).astype(np.float32)])
    with np.errstate(all="raise"):
        out = model.predict_logits(np.ones((1, 3)))
    np.testing.assert_array_equal(out, [[0.0, 0.5, 1.0]])
