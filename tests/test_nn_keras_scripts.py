"""Keras tutorials, run unchanged on fastloss.nn.

Each script below is the Keras code a tutorial shows (dense models on scikit-learn's
digits, breast_cancer and diabetes, a multi-label problem, an imbalanced problem
with ``class_weight``). It runs twice: after Keras 3's imports (JAX backend, CPU)
and after fastloss.nn's, the import lines being the only difference. Both runs
must reach the same test score within a stated noise band (their weight
initialisations and shuffles come from different random generators, so the
scores are not equal). The bands hold the spread measured over set_random_seed
10, 11 and 12 on both sides (largest difference seen: 0.08 for the imbalanced
recall, whose test set has 25 positives; at most 0.04 elsewhere).

The fastloss.nn run always happens and must reach the score on its own; the Keras
side skips cleanly when keras or jax does not import (tests/_keras_jax.py).
"""

import numpy as np
import pytest
from _keras_jax import keras_jax

sklearn_datasets = pytest.importorskip("sklearn.datasets")

KERAS_IMPORTS = """
from keras import Input, Sequential
from keras.callbacks import EarlyStopping, ReduceLROnPlateau
from keras.layers import Dense, Dropout
from keras.metrics import AUC
from keras.optimizers import Adam
from keras.utils import set_random_seed
"""

FASTLOSS_IMPORTS = """
from fastloss.nn import Input, Sequential
from fastloss.nn import EarlyStopping, ReduceLROnPlateau
from fastloss.nn import Dense, Dropout
from fastloss.nn import AUC
from fastloss.nn import Adam
from fastloss.nn import set_random_seed
"""


def _split(X, y, seed=0, frac=0.75):
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * frac)
    return X[order[:cut]], X[order[cut:]], y[order[:cut]], y[order[cut:]]


def _standard(X_train, X_test):
    mu, sd = X_train.mean(0), X_train.std(0) + 1e-8
    return ((X_train - mu) / sd).astype("float32"), ((X_test - mu) / sd).astype(
        "float32"
    )


def _digits():
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = _split(X / 16.0, y)
    return X_train.astype("float32"), X_test.astype("float32"), y_train, y_test


def _breast_cancer():
    X, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = _split(X, y.astype("float32"))
    return (*_standard(X_train, X_test), y_train, y_test)


def _diabetes():
    X, y = sklearn_datasets.load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = _split(X, (y / 100.0).astype("float32"))
    return (*_standard(X_train, X_test), y_train, y_test)


def _multilabel():
    # three labels per digit image: even, greater than 4, drawn with a loop
    X, d = sklearn_datasets.load_digits(return_X_y=True)
    Y = np.stack([d % 2 == 0, d > 4, np.isin(d, [0, 6, 8, 9])], 1).astype("float32")
    X_train, X_test, y_train, y_test = _split(X / 16.0, Y)
    return X_train.astype("float32"), X_test.astype("float32"), y_train, y_test


def _imbalanced():
    # 5% positives: without class weights a model learns to say "negative"
    rng = np.random.default_rng(3)
    n = 2000
    y = (rng.random(n) < 0.05).astype("float32")
    X = rng.standard_normal((n, 10)) + 0.9 * y[:, None] * np.linspace(1, 0, 10)
    X_train, X_test, y_train, y_test = _split(X, y)
    return (*_standard(X_train, X_test), y_train, y_test)


