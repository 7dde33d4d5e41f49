"""fastloss.nn training: end to end on scikit-learn's bundled data, determinism,
dtypes, target shapes, predict, History, callbacks, progress output and the
allocation-free training step."""

import io
import math
import tracemalloc

import numpy as np
import pytest

from fastloss.nn import (
    SGD,
    Adam,
    AdamW,
    Callback,
    Dense,
    EarlyStopping,
    History,
    ProgressBar,
    Sequential,
)


def _standardise(train, test):
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def _split(X, y, seed, test_size=0.25, stratify=True):
    from sklearn.model_selection import train_test_split

    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None
    )
    Xtr, Xte = _standardise(Xtr, Xte)
    return Xtr, Xte, ytr, yte


# ---- end to end (the thresholds, on the default split) -----------------------
# One fixed recipe per data set, chosen with benchmarks/nn_accuracy_sweep.py over
# train_test_split(random_state=0..9) x seeds 0-1, not on a lucky split; docs/nn.md
# has the table. The tests train on split 0 and check four more splits below.


def _digits(split, seed=0):
    """splits 0-9 x seeds 0-1: accuracy min 0.973, median 0.980, 20/20 >= 0.97."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = _split(X, y, split)
    model = Sequential(
        [Dense(128, activation="relu", kernel_initializer="he_normal"), Dense(10)]
    )
    model.compile(
        optimizer=AdamW(learning_rate=3e-3, weight_decay=0.3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(Xtr, ytr, epochs=40, batch_size=64, verbose=0, seed=seed)
    return model, hist, Xte, yte, model.evaluate(Xte, yte, return_dict=True)["accuracy"]


def _breast_cancer(split, seed=0):
    """splits 0-9 x seeds 0-1: accuracy min 0.958, median 0.972, 20/20 >= 0.95.
    (Logistic regression: about 0.97 on most splits.)"""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = _split(X, y, split)
    model = Sequential([Dense(8, activation="tanh"), Dense(1)])
    model.compile(
        optimizer=AdamW(learning_rate=1e-3, weight_decay=0.1),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    stop = EarlyStopping(patience=10, restore_best_weights=True)
    hist = model.fit(  # (n,) labels
        Xtr,
        ytr,
        epochs=100,
        batch_size=16,
        validation_split=0.2,
        callbacks=[stop],
        verbose=0,
        seed=seed,
    )
    return model, hist, Xte, yte, model.evaluate(Xte, yte, return_dict=True)["accuracy"]


def _diabetes(split, seed=0):
    """splits 0-9 x seeds 0-1: R² min 0.431, median 0.483, 20/20 >= 0.40. Ridge
    regression on the same splits: min 0.402, median 0.480 (a small noisy data
    set; split 0 is one of the hard ones). The strong decoupled weight decay keeps
    the network close to linear; it underfits from about 5."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = _split(X, y, split, test_size=0.3, stratify=False)
    mu, sd = ytr.mean(), ytr.std()
    model = Sequential([Dense(16, activation="gelu"), Dense(1)])
    model.compile(optimizer=AdamW(learning_rate=3e-3, weight_decay=3.0), loss="huber")
    stop = EarlyStopping(patience=20, restore_best_weights=True)
    hist = model.fit(
        Xtr,
        (ytr - mu) / sd,
        epochs=100,
        batch_size=32,
        validation_split=0.2,
        callbacks=[stop],
        verbose=0,
        seed=seed,
    )
    pred = model.predict(Xte)[:, 0] * sd + mu
    r2 = 1.0 - ((yte - pred) ** 2).sum() / ((yte - yte.mean()) ** 2).sum()
    return model, hist, Xte, yte, r2


