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
- ``"sparse_categorical_accuracy"`` and ``"categorical_accuracy"``: the
  accuracy above, for class-index and one-hot (or probability) targets.
- ``"mae"`` / ``"mean_absolute_error"``, ``"mse"`` / ``"mean_squared_error"``,
  ``"rmse"`` / ``"root_mean_squared_error"`` / `RootMeanSquaredError()`: over the
  predictions; not for class-index targets (an error).
- ``"auc"`` / `AUC()`: the area under the ROC curve of the predicted
  probabilities (the sigmoid of the logits) against 0/1 labels, Keras's
  approximation: 200 thresholds, counts accumulated batch by batch, trapezoids.

``compile(weighted_metrics=[...])`` gives the same metrics weighted by the
samples' weights (``sample_weight`` and ``class_weight``), as Keras: a weighted
mean of the per-sample scores (each a mean over the outputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._common import FloatArray, Workspace
from .losses import TrainingLoss

__all__ = ["AUC", "Metric", "RootMeanSquaredError", "get_metric"]


class Metric:
    """A running mean of a per-sample score; `name` is its key in the logs.
    `weighted`: `update` takes the samples' weights into the mean."""

    def __init__(self, name: str, loss: TrainingLoss, weighted: bool = False) -> None:
        self.name = name
        self.loss = loss
        self.weighted = weighted
        self.total = 0.0
        self.count: float = 0

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def update(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        ws: Workspace,
        weight: FloatArray | None = None,
    ) -> None:
        raise NotImplementedError

    def _add(self, per_sample: npt.NDArray[Any], weight: FloatArray | None) -> None:
        """Accumulate per-sample scores, weighted when this metric is."""
        if self.weighted and weight is not None:
            self.total += float(np.dot(per_sample, weight))
            self.count += float(weight.sum())
        else:
            self.total += float(np.sum(per_sample, dtype=np.float64))
            self.count += per_sample.shape[0]


class _Accuracy(Metric):
    def update(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        ws: Workspace,
        weight: FloatArray | None = None,
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
        if self.weighted and weight is not None:
            w = weight
            if target.ndim == 1 and self.loss.options.get("ignore_index") is not None:
                w = np.where(skip, 0.0, weight)
            self._add(hit, w)
            return
        self.total += int(np.count_nonzero(hit))
        self.count += counted


class _BinaryAccuracy(Metric):
    def update(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        ws: Workspace,
        weight: FloatArray | None = None,
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
        if self.weighted and weight is not None:
            self._add(hit.mean(axis=1), weight)
            return
        self.total += int(np.count_nonzero(hit))
        self.count += b * k


class _Error(Metric):
    """Mean absolute (`power` 1) or squared (`power` 2) error; its square root
    with `root` (Keras's RootMeanSquaredError: the root of the running mean)."""

    def __init__(
        self,
        name: str,
        loss: TrainingLoss,
        power: int,
        weighted: bool = False,
        root: bool = False,
    ) -> None:
        super().__init__(name, loss, weighted)
        self.power = power
        self.root = root

    def result(self) -> float:
        value = super().result()
        return float(np.sqrt(value)) if self.root else value

    def update(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        ws: Workspace,
        weight: FloatArray | None = None,
    ) -> None:
        b, k = logits.shape
        err = ws.get("err", b, (k,), logits.dtype)
        self.loss.activate(logits, err, ws.get("row", b, (1,), logits.dtype))
        np.subtract(err, target, out=err)
        if self.power == 1:
            np.abs(err, out=err)
        else:
            np.square(err, out=err)
        if self.weighted and weight is not None:
            self._add(err.mean(axis=1, dtype=np.float64), weight)
            return
        self.total += float(np.sum(err, dtype=np.float64))
        self.count += b * k


class _AUC(Metric):
    """Keras's ``AUC()`` (ROC, 200 thresholds, "interpolation"): counts of the
    positives and negatives whose probability is above each threshold,
    accumulated over the batches; the area by trapezoids."""

    def __init__(
        self, name: str, loss: TrainingLoss, weighted: bool = False, n: int = 200
    ) -> None:
        super().__init__(name, loss, weighted)
        eps = 1e-7  # Keras's: the end thresholds put 0 and 1 inside
        inner = [(i + 1) / (n - 1) for i in range(n - 2)]
        self.thresholds = np.array([-eps, *inner, 1.0 + eps])
        self.reset()

    def reset(self) -> None:
        super().reset()
        n = self.thresholds.shape[0]
        self.pos = np.zeros(n + 1)  # weight of the positives in each bucket
        self.neg = np.zeros(n + 1)

    def update(
        self,
        logits: FloatArray,
        target: npt.NDArray[Any],
        ws: Workspace,
        weight: FloatArray | None = None,
    ) -> None:
        b, k = logits.shape
        prob = ws.get("prob", b, (k,), logits.dtype)
        self.loss.activate(logits, prob, ws.get("row", b, (1,), logits.dtype))
        # bucket i: thresholds[i - 1] < p <= thresholds[i]; p is above threshold j
        # (p > t_j, Keras's test) for every j < i
        bucket = np.searchsorted(self.thresholds, prob.ravel(), side="left")
        y = np.asarray(target, dtype=np.float64).ravel()
        w = np.ones(b * k)
        if self.weighted and weight is not None:
            w = np.repeat(np.asarray(weight, dtype=np.float64), k)
        size = self.pos.shape[0]
        self.pos += np.bincount(bucket, weights=w * y, minlength=size)
        self.neg += np.bincount(bucket, weights=w * (1.0 - y), minlength=size)
        self.count += b

    def result(self) -> float:
        # above[j]: weight with p > thresholds[j] = sum of buckets j + 1 ...
        tp = np.cumsum(self.pos[::-1])[::-1][1:]
        fp = np.cumsum(self.neg[::-1])[::-1][1:]
        p, n = self.pos.sum(), self.neg.sum()
        if p == 0 or n == 0:
            return 0.0  # Keras's divide_no_nan: no positives or no negatives
        tpr, fpr = tp / p, fp / n
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))


class AUC:
    """``metrics=[AUC()]``: Keras's ``keras.metrics.AUC()`` (defaults only: ROC,
    200 thresholds), logged as `name` ("auc")."""

    def __init__(self, name: str = "auc") -> None:
        self.name = name


class RootMeanSquaredError:
    """``metrics=[RootMeanSquaredError()]``: Keras's
    ``keras.metrics.RootMeanSquaredError()``, logged as `name`."""

    def __init__(self, name: str = "root_mean_squared_error") -> None:
        self.name = name


_NAMES = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
    "categorical_accuracy": "categorical_accuracy",
    "binary_accuracy": "binary_accuracy",
    "mae": "mae",
    "mean_absolute_error": "mae",
    "mse": "mse",
    "mean_squared_error": "mse",
    "rmse": "rmse",
    "root_mean_squared_error": "rmse",
    "RootMeanSquaredError": "rmse",
    "auc": "auc",
    "AUC": "auc",
}


