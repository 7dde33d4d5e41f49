"""The normaliser D that ``reduction="mean"`` divides by, on its own.

Data-parallel training splits a batch over workers. The mean over the whole batch
is ``sum of all row losses / D`` with ``D`` taken over the whole batch, which is
not the average of the per-shard means when the shards differ in size, padding or
weights. Each worker therefore computes ``reduction="sum"`` and its share of
``D`` with `cross_entropy_normalizer`; the sums and the ``D`` are all-reduced and
divided once (docs/distributed.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ._validation import (
    _F64,
    check_weight_range,
    class_index_target,
    float_input,
    index_str,
    int_scalar,
    renamed,
    weight_array,
)

__all__ = ["cross_entropy_normalizer"]


def cross_entropy_normalizer(
    target: npt.ArrayLike,
    *,
    class_weight: npt.ArrayLike | None = None,
    ignore_index: int = -100,
    sample_weight: npt.ArrayLike | None = None,
    weight: npt.ArrayLike | None = None,
) -> float:
    """The number that ``reduction="mean"`` divides the summed loss by.

    For the cross-entropy losses (`softmax_cross_entropy`,
    `linear_cross_entropy` and their ``_and_grad`` twins) called with the same
    ``target``, ``class_weight``, ``ignore_index`` and ``sample_weight``::

        loss(reduction="mean") == loss(reduction="sum") / D

    (and the same for the gradients), except that "mean" is 0 when ``D == 0``.
    ``D`` adds over rows, so the ``D`` of a batch is the sum of the ``D`` of its
    shards: data-parallel workers compute ``reduction="sum"`` and ``D`` on their
    shard, all-reduce both, and divide (see docs/distributed.md).

    Parameters
    ----------
    target : array_like
        Either class indices, an integer array (any integer dtype) of any shape
        (the logits' shape without the class axis), with values ``>= 0`` or equal
        to ``ignore_index`` (and ``< len(class_weight)`` when ``class_weight`` is
        given); or
        class probabilities, a float array of shape ``(..., n_classes)`` with
        ``n_classes >= 1`` (the losses refuse logits without a class, so there is
        no "mean" to normalise).
    class_weight : array_like of shape (n_classes,), optional
        Per-class weights as passed to the loss (its ``class_weight``): finite,
        each 0 or of magnitude in [2**-200, 2**200] (the float64 range: D is
        computed in float64; a float32 loss refuses weights outside [2**-32,
        2**32] itself). ``weight=`` is its deprecated spelling (accepted, with a
        DeprecationWarning).
    ignore_index : int, default=-100
        Rows whose class-index target equals it count for nothing. Not used with
        probability targets.
    sample_weight : array_like, optional
        Per-row weights (finite; each 0 or of magnitude in [2**-200, 2**200], as
        ``class_weight``) with the shape of the class-index ``target``
        (``target.shape[:-1]`` for probabilities).

    Returns
    -------
    D : float
        With class indices ``y``, class weights ``w`` (1 when None) and sample
        weights ``s`` (1 when None): ``D = sum_{i: y_i != ignore_index} s_i *
        w_{y_i}``, the count of rows not ignored when both are None. With
        probability targets ``D = sum_i s_i`` (the number of rows when
        ``sample_weight`` is None). Summed in float64 from the weights as given;
        the losses round the weights to their compute dtype first, so for
        float32 losses the two may differ in the 8th significant digit.

    Raises
    ------
    ValueError, TypeError
        For a malformed argument, naming it: float class indices, probabilities
        without a class (last axis of length 0), a class index below 0 (or at
        least ``len(class_weight)``) that is not ``ignore_index``, a
        ``class_weight`` that is empty, not 1-D or not finite, a ``sample_weight``
        whose shape does not match.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> target = np.array([2, 0, -100, 1])
    >>> fastloss.cross_entropy_normalizer(target)  # three rows not ignored
    3.0
    >>> fastloss.cross_entropy_normalizer(target, class_weight=[1.0, 0.5, 2.0])
    3.5
    >>> logits = np.array([[1.0, 0.0, 2.0], [0.5, 0.5, 0.0],
    ...                    [9.0, 9.0, 9.0], [0.0, 3.0, 1.0]])
    >>> s = fastloss.softmax_cross_entropy(logits, target, reduction="sum")
    >>> m = fastloss.softmax_cross_entropy(logits, target)
    >>> bool(np.isclose(m, s / fastloss.cross_entropy_normalizer(target)))
    True
    """
    if weight is not None:
        class_weight = renamed(
            "cross_entropy_normalizer", "weight", "class_weight", weight, class_weight
        )
    t = target if type(target) is np.ndarray else np.asarray(target)
    kind = t.dtype.kind
    if kind == "f":
        if t.ndim == 0:
            raise ValueError(
                "target of probabilities must have a class axis (..., n_classes), "
                "got a 0-d array"
            )
        n_classes = t.shape[-1]
        if n_classes < 1:  # as softmax_cross_entropy refuses such logits
            raise ValueError(
                "target of probabilities must have at least one class (last axis "
                f"is empty), got shape {t.shape}"
            )
        lead = t.shape[:-1]
        _class_weight(class_weight, n_classes)  # validated; it does not enter D
        sw = weight_array(sample_weight, "sample_weight", lead, _F64)
        if sw is None:
            return float(np.prod(lead, dtype=np.int64))
        return float(np.sum(sw))
    if kind not in "iu":
        raise TypeError(
            "target must be an integer array of class indices or a float array of "
            f"probabilities, got dtype {t.dtype}"
        )
    y = class_index_target(t, "target", t.shape)
    ignore = int_scalar(ignore_index, "ignore_index")
    w = _class_weight(class_weight, None)
    sw = weight_array(sample_weight, "sample_weight", t.shape, _F64)
    keep = y != ignore
    bad = keep & (y < 0) if w is None else keep & ((y < 0) | (y >= w.shape[0]))
    if bad.any():
        pos = int(np.argmax(bad))
        valid = "[0, inf)" if w is None else f"[0, {w.shape[0]}) (len(class_weight))"
        raise ValueError(
            f"target[{index_str(pos, t.shape)}] (flat position {pos}) = {int(y[pos])}"
            f" is out of range: class indices must be in {valid} or equal "
            f"ignore_index ({ignore})"
        )
    return normalizer(y, keep, w, None if sw is None else sw.reshape(-1))


def normalizer(
    y: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    weight: npt.NDArray[np.floating[Any]] | None,
    sample_weight: npt.NDArray[np.floating[Any]] | None,
) -> float:
    """D of validated flat class indices ``y`` with ``keep = y != ignore_index``;
    the weights in whatever dtype the loss computes in, summed in float64."""
    rows = slice(None) if keep.all() else keep
    if sample_weight is None:
        if weight is None:
            return float(np.count_nonzero(keep))
        return float(np.sum(weight[y[rows]], dtype=np.float64))
    s = sample_weight[rows]
    if weight is None:
        return float(np.sum(s, dtype=np.float64))
    return float(np.sum(weight[y[rows]].astype(np.float64) * s.astype(np.float64)))


def _class_weight(
    weight: npt.ArrayLike | None, n_classes: int | None
) -> npt.NDArray[np.float64] | None:
    """None, or the finite 1-D float64 class weights (of length n_classes if
    given)."""
    if weight is None:
        return None
    arr, _ = float_input(weight, "class_weight")
    if arr.ndim != 1 or (n_classes is not None and arr.shape[0] != n_classes):
        want = "(n_classes,)" if n_classes is None else f"({n_classes},)"
        raise ValueError(f"class_weight must have shape {want}, got {arr.shape}")
    if arr.shape[0] == 0:  # no class: the losses refuse it (see the logits)
        raise ValueError("class_weight must have at least one class, got shape (0,)")
    if not np.isfinite(arr).all():
        raise ValueError("class_weight must be finite (it holds NaN or inf)")
    check_weight_range(arr, "class_weight", _F64)
    return np.asarray(arr, dtype=_F64)
