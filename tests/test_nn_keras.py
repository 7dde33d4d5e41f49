"""fastloss.nn's Keras features, one by one: the fused softmax / sigmoid output,
Keras's fit / evaluate / predict arguments, sample and class weights, Input,
Dropout, the callbacks and metrics, summary and saving.

References: plain float64 NumPy written here, finite differences, the same model
spelled with logits (the fusion must not change a bit of the training), and Keras 3
on JAX where it imports (its gradients and its AUC; skipped cleanly otherwise).
"""

import os
import warnings

import numpy as np
import pytest
from _keras_jax import keras_jax

import fastloss.nn as nn
from fastloss import losses as fl_losses

N, D = 24, 5


@pytest.fixture
def rng():
    return np.random.default_rng(1616)


def _pair(rng, out_act, loss, units=3, dtype="float64", seed=3):
    """The same weights in a model with `out_act` on its last layer."""
    model = nn.Sequential(
        [nn.Dense(6, activation="tanh"), nn.Dense(units, activation=out_act)],
        dtype=dtype,
    )
    model.compile(optimizer=nn.SGD(learning_rate=0.1), loss=loss)
    model.build(D, seed=seed)
    return model


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- the fused output ----------------------------------------------------------------

FUSED = [
    ("softmax", "sparse_categorical_crossentropy", "index", 3),
    ("softmax", fl_losses.SparseCategoricalCrossentropy(), "index", 3),
    ("softmax", "categorical_crossentropy", "onehot", 3),
    ("softmax", fl_losses.CategoricalCrossentropy(label_smoothing=0.1), "onehot", 3),
    ("sigmoid", "binary_crossentropy", "binary", 1),
    ("sigmoid", fl_losses.BinaryCrossentropy(), "binary", 3),
    ("sigmoid", "binary_focal_crossentropy", "binary", 2),
]
LOGITS = {
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
}


def _target(rng, kind, units, n=N):
    if kind == "index":
        return rng.integers(0, units, n)
    if kind == "onehot":
        return np.eye(units)[rng.integers(0, units, n)]
    return rng.integers(0, 2, (n, units)).astype(float)


def _logits_form(loss):
    if isinstance(loss, str):
        return loss
    config = loss.get_config()
    config["from_logits"] = True
    return type(loss).from_config(config)


@pytest.mark.parametrize(("act", "loss", "kind", "units"), FUSED)
def test_fused_output_is_the_logits_model_exactly(act, loss, kind, units, rng):
    x = rng.standard_normal((N, D))
    y = _target(rng, kind, units)
    fused = _pair(rng, act, loss, units)
    plain = _pair(rng, None, _logits_form(loss), units)
    assert fused.layers[-1].fused_output and not plain.layers[-1].fused_output
    lf, gf = fused.loss_and_gradients(x, y)
    lp, gp = plain.loss_and_gradients(x, y)
    assert lf == lp
    for a, b in zip(gf, gp):
        np.testing.assert_array_equal(a, b)
    # predict gives probabilities, which the logits model's predict gives too
    probs = fused.predict(x, verbose=0)
    np.testing.assert_array_equal(probs, plain.predict(x))
    logits = fused.predict_logits(x)
    want = _softmax(logits) if act == "softmax" else 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(probs, want, rtol=1e-12)