def test_digits_softmax_cross_entropy_reaches_97_percent():
    pytest.importorskip("sklearn")
    model, hist, Xte, yte, accuracy = _digits(0)
    assert hist.history["loss"][-1] < hist.history["loss"][0] / 10
    assert accuracy >= 0.97, accuracy
    # the accuracy, recomputed from the predicted probabilities
    proba = model.predict(Xte)
    assert proba.shape == (len(Xte), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(proba.argmax(axis=1) == yte) == pytest.approx(accuracy)


def test_breast_cancer_binary_cross_entropy_reaches_95_percent():
    pytest.importorskip("sklearn")
    model, hist, Xte, yte, accuracy = _breast_cancer(0)
    assert "val_loss" in hist.history
    assert accuracy >= 0.95, accuracy
    proba = model.predict(Xte)
    assert proba.shape == (len(Xte), 1)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert np.mean((proba[:, 0] > 0.5) == yte) == pytest.approx(accuracy)


def test_diabetes_huber_regression_r2_above_0_4():
    pytest.importorskip("sklearn")
    _, hist, _, _, r2 = _diabetes(0)
    assert len(hist.epoch) < 100  # early stopping, on the validation split
    assert r2 >= 0.40, r2


@pytest.mark.parametrize(
    ("train", "threshold"),
    [(_digits, 0.97), (_breast_cancer, 0.95), (_diabetes, 0.40)],
    ids=["digits", "breast_cancer", "diabetes"],
)
def test_the_recipes_hold_on_other_splits(train, threshold):
    """Not one lucky split: four more, with another seed. The median must meet the
    issue's threshold and the worst split come within 0.02 of it (one or two test
    samples for the classifiers)."""
    pytest.importorskip("sklearn")
    scores = [train(split, seed=1)[-1] for split in (1, 2, 3, 4)]
    assert np.median(scores) >= threshold, scores
    assert min(scores) >= threshold - 0.02, scores


# ---- small problems for the rest -----------------------------------------------------


def _blobs(rng, n=200, d=6, c=3):
    centers = rng.standard_normal((c, d)) * 2
    y = rng.integers(0, c, n)
    return centers[y] + rng.standard_normal((n, d)), y


def _classifier(dtype="float32", hidden=16, c=3):
    model = Sequential(
        [Dense(hidden, activation="relu"), Dense(hidden, activation="tanh"), Dense(c)],
        dtype=dtype,
    )
    model.compile(
        optimizer=Adam(learning_rate=1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_same_seed_gives_bit_identical_weights_predictions_and_history(rng):
    X, y = _blobs(rng)
    runs = []
    for _ in range(2):
        model = _classifier()
        hist = model.fit(X, y, epochs=3, batch_size=16, verbose=0, seed=123)
        runs.append((model.get_weights(), model.predict(X), hist.history))
    (w1, p1, h1), (w2, p2, h2) = runs
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p1, p2)
    assert h1 == h2
    other = _classifier()
    other.fit(X, y, epochs=3, batch_size=16, verbose=0, seed=124)
    assert not np.array_equal(other.get_weights()[0], w1[0])


def test_seed_covers_initialisation_and_shuffling_separately(rng):
    X, y = _blobs(rng)
    a = _classifier()
    a.build(X.shape[1], seed=7)  # the weights fit(seed=7) would draw
    b = _classifier()
    b.fit(X[:1], y[:1], epochs=1, batch_size=1, verbose=0, seed=7, shuffle=False)
    c = _classifier()
    c.build(X.shape[1], seed=7)
    np.testing.assert_array_equal(a.get_weights()[0], c.get_weights()[0])
    # a built model keeps its weights: seed only changes the shuffling then
    before = a.get_weights()
    a.fit(X, y, epochs=1, batch_size=16, verbose=0, seed=1)
    c.fit(X, y, epochs=1, batch_size=16, verbose=0, seed=2)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    assert not np.array_equal(a.get_weights()[0], before[0])
    # no seed: fresh entropy
    d, e = _classifier(), _classifier()
    d.build(6)
    e.build(6)
    assert not np.array_equal(d.get_weights()[0], e.get_weights()[0])


def test_float32_by_default_and_float64_on_request(rng):
    X, y = _blobs(rng)
    results = {}
    for dtype in ("float32", "float64"):
        model = _classifier(dtype=dtype) if dtype != "float32" else _classifier()
        hist = model.fit(X, y, epochs=2, batch_size=32, verbose=0, seed=5)
        assert all(w.dtype == np.dtype(dtype) for w in model.get_weights())
        assert model.predict(X).dtype == np.dtype(dtype)
        assert model.predict_logits(X).dtype == np.dtype(dtype)
        results[dtype] = hist.history["loss"]
    assert Sequential([Dense(1)]).dtype == np.float32
    # the same seed draws the same weights; training differs only by rounding
    np.testing.assert_allclose(results["float32"], results["float64"], rtol=1e-3)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "mse", "huber"])
