"""The command line: ``fastloss demo`` (every data set, saving only when asked,
early stopping, plotting, missing extras, bad options), ``fastloss config``, and
the demo's NumPy twins."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

import fastloss  # noqa: E402
from fastloss import _demo  # noqa: E402
from fastloss.__main__ import main  # noqa: E402
from fastloss.nn import Callback, Sequential, load  # noqa: E402
from fastloss.nn.losses import resolve_loss  # noqa: E402

FAST = ["--epochs", "2", "--hidden", "16", "--quiet"]


@pytest.fixture
def saved_models(monkeypatch):
    """Every model `Sequential.save` writes, with a copy of its predictions on the
    raw test features made just before it was saved."""
    models: list[tuple[Sequential, Path]] = []
    original = Sequential.save

    def spy(self, path):
        models.append((self, Path(path)))
        original(self, path)

    monkeypatch.setattr(Sequential, "save", spy)
    return models


@pytest.fixture
def fits(monkeypatch):
    """Every `Sequential.fit` the demo runs, as (model, history, weights after
    each epoch)."""
    runs: list[tuple[Sequential, object, list[list[np.ndarray]]]] = []
    original = Sequential.fit

    class Record(Callback):
        def __init__(self, weights):
            self.weights = weights

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    def spy(self, *args, callbacks=None, **kwargs):
        weights: list[list[np.ndarray]] = []
        history = original(
            self, *args, callbacks=[*(callbacks or []), Record(weights)], **kwargs
        )
        runs.append((self, history, weights))
        return history

    monkeypatch.setattr(Sequential, "fit", spy)
    return runs


def _raw_features(dataset: str) -> np.ndarray:
    from sklearn import datasets

    return getattr(datasets, f"load_{dataset}")(return_X_y=True)[0]


# ---- the demo on every data set ---------------------------------------------------


@pytest.mark.parametrize("dataset", list(_demo.DATASETS))
def test_demo_trains_prints_and_saves(dataset, tmp_path, capsys, saved_models):
    path = tmp_path / f"{dataset}.npz"
    assert main(["demo", "--dataset", dataset, *FAST, "--save", str(path)]) == 0
    out = capsys.readouterr().out
    score = "R²" if dataset == "diabetes" else "accuracy"
    for row in (
        f"test {score}",
        "training time",
        "loss in training",
        "replayed: fastloss",
        "replayed: plain NumPy",
        "NumPy / fastloss",
        "model saved to",
    ):
        assert row in out, row
    assert "Epoch" not in out  # --quiet: no progress bar
    ratio = out.split("NumPy / fastloss")[1].split("x")[0]
    assert float(ratio) > 0

    # The saved file is the model: same architecture, same predictions.
    assert path.is_file()
    [(model, saved_at)] = saved_models
    assert saved_at == path
    x = _raw_features(dataset)
    loaded = load(path)
    assert [layer.units for layer in loaded.layers] == [16, model.output_dim]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_demo_default_digits_header_progress_bar_and_no_file(
    tmp_path, monkeypatch, capsys, saved_models
):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--epochs", "1", "--hidden", "32"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "fastloss demo: digits (1797 samples, 64 features, 10 classes)"
    )
    assert "model 64 -> 32 -> 10 (relu)" in out
    assert (
        "at most 1 epoch, early stopping on val_loss (patience 5) and the best"
        " epoch's weights restored" in out
    )
    assert "Epoch 1/1" in out
    assert "test accuracy" in out
    # "1 epoch", never "1 epochs"
    assert "1 epochs" not in out
    assert "  training time" in out and " 1 epoch, 41 steps of 32," in out
    assert "did not stop: 1 epoch trained" in out
    # nothing written without --save: not the model, not anything else
    assert "model saved" not in out
    assert saved_models == []
    assert list(tmp_path.iterdir()) == []


def test_demo_save_writes_exactly_the_file_asked_for(
    tmp_path, monkeypatch, capsys, saved_models
):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--dataset", "wine", *FAST, "--save", "m.npz"]) == 0
    out = capsys.readouterr().out
    assert "model saved to m.npz" in out
    assert "fastloss.nn.load('m.npz').predict(X)" in out
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    assert len(saved_models) == 1


def test_demo_quiet_prints_only_the_table(capsys):
    assert main(["demo", "--dataset", "wine", *FAST]) == 0
    out = capsys.readouterr().out
    assert out.startswith("  test accuracy ")  # no blank line, no header
    assert not out.endswith("\n\n")
    assert "fastloss demo:" not in out and "Epoch" not in out


def test_demo_without_hidden_layers_and_other_optimizers(capsys, fits):
    for optimizer in ("sgd", "adamw"):
        args = ["--dataset", "wine", "--epochs", "2", "--hidden", ""]
        argv = ["demo", *args, "--optimizer", optimizer, "--lr", "0.05"]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "model 13 -> 3 (no hidden layer), float32" in out
        assert "relu" not in out
        assert "test accuracy" in out
    for model, _, _ in fits:
        assert [layer.units for layer in model.layers] == [3]


def test_demo_other_losses(capsys):
    argv = ["demo", "--dataset", "diabetes", *FAST, "--loss", "mse"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fastloss mse_loss" in out and "numpy_mse" in out


@pytest.mark.parametrize(
    ("dataset", "bar"), [("digits", 0.97), ("breast_cancer", 0.95)]
)
def test_demo_defaults_reach_the_issues_accuracy(dataset, bar, capsys):
    """The issue's bar with the default seed (seeds 0-9: digits min 0.975,
    breast_cancer min 0.974; benchmarks/nn_accuracy_sweep.py demo). Diabetes has
    no such test: R² 0.369 at seed 0, where ridge regression gets 0.341."""
    assert main(["demo", "--dataset", dataset, "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy")[1].split()[0])
    assert accuracy >= bar, out


def test_demo_early_stopping_restores_the_best_weights(capsys, fits):
    # digits with Adam overfits within a few epochs (val_loss is lowest at 5)
    argv = ["demo", "--optimizer", "adam", "--epochs", "30", "--patience", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "early stopping on val_loss (patience 2) and the best epoch's weights"
        " restored" in out
    )
    [(model, history, weights)] = fits
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    trained = len(history.epoch)
    assert best + 2 == trained - 1 < 30 - 1  # stopped two epochs after the best
    # the model kept the best epoch's weights, not the last epoch's
    for kept, at_best in zip(model.get_weights(), weights[best]):
        np.testing.assert_array_equal(kept, at_best)
    assert not np.array_equal(model.get_weights()[0], weights[-1][0])
    row = rf"\n  early stopping +epoch {best + 1}  restored: the best val_loss, "
    assert re.search(row + f"{val_loss[best]:.4f};", out), out
    assert f"stopped at epoch {trained} of 30 (patience 2)" in out


def test_demo_patience_0_turns_early_stopping_off(capsys, fits):
    argv = ["demo", "--dataset", "diabetes", "--epochs", "3", "--patience", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "batch 32; 3 epochs, no early stopping; seed 0" in out
    assert "early stopping " not in out and "restored" not in out
    [(_, history, _)] = fits
    assert len(history.epoch) == 3


def test_fold_standardisation_keeps_predictions():
    """The saved model takes raw features and, for regression, predicts in the
    target's own units: folding must not change what the model predicts."""
    for name in ("digits", "diabetes"):
        dataset = _demo.DATASETS[name]
        split = _demo.load_split(dataset, seed=0)
        model = _demo.build_model(dataset, split, (8,), dataset.loss, "adam", None)
        model.fit(split.x_train, split.y_train, epochs=1, verbose=0, seed=0)
        before = model.predict_logits(split.x_test).astype(np.float64)
        before = before * split.y_scale + split.y_mean
        raw = split.x_test * split.x_scale + split.x_mean
        _demo.fold_standardisation(model, split)
        after = model.predict_logits(raw)
        scale = np.abs(before).max()
        np.testing.assert_allclose(after, before, rtol=0, atol=1e-4 * scale)