@pytest.mark.parametrize("act", ["softmax", "sigmoid"])
def test_fused_gradients_match_finite_differences(act, rng):
    loss = "categorical_crossentropy" if act == "softmax" else "binary_crossentropy"
    kind = "onehot" if act == "softmax" else "binary"
    x = rng.standard_normal((N, D))
    y = _target(rng, kind, 3)
    model = _pair(rng, act, loss)
    _, grads = model.loss_and_gradients(x, y)
    base = model.get_weights()
    h = 1e-6
    for k, w in enumerate(base):
        for idx in list(np.ndindex(w.shape))[:: max(1, w.size // 7)]:
            vals = []
            for step in (h, -h):
                moved = [a.copy() for a in base]
                moved[k][idx] += step
                model.set_weights(moved)
                vals.append(model.evaluate(x, y, batch_size=N, verbose=0))
            fd = (vals[0] - vals[1]) / (2 * h)
            assert grads[k][idx] == pytest.approx(fd, rel=1e-6, abs=1e-9)
        model.set_weights(base)


def test_softmax_elsewhere_has_its_own_backward(rng):
    # softmax output before mse: not fused, the Jacobian backward runs
    x = rng.standard_normal((N, D))
    y = _softmax(rng.standard_normal((N, 3)))
    model = _pair(rng, "softmax", "mse")
    assert not model.layers[-1].fused_output
    out = model.predict(x)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    loss, grads = model.loss_and_gradients(x, y)
    assert loss == pytest.approx(((out - y) ** 2).mean(), rel=1e-12)
    base = model.get_weights()
    h = 1e-6
    for k in range(len(base)):
        moved = [a.copy() for a in base]
        moved[k].flat[0] += h
        model.set_weights(moved)
        up = model.evaluate(x, y, batch_size=N, verbose=0)
        moved[k].flat[0] -= 2 * h
        model.set_weights(moved)
        down = model.evaluate(x, y, batch_size=N, verbose=0)
        assert grads[k].flat[0] == pytest.approx((up - down) / (2 * h), rel=1e-6)
        model.set_weights(base)


@pytest.mark.parametrize(
    ("layers", "loss", "match"),
    [
        ([nn.Dense(3)], fl_losses.CategoricalCrossentropy(), "activation='softmax'"),
        ([nn.Dense(3, activation="sigmoid")], "categorical_crossentropy", "'sigmoid'"),
        ([nn.Dense(2, activation="relu")], "binary_crossentropy", "'relu'"),
    ],
)
def test_probability_losses_after_the_wrong_output_are_refused(layers, loss, match):
    model = nn.Sequential(layers)
    with pytest.raises(ValueError, match=match):
        model.compile(loss=loss)
    assert not model.compiled


@pytest.mark.parametrize(
    ("act", "loss", "cls", "kind", "units"),
    [
        (
            "softmax",
            "sparse_categorical_crossentropy",
            "SparseCategoricalCrossentropy",
            "index",
            3,
        ),
        ("softmax", "categorical_crossentropy", "CategoricalCrossentropy", "onehot", 3),
        ("sigmoid", "binary_crossentropy", "BinaryCrossentropy", "binary", 2),
    ],
)
def test_fused_gradients_match_keras(act, loss, cls, kind, units, rng):
    keras = keras_jax()
    import jax

    x = rng.standard_normal((N, D)).astype("float32")
    y = _target(rng, kind, units).astype("float32" if kind != "index" else "int64")
    ours = nn.Sequential(
        [nn.Dense(6, activation="relu"), nn.Dense(units, activation=act)]
    )
    ours.compile(loss=loss)
    ours.build(D, seed=0)
    theirs = keras.Sequential(
        [
            keras.Input(shape=(D,)),
            keras.layers.Dense(6, activation="relu"),
            keras.layers.Dense(units, activation=act),
        ]
    )
    theirs.set_weights(ours.get_weights())
    kloss = getattr(keras.losses, cls)()
    trainable = [v.value for v in theirs.trainable_variables]
    fixed = [v.value for v in theirs.non_trainable_variables]

    def loss_fn(weights):
        pred, _ = theirs.stateless_call(weights, fixed, x)
        return kloss(y, pred)

    want, want_grads = jax.value_and_grad(loss_fn)(trainable)
    got, grads = ours.loss_and_gradients(x, y)
    assert got == pytest.approx(float(want), rel=1e-5)
    for g, w in zip(grads, want_grads):
        np.testing.assert_allclose(g, np.asarray(w), rtol=2e-4, atol=2e-6)


# ---- weights ------------------------------------------------------------------------


def _numpy_loss(model, x, y, w):
    """Keras's sum_over_batch_size of w_i * (cross-entropy of sample i)."""
    p = _softmax(model.predict_logits(x).astype(np.float64))
    rows = -np.log(p[np.arange(len(y)), y])
    return float((w * rows).sum() / len(y))


def test_sample_and_class_weights_are_keras_weighted_means(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    w = rng.uniform(0.0, 3.0, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    got = model.evaluate(x, y, batch_size=7, verbose=0, sample_weight=w)
    assert got == pytest.approx(_numpy_loss(model, x, y, w), rel=1e-12)
    # class_weight is a sample weight per class; both multiply
    cw = {0: 0.5, 1: 2.0}
    by_class = np.array([0.5, 2.0, 1.0])[y]
    a, b = (
        _pair(rng, "softmax", "sparse_categorical_crossentropy"),
        _pair(rng, "softmax", "sparse_categorical_crossentropy"),
    )
    ha = a.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        class_weight=cw,
        seed=1,
        sample_weight=w,
    )
    hb = b.fit(
        x, y, batch_size=8, epochs=2, verbose=0, sample_weight=w * by_class, seed=1
    )
    assert ha.history["loss"] == hb.history["loss"]
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


def test_weighted_metrics_and_validation_weights(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    w = rng.uniform(0.1, 3.0, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    model.compile(
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=["accuracy", "sparse_categorical_accuracy"],
    )
    assert model.metrics_names == [
        "loss",
        "accuracy",
        "weighted_accuracy",
        "sparse_categorical_accuracy",
    ]
    res = model.evaluate(x, y, verbose=0, sample_weight=w, return_dict=True)
    hit = model.predict(x).argmax(axis=1) == y
    assert res["accuracy"] == pytest.approx(hit.mean())
    assert res["weighted_accuracy"] == pytest.approx((w * hit).sum() / w.sum())
    assert res["sparse_categorical_accuracy"] == res["weighted_accuracy"]
    hist = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y, w), seed=0)
    assert set(hist.history) >= {"val_loss", "val_weighted_accuracy"}


def test_bad_weights_are_refused(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"sample_weight must have one weight"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="finite and >= 0"):
        model.fit(x, y, sample_weight=-np.ones(N), verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.fit(x, y, class_weight=[1.0, 2.0], verbose=0)
    with pytest.raises(ValueError, match=r"class_weight\[1\]"):
        model.fit(x, y, class_weight={1: float("nan")}, verbose=0)


# ---- fit / evaluate / predict arguments -------------------------------------------


def test_evaluate_returns_like_keras(rng, capsys):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    both = model.evaluate(x, y)  # verbose="auto": one line, as Keras's last
    assert isinstance(both, list) and len(both) == 2 and both[0] == loss
    out = capsys.readouterr().out
    assert out.startswith("1/1 - ") and "accuracy:" in out
    assert model.evaluate(x, y, verbose=0, return_dict=True) == dict(
        zip(model.metrics_names, both)
    )
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        model.evaluate(x, y, verbose=3)


def test_fit_takes_keras_positional_order_and_initial_epoch(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    seen = []

    class Epochs(nn.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    hist = model.fit(x, y, 8, 5, 0, [Epochs()], initial_epoch=3, seed=0)
    assert seen == [3, 4] and hist.epoch == [3, 4]
    assert hist.params["batch_size"] == 8 and hist.timings["steps"] == 6
    hist = model.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert hist.epoch == []
    with pytest.raises(ValueError, match="initial_epoch"):
        model.fit(x, y, initial_epoch=-1, verbose=0)


def test_shuffle_false_keeps_the_order(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    a = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    b = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    a.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, seed=1)
    b.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, seed=2)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)  # same start, no shuffling: same end


def test_predict_batch_size_none_and_verbose(rng):
    x = rng.standard_normal((70, D))
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    np.testing.assert_array_equal(
        model.predict(x, batch_size=None, verbose=0), model.predict(x, batch_size=7)
    )


# ---- layers -------------------------------------------------------------------------


def test_input_and_input_shape_declare_the_width(rng):
    a = nn.Sequential([nn.Input(shape=(D,)), nn.Dense(4)])
    b = nn.Sequential([nn.InputLayer(input_shape=(D,)), nn.Dense(4)])
    c = nn.Sequential([nn.Dense(4, input_shape=(D,))])
    for m in (a, b, c):
        assert m.input_dim == D and m.count_params() == D * 4 + 4
    a.compile(loss="mse")
    with pytest.raises(ValueError, match="features but the model takes"):
        a.fit(rng.standard_normal((4, D + 1)), np.zeros((4, 4)), verbose=0)
    with pytest.raises(ValueError, match="must come first"):
        nn.Sequential([nn.Dense(4), nn.Input(shape=(3,))])
    with pytest.raises(ValueError, match="flat feature vectors"):
        nn.Input(shape=(8, 8))
    with pytest.raises(ValueError, match="differ"):
        nn.Dense(3, input_dim=4, input_shape=(5,))
    back = nn.Sequential.from_config(a.get_config())
    assert back.input_dim == D


def test_dropout_trains_only_and_is_seeded(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)

    def make(seed=None):
        m = nn.Sequential(
            [nn.Dense(16, activation="relu"), nn.Dropout(0.5, seed=seed), nn.Dense(3)]
        )
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        m.build(D, seed=0)
        return m

    a, b = make(), make()
    # inference: the identity
    plain = nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(3)])
    plain.compile(loss="sparse_categorical_crossentropy")
    plain.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict_logits(x), plain.predict_logits(x))
    # training: masked and scaled, reproducibly from fit's seed
    a.fit(x, y, epochs=2, verbose=0, seed=4)
    b.fit(x, y, epochs=2, verbose=0, seed=4)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)
    hidden = np.maximum(x @ a.get_weights()[0] + a.get_weights()[1], 0)
    drop = a.layers[1]
    out = drop.forward(hidden.astype(np.float32), training=True)
    kept = out != 0
    assert 0.3 < kept[hidden != 0].mean() < 0.7
    np.testing.assert_allclose(out[kept], 2 * hidden.astype(np.float32)[kept])
    # a layer seed makes the masks independent of fit's
    c, d = make(seed=9), make(seed=9)
    c.fit(x, y, epochs=1, verbose=0, seed=1)
    d.fit(x, y, epochs=1, verbose=0, seed=1)
    np.testing.assert_array_equal(c.get_weights()[0], d.get_weights()[0])
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="noise_shape"):
        nn.Dropout(0.1, noise_shape=(1, 5))


