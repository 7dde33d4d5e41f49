"""fastloss.nn bad input: a clear exception before any training, nothing changed."""

import numpy as np
import pytest

from fastloss import losses as fl_losses
from fastloss.nn import SGD, Adam, Dense, EarlyStopping, Sequential

N, D, C = 40, 4, 3


@pytest.fixture
def data(rng):
    return rng.standard_normal((N, D)), rng.integers(0, C, N)


def _fitted(data, loss="sparse_categorical_crossentropy", units=C):
    X, y = data
    model = Sequential([Dense(6, activation="relu"), Dense(units)])
    model.compile(optimizer=Adam(), loss=loss)
    if loss == "sparse_categorical_crossentropy":
        model.fit(X, y, epochs=1, verbose=0, seed=0)
    return model


def _snapshot(model):
    state = model.optimizer.get_state() if model.optimizer else {}
    return model.get_weights(), {k: v.copy() for k, v in state.items()}


def _assert_unchanged(model, snap):
    weights, state = snap
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    now = model.optimizer.get_state()
    assert sorted(now) == sorted(state)
    for k in state:
        np.testing.assert_array_equal(now[k], state[k])


def _y_with(y, position, value, dtype=None):
    out = y.astype(dtype or y.dtype)
    out[position] = value
    return out


BAD_FIT = [
    # (description, make x, y from (X, y), error, message)
    ("lengths", lambda X, y: (X, y[:-1]), ValueError, "x has 40 samples but y has 39"),
    (
        "class >= units",
        lambda X, y: (X, _y_with(y, 7, 3)),
        ValueError,
        r"y\[7\] = 3.*\[0, 3\)",
    ),
    (
        "negative class",
        lambda X, y: (X, _y_with(y, 2, -1)),
        ValueError,
        r"y\[2\] = -1.*negative",
    ),
    (
        "non-integer class",
        lambda X, y: (X, _y_with(y, 5, 1.5, float)),
        ValueError,
        r"y\[5\] = 1.5 is not an integer",
    ),
    ("NaN class", lambda X, y: (X, _y_with(y, 1, np.nan, float)), ValueError, "finite"),
    (
        "one-hot for sparse",
        lambda X, y: (X, np.eye(C)[y]),
        ValueError,
        "categorical_crossentropy",
    ),
    (
        "NaN in x",
        lambda X, y: (_y_with(X, (3, 1), np.nan), y),
        ValueError,
        r"x\[3, 1\] is nan",
    ),
    (
        "inf in x",
        lambda X, y: (_y_with(X, (0, 2), -np.inf), y),
        ValueError,
        r"x\[0, 2\] is -inf",
    ),
    (
        "beyond float32",
        lambda X, y: (_y_with(X, (4, 0), 1e300), y),
        ValueError,
        "out of its range",
    ),
    ("1-D x", lambda X, y: (X[:, 0], y), ValueError, r"reshape\(-1, 1\)"),
    (
        "feature count",
        lambda X, y: (X[:, :3], y),
        ValueError,
        "3 features but the model takes 4",
    ),
    ("strings", lambda X, y: (X.astype(str), y), TypeError, "numeric"),
    ("empty", lambda X, y: (X[:0], y[:0]), ValueError, "empty"),
]


@pytest.mark.parametrize("case", BAD_FIT, ids=[c[0] for c in BAD_FIT])
def test_bad_data_fails_before_training(case, data):
    _, make, error, match = case
    model = _fitted(data)
    snap = _snapshot(model)
    X, y = make(*data)
    with pytest.raises(error, match=match):
        model.fit(X, y, epochs=2, verbose=0)
    _assert_unchanged(model, snap)
    with pytest.raises(error, match=match):
        model.evaluate(X, y)


def test_bad_data_leaves_an_unbuilt_model_unbuilt(data):
    X, y = data
    model = Sequential([Dense(6), Dense(C)])
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError):
        model.fit(X, _y_with(y, 0, C), verbose=0)
    assert not model.built


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0.0, 1.0, 2.0], r"y\[2, 0\] = 2.0.*labels in \[0, 1\]"),
        ([0.0, -0.5, 1.0], r"y\[1, 0\] = -0.5"),
        ([0.0, np.inf, 1.0], "finite"),
    ],
)
def test_binary_labels_outside_0_1(labels, match, rng):
    X = rng.standard_normal((3, D))
    model = Sequential([Dense(1)])
    model.compile(loss="binary_crossentropy")
    with pytest.raises(ValueError, match=match):
        model.fit(X, labels, verbose=0)
    assert not model.built


def test_target_shapes_that_do_not_fit(rng):
    X = rng.standard_normal((5, D))
    model = Sequential([Dense(2)])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\) .* got shape \(5,\)"):
        model.fit(X, np.zeros(5), verbose=0)
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(X, np.zeros(5, int), verbose=0)
    with pytest.raises(ValueError, match="probabilities in"):
        model.fit(X, np.full((5, 2), 1.5), verbose=0)