def get_metric(
    name: Any, loss: TrainingLoss, weighted: bool = False, log_name: str | None = None
) -> Metric:
    """The metric called `name` (or an `AUC` / `RootMeanSquaredError` object)
    for a model trained with `loss`; `weighted`: it takes the samples' weights
    (``compile(weighted_metrics=...)``); `log_name`: its key in the logs (default
    its name).

    Raises
    ------
    ValueError
        For an unknown name, or a metric that does not fit the loss's targets.
    """
    kind: str | None
    if isinstance(name, (AUC, RootMeanSquaredError)):
        kind = "auc" if isinstance(name, AUC) else "rmse"
        name = name.name
    elif not isinstance(name, str):
        raise TypeError(
            f"metrics must be names (one of {', '.join(_NAMES)}) or AUC() / "
            f"RootMeanSquaredError(), got {type(name).__name__}"
        )
    else:
        kind = _NAMES.get(name)
    if kind is None:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(_NAMES)}")
    key = name if log_name is None else log_name
    target = loss.target
    if kind in ("sparse_categorical_accuracy", "categorical_accuracy"):
        want = "index" if kind.startswith("sparse") else "prob"
        if target not in (want, "auto"):
            what = "indices" if want == "index" else "rows"
            raise ValueError(
                f"metric {name!r} compares class {what} with the arg-max output, "
                f"and {loss.name!r} takes {target} targets; use 'accuracy'"
            )
        return _Accuracy(key, loss, weighted)
    if kind == "auc":
        if target not in ("binary", "real"):
            raise ValueError(
                f"metric {name!r} needs 0/1 labels of the output's shape; "
                f"{loss.name!r} takes {target} targets"
            )
        return _AUC(key, loss, weighted)
    if kind == "accuracy":
        if target == "binary":
            return _BinaryAccuracy(key, loss, weighted)
        if target == "real":
            raise ValueError(
                f"metric {name!r} needs a classification loss, and {loss.name!r} is "
                "a regression loss; 'binary_accuracy' thresholds outputs at 0.5"
            )
        return _Accuracy(key, loss, weighted)
    if kind == "binary_accuracy":
        if target not in ("binary", "real"):
            raise ValueError(
                f"metric {name!r} compares each output with a 0/1 label; with "
                f"{loss.name!r} (a softmax over classes) use 'accuracy'"
            )
        return _BinaryAccuracy(key, loss, weighted)
    if target in ("index", "auto"):
        raise ValueError(
            f"metric {name!r} needs targets of the output's shape; {loss.name!r} "
            "takes class indices"
        )
    return _Error(key, loss, 1 if kind == "mae" else 2, weighted, kind == "rmse")