def test_n_targets_for_one_unit_equal_n_by_1_targets(loss, rng):
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(float)
    weights = []
    for target in (y, y.reshape(-1, 1), list(y)):
        model = Sequential([Dense(4, activation="tanh"), Dense(1)])
        model.compile(optimizer="sgd", loss=loss, metrics=["binary_accuracy"])
        model.fit(X, target, epochs=2, batch_size=8, verbose=0, seed=0)
        weights.append(model.get_weights())
        assert set(model.evaluate(X, target, return_dict=True)) == {
            "loss",
            "binary_accuracy",
        }
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


def test_predict_is_batched_and_applies_the_losss_output(rng):
    X, y = _blobs(rng, n=103)
    model = _classifier(dtype="float64")
    model.fit(X, y, epochs=1, batch_size=16, verbose=0, seed=0)
    logits = model.predict_logits(X, batch_size=1000)
    for bs in (1, 7, 32, 103):
        np.testing.assert_allclose(
            model.predict_logits(X, batch_size=bs), logits, rtol=1e-13
        )
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        model.predict(X, batch_size=7), e / e.sum(axis=1, keepdims=True), rtol=1e-13
    )
    binary = Sequential([Dense(2)], dtype="float64")
    binary.compile(loss="binary_crossentropy")
    binary.build(X.shape[1], seed=0)
    z = binary.predict_logits(X)
    np.testing.assert_allclose(
        binary.predict(X, batch_size=5), 1 / (1 + np.exp(-z)), rtol=1e-13
    )
    regression = Sequential([Dense(2)], dtype="float64")
    regression.compile(loss="mse")
    regression.build(X.shape[1], seed=0)
    np.testing.assert_array_equal(regression.predict(X), regression.predict_logits(X))
    uncompiled = Sequential([Dense(2)])
    uncompiled.build(X.shape[1], seed=0)
    np.testing.assert_array_equal(uncompiled.predict(X), uncompiled.predict_logits(X))


# ---- History, timings and logs -------------------------------------------------------