def test_bad_validation_data(data):
    X, y = data
    model = _fitted(data)
    snap = _snapshot(model)
    with pytest.raises(ValueError, match=r"validation_data\[1\]\[0\] = 5"):
        model.fit(X, y, validation_data=(X[:3], np.array([5, 0, 0])), verbose=0)
    with pytest.raises(ValueError, match=r"\(x_val, y_val\) or"):
        model.fit(X, y, validation_data=(X, y, y, y), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data\[2\] must have one"):
        model.fit(X, y, validation_data=(X, y, y[:3]), verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        model.fit(X, y, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="empty training or validation"):
        model.fit(X[:1], y[:1], validation_split=0.1, verbose=0)
    _assert_unchanged(model, snap)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"verbose": 3}, ValueError, "verbose"),
        ({"seed": -1}, ValueError, "seed"),
        ({"shuffle": "yes"}, TypeError, "shuffle"),
        ({"callbacks": [print]}, TypeError, "Callback"),
        ({"callbacks": [EarlyStopping(monitor="val_los")]}, ValueError, "val_los"),
    ],
)
def test_bad_fit_arguments(kwargs, error, match, data):
    model = _fitted(data)
    snap = _snapshot(model)
    with pytest.raises(error, match=match):
        model.fit(*data, **{"verbose": 0, **kwargs})
    _assert_unchanged(model, snap)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (
            lambda: Dense(3, activation="softplus"),
            ValueError,
            "unknown activation 'softplus'",
        ),
        (lambda: Dense(3, activation=np.tanh), TypeError, "activation must be a name"),
        (
            lambda: Dense(3, kernel_initializer="ones"),
            ValueError,
            "unknown kernel_initializer",
        ),
        (lambda: Dense(0), ValueError, "units"),
        (lambda: Sequential([Dense(2)], dtype="float16"), ValueError, "dtype"),
        (lambda: Sequential([print]), TypeError, "Dense"),
    ],
)
def test_bad_layers(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        # a Keras 2 name that Keras 3 dropped
        (
            {"loss": "cosine_proximity"},
            ValueError,
            "unknown loss 'cosine_proximity'; known: ",
        ),
        ({"loss": "kld"}, ValueError, "cannot train"),
        ({"loss": "binary_cross_entropy"}, ValueError, "binary_crossentropy"),
        ({"loss": fl_losses.BinaryCrossentropy()}, ValueError, r"from_logits=True"),
        (
            {"loss": fl_losses.CategoricalCrossentropy(reduction="sum")},
            ValueError,
            "reduction",
        ),
        ({"loss": fl_losses.Huber}, TypeError, r"add \(\)"),
        ({"loss": 3}, TypeError, "loss must be"),
        ({"loss": None}, ValueError, "needs a loss"),
        ({"loss": "mse", "optimizer": "adagrad"}, ValueError, "unknown optimizer"),
        ({"loss": "mse", "optimizer": SGD}, TypeError, "instance"),
        ({"loss": "mse", "metrics": ["f1"]}, ValueError, "unknown metric 'f1'"),
        ({"loss": "mse", "metrics": "mae"}, TypeError, "list"),
        ({"loss": "mse", "metrics": ["accuracy"]}, ValueError, "regression loss"),
        (
            {"loss": "sparse_categorical_crossentropy", "metrics": ["mae"]},
            ValueError,
            "class indices",
        ),
        (
            {"loss": "categorical_crossentropy", "metrics": ["binary_accuracy"]},
            ValueError,
            "'accuracy'",
        ),
        (
            {"loss": "mse", "metrics": ["mae", "mean_absolute_error", "mae"]},
            ValueError,
            "unique",
        ),
    ],
)
def test_bad_compile_leaves_the_previous_compile(kwargs, error, match):
    model = Sequential([Dense(4), Dense(C)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    before = model._compile_config()
    with pytest.raises(error, match=match):
        model.compile(**kwargs)
    assert model._compile_config() == before


def test_softmax_losses_need_two_units():
    model = Sequential([Dense(1)])
    with pytest.raises(ValueError, match="at least 2"):
        model.compile(loss="sparse_categorical_crossentropy")


def test_order_of_use(data):
    X, y = data
    model = Sequential([Dense(C)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(X, y, verbose=0)
    with pytest.raises(RuntimeError, match="no weights yet"):
        model.predict(X)
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(RuntimeError, match="no weights yet"):
        model.evaluate(X, y)
    model.fit(X, y, verbose=0, seed=0)
    with pytest.raises(ValueError, match="cannot add"):
        model.add(Dense(2))
    with pytest.raises(ValueError, match=r"weight 0 has shape \(3, 3\)"):
        model.set_weights([np.zeros((3, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="2 weight arrays, got 1"):
        model.set_weights([np.zeros((D, C))])