# Each script leaves `score` (a test-set figure) in its namespace.
SCRIPTS = {
    "digits": (
        _digits,
        """
set_random_seed(0)
model = Sequential([
    Input(shape=(64,)),
    Dense(64, activation="relu"),
    Dropout(0.1),
    Dense(10, activation="softmax"),
])
model.compile(optimizer=Adam(learning_rate=0.005),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(X_train, y_train, epochs=15, batch_size=32, validation_split=0.1,
          verbose=0)
loss, score = model.evaluate(X_test, y_test, verbose=0)
""",
        0.93,
        0.04,
    ),
    "digits_onehot": (
        _digits,
        """
set_random_seed(1)
Y_train = np.eye(10, dtype="float32")[y_train]
model = Sequential([Dense(32, activation="tanh", input_shape=(64,)),
                    Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy",
              metrics=["categorical_accuracy"])
model.fit(X_train, Y_train, batch_size=16, epochs=10, verbose=0,
          callbacks=[ReduceLROnPlateau(monitor="loss", patience=2)])
probs = model.predict(X_test, verbose=0)
score = float((probs.argmax(axis=1) == y_test).mean())
""",
        0.92,
        0.04,
    ),
    "breast_cancer": (
        _breast_cancer,
        """
set_random_seed(2)
model = Sequential([Input(shape=(30,)), Dense(16, activation="relu"),
                    Dense(1, activation="sigmoid")])
model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy",
              metrics=["accuracy", AUC()])
model.fit(X_train, y_train, epochs=20, batch_size=32, verbose=0,
          validation_data=(X_test, y_test),
          callbacks=[EarlyStopping(monitor="val_loss", patience=5,
                                   restore_best_weights=True)])
results = model.evaluate(X_test, y_test, verbose=0, return_dict=True)
score = results["accuracy"]
""",
        0.93,
        0.04,
    ),
    "diabetes": (
        _diabetes,
        """
set_random_seed(3)
model = Sequential([Input(shape=(10,)), Dense(8, activation="relu"), Dense(1)])
model.compile(optimizer=Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
model.fit(X_train, y_train, epochs=30, batch_size=32, verbose=0)
pred = model.predict(X_test, verbose=0)[:, 0]
score = 1.0 - ((pred - y_test) ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum()
""",
        0.3,
        0.12,
    ),
    "multilabel": (
        _multilabel,
        """
set_random_seed(4)
model = Sequential([Input(shape=(64,)), Dense(64, activation="relu"),
                    Dense(3, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy",
              metrics=["binary_accuracy"])
model.fit(X_train, y_train, epochs=15, batch_size=32, verbose=0)
loss, score = model.evaluate(X_test, y_test, verbose=0)
""",
        0.92,
        0.04,
    ),
    "imbalanced_class_weight": (
        _imbalanced,
        """
set_random_seed(5)
model = Sequential([Input(shape=(10,)), Dense(16, activation="relu"),
                    Dense(1, activation="sigmoid")])
model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy",
              weighted_metrics=["accuracy"])
model.fit(X_train, y_train, epochs=15, batch_size=64, verbose=0,
          class_weight={0: 1.0, 1: 10.0})
pred = model.predict(X_test, verbose=0)[:, 0] > 0.5
score = float(pred[y_test == 1].mean())  # recall of the rare class
""",
        0.5,
        0.15,
    ),
}


def _run(imports, script, data):
    X_train, X_test, y_train, y_test = data()
    namespace = {
        "np": np,
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_train,
        "y_test": y_test,
    }
    exec(imports + script, namespace)  # noqa: S102 - our own tutorial text
    return float(namespace["score"])


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_script_on_fastloss_nn(name):
    data, script, floor, _ = SCRIPTS[name]
    score = _run(FASTLOSS_IMPORTS, script, data)
    assert score >= floor, f"{name}: {score:.4f} < {floor}"


@pytest.fixture(scope="module")
def keras():
    return keras_jax()


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_script_matches_keras(keras, name):
    data, script, floor, band = SCRIPTS[name]
    theirs = _run(KERAS_IMPORTS, script, data)
    ours = _run(FASTLOSS_IMPORTS, script, data)
    print(f"{name}: keras {theirs:.4f}, fastloss.nn {ours:.4f}")
    assert theirs >= floor - band, f"Keras itself scores {theirs:.4f}"
    assert abs(ours - theirs) <= band, f"{name}: {ours:.4f} vs Keras {theirs:.4f}"
