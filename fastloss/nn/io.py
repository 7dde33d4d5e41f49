"""Saving and loading models as ``.npz`` files (read with ``allow_pickle=False``).

A file holds, as named arrays:

- ``format``: the string ``"fastloss.nn/1"``;
- ``config``: the architecture, a JSON string (`Sequential.get_config`);
- ``compile``: the optimizer's class and arguments, the loss and the metric
  names, a JSON string (absent for an uncompiled model);
- ``weight/<i>``: the weights in `Sequential.get_weights` order (absent for an
  unbuilt model);
- ``optimizer/<name>``: the optimizer's state (`Optimizer.get_state`), so that
  training resumes where it stopped.

Nothing in it is executable: no pickles.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Union

import numpy as np
import numpy.typing as npt

from .layers import Dense
from .losses import TrainingLoss
from .model import Sequential, _weight_shapes
from .optimizers import optimizer_from_config

__all__ = [
    "keras_suffix_warning",
    "load",
    "load_model",
    "load_weights",
    "save_model",
]

FORMAT = "fastloss.nn/1"
_savez: Callable[..., None] = np.savez
PathLike = Union[str, "os.PathLike[str]"]


def keras_suffix_warning(path: PathLike) -> str:
    """The warning for a path Keras would write its own format to ("" if none)."""
    name = os.fspath(path)
    if not name.endswith((".keras", ".h5")):
        return ""
    return (
        f"{name!r} is written in fastloss.nn's .npz format ({FORMAT}), not as a "
        "Keras archive: fastloss.nn.load reads it, keras.models.load_model does not"
    )


def save_model(model: Sequential, path: PathLike) -> None:
    """Write `model` to `path` (see the module doc); the file appears complete
    or not at all."""
    arrays: dict[str, npt.NDArray[Any]] = {
        "format": np.array(FORMAT),
        "config": np.array(json.dumps(model.get_config())),
    }
    if model.compiled:
        arrays["compile"] = np.array(json.dumps(model._compile_config()))
    if model.built:
        for i, w in enumerate(model.get_weights()):
            arrays[f"weight/{i}"] = w
        if model.optimizer is not None:
            for key, value in model.optimizer.get_state().items():
                arrays[f"optimizer/{key}"] = value
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".fastloss-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _savez(f, **arrays)  # a file object: no ".npz" appended to the name
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _read(path: PathLike) -> dict[str, npt.NDArray[Any]]:
    """Every array of the file, after checking it is one of ours."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"no model file at {name!r}")
    if os.path.isdir(name):
        raise ValueError(f"{name!r} is a directory, not a model file")
    # zipfile on use only: np.load imports it for archives anyway, and at import
    # time it pulls in pathlib, urllib.parse and ipaddress, whose start-up trips
    # CPython 3.11's maybe_small_long (uninitialised digit) under valgrind for
    # every program that imports fastloss.nn (tools/valgrind.sh).
    import zipfile

    try:
        # our own file object: np.load leaves the file it opened open when a
        # truncated archive makes it fail
        with open(name, "rb") as fh:
            loaded = np.load(fh, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not a .npz archive")
            with loaded:
                data = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"{name!r} is not a readable fastloss.nn model file (truncated or "
            f"corrupted, or another kind of file): {exc}"
        ) from None
    fmt = data.get("format")
    if fmt is None or fmt.shape != () or fmt.dtype.kind != "U":
        raise ValueError(
            f"{name!r} is a .npz archive but not a fastloss.nn model file (no "
            "'format' entry); write models with model.save(path)"
        )
    if str(fmt) != FORMAT:
        raise ValueError(
            f"{name!r} has format {str(fmt)!r}; this version reads {FORMAT!r}"
        )
    return data


def _json(data: dict[str, npt.NDArray[Any]], key: str, name: str) -> Any:
    try:
        return json.loads(str(data[key]))
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"{name!r}: the {key!r} entry is missing or malformed: {exc}"
        ) from None


def _weights(data: dict[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    out: list[npt.NDArray[Any]] = []
    while f"weight/{len(out)}" in data:
        out.append(data[f"weight/{len(out)}"])
    return out


def _describe(width: int | None, layers: list[tuple[int, bool]]) -> str:
    parts = [str(width) if width is not None else "?"]
    parts += [f"Dense({u}{'' if bias else ', no bias'})" for u, bias in layers]
    return " -> ".join(parts)


def load_model(path: PathLike) -> Sequential:
    """The model saved at `path`: architecture, weights, and (when it was
    compiled) its optimizer with its state, loss and metrics.

    Raises
    ------
    FileNotFoundError
        When there is no file at `path`.
    ValueError
        When the file is not a fastloss.nn model file, is truncated or
        corrupted, or its entries do not fit together.
    """
    name = os.fspath(path)
    data = _read(path)
    config = _json(data, "config", name)
    try:
        model = Sequential.from_config(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name!r}: malformed architecture: {exc}") from None
    weights = _weights(data)
    if weights:
        try:
            model.set_weights(weights)
        except ValueError as exc:
            raise ValueError(
                f"{name!r}: weights do not fit the architecture: {exc}"
            ) from None
    if "compile" in data:
        cc = _json(data, "compile", name)
        try:
            opt = optimizer_from_config(
                cc["optimizer"]["class"], cc["optimizer"]["config"]
            )
            loss = TrainingLoss.from_config(cc["loss"])
            model.compile(
                optimizer=opt,
                loss=loss,
                metrics=cc["metrics"],
                weighted_metrics=cc.get("weighted_metrics"),
                loss_weights=cc.get("loss_weights"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{name!r}: malformed compile configuration: {exc}"
            ) from None
        state = {
            k[len("optimizer/") :]: v
            for k, v in data.items()
            if k.startswith("optimizer/")
        }
        if state and model.built:
            assert model.optimizer is not None
            try:
                model.optimizer.set_state(state, model._params)
            except ValueError as exc:
                raise ValueError(f"{name!r}: {exc}") from None
    return model


load = load_model


def load_weights(model: Sequential, path: PathLike) -> None:
    """Copy the weights saved at `path` into `model` (see
    `Sequential.load_weights`)."""
    name = os.fspath(path)
    data = _read(path)
    config = _json(data, "config", name)
    weights = _weights(data)
    if not weights:
        raise ValueError(
            f"{name!r} holds no weights (saved before the model was built)"
        )
    try:
        theirs = [
            (int(c["units"]), bool(c["use_bias"]))
            for c in config["layers"]
            if c.get("class", "Dense") == "Dense"
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name!r}: malformed architecture: {exc}") from None
    width = int(weights[0].shape[0]) if weights[0].ndim == 2 else None
    ours = [
        (layer.units, layer.use_bias)
        for layer in model.layers
        if isinstance(layer, Dense)
    ]
    if theirs != ours or (model.input_dim is not None and model.input_dim != width):
        raise ValueError(
            f"{name!r} holds a model of another architecture: the file has "
            f"{_describe(width, theirs)}, this model has "
            f"{_describe(model.input_dim, ours)}"
        )
    if width is None or [w.shape for w in weights] != _weight_shapes(
        model.layers, width
    ):
        raise ValueError(f"{name!r}: weights do not fit the saved architecture")
    model.set_weights(weights)
