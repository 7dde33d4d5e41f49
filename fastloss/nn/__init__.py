"""fastloss.nn: a small dense-network trainer in plain NumPy whose every loss and
loss gradient comes from the fused fastloss kernels.

Keras-shaped::

    from fastloss.nn import Sequential, Dense, Adam

    model = Sequential([Dense(128, activation="relu"), Dense(10)])
    model.compile(optimizer=Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(X, y, epochs=10, batch_size=64, validation_split=0.1, seed=0)
    model.evaluate(X_test, y_test)        # [loss, accuracy], as Keras
    model.predict(X_test)                 # class probabilities
    model.save("model.npz"); model = fastloss.nn.load("model.npz")

The last layer emits logits; the softmax or sigmoid is applied inside the loss
kernel (and by `Sequential.predict`). Keras's own spelling, a last layer
``Dense(10, activation="softmax")`` with ``loss="categorical_crossentropy"``, is
fused into the same kernel call. See docs/nn.md.
"""

from . import activations, initializers  # noqa: F401 - submodules, not names
from .callbacks import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
)
from .io import load
from .layers import Dense, Dropout, Input, InputLayer
from .metrics import AUC, RootMeanSquaredError
from .model import Sequential, set_random_seed
from .optimizers import SGD, Adam, AdamW, Optimizer

__all__ = [
    "AUC",
    "SGD",
    "Adam",
    "AdamW",
    "Callback",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "History",
    "Input",
    "InputLayer",
    "ModelCheckpoint",
    "Optimizer",
    "ProgressBar",
    "ReduceLROnPlateau",
    "RootMeanSquaredError",
    "Sequential",
    "load",
    "set_random_seed",
]