def test_dropout_gradient_is_the_masked_one(rng):
    # with the mask fixed (rate 0 is the identity), the backward matches FD
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    m = nn.Sequential(
        [nn.Dense(4, activation="tanh"), nn.Dropout(0.0), nn.Dense(3)], dtype="float64"
    )
    m.compile(loss="sparse_categorical_crossentropy")
    m.build(D, seed=0)
    ref = nn.Sequential([nn.Dense(4, activation="tanh"), nn.Dense(3)], dtype="float64")
    ref.compile(loss="sparse_categorical_crossentropy")
    ref.set_weights(m.get_weights())
    la, ga = m.loss_and_gradients(x, y)
    lb, gb = ref.loss_and_gradients(x, y)
    assert la == lb
    for p, q in zip(ga, gb):
        np.testing.assert_array_equal(p, q)


# ---- callbacks -------------------------------------------------------------------


def test_model_checkpoint_saves_each_epoch_or_the_best(rng, tmp_path):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    every = nn.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{loss:.3f}.npz"))
    best = nn.ModelCheckpoint(
        tmp_path / "best.npz", monitor="loss", save_best_only=True, verbose=1
    )
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=[every, best], seed=0)
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m-"))
    assert names == [
        f"m-{e + 1:02d}-{v:.3f}.npz" for e, v in enumerate(hist.history["loss"])
    ]
    back = nn.load(tmp_path / "best.npz")
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="ModelCheckpoint monitors 'val_loss'"):
        model.fit(
            x,
            y,
            verbose=0,
            callbacks=[nn.ModelCheckpoint(tmp_path / "v.npz", save_best_only=True)],
        )
    with pytest.warns(UserWarning, match="not as a Keras archive"):
        model.fit(x, y, verbose=0, callbacks=[nn.ModelCheckpoint(tmp_path / "k.keras")])
    assert nn.load(tmp_path / "k.keras").get_config() == model.get_config()