# ---- plotting ---------------------------------------------------------------------


def test_plot_names_the_run_marks_the_restored_epoch(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    figures = []
    original = _demo.plot_curves

    def spy(*args, **kwargs):
        figures.append(original(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(_demo, "plot_curves", spy)
    monkeypatch.chdir(tmp_path)
    argv = ["demo", "--optimizer", "adam", "--patience", "2", "--quiet"]
    assert main([*argv, "--plot", "curves.png"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\ncurves plotted to curves.png\n")
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    restored = int(out.split("early stopping")[1].split()[1])

    [fig] = figures
    title = " ".join(t.get_text() for t in fig.texts)  # the suptitle
    for part in (
        "digits",
        "64 -> 256 -> 128 -> 10 (relu)",
        "sparse_categorical_crossentropy",
        "adam lr 0.001",
    ):
        assert part in title, part
    loss_ax, metric_ax = fig.axes
    assert [loss_ax.get_title(), metric_ax.get_title()] == ["loss", "accuracy"]
    for ax in fig.axes:
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["train", "validation", f"restored: epoch {restored}"]
        [marker] = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert list(marker.get_xdata()) == [restored, restored]
    # the log axis: several labelled ticks, plain numbers (no mathtext powers)
    assert loss_ax.get_yscale() == "log"
    fig.canvas.draw()
    low, high = loss_ax.get_ylim()
    ticks = [
        t.get_text()
        for t in loss_ax.get_yticklabels()
        if t.get_text() and low <= t.get_position()[1] <= high
    ]
    assert len(ticks) >= 3, ticks
    for text in ticks:
        assert "$" not in text and float(text) > 0, ticks


def test_plot_ticks_on_a_narrow_log_range(tmp_path):
    """Losses within one decade: the default log ticks would label none."""
    pytest.importorskip("matplotlib")
    from fastloss.nn import History

    history = History()
    history.history = {
        "loss": [0.39, 0.3, 0.25, 0.22],
        "val_loss": [0.4, 0.33, 0.3, 0.31],
        "mae": [0.7, 0.6, 0.55, 0.5],
    }
    fig = _demo.plot_curves(history, "t", "mae", None, str(tmp_path / "c.png"))
    fig.canvas.draw()
    loss_ax = fig.axes[0]
    low, high = loss_ax.get_ylim()
    ticks = [
        float(t.get_text())
        for t in loss_ax.get_yticklabels()
        if t.get_text() and low <= t.get_position()[1] <= high
    ]
    assert len(ticks) >= 2, ticks
    assert not any(line.get_linestyle() == "--" for line in loss_ax.lines)


def test_plot_without_matplotlib_says_how_to_install(
    tmp_path, monkeypatch, capsys, saved_models
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    monkeypatch.chdir(tmp_path)
    assert main(["demo", *FAST, "--plot", "curves.png"]) == 2
    captured = capsys.readouterr()
    assert 'pip install "fastloss[plot]"' in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""  # refused before training
    assert saved_models == []
    assert list(tmp_path.iterdir()) == []


def test_without_sklearn_says_how_to_install(monkeypatch, capsys, saved_models):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert main(["demo", *FAST]) == 2
    captured = capsys.readouterr()
    assert 'pip install "fastloss[demo]"' in captured.err
    assert captured.out == ""


# ---- bad options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required"),
        (["train"], "invalid choice"),
        (["demo", "--dataset", "iris"], "invalid choice"),
        (["demo", "--epochs", "0"], "must be >= 1"),
        (["demo", "--epochs", "two"], "not an integer"),
        (["demo", "--batch-size", "-3"], "must be >= 1"),
        (["demo", "--hidden", "128,x"], "argument --hidden: '128,x' has 'x', not"),
        (["demo", "--hidden", "128,0"], "argument --hidden: '128,0' has '0', not"),
        (["demo", "--hidden", "512,,256"], "--hidden: '512,,256' has an empty"),
        (["demo", "--hidden", "512,"], "--hidden: '512,' has an empty width"),
        (["demo", "--hidden", ","], "--hidden: ',' has an empty width"),
        (["demo", "--hidden", "-5"], "--hidden: '-5' has '-5', not a positive"),
        (["demo", "--hidden", "1.5"], "--hidden: '1.5' has '1.5', not a positive"),
        (["demo", "--lr", "-0.1"], "positive"),
        (["demo", "--lr", "nan"], "positive"),
        (["demo", "--optimizer", "rmsprop"], "invalid choice"),
        (["demo", "--loss", "hinge"], "invalid choice"),
        (["demo", "--loss", "mse"], "choose from sparse_categorical_crossentropy"),
        (["demo", "--dataset", "diabetes", "--loss", "binary_crossentropy"], "huber"),
        (["demo", "--no-save"], "unrecognized arguments: --no-save"),
        (["demo", "--save", "/no/such/dir/m.npz"], "does not exist"),
        (["demo", "--plot", "/no/such/dir/c.png"], "does not exist"),
        (["demo", "--seed", "-1"], "must be >= 0"),
    ],
)
def test_bad_options_exit_2(argv, message, capsys, saved_models):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err
    assert saved_models == []


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--dataset",
        "--loss",
        "--epochs",
        "--patience",
        "--batch-size",
        "--hidden",
        "--optimizer",
        "--lr",
        "--seed",
        "--plot",
        "--save",
        "--quiet",
    ):
        assert option in out, option
    flat = " ".join(out.split())
    assert "0 turns early stopping off" in flat
    assert "default: the model is not saved; the demo writes no file" in flat
    assert "'' for no hidden layer" in flat


# ---- config and the module entry point -------------------------------------------


def test_config_still_works(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastloss ")
    assert "simd path" in out


def test_version_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastloss {fastloss.__version__}"


def test_python_dash_m_demo_subprocess(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fastloss", "demo", "--epochs", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert "NumPy / fastloss" in result.stdout
    assert list(tmp_path.iterdir()) == []  # no file written without --save
    bad = subprocess.run(
        [sys.executable, "-m", "fastloss", "demo", "--epochs", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("usage: python -m fastloss demo")


@pytest.mark.parametrize("command", [["demo", "--epochs", "1"], ["config"]])
def test_piped_into_head_stops_quietly(tmp_path, command):
    """``fastloss demo | head``: no traceback when the reader goes away."""
    argv = [sys.executable, "-m", "fastloss", *command]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the only read end: the demo's first write fails
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


# ---- the NumPy twins the demo times against ----------------------------------------


@pytest.mark.parametrize("name", list(_demo.LOSSES))
def test_numpy_twins_match_the_kernels(name, rng):
    """The comparison is fair only if the twin computes what the kernel does."""
    task, twin = _demo.LOSSES[name]
    loss = resolve_loss(name)
    n = 37
    if task == "multiclass":
        x = rng.standard_normal((n, 7)) * 3
        t = rng.integers(0, 7, n)
    else:
        x = rng.standard_normal((n, 1)) * 3
        t = rng.random((n, 1)) * 4 - 2
        if task == "binary":
            t = (t > 0).astype(np.float64)
    for want_grad in (True, False):
        value, grad = twin(x, t, want_grad)
        out = np.empty_like(x)
        expected = loss.loss_and_grad(x, t, out) if want_grad else loss.loss(x, t)
        assert value == pytest.approx(expected, rel=1e-12)
        if want_grad:
            assert grad is not None and grad.shape == x.shape
            np.testing.assert_allclose(grad, out, rtol=1e-10, atol=1e-15)
        else:
            assert grad is None


def test_every_twin_has_a_task_the_demo_knows():
    for task, _ in _demo.LOSSES.values():
        assert task in _demo.TASKS
    for dataset in _demo.DATASETS.values():
        assert _demo.LOSSES[dataset.loss][0] == dataset.task


def test_replay_counts_the_calls_fit_made():
    dataset = _demo.DATASETS["wine"]
    split = _demo.load_split(dataset, seed=0)
    model = _demo.build_model(dataset, split, (8,), dataset.loss, "adam", None)
    model.fit(split.x_train, split.y_train, epochs=3, batch_size=16, verbose=0)
    twin = _demo.LOSSES[dataset.loss][1]
    replay = _demo.replay_losses(twin, model, split, 16, 3, seed=0, rounds=1)
    per_epoch = -(-len(split.y_train) // 16) + -(-len(split.y_val) // 16)
    assert replay.calls == 3 * per_epoch
    assert replay.fastloss > 0 and replay.numpy > 0


def test_parser_types():
    assert _demo._hidden("256, 128") == (256, 128)
    assert _demo._hidden("") == ()
    assert _demo._hidden(" ") == ()
    for bad in ("a", "512,,256", "512,", ",256", "0", "-1", "2.5", "1e3"):
        with pytest.raises(argparse.ArgumentTypeError):
            _demo._hidden(bad)


def test_plural():
    assert _demo._plural(1, "epoch") == "1 epoch"
    assert [_demo._plural(n, "step") for n in (0, 2)] == ["0 steps", "2 steps"]
