"""Training metrics, accumulated batch by batch into reused buffers.

A metric sees the model's raw outputs (logits) and the prepared targets, and
reports on the predictions `Sequential.predict` would give (softmax or sigmoid
of the logits for the classification losses). Like Keras's, each is a running
mean over the samples seen since the last `reset`:

- ``"accuracy"`` (or ``"acc"``): Keras picks the accuracy by the loss, and so
  does this: the fraction of samples whose arg-max logit is the class index
  (``sparse_categorical_crossentropy``) or the target row's arg-max
  (``categorical_crossentropy``); samples of an ``ignore_class`` are not
  counted. For ``binary_crossentropy`` it is ``binary_accuracy``. Regression
  losses have no accuracy (an error).
- ``"binary_accuracy"``: the fraction of outputs on the right side of 0.5
  (probability ``> 0.5``, i.e. logit ``> 0``, counts as 1), against labels 0/1.
- ``"mae"`` / ``"mean_absolute_error"``, ``"mse"`` / ``"mean_squared_error"``:
  over the predictions; not for class-index targets (an error).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._common import FloatArray, Workspace
from .losses import TrainingLoss

__all__ = ["Metric", "get_metric"]


class Metric:
    """A running mean of a per-sample score; `name` is its key in the logs."""

    def __init__(self, name: str, loss: TrainingLoss) -> None:
        self.name = name
        self.loss = loss
        self.total = 0.0
        self.count = 0

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def update(
        self, logits: FloatArray, target: npt.NDArray[Any], ws: Workspace
    ) -> None:
        raise NotImplementedError


class _Accuracy(Metric):
    def update(
        self, logits: FloatArray, target: npt.NDArray[Any], ws: Workspace
    ) -> None:
        b = logits.shape[0]
        pred = ws.get("argmax", b, (), np.intp)
        hit = ws.get("hit", b, (), np.bool_)
        np.argmax(logits, axis=1, out=pred)
        counted = b
        if target.ndim == 1:  # class indices
            np.equal(pred, target, out=hit)
            ignore = self.loss.options.get("ignore_index")
            if ignore is not None:  # ignored samples are neither hits nor misses
                skip = ws.get("skip", b, (), np.bool_)
                np.equal(target, ignore, out=skip)
                np.greater(hit, skip, out=hit)  # hit and not skip
                counted -= int(np.count_nonzero(skip))
        else:  # probability rows: the most likely class
            true = ws.get("argmax_true", b, (), np.intp)
            np.argmax(target, axis=1, out=true)
            np.equal(pred, true, out=hit)
        self.total += int(np.count_nonzero(hit))
        self.count += counted


class _BinaryAccuracy(Metric):
    def update(
        self, logits: FloatArray, target: npt.NDArray[Any], ws: Workspace
    ) -> None:
        b, k = logits.shape
        above = ws.get("above", b, (k,), logits.dtype)
        hit = ws.get("hit2", b, (k,), np.bool_)
        if self.loss.output == "sigmoid":
            np.heaviside(logits, 0.0, out=above)  # sigmoid(x) > 0.5 iff x > 0
        else:
            np.subtract(logits, 0.5, out=above)
            np.heaviside(above, 0.0, out=above)
        np.equal(above, target, out=hit)
        self.total += int(np.count_nonzero(hit))
        self.count += b * k


class _Error(Metric):
    """Mean absolute (`power` 1) or squared (`power` 2) error."""

    def __init__(self, name: str, loss: TrainingLoss, power: int) -> None:
        super().__init__(name, loss)
        self.power = power

    def update(
        self, logits: FloatArray, target: npt.NDArray[Any], ws: Workspace
    ) -> None:
        b, k = logits.shape
        err = ws.get("err", b, (k,), logits.dtype)
        self.loss.activate(logits, err, ws.get("row", b, (1,), logits.dtype))
        np.subtract(err, target, out=err)
        if self.power == 1:
            np.abs(err, out=err)
        else:
            np.square(err, out=err)
        self.total += float(np.sum(err, dtype=np.float64))
        self.count += b * k


_NAMES = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    "binary_accuracy": "binary_accuracy",
    "mae": "mae",
    "mean_absolute_error": "mae",
    "mse": "mse",
    "mean_squared_error": "mse",
}


def get_metric(name: Any, loss: TrainingLoss) -> Metric:
    """The metric called `name` for a model trained with `loss`.

    Raises
    ------
    ValueError
        For an unknown name, or a metric that does not fit the loss's targets.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"metrics must be names (one of {', '.join(_NAMES)}), got "
            f"{type(name).__name__}"
        )
    kind = _NAMES.get(name)
    if kind is None:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(_NAMES)}")
    target = loss.target
    if kind == "accuracy":
        if target == "binary":
            return _BinaryAccuracy(name, loss)
        if target == "real":
            raise ValueError(
                f"metric {name!r} needs a classification loss, and {loss.name!r} is "
                "a regression loss; 'binary_accuracy' thresholds outputs at 0.5"
            )
        return _Accuracy(name, loss)
    if kind == "binary_accuracy":
        if target not in ("binary", "real"):
            raise ValueError(
                f"metric {name!r} compares each output with a 0/1 label; with "
                f"{loss.name!r} (a softmax over classes) use 'accuracy'"
            )
        return _BinaryAccuracy(name, loss)
    if target in ("index", "auto"):
        raise ValueError(
            f"metric {name!r} needs targets of the output's shape; {loss.name!r} "
            "takes class indices"
        )
    return _Error(name, loss, 1 if kind == "mae" else 2)