def test_history_holds_epoch_logs_params_and_timings(rng):
    X, y = _blobs(rng, n=150)
    model = _classifier()
    hist = model.fit(
        X, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0, seed=0
    )
    assert isinstance(hist, History) and model.history is hist
    assert hist.epoch == [0, 1, 2]
    assert list(hist.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.params["epochs"] == 3 and hist.params["batch_size"] == 32
    assert hist.params["samples"] == 120 and hist.params["steps"] == math.ceil(120 / 32)
    t = hist.timings
    assert set(t) == {"total", "loss", "steps"}
    assert t["steps"] == 3 * 4
    assert 0 < t["loss"] < t["total"]
    # val_ entries are the last fraction of the data, evaluated after the epoch
    final = model.evaluate(X[120:], y[120:], return_dict=True)
    assert hist.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert hist.history["val_accuracy"][-1] == final["accuracy"]


def test_epoch_loss_is_the_mean_over_the_epochs_samples(rng):
    # with a negligible learning rate the weights do not move, so the epoch's
    # batch-weighted mean must equal the loss of the whole training set
    X, y = _blobs(rng, n=90)
    model = _classifier(dtype="float64")
    model.compile(
        optimizer=SGD(learning_rate=1e-300),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(X, y, epochs=1, batch_size=16, verbose=0, seed=0)
    whole = model.evaluate(X, y, batch_size=90, return_dict=True)
    assert hist.history["loss"][0] == pytest.approx(whole["loss"], rel=1e-12)
    assert hist.history["accuracy"][0] == pytest.approx(whole["accuracy"])


def test_callback_hooks_run_in_keras_order(rng):
    X, y = _blobs(rng, n=40)
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):
            calls.append(f"batch_end {batch} {sorted(logs)}")

        def on_epoch_end(self, epoch, logs=None):
            # user callbacks run before the History records the epoch
            calls.append(f"epoch_end {epoch} {len(self.model.history.epoch)}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    model = _classifier()
    rec = Recorder()
    model.fit(X, y, epochs=2, batch_size=25, verbose=0, seed=0, callbacks=[rec])
    assert rec.model is model and rec.params["steps"] == 2
    batch = "['accuracy', 'loss']"
    assert calls == [
        "train_begin",
        "epoch_begin 0",
        f"batch_end 0 {batch}",
        f"batch_end 1 {batch}",
        "epoch_end 0 0",
        "epoch_begin 1",
        f"batch_end 0 {batch}",
        f"batch_end 1 {batch}",
        "epoch_end 1 1",
        "train_end",
    ]


# ---- EarlyStopping -------------------------------------------------------------------


class _Stub:
    """Just what EarlyStopping uses of a model: weights tagged by epoch."""

    def __init__(self):
        self.stop_training = False
        self.tag = -1

    def get_weights(self):
        return [np.array(self.tag)]

    def set_weights(self, weights):
        self.tag = int(weights[0])


def _drive(callback, values, key="val_loss"):
    model = _Stub()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        model.tag = epoch
        callback.on_epoch_end(epoch, {key: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch, model.tag


def test_early_stopping_patience_and_restore():
    es = EarlyStopping(patience=2, restore_best_weights=True)
    stopped, tag = _drive(es, [1.0, 0.5, 0.6, 0.7, 0.1])
    assert (stopped, es.stopped_epoch, es.best_epoch, tag) == (3, 3, 1, 1)
    es = EarlyStopping(patience=2)  # weights are left as they are
    assert _drive(es, [1.0, 0.5, 0.6, 0.7, 0.1]) == (3, 3)
    es = EarlyStopping(patience=0)  # never before epoch 1
    assert _drive(es, [1.0, 2.0, 3.0])[0] == 1


def test_early_stopping_min_delta_mode_and_baseline():
    # improvements smaller than min_delta do not count
    es = EarlyStopping(patience=2, min_delta=0.1)
    assert _drive(es, [1.0, 0.95, 0.93, 0.5])[0] == 2
    es = EarlyStopping(patience=2)
    assert _drive(es, [1.0, 0.95, 0.93, 0.5])[0] == 3 and es.stopped_epoch == 0
    # accuracies are maximised in mode "auto"
    es = EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    assert _drive(es, [0.5, 0.9, 0.8, 0.7], key="val_accuracy") == (2, 1)
    es = EarlyStopping(monitor="val_loss", mode="max", patience=1)
    assert _drive(es, [0.5, 0.9, 0.8, 0.7])[0] == 2
    # epochs that do not beat the baseline keep counting towards the patience
    values = [1.0, 0.9, 0.95, 0.96, 0.97]
    assert _drive(EarlyStopping(patience=2, baseline=0.1), values)[0] == 2
    assert _drive(EarlyStopping(patience=2), values)[0] == 3
    # start_from_epoch: nothing counts before it
    es = EarlyStopping(patience=1, start_from_epoch=2)
    assert _drive(es, [1.0, 2.0, 3.0, 4.0, 5.0])[0] == 3


def test_early_stopping_in_fit_stops_and_restores_the_best_weights(rng):
    X, y = _blobs(rng, n=64)
    seen = []

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_weights())

    model = _classifier()
    es = EarlyStopping(
        monitor="loss", min_delta=1e9, patience=1, restore_best_weights=True
    )
    hist = model.fit(
        X, y, epochs=10, batch_size=16, verbose=0, seed=0, callbacks=[Keep(), es]
    )
    assert hist.epoch == [0, 1] and es.stopped_epoch == 1
    for a, b in zip(model.get_weights(), seen[0]):  # epoch 0's weights
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(seen[1][0], seen[0][0])


def test_early_stopping_on_an_unlogged_key_fails_before_training(rng):
    X, y = _blobs(rng, n=40)
    model = _classifier()
    with pytest.raises(
        ValueError, match="val_loss.*validation_data or validation_split"
    ):
        model.fit(X, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])
    assert not model.built
    with pytest.raises(ValueError, match="'val_acc'"):
        model.fit(
            X,
            y,
            epochs=2,
            verbose=0,
            validation_split=0.2,
            callbacks=[EarlyStopping(monitor="val_acc")],
        )


# ---- progress output -----------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_off_a_terminal_prints_one_line_per_epoch(rng, capsys):
    X, y = _blobs(rng, n=100)
    model = _classifier()
    model.fit(
        X,
        y,
        epochs=2,
        batch_size=32,
        validation_split=0.2,
        seed=0,
        callbacks=[ProgressBar()],
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 2 and "\r" not in out  # no bar, no redraws
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"Epoch {epoch}/2 - 3/3 - ")
        assert "/step - loss: " in line
        for key in ("accuracy: ", "val_loss: ", "val_accuracy: "):
            assert key in line


def test_plain_progress_bar_on_a_terminal_shows_the_eta(rng):
    X, y = _blobs(rng, n=100)
    term = _Terminal()
    model = _classifier()
    model.fit(
        X,
        y,
        epochs=1,
        batch_size=10,
        seed=0,
        callbacks=[ProgressBar(file=term)],
    )
    text = term.getvalue()
    assert "\r 1/10 [==" in text and "ETA: " in text
    assert text.endswith("\n") and "10/10 [====" in text


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing(rng, capsys):
    X, y = _blobs(rng, n=50)
    model = _classifier()
    model.fit(X, y, epochs=3, batch_size=16, verbose=2, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == [
        "Epoch 1/3",
        "Epoch 2/3",
        "Epoch 3/3",
    ]
    assert all("loss: " in line and "accuracy: " in line for line in lines)
    model.fit(X, y, epochs=2, verbose=0, seed=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_default_progress_bar_writes_to_stdout(rng, capsys):
    X, y = _blobs(rng, n=50)
    model = _classifier()
    model.fit(X, y, epochs=2, batch_size=16, seed=0)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "4/4" in out and "loss: " in out and "accuracy: " in out


# ---- the training step allocates nothing per batch -----------------------------------


class _AllocationProbe(Callback):
    """Traced memory between consecutive batch ends after a warm-up: the peak is
    what one training step allocated at most, the current what it kept."""

    def __init__(self, warm_up=3):
        self.warm_up = warm_up
        self.peaks = []
        self.kept = []

    def on_batch_end(self, batch, logs=None):
        if batch == self.warm_up:
            tracemalloc.start()
            tracemalloc.reset_peak()
        elif batch > self.warm_up:
            current, peak = tracemalloc.get_traced_memory()
            self.peaks.append(peak)
            self.kept.append(current)
            tracemalloc.reset_peak()

    def on_epoch_end(self, epoch, logs=None):
        tracemalloc.stop()


@pytest.mark.parametrize(
    "loss, metrics, activation",
    [
        ("sparse_categorical_crossentropy", ["accuracy"], "gelu"),
        ("binary_crossentropy", ["binary_accuracy", "mse"], "sigmoid"),
        ("huber", ["mae"], "leaky_relu"),
    ],
)
def test_training_step_allocates_no_batch_sized_arrays(loss, metrics, activation, rng):
    batch, units, width, classes = 256, 256, 32, 8
    X = rng.standard_normal((batch * 8, width))
    if loss.startswith("sparse"):
        y = rng.integers(0, classes, len(X))
    else:
        y = (rng.random((len(X), classes)) > 0.5).astype(float)
    model = Sequential(
        [
            Dense(units, activation=activation),
            Dense(units, activation="relu"),
            Dense(classes),
        ]
    )
    model.compile(optimizer=AdamW(), loss=loss, metrics=metrics)
    probe = _AllocationProbe()
    model.fit(X, y, epochs=1, batch_size=batch, verbose=0, seed=0, callbacks=[probe])
    one_buffer = batch * units * 4  # a single float32 batch x units temporary: 256 KiB
    # NumPy's ufunc machinery keeps a fixed 8192-element buffer for broadcasting
    # (the bias add); anything of batch x units size would exceed half of one buffer
    assert max(probe.peaks) < one_buffer // 2, probe.peaks
    assert probe.kept[-1] - probe.kept[0] < 4096, probe.kept  # nothing accumulates


# ---- metrics, recomputed from the predictions ----------------------------------------


def test_metrics_match_numpy_on_the_predictions(rng):
    from fastloss import losses as fl_losses

    X = rng.standard_normal((70, 4))
    cases = [
        ("binary_crossentropy", (rng.random((70, 2)) > 0.5).astype(float), 2),
        ("mse", rng.random((70, 2)), 2),
        ("categorical_crossentropy", np.eye(3)[rng.integers(0, 3, 70)], 3),
    ]
    for loss, y, units in cases:
        metrics = (
            ["accuracy", "mae", "mse"]
            if units == 3
            else ["binary_accuracy", "mae", "mse"]
        )
        model = Sequential([Dense(5, activation="tanh"), Dense(units)], dtype="float64")
        model.compile(loss=loss, metrics=metrics)
        model.build(4, seed=0)
        p = model.predict(X)
        got = model.evaluate(X, y, batch_size=16, return_dict=True)
        if units == 3:
            assert got["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y.argmax(1)))
        else:
            assert got["binary_accuracy"] == pytest.approx(np.mean((p > 0.5) == y))
        assert got["mae"] == pytest.approx(np.abs(p - y).mean(), rel=1e-12)
        assert got["mse"] == pytest.approx(((p - y) ** 2).mean(), rel=1e-12)
    y = rng.integers(0, 3, 70)
    y[::4] = -1
    model = Sequential([Dense(3)])
    model.compile(
        loss=fl_losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
        metrics=["acc"],
    )
    model.build(4, seed=0)
    keep = y >= 0
    want = np.mean(model.predict(X).argmax(1)[keep] == y[keep])
    assert model.evaluate(X, y, batch_size=9, return_dict=True)["acc"] == pytest.approx(
        want
    )


# ---- summary ------------------------------------------------------------------------


def test_summary_lists_layers_shapes_and_parameter_counts(capsys):
    model = Sequential(
        [
            Dense(32, activation="relu", input_dim=20),
            Dense(16, use_bias=False),
            Dense(4),
        ]
    )
    assert model.summary() is None  # printed once, as Keras: nothing to echo
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == 'Model: "sequential" (float32)'
    rows = [line.split() for line in lines if line.startswith("dense")]
    assert [r[:2] for r in rows] == [
        ["dense", "(Dense)"],
        ["dense_1", "(Dense)"],
        ["dense_2", "(Dense)"],
    ]
    assert [r[2] + r[3] for r in rows] == ["(None,32)", "(None,16)", "(None,4)"]
    assert [r[4] for r in rows] == ["relu", "linear", "linear"]
    assert [r[5] for r in rows] == ["672", "512", "68"]  # 20*32+32, 32*16, 16*4+4
    assert "Total params: 1,252" in text
    model.compile(
        optimizer=Adam(), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    printed = []
    model.summary(print_fn=printed.append)
    assert capsys.readouterr().out == "" and len(printed) == 1
    text = printed[0]
    assert "predict applies the softmax" in text and "Metrics: accuracy" in text
    Sequential([Dense(3)]).summary(print_fn=printed.append)
    assert "?" in printed[1] and "unknown until" in printed[1]