def test_reduce_lr_on_plateau(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    model.compile(
        optimizer=nn.SGD(learning_rate=1e-12), loss="categorical_crossentropy"
    )
    yy = np.eye(3)[y]
    # a rate too small to move the loss: a plateau from the first epoch
    cb = nn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=2e-13)
    model.fit(x, yy, epochs=4, verbose=0, callbacks=[cb])
    assert model.optimizer.learning_rate == 2e-13  # 1e-12 / 2 / 2 / 2, floored
    with pytest.raises(ValueError, match="factor"):
        nn.ReduceLROnPlateau(factor=1.0)


# ---- metrics -----------------------------------------------------------------------


def test_metrics_match_numpy(rng):
    x = rng.standard_normal((60, D))
    y = rng.integers(0, 2, (60, 1)).astype(float)
    model = _pair(rng, "sigmoid", "binary_crossentropy", units=1)
    model.compile(
        loss="binary_crossentropy", metrics=["binary_accuracy", "rmse", "mse", "auc"]
    )
    res = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    p = model.predict(x)
    assert res["binary_accuracy"] == pytest.approx(((p > 0.5) == y).mean())
    assert res["rmse"] == pytest.approx(np.sqrt(((p - y) ** 2).mean()), rel=1e-6)
    # AUC: close to the exact area (Keras's 200 thresholds are an approximation)
    pos, neg = p[y == 1], p[y == 0]
    exact = (pos[:, None] > neg[None, :]).mean() + 0.5 * (
        pos[:, None] == neg[None, :]
    ).mean()
    assert res["auc"] == pytest.approx(exact, abs=0.02)
    reg = _pair(rng, None, "mse", units=2)
    reg.compile(loss="mse", metrics=[nn.RootMeanSquaredError()])
    t = rng.standard_normal((60, 2))
    got = reg.evaluate(x, t, verbose=0, return_dict=True)["root_mean_squared_error"]
    assert got == pytest.approx(np.sqrt(((reg.predict(x) - t) ** 2).mean()), rel=1e-6)
    onehot = _pair(rng, "softmax", "categorical_crossentropy")
    onehot.compile(loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    yy = np.eye(3)[rng.integers(0, 3, 60)]
    got = onehot.evaluate(x, yy, verbose=0, return_dict=True)["categorical_accuracy"]
    assert got == pytest.approx((onehot.predict(x).argmax(1) == yy.argmax(1)).mean())
    with pytest.raises(ValueError, match="categorical_accuracy"):
        onehot.compile(
            loss="categorical_crossentropy", metrics=["sparse_categorical_accuracy"]
        )


def test_auc_matches_keras(rng):
    keras = keras_jax()
    x = rng.standard_normal((200, D))
    y = rng.integers(0, 2, (200, 1)).astype(float)
    model = _pair(rng, "sigmoid", "binary_crossentropy", units=1, dtype="float32")
    model.compile(loss="binary_crossentropy", metrics=[nn.AUC()])
    got = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)["auc"]
    auc = keras.metrics.AUC()
    p = model.predict(x, batch_size=32)
    for s in range(0, 200, 32):
        auc.update_state(y[s : s + 32], p[s : s + 32])
    assert got == pytest.approx(float(auc.result()), abs=1e-6)


