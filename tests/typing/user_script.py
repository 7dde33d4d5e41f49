"""A user's script, checked with ``mypy --strict`` by tests/test_typing.py (and run
by it too): it calls every public function and class of fastloss the way the
documentation does, and pins the types they return. A name added to
``fastloss.__all__`` (or ``fastloss.losses.__all__``, ``fastloss.nn.__all__``)
must be called here as ``fastloss.<name>`` (``losses.<name>``, ``nn.<name>``);
tests/test_typing.py checks that it is.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Union

import numpy as np
import numpy.typing as npt

import fastloss
from fastloss import losses, nn

FloatArray = npt.NDArray[np.floating[Any]]
# "mean"/"sum" give a float, "none" an array (Union: this line runs on Python 3.9).
LossValue = Union[float, FloatArray]

rng = np.random.default_rng(0)
logits = rng.standard_normal((4, 3))
target = np.array([0, 2, 1, 0])
pred = rng.standard_normal(5)
real = rng.standard_normal(5)
labels = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
probs = np.clip(rng.random(5), 0.05, 0.95)


def as_float(loss: LossValue) -> float:
    """What a training loop does with a "mean" loss."""
    return float(np.sum(loss))


def step(result: tuple[LossValue, FloatArray]) -> FloatArray:
    loss, grad = result
    as_float(loss)
    return grad


# ---- configuration -----------------------------------------------------------------
version: str = fastloss.__version__
cfg: dict[str, Any] = fastloss.config()
fastloss.show_config()
fastloss.set_num_threads(2)
n_threads: int = fastloss.get_num_threads()
fastloss.set_num_threads(None)
fastloss.set_simd("baseline")
simd: str = fastloss.get_simd()
fastloss.set_simd(None)

# ---- softmax family ----------------------------------------------------------------
ce: LossValue = fastloss.softmax_cross_entropy(logits, target, label_smoothing=0.1)
rows: LossValue = fastloss.softmax_cross_entropy(logits, target, reduction="none")
grad: FloatArray = step(
    fastloss.softmax_cross_entropy_and_grad(
        logits, target, class_weight=[1.0, 2.0, 1.0]
    )
)
out = np.empty_like(logits)
step(fastloss.softmax_cross_entropy_and_grad(logits, target, out=out, n_threads=1))
as_float(fastloss.softmax_focal_loss(logits, target, gamma=2.0))
step(fastloss.softmax_focal_loss_and_grad(logits, target, class_weight=[0.2, 0.3, 0.5]))
teacher = rng.standard_normal((4, 3))
as_float(fastloss.kl_div_with_logits(logits, teacher, temperature=2.0))
step(fastloss.kl_div_with_logits_and_grad(logits, teacher, reduction="sum"))
ppl: float = fastloss.perplexity(logits, target, ignore_index=-100)
norm: float = fastloss.cross_entropy_normalizer(target, class_weight=[1.0, 2.0, 1.0])

hidden = rng.standard_normal((4, 8))
head = rng.standard_normal((3, 8))
lce: float = fastloss.linear_cross_entropy(hidden, head, target)
lce_loss, d_hidden, d_head = fastloss.linear_cross_entropy_and_grad(
    hidden, head, target
)
as_float(lce_loss)

# ---- triplet -----------------------------------------------------------------------
anchor, positive, negative = (rng.standard_normal((4, 6)) for _ in range(3))
as_float(fastloss.triplet_margin_loss(anchor, positive, negative, margin=0.5))
t_loss, (g_a, g_p, g_n) = fastloss.triplet_margin_loss_and_grad(
    anchor, positive, negative, swap=True
)
triplet_grads: tuple[FloatArray, FloatArray, FloatArray] = (g_a, g_p, g_n)

# ---- elementwise -------------------------------------------------------------------
as_float(fastloss.binary_cross_entropy_with_logits(pred, labels, pos_weight=2.0))
step(fastloss.binary_cross_entropy_with_logits_and_grad(pred, labels))
as_float(fastloss.binary_cross_entropy(probs, labels, epsilon=1e-7))
step(fastloss.binary_cross_entropy_and_grad(probs, labels, label_smoothing=0.1))
as_float(fastloss.sigmoid_focal_loss(pred, labels, alpha=None))
step(fastloss.sigmoid_focal_loss_and_grad(pred, labels, gamma=1.5))
as_float(fastloss.mse_loss(pred, real, sample_weight=np.ones(5)))
step(fastloss.mse_loss_and_grad(pred, real, out=np.empty_like(pred)))
as_float(fastloss.l1_loss(pred, real))
step(fastloss.l1_loss_and_grad(pred, real))
as_float(fastloss.huber_loss(pred, real, delta=0.5))
step(fastloss.huber_loss_and_grad(pred, real, delta=0.5))
as_float(fastloss.smooth_l1_loss(pred, real, beta=0.5))
step(fastloss.smooth_l1_loss_and_grad(pred, real, beta=0.5))
as_float(fastloss.log_cosh_loss(pred.tolist(), real.tolist(), weight=np.ones(5)))
step(fastloss.log_cosh_loss_and_grad(pred, real, reduction="none"))
as_float(fastloss.poisson_loss(pred, np.abs(real), log_input=True))
step(fastloss.poisson_loss_and_grad(np.abs(pred), real, log_input=False, eps=1e-3))
as_float(fastloss.hinge_loss(pred, np.sign(real)))
step(fastloss.hinge_loss_and_grad(pred, np.sign(real), sample_weight=np.ones(5)))
as_float(fastloss.squared_hinge_loss(pred, np.sign(real), weight=np.ones(5)))
step(fastloss.squared_hinge_loss_and_grad(pred, np.sign(real), reduction="sum"))
as_float(fastloss.msle_loss(np.abs(pred), np.abs(real), epsilon=1e-6))
step(fastloss.msle_loss_and_grad(np.abs(pred), np.abs(real), n_threads=1))
as_float(fastloss.mape_loss(pred, real, epsilon=1e-6))
step(fastloss.mape_loss_and_grad(pred, real, out=np.empty_like(pred)))

# ---- row pairs: cosine similarity, Dice, Tversky -------------------------------------
as_float(fastloss.cosine_similarity_loss(anchor, positive, epsilon=1e-7))
step(fastloss.cosine_similarity_loss_and_grad(anchor, positive, reduction="sum"))
as_float(fastloss.dice_loss(probs, labels, sample_weight=2.0))
step(fastloss.dice_loss_and_grad(probs, labels, epsilon=0.0))
as_float(fastloss.tversky_loss(probs, labels, alpha=0.7, beta=0.3))
step(fastloss.tversky_loss_and_grad(probs, labels, out=np.empty_like(probs)))
as_float(fastloss.circle_loss(anchor, [0, 0, 1, 1], gamma=2.0, margin=0.25))
step(fastloss.circle_loss_and_grad(anchor, np.array([0, 1, 0, 1]), reduction="sum"))

# ---- categorical hinge (scores, one-hot rows), GCE (probabilities, indices) ---------
hinge_scores = rng.standard_normal((4, 3))
as_float(fastloss.categorical_hinge_loss(hinge_scores, np.eye(3)[target]))
step(
    fastloss.categorical_hinge_loss_and_grad(
        hinge_scores, np.eye(3)[target], n_threads=1
    )
)
gce_probs = np.full((4, 3), 1.0 / 3.0)
as_float(fastloss.categorical_generalized_cross_entropy_loss(gce_probs, target, q=0.7))
step(
    fastloss.categorical_generalized_cross_entropy_loss_and_grad(
        gce_probs, target, ignore_index=2, out=np.empty_like(gce_probs)
    )
)

# ---- CTC: (frames, sequences, classes) log-probabilities, labels, lengths ---------
frames = np.log(np.full((6, 2, 4), 0.25))
seqs = np.array([[1, 2], [3, 0]])
as_float(fastloss.ctc_loss(frames, seqs, [6, 5], [2, 1], blank=0, zero_infinity=True))
step(fastloss.ctc_loss_and_grad(frames, seqs, [6, 5], [2, 1], from_logits=True))
ctc_keras = losses.CTC()
as_float(ctc_keras(seqs, frames.transpose(1, 0, 2)))
step(ctc_keras.loss_and_grad(seqs, frames.transpose(1, 0, 2)))

# ---- Keras-named classes and get_loss ----------------------------------------------
probs_2d = np.full((4, 3), 1.0 / 3.0)
onehot = np.eye(3)[target]
keras_losses: list[losses.Loss] = [
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=None),
    losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.CategoricalFocalCrossentropy(alpha=[0.2, 0.3, 0.5], from_logits=True),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.0),
    losses.BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True),
    losses.MeanSquaredError(reduction="sum"),
    losses.MeanAbsoluteError(name="mae"),
    losses.Huber(delta=0.5),
    losses.LogCosh(reduction=None),
    losses.KLDivergence(),
    losses.CosineSimilarity(axis=-1),
    losses.Dice(axis=-1),
    losses.Tversky(alpha=0.7, beta=0.3, axis=(1,)),
    losses.Circle(gamma=2.0, remove_diagonal=False),
    losses.Hinge(),
    losses.SquaredHinge(reduction="sum"),
    losses.MeanSquaredLogarithmicError(),
    losses.MeanAbsolutePercentageError(name="mape"),
    losses.Poisson(),
    losses.CategoricalHinge(),
    losses.CategoricalGeneralizedCrossEntropy(q=0.7),
]
sparse_classes = (
    losses.SparseCategoricalCrossentropy,
    losses.Circle,
    losses.CategoricalGeneralizedCrossEntropy,
)
for loss_obj in keras_losses:
    sparse = isinstance(loss_obj, sparse_classes)
    y_true = target if sparse else onehot
    rates = isinstance(
        loss_obj,
        (
            losses.KLDivergence,
            losses.Poisson,
            losses.CategoricalGeneralizedCrossEntropy,
        ),
    )
    y_pred = probs_2d if rates else logits
    as_float(loss_obj(y_true, y_pred, sample_weight=np.ones(4)))
    step(loss_obj.loss_and_grad(y_true, y_pred))
    config: dict[str, Any] = loss_obj.get_config()
    clone: losses.Loss = type(loss_obj).from_config(config)
    text: str = repr(clone)

mse_again: losses.MeanSquaredError = losses.MeanSquaredError.from_config({})
resolved: losses.Loss | losses.FunctionalLoss = losses.get_loss("mse")
pair = fastloss.get_loss(fastloss.softmax_cross_entropy)
assert isinstance(pair, losses.FunctionalLoss)
as_float(pair.loss(logits, target))
huber = fastloss.losses.get_loss("huber")
assert isinstance(huber, losses.Loss)
as_float(huber([[0.0]], [[2.0]]))

# ---- fastloss.nn: a small trainer ---------------------------------------------------
x_train = rng.standard_normal((32, 4))
y_train = rng.integers(0, 3, 32)


class CountEpochs(nn.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.seen += 1


optimizers: list[nn.Optimizer] = [
    nn.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    nn.Adam(learning_rate=1e-3),
    nn.AdamW(learning_rate=1e-3, weight_decay=0.01),
]
relu = nn.activations.get_activation("relu")
init = nn.initializers.get_initializer("he_normal")
for optimizer in optimizers:
    model = nn.Sequential(
        [nn.Dense(8, activation="relu", input_dim=4), nn.Dense(3)], dtype="float64"
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    counter = CountEpochs()
    history: nn.History = model.fit(
        x_train,
        y_train,
        epochs=2,
        batch_size=8,
        validation_split=0.25,
        callbacks=[counter, nn.EarlyStopping(patience=1), nn.ProgressBar(verbose=2)],
        verbose=0,
        seed=0,
    )
    losses_per_epoch: list[float] = history.history["loss"]
    scores: dict[str, float] = model.evaluate(x_train, y_train, return_dict=True)
    class_probs: FloatArray = model.predict(x_train)
    model_loss, weight_grads = model.loss_and_gradients(x_train, y_train)
    lines: list[str] = []
    model.summary(print_fn=lines.append)

nn.set_random_seed(0)
# Keras's own spelling: Input, a softmax output fused into the cross-entropy,
# Dropout, weights, callbacks and Keras's evaluate / predict arguments.
keras_model = nn.Sequential(
    [
        nn.Input(shape=(4,)),
        nn.Dense(8, activation="relu"),
        nn.Dropout(0.25, seed=1),
        nn.Dense(3, activation="softmax"),
    ]
)
keras_model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
    weighted_metrics=["accuracy"],
)
with tempfile.TemporaryDirectory() as tmp:
    keras_model.fit(
        x_train,
        y_train,
        8,
        2,
        0,
        callbacks=[
            nn.ModelCheckpoint(os.path.join(tmp, "best.npz")),
            nn.ReduceLROnPlateau(patience=1),
        ],
        validation_data=(x_train, y_train),
        class_weight={0: 2.0},
        sample_weight=np.ones(32),
        initial_epoch=1,
    )
loss_and_accuracies: float | list[float] = keras_model.evaluate(
    x_train, y_train, verbose=0, sample_weight=np.ones(32)
)
probabilities: FloatArray = keras_model.predict(x_train, batch_size=16, verbose=0)
binary_model = nn.Sequential(
    [nn.InputLayer(shape=(4,)), nn.Dense(1, activation="sigmoid")]
)
binary_model.compile(
    loss="binary_crossentropy", metrics=[nn.AUC(), nn.RootMeanSquaredError()]
)

# ---- fastloss.losses: Keras's functional forms, aliases and get -------------------
per_sample: list[Any] = [
    losses.sparse_categorical_crossentropy(y_train, probabilities),
    losses.categorical_crossentropy(np.eye(3)[y_train], probabilities, axis=-1),
    losses.categorical_focal_crossentropy(np.eye(3)[y_train], probabilities),
    losses.binary_crossentropy(np.eye(3)[y_train], probabilities),
    losses.binary_focal_crossentropy(np.eye(3)[y_train], probabilities),
    losses.mean_squared_error(probabilities, probabilities),
    losses.mean_absolute_error(probabilities, probabilities),
    losses.huber(probabilities, probabilities, delta=2.0),
    losses.log_cosh(probabilities, probabilities),
    losses.kl_divergence(probabilities, probabilities),
    losses.mse(probabilities, probabilities),
    losses.MSE(probabilities, probabilities),
    losses.mae(probabilities, probabilities),
    losses.MAE(probabilities, probabilities),
    losses.kld(probabilities, probabilities),
    losses.KLD(probabilities, probabilities),
    losses.bce(np.eye(3)[y_train], probabilities),
    losses.BCE(np.eye(3)[y_train], probabilities),
    losses.mean_absolute_percentage_error(probabilities, probabilities),
    losses.mean_squared_logarithmic_error(probabilities, probabilities),
    losses.mape(probabilities, probabilities),
    losses.MAPE(probabilities, probabilities),
    losses.msle(probabilities, probabilities),
    losses.MSLE(probabilities, probabilities),
    losses.hinge(np.eye(3)[y_train], probabilities),
    losses.squared_hinge(np.eye(3)[y_train], probabilities),
    losses.poisson(probabilities, probabilities),
    losses.categorical_hinge(np.eye(3)[y_train], probabilities),
    losses.categorical_generalized_cross_entropy(y_train, probabilities, 0.5),
    losses.cosine_similarity(probabilities, probabilities, axis=-1),
    losses.dice(probabilities, probabilities),
    losses.tversky(probabilities, probabilities, 0.3, 0.7, axis=-1),
    losses.ctc(np.array([[1, 2, 0]]), np.zeros((1, 5, 3))),
]
got = losses.get({"class_name": "Huber", "config": {"delta": 2.0}})

# The model round-trips through a file.
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "model.npz")
    model.save(path)
    restored: nn.Sequential = nn.load(path)
    same: FloatArray = restored.predict(x_train)
