"""fastloss.nn save / load: round trips and the errors for files that are not
what they should be."""

import gc
import json
import warnings
import zipfile

import numpy as np
import pytest

import fastloss.nn as nn
from fastloss import losses as fl_losses
from fastloss.nn import Adam, Dense, Sequential, load


def _data(rng, n=80, d=5, c=3):
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def _trained(rng, optimizer=None, loss="sparse_categorical_crossentropy"):
    X, y = _data(rng)
    model = Sequential(
        [Dense(8, activation="gelu", kernel_initializer="he_normal"), Dense(3)],
        name="clf",
    )
    model.compile(
        optimizer=optimizer or Adam(learning_rate=3e-3), loss=loss, metrics=["accuracy"]
    )
    model.fit(X, y, epochs=2, batch_size=16, verbose=0, seed=0)
    return model, X, y


def test_round_trip_keeps_everything_and_training_resumes_identically(rng, tmp_path):
    model, X, y = _trained(rng)
    path = tmp_path / "model.npz"
    model.save(path)
    back = load(path)
    assert back.get_config() == model.get_config()
    assert back.dtype == model.dtype and back.name == "clf"
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back._compile_config() == model._compile_config()
    state, back_state = model.optimizer.get_state(), back.optimizer.get_state()
    assert sorted(state) == sorted(back_state) and int(back_state["iterations"]) == 10
    for key in state:
        np.testing.assert_array_equal(state[key], back_state[key])
    assert back.evaluate(X, y) == model.evaluate(X, y)
    # the optimizer state came back: the next epochs are bit-identical
    model.fit(X, y, epochs=2, batch_size=16, verbose=0, seed=9)
    back.fit(X, y, epochs=2, batch_size=16, verbose=0, seed=9)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequential_load_and_load_weights(rng, tmp_path):
    model, X, _ = _trained(rng)
    path = tmp_path / "m.npz"
    model.save(str(path))
    assert isinstance(Sequential.load(path), Sequential)
    fresh = Sequential([Dense(8, activation="gelu"), Dense(3)])
    fresh.load_weights(path)  # builds the unbuilt model for the saved width
    np.testing.assert_array_equal(fresh.predict_logits(X), model.predict_logits(X))


def test_file_is_written_exactly_at_the_path_and_holds_no_pickles(rng, tmp_path):
    model, _, _ = _trained(rng)
    path = tmp_path / "weights.bin"
    model.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]
    with np.load(path, allow_pickle=False) as f:
        assert str(f["format"]) == "fastloss.nn/1"
        assert json.loads(str(f["config"]))["layers"][0]["units"] == 8
        assert all(f[k].dtype != object for k in f.files)


def test_unbuilt_and_uncompiled_models_round_trip(tmp_path):
    model = Sequential(
        [Dense(4, activation="tanh", input_dim=3), Dense(1)], dtype="float64"
    )
    model.save(tmp_path / "a.npz")
    back = load(tmp_path / "a.npz")
    assert not back.built and not back.compiled
    assert back.get_config() == model.get_config() and back.dtype == np.float64
    model.build(seed=0)
    model.save(tmp_path / "b.npz")
    back = load(tmp_path / "b.npz")
    assert back.built and not back.compiled
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_loss_options_survive(rng, tmp_path):
    X = rng.standard_normal((30, 5))
    y = np.eye(3)[rng.integers(0, 3, 30)]
    loss = fl_losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    model = Sequential([Dense(3)])
    model.compile(optimizer=nn.SGD(momentum=0.9, nesterov=True), loss=loss)
    model.fit(X, y, epochs=1, verbose=0, seed=0)
    model.save(tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back.loss.options == {"label_smoothing": 0.2}
    assert back.evaluate(X, y) == model.evaluate(X, y)
    assert repr(back.optimizer) == repr(model.optimizer)


# ---- errors --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load(tmp_path / "nope.npz")
    model = Sequential([Dense(2)])
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "nope.npz")


def test_truncated_and_corrupted_files(rng, tmp_path):
    model, _, _ = _trained(rng)
    path = tmp_path / "m.npz"
    model.save(path)
    data = path.read_bytes()
    for name, content in [
        ("half.npz", data[: len(data) // 2]),
        ("tail_cut.npz", data[:-10]),
        ("empty.npz", b""),
        ("text.npz", b"hello, I am not a model\n" * 10),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(ValueError, match="not a readable fastloss.nn model"):
                load(bad)
            gc.collect()  # a file left open is reported when it is collected
        leaks = [w for w in seen if issubclass(w.category, ResourceWarning)]
        assert not leaks, f"{name}: {leaks[0].message}"
    flipped = bytearray(data)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("weight/0.npy")
    flipped[info.header_offset + 200] ^= 0xFF  # inside the member's data: bad CRC
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a readable"):
        load(tmp_path / "flipped.npz")
    with pytest.raises(ValueError, match="directory"):
        load(tmp_path)


def test_other_npz_and_npy_files(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="not a fastloss.nn model file"):
        load(tmp_path / "other.npz")
    np.save(tmp_path / "one.npy", np.arange(3))
    with pytest.raises(ValueError, match="not a readable"):
        load(tmp_path / "one.npy")
    np.savez(tmp_path / "pickled.npz", format=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable"):
        load(tmp_path / "pickled.npz")
    np.savez(tmp_path / "future.npz", format=np.array("fastloss.nn/99"))
    with pytest.raises(ValueError, match="fastloss.nn/99"):
        load(tmp_path / "future.npz")


def test_load_weights_into_another_architecture_fails_and_changes_nothing(
    rng, tmp_path
):
    model, X, _ = _trained(rng)
    path = tmp_path / "m.npz"
    model.save(path)
    for layers in (
        [Dense(16, activation="gelu"), Dense(3)],  # other width
        [Dense(8), Dense(3), Dense(3)],  # other depth
        [Dense(8, use_bias=False), Dense(3)],  # no bias
    ):
        other = Sequential(layers)
        other.build(5, seed=1)
        before = other.get_weights()
        with pytest.raises(ValueError, match="another architecture"):
            other.load_weights(path)
        for a, b in zip(before, other.get_weights()):
            np.testing.assert_array_equal(a, b)
    wider_input = Sequential([Dense(8), Dense(3)])
    wider_input.build(6, seed=0)
    with pytest.raises(ValueError, match=r"the file has 5 -> Dense\(8\) -> Dense\(3\)"):
        wider_input.load_weights(path)


def test_load_weights_from_an_unbuilt_save(tmp_path):
    Sequential([Dense(2)]).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="holds no weights"):
        Sequential([Dense(2)]).load_weights(tmp_path / "m.npz")


def test_tampered_entries_are_reported(rng, tmp_path):
    model, _, _ = _trained(rng)
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as f:
        entries = {k: f[k] for k in f.files}
    broken = dict(entries, **{"weight/0": np.zeros((4, 4))})
    np.savez(tmp_path / "w.npz", **broken)
    with pytest.raises(ValueError, match="weights do not fit the architecture"):
        load(tmp_path / "w.npz")
    broken = dict(entries, config=np.array("{not json"))
    np.savez(tmp_path / "c.npz", **broken)
    with pytest.raises(ValueError, match="'config' entry is missing or malformed"):
        load(tmp_path / "c.npz")
    broken = dict(entries, **{"optimizer/m/0": np.zeros(2)})
    np.savez(tmp_path / "o.npz", **broken)
    with pytest.raises(ValueError, match="optimizer state 'm/0' has shape"):
        load(tmp_path / "o.npz")