# ---- summary and saving ------------------------------------------------------------


def test_summary_prints_once_and_returns_none(capsys):
    model = nn.Sequential(
        [
            nn.Input(shape=(4,)),
            nn.Dense(3, activation="relu"),
            nn.Dropout(0.2),
            nn.Dense(2, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy")
    assert model.summary() is None
    out = capsys.readouterr().out
    assert out.count("Model:") == 1
    assert "dropout (Dropout)" in out and "softmax (in the loss)" in out
    assert "Total params: 23" in out  # 4*3+3 + 3*2+2


def test_saving_under_a_keras_name_says_what_it_writes(rng, tmp_path):
    x = rng.standard_normal((N, D))
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match=r"fastloss.nn's .npz format"):
        model.save(tmp_path / "m.keras")
    back = nn.load(tmp_path / "m.keras")
    assert back.layers[-1].fused_output
    np.testing.assert_array_equal(back.predict(x), model.predict(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(os.fspath(tmp_path / "m.npz"))  # no warning for .npz


def test_set_random_seed_makes_unseeded_fits_reproducible(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    runs = []
    for _ in range(2):
        nn.set_random_seed(7)
        m = nn.Sequential([nn.Dense(4, activation="relu"), nn.Dense(3)])
        m.compile(loss="sparse_categorical_crossentropy")
        m.fit(x, y, epochs=2, verbose=0)
        runs.append(m.get_weights())
    for p, q in zip(*runs):
        np.testing.assert_array_equal(p, q)


# ---- the rest of Keras's compile / fit / evaluate / predict arguments ---------------


def test_keras_signatures_are_accepted():
    """Every argument of Keras 3's compile, fit, evaluate and predict is a
    parameter of fastloss.nn's (Keras's **kwargs aside)."""
    import inspect

    keras = keras_jax()
    for method in ("compile", "fit", "evaluate", "predict"):
        theirs = set(inspect.signature(getattr(keras.Sequential, method)).parameters)
        ours = set(inspect.signature(getattr(nn.Sequential, method)).parameters)
        missing = theirs - ours - {"kwargs"}
        assert not missing, f"{method} lacks Keras's {sorted(missing)}"


def test_compile_options_without_effect_are_checked_and_change_nothing(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    plain = _pair(rng, None, "sparse_categorical_crossentropy")
    plain.fit(x, y, batch_size=8, epochs=2, verbose=0, seed=1)
    other = _pair(rng, None, "sparse_categorical_crossentropy")
    other.compile(
        optimizer=nn.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        run_eagerly=True,
        steps_per_execution=4,
        jit_compile=False,
        auto_scale_loss=False,
    )
    other.fit(x, y, batch_size=8, epochs=2, verbose=0, seed=1)
    for a, b in zip(plain.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    for kwargs, err in [
        ({"run_eagerly": "yes"}, TypeError),
        ({"jit_compile": "xla"}, TypeError),
        ({"steps_per_execution": 0}, ValueError),
        ({"auto_scale_loss": None}, TypeError),
        ({"loss_weights": [1.0, 2.0]}, ValueError),
        ({"loss_weights": -1.0}, ValueError),
    ]:
        with pytest.raises(err, match=next(iter(kwargs))):
            other.compile(loss="mse", **kwargs)


@pytest.mark.parametrize("weights", [2.5, [2.5], {"dense_1": 2.5}])
def test_loss_weights_scale_the_loss_and_its_gradient(weights, rng, tmp_path):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    loss, grads = model.loss_and_gradients(x, y)
    value = model.evaluate(x, y, verbose=0)
    model.compile(
        optimizer=nn.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        loss_weights=weights,
    )
    wloss, wgrads = model.loss_and_gradients(x, y)
    assert wloss == pytest.approx(2.5 * loss, rel=1e-14)
    for g, wg in zip(grads, wgrads):
        np.testing.assert_allclose(wg, 2.5 * g, rtol=1e-14, atol=0)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(2.5 * value, rel=1e-14)
    model.save(tmp_path / "m.npz")
    loaded = nn.load(tmp_path / "m.npz")
    assert loaded.loss_and_gradients(x, y)[0] == wloss


def test_steps_per_epoch_and_the_validation_options(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    vx, vy = rng.standard_normal((10, D)), rng.integers(0, 3, 10)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    hist = model.fit(x, y, batch_size=8, epochs=2, steps_per_epoch=2, verbose=0)
    assert hist.timings["steps"] == 4 and hist.params["steps"] == 2
    hist = model.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        validation_data=(vx, vy),
        validation_freq=2,
        verbose=0,
    )
    assert len(hist.history["loss"]) == 4 and len(hist.history["val_loss"]) == 2
    seen = {}

    class Logs(nn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = dict(logs)

    model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        validation_data=(vx, vy),
        validation_steps=2,
        validation_batch_size=3,
        callbacks=[Logs()],
        verbose=0,
    )
    expected = model.evaluate(vx[:6], vy[:6], verbose=0)
    assert seen[0]["val_loss"] == pytest.approx(expected, rel=1e-14)
    before = model.get_weights()
    for kwargs, match in [
        ({"steps_per_epoch": 4}, "steps_per_epoch=4, but 24 samples"),
        ({"validation_steps": 5}, "validation_steps=5"),
        ({"validation_freq": 0}, "validation_freq"),
        ({"validation_batch_size": 0}, "validation_batch_size"),
    ]:
        with pytest.raises(ValueError, match=match):
            model.fit(x, y, batch_size=8, validation_data=(vx, vy), verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_and_predict_steps_and_callbacks(rng):
    x = rng.standard_normal((N, D))
    y = rng.integers(0, 3, N)
    model = _pair(rng, "softmax", "sparse_categorical_crossentropy")
    calls = []

    class Hooks(nn.Callback):
        def on_test_begin(self, logs=None):
            calls.append("test_begin")

        def on_test_end(self, logs=None):
            calls.append(("test_end", logs["loss"]))

        def on_predict_begin(self, logs=None):
            calls.append("predict_begin")

        def on_predict_end(self, logs=None):
            calls.append("predict_end")

    loss = model.evaluate(x, y, batch_size=5, steps=2, verbose=0, callbacks=[Hooks()])
    assert loss == pytest.approx(model.evaluate(x[:10], y[:10], verbose=0), rel=1e-14)
    probs = model.predict(x, batch_size=5, steps=3, callbacks=[Hooks()])
    np.testing.assert_array_equal(probs, model.predict(x[:15]))
    assert calls == ["test_begin", ("test_end", loss), "predict_begin", "predict_end"]
    with pytest.raises(ValueError, match="steps=6"):
        model.evaluate(x, y, batch_size=5, steps=6, verbose=0)
    with pytest.raises(TypeError, match="callbacks"):
        model.predict(x, callbacks=[print])
