"""The command line: ``fastloss demo`` (every data set, saving, plotting, missing
extras, bad options), ``fastloss config``, and the demo's NumPy twins."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

import fastloss  # noqa: E402
from fastloss import _demo  # noqa: E402
from fastloss.__main__ import main  # noqa: E402
from fastloss.nn import Sequential, load  # noqa: E402
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


def test_demo_default_digits_progress_bar_and_default_path(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--epochs", "1", "--hidden", "32"]) == 0
    out = capsys.readouterr().out
    assert "fastloss demo: digits (1797 samples, 64 features, 10 classes)" in out
    assert "model 64 -> 32 -> 10 (relu)" in out
    assert "Epoch 1/1" in out
    assert "test accuracy" in out
    assert (tmp_path / "fastloss-digits.npz").is_file()
    assert "fastloss.nn.load('fastloss-digits.npz').predict(X)" in out


def test_demo_no_save_writes_nothing(tmp_path, monkeypatch, capsys, saved_models):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--dataset", "wine", *FAST, "--no-save"]) == 0
    assert "model saved to" not in capsys.readouterr().out
    assert saved_models == []
    assert list(tmp_path.iterdir()) == []


def test_demo_without_hidden_layers_and_other_optimizers(capsys):
    for optimizer in ("sgd", "adamw"):
        args = ["--dataset", "wine", "--epochs", "2", "--hidden", "", "--quiet"]
        argv = ["demo", *args, "--optimizer", optimizer, "--lr", "0.05", "--no-save"]
        assert main(argv) == 0
        assert "test accuracy" in capsys.readouterr().out


def test_demo_other_losses(capsys):
    argv = ["demo", "--dataset", "diabetes", *FAST, "--no-save", "--loss", "mse"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fastloss mse_loss" in out and "numpy_mse" in out


@pytest.mark.parametrize(
    ("dataset", "bar"), [("digits", 0.97), ("breast_cancer", 0.95)]
)
def test_demo_defaults_reach_the_issues_accuracy(dataset, bar, capsys):
    """The issue's bar with the default seed (seeds 0-9: digits min 0.972,
    breast_cancer min 0.974; benchmarks/nn_accuracy_sweep.py demo). Diabetes has
    no such test: R² 0.369 at seed 0, where ridge regression gets 0.341."""
    assert main(["demo", "--dataset", dataset, "--quiet", "--no-save"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy")[1].split()[0])
    assert accuracy >= bar, out


def test_demo_early_stopping(capsys):
    # diabetes stops early by default; the row says when and what was kept
    assert main(["demo", "--dataset", "diabetes", "--quiet", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "early stopping" in out and "were kept" in out
    assert main(["demo", "--dataset", "diabetes", *FAST, "--no-save"]) == 0
    assert "early stopping" not in capsys.readouterr().out


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


def test_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    argv = ["demo", "--dataset", "wine", *FAST, "--no-save", "--plot", str(png)]
    assert main(argv) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "curves plotted to" in capsys.readouterr().out


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
    assert main(["demo", *FAST, "--no-save"]) == 2
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
        (["demo", "--hidden", "128,x"], "comma-separated"),
        (["demo", "--hidden", "128,0"], "comma-separated"),
        (["demo", "--lr", "-0.1"], "positive"),
        (["demo", "--lr", "nan"], "positive"),
        (["demo", "--optimizer", "rmsprop"], "invalid choice"),
        (["demo", "--loss", "hinge"], "invalid choice"),
        (["demo", "--loss", "mse"], "choose from sparse_categorical_crossentropy"),
        (["demo", "--dataset", "diabetes", "--loss", "binary_crossentropy"], "huber"),
        (["demo", "--save", "x.npz", "--no-save"], "not allowed with"),
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
        "--no-save",
        "--quiet",
    ):
        assert option in out, option


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
        [sys.executable, "-m", "fastloss", "demo", "--epochs", "1", "--no-save"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert "NumPy / fastloss" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "fastloss", "demo", "--epochs", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("usage: python -m fastloss demo")


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
    with pytest.raises(argparse.ArgumentTypeError):
        _demo._hidden("a")
