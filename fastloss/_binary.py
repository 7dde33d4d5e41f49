"""Binary and multi-label losses: binary_cross_entropy_with_logits,
binary_cross_entropy (on probabilities, clipped as Keras) and sigmoid_focal_loss."""

from __future__ import annotations

import numpy.typing as npt

from ._elementwise import (
    BCE_LOGITS,
    BCE_PROB,
    SIGMOID_FOCAL,
    document,
    elementwise_loss,
)
from ._typing import FloatArray, LossAndGrad, LossValue
from ._validation import real_scalar

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_and_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_and_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_and_grad",
]

_LOGITS_DOC = """\
    logits : array_like
        Unnormalised scores, any shape (binary: ``(n,)``; multi-label: ``(n,
        n_labels)``). Never modified (unless passed as ``out=``).
    target : array_like
        Targets in [0, 1] (hard or soft labels) of the same shape; values outside
        are used as given (the formula extends linearly)."""

_BCE_PARAMS_DOC = """\
    pos_weight : array_like of shape (n_labels,) or scalar, optional
        Weight of the positive term per label, repeated along the last axis (as in
        PyTorch), finite.
    label_smoothing : float in [0, 1], default=0.0
        Targets become ``target * (1 - label_smoothing) + label_smoothing / 2`` (as in
        Keras; PyTorch has no smoothing here)."""


def _bce_logits(logits, target, pos_weight, label_smoothing, kw):
    ls = real_scalar(label_smoothing, "label_smoothing", 0.0, 1.0)
    return elementwise_loss(
        BCE_LOGITS,
        logits,
        target,
        params=(ls, 0.0, 0.0, 0.0),
        pos_weight=pos_weight,
        input_name="logits",
        **kw,
    )


