"""Margin losses of scores against +-1 (or 0/1) labels, as Keras 3 defines them:
hinge_loss and squared_hinge_loss, each with its fused ``*_and_grad`` twin (one
kernel call for the loss and d loss / d pred)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._elementwise import HINGE, SQUARED_HINGE, document, elementwise_loss
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import float_input

__all__ = [
    "hinge_loss",
    "hinge_loss_and_grad",
    "squared_hinge_loss",
    "squared_hinge_loss_and_grad",
]

# The kernel's label map y' = p0 y + p1 (src_c/fl_ew_keras.h).
_AS_GIVEN = (1.0, 0.0, 0.0, 0.0)
_FROM_BINARY = (2.0, -1.0, 0.0, 0.0)


def _labels(target):
    """(target as an array, the kernel's label map): Keras's rule, {0, 1} labels
    become {-1, 1} when every target is 0 or 1; otherwise they are used as given.
    The common +-1 case costs a min and a max (no temporary array)."""
    y, _ = float_input(target, "target")
    if y.size == 0 or not (y.min() >= 0 and y.max() <= 1):
        return y, _AS_GIVEN
    # in [0, 1]: binary when every nonzero entry is 1
    binary = np.count_nonzero(y) == np.count_nonzero(y == 1)
    return y, _FROM_BINARY if binary else _AS_GIVEN


def _run(kind, pred, target, weight, sample_weight, reduction, n_threads, out, grad):
    y, params = _labels(target)
    return elementwise_loss(
        kind,
        pred,
        y,
        params=params,
        weight=weight,
        sample_weight=sample_weight,
        reduction=reduction,
        n_threads=n_threads,
        out=out,
        want_grad=grad,
        input_name="pred",
    )


_PRED_DOC = """\
    pred : array_like
        Scores (decision values; a linear model's or a network's raw outputs), any
        shape. float32/float64 as given, float16 computed in float32, integers as
        float64. Never modified (unless passed as ``out=``).
    target : array_like
        Labels of the same shape: -1 or 1, or 0 or 1 (converted, see Notes); other
        real values are used as given."""

_LABELS_NOTE = """\
    Labels follow Keras 3 (``keras.losses.hinge``): when *every* entry of
    ``target`` is 0 or 1, the labels are taken as ``2 target - 1`` (so 0/1 labels
    work as -1/1); otherwise they are used as given. The two readings agree on +-1
    labels (a target that is all ones is 1 either way). Checking costs a min and a
    max over the targets (plus one comparison pass when they lie in [0, 1]).

    PyTorch's ``torch.nn.functional.hinge_embedding_loss(x, y, margin=1.0)`` is a
    loss of distances: ``x`` for ``y = 1`` and ``max(0, margin - x)`` for ``y =
    -1``. Its second term is this hinge of ``y pred``: with +-1 labels,
    ``hinge_loss(pred, y)`` equals ``hinge_embedding_loss(y * pred, -ones)``.

    A NaN in ``pred`` or ``target`` makes that element's loss and gradient NaN and
    leaves every other element alone."""


# ---- hinge ---------------------------------------------------------------------------


def hinge_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _run(
        HINGE, pred, target, weight, sample_weight, reduction, n_threads, None, False
    )


def hinge_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _run(
        HINGE, pred, target, weight, sample_weight, reduction, n_threads, out, True
    )


_HINGE_NOTES = f"""\
    With labels ``y`` in {{-1, 1}}: ``loss = max(1 - y pred, 0)`` per element,
    gradient ``-y`` where ``y pred < 1`` and 0 elsewhere (0 on the kink ``y pred =
    1``). Keras's ``keras.losses.Hinge`` averages it over the last axis, which gives
    the same "mean" as here.

{_LABELS_NOTE}"""

document(
    hinge_loss,
    "Hinge loss of scores against +-1 (or 0/1) labels.",
    _PRED_DOC,
    _HINGE_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.hinge_loss([0.3, -2.0, 1.5], [1, -1, -1], reduction="none")
    array([0.7, 0. , 2.5])
    >>> fastloss.hinge_loss([0.3, -2.0, 1.5], [1, 0, 0])  # 0/1 labels: the same
    1.0666666666666667""",
)
document(
    hinge_loss_and_grad,
    "Hinge loss and its gradient with respect to the scores.",
    _PRED_DOC,
    _HINGE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.hinge_loss_and_grad(
    ...     [0.3, -2.0, 1.5], [1, -1, -1], reduction="sum")
    >>> loss
    3.2
    >>> grad  # -y inside the margin, 0 outside
    array([-1.,  0.,  1.])""",
    grad=True,
)


# ---- squared hinge -------------------------------------------------------------------


def squared_hinge_loss(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _run(
        SQUARED_HINGE,
        pred,
        target,
        weight,
        sample_weight,
        reduction,
        n_threads,
        None,
        False,
    )


def squared_hinge_loss_and_grad(
    pred: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _run(
        SQUARED_HINGE,
        pred,
        target,
        weight,
        sample_weight,
        reduction,
        n_threads,
        out,
        True,
    )


_SQUARED_HINGE_NOTES = f"""\
    With labels ``y`` in {{-1, 1}} and ``h = max(1 - y pred, 0)``: ``loss = h**2``
    per element, gradient ``-2 y h`` (continuous: 0 on and beyond the margin).
    Keras's ``keras.losses.SquaredHinge`` averages it over the last axis, which
    gives the same "mean" as here.

{_LABELS_NOTE}"""

document(
    squared_hinge_loss,
    "Squared hinge loss of scores against +-1 (or 0/1) labels.",
    _PRED_DOC,
    _SQUARED_HINGE_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.squared_hinge_loss([0.5, -2.0, 1.5], [1, -1, -1], reduction="none")
    array([0.25, 0.  , 6.25])""",
)
document(
    squared_hinge_loss_and_grad,
    "Squared hinge loss and its gradient with respect to the scores.",
    _PRED_DOC,
    _SQUARED_HINGE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.squared_hinge_loss_and_grad(
    ...     [0.5, -2.0, 1.5], [1, 0, 0], reduction="sum")
    >>> loss
    6.5
    >>> grad  # -2 y h
    array([-1.,  0.,  5.])""",
    grad=True,
)