def binary_cross_entropy_with_logits(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    pos_weight: npt.ArrayLike | None = None,
    label_smoothing: float = 0.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _bce_logits(
        logits,
        target,
        pos_weight,
        label_smoothing,
        dict(
            weight=weight,
            sample_weight=sample_weight,
            reduction=reduction,
            n_threads=n_threads,
        ),
    )


def binary_cross_entropy_with_logits_and_grad(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    pos_weight: npt.ArrayLike | None = None,
    label_smoothing: float = 0.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _bce_logits(
        logits,
        target,
        pos_weight,
        label_smoothing,
        dict(
            weight=weight,
            sample_weight=sample_weight,
            reduction=reduction,
            n_threads=n_threads,
            out=out,
            want_grad=True,
        ),
    )


_BCE_NOTES = """\
    With ``y`` the (smoothed) target, ``p`` the pos_weight and ``x`` the logit::

        loss = p y softplus(-x) + (1 - y) softplus(x)
        grad = (1 - y) sigmoid(x) - p y sigmoid(-x)

    written with ``softplus(x) = max(x, 0) + log1p(exp(-|x|))`` so no logit, however
    large, overflows; a term whose coefficient is 0 contributes 0 even at
    ``x = +-inf`` (no NaN from ``0 * inf``): loss and gradient are free of NaN for
    every finite or infinite logit and every target in [0, 1]. Matches
    ``torch.nn.functional.binary_cross_entropy_with_logits`` for ``weight``,
    ``pos_weight`` and the reductions (torch returns NaN at infinite logits)."""

document(
    binary_cross_entropy_with_logits,
    "Binary cross-entropy of logits against targets, stable for any logit.",
    _LOGITS_DOC + "\n" + _BCE_PARAMS_DOC,
    _BCE_NOTES,
    """\
    >>> import fastloss
    >>> round(fastloss.binary_cross_entropy_with_logits([0.0, 2.0], [1.0, 1.0]), 4)
    0.41""",
)
document(
    binary_cross_entropy_with_logits_and_grad,
    "Binary cross-entropy with logits and its gradient with respect to the logits.",
    _LOGITS_DOC + "\n" + _BCE_PARAMS_DOC,
    _BCE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.binary_cross_entropy_with_logits_and_grad(
    ...     [0.0, 2.0], [1.0, 1.0])
    >>> grad.round(4)  # -sigmoid(-x) / 2
    array([-0.25  , -0.0596])""",
    grad=True,
)


# ---- binary_cross_entropy (probabilities) ----------------------------------------

_PROBS_DOC = """\
    probs : array_like
        Predicted probabilities, any shape (binary: ``(n,)``; multi-label: ``(n,
        n_labels)``). Clipped to ``[epsilon, 1 - epsilon]`` (values outside [0, 1]
        included). Never modified (unless passed as ``out=``).
    target : array_like
        Targets in [0, 1] (hard or soft labels) of the same shape; values outside
        are used as given (the formula extends linearly).
    epsilon : float in (0, 0.5), default=1e-7
        Clipping bound (Keras' ``backend.epsilon()``).
    label_smoothing : float in [0, 1], default=0.0
        Targets become ``target * (1 - label_smoothing) + label_smoothing / 2`` (as in
        Keras)."""

_PROB_NOTES = """\
    The Keras loss on probabilities (``keras.ops.binary_crossentropy(target, probs,
    from_logits=False)``): with ``y`` the (smoothed) target and
    ``q = clip(probs, epsilon, 1 - epsilon)``::

        loss = -(y log(q) + (1 - y) log(1 - q))
        grad = (q - y) / (q (1 - q))   where epsilon <= probs <= 1 - epsilon
             = 0                       where probs was clipped

    The zero gradient outside the clip range is what differentiating the clip gives
    (Keras, and ``torch.clamp`` at the same bounds); at the bounds themselves the
    gradient passes. Loss and gradient are finite for every finite or infinite
    ``probs``; a NaN stays NaN. ``epsilon`` is taken in the input's dtype, raised to
    its smallest normal number and with ``1 - epsilon`` lowered to the largest
    number below 1 if it rounds to 1 (float32 for ``epsilon`` below about 6e-8):
    Keras would then clip at 1 and return inf or NaN.

    ``torch.nn.functional.binary_cross_entropy`` does not clip: it clamps each log
    at -100 and divides the gradient by ``max(p (1 - p), 1e-12)``. For probabilities
    inside ``(epsilon, 1 - epsilon)`` the two agree; outside they differ (torch's
    loss keeps changing up to ``p = exp(-100)``). Prefer
    `binary_cross_entropy_with_logits` when logits are available: it is exact
    where probabilities round to 0 or 1."""


def _bce_prob(probs, target, epsilon, label_smoothing, kw):
    eps = real_scalar(epsilon, "epsilon")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"epsilon must be in (0, 0.5), got {eps}")
    ls = real_scalar(label_smoothing, "label_smoothing", 0.0, 1.0)
    return elementwise_loss(
        BCE_PROB,
        probs,
        target,
        params=(eps, ls, 0.0, 0.0),
        input_name="probs",
        **kw,
    )


def binary_cross_entropy(
    probs: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = 1e-7,
    label_smoothing: float = 0.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _bce_prob(
        probs,
        target,
        epsilon,
        label_smoothing,
        dict(
            weight=weight,
            sample_weight=sample_weight,
            reduction=reduction,
            n_threads=n_threads,
        ),
    )


def binary_cross_entropy_and_grad(
    probs: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    epsilon: float = 1e-7,
    label_smoothing: float = 0.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _bce_prob(
        probs,
        target,
        epsilon,
        label_smoothing,
        dict(
            weight=weight,
            sample_weight=sample_weight,
            reduction=reduction,
            n_threads=n_threads,
            out=out,
            want_grad=True,
        ),
    )


document(
    binary_cross_entropy,
    "Binary cross-entropy of probabilities against targets (Keras, clipped).",
    _PROBS_DOC,
    _PROB_NOTES,
    """\
    >>> import fastloss
    >>> loss = fastloss.binary_cross_entropy([0.9, 0.2, 1.0], [1.0, 0.0, 1.0],
    ...                                      reduction="none")
    >>> [round(float(v), 9) for v in loss]  # -log .9, -log .8, -log(1 - 1e-7): clip
    [0.105360516, 0.223143551, 1e-07]""",
)
document(
    binary_cross_entropy_and_grad,
    "Binary cross-entropy of probabilities and its gradient (Keras, clipped).",
    _PROBS_DOC,
    _PROB_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.binary_cross_entropy_and_grad(
    ...     [0.9, 0.2, 1.0], [1.0, 0.0, 1.0], reduction="sum")
    >>> grad  # -1/0.9, 1/0.8, and 0 where clipped
    array([-1.11111111,  1.25      ,  0.        ])""",
    grad=True,
)


# ---- sigmoid_focal_loss ---------------------------------------------------------

_FOCAL_PARAMS_DOC = """\
    logits : array_like
        Unnormalised scores, any shape (binary: ``(n,)``; multi-label: ``(n,
        n_labels)``). Never modified (unless passed as ``out=``).
    target : array_like
        Targets in [0, 1] (hard or soft labels) of the same shape. Outside [0, 1]
        the result may be NaN (as torchvision's).
    alpha : float <= 1 or None, default=0.25
        Weight of the positive class, ``1 - alpha`` that of the negative one; a
        negative value (torchvision's -1) or None turns the weighting off.
    gamma : float >= 0, default=2.0
        Focusing exponent; 0 gives (alpha-weighted) binary cross-entropy."""

_FOCAL_NOTES = """\
    ``torchvision.ops.sigmoid_focal_loss`` (Lin et al., 2017): with
    ``p = sigmoid(x)``, ``ce`` the binary cross-entropy with logits and
    ``p_t = p y + (1 - p)(1 - y)``::

        loss = a_t ce (1 - p_t)**gamma,  a_t = alpha y + (1 - alpha)(1 - y)

    (``a_t = 1`` when alpha is negative or None). Unlike torchvision, the default
    reduction here is "mean" (torchvision's is "none"); torchvision's "mean" is the
    same mean over all elements.

    ``(1 - p_t)**gamma`` is evaluated as ``exp(gamma log(1 - p_t))`` with the log
    formed from softplus terms (``-softplus(x)`` for ``y = 1``, ``-softplus(-x)``
    for ``y = 0``), so it does not underflow to ``0`` while ``ce`` overflows:
    loss and gradient are free of NaN for every finite or infinite logit and
    every target in [0, 1] (the loss is ``inf`` only at an infinite logit, unless
    its target is the hard label the logit agrees with). torchvision returns NaN
    at infinite logits, and its autograd gradient is NaN where ``p_t`` rounds to
    1 when ``0 < gamma < 1`` (the factor ``(1 - p_t)**(gamma - 1)`` of the chain
    rule is infinite there). The gradient used here is the analytic one::

        grad = a_t (1 - p_t)**gamma [(1 - y) p - y (1 - p)
                                     + gamma ce (1 - 2y) p (1 - p) / (1 - p_t)]

    whose last factor is bounded (by 2) for targets in [0, 1], so it is finite for
    every ``gamma >= 0``."""


def _focal(logits, target, alpha, gamma, kw):
    a = -1.0 if alpha is None else real_scalar(alpha, "alpha", None, 1.0)
    g = real_scalar(gamma, "gamma", 0.0, None)
    return elementwise_loss(
        SIGMOID_FOCAL,
        logits,
        target,
        params=(a, g, 0.0, 0.0),
        input_name="logits",
        **kw,
    )


def sigmoid_focal_loss(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
) -> LossValue:
    return _focal(
        logits,
        target,
        alpha,
        gamma,
        dict(
            weight=weight,
            sample_weight=sample_weight,
            reduction=reduction,
            n_threads=n_threads,
        ),
    )


def sigmoid_focal_loss_and_grad(
    logits: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    weight: npt.ArrayLike | None = None,
    sample_weight: npt.ArrayLike | None = None,
    reduction: str = "mean",
    n_threads: int | None = None,
    out: FloatArray | None = None,
) -> LossAndGrad:
    return _focal(
        logits,
        target,
        alpha,
        gamma,
        dict(
            weight=weight,
            sample_weight=sample_weight,
            reduction=reduction,
            n_threads=n_threads,
            out=out,
            want_grad=True,
        ),
    )


document(
    sigmoid_focal_loss,
    "Sigmoid focal loss of logits against binary targets (torchvision's), stable.",
    _FOCAL_PARAMS_DOC,
    _FOCAL_NOTES,
    """\
    >>> import fastloss
    >>> loss = fastloss.sigmoid_focal_loss([2.0, -1.0, 40.0], [1.0, 0.0, 0.0],
    ...                                    reduction="none")
    >>> [round(float(v), 6) for v in loss]  # a_t ce (1 - p_t)**2
    [0.000451, 0.016994, 30.0]""",
)
document(
    sigmoid_focal_loss_and_grad,
    "Sigmoid focal loss and its gradient with respect to the logits.",
    _FOCAL_PARAMS_DOC,
    _FOCAL_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.sigmoid_focal_loss_and_grad(
    ...     [2.0, -1.0, 40.0], [1.0, 0.0, 0.0], reduction="sum")
    >>> grad.round(6)
    array([-0.001218,  0.039436,  0.75    ])""",
    grad=True,
)
