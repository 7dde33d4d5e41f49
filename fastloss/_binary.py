"""Binary and multi-label losses: binary_cross_entropy_with_logits (more in this
family: binary_cross_entropy on probabilities, sigmoid_focal_loss)."""

from ._elementwise import BCE_LOGITS, document, elementwise_loss
from ._validation import real_scalar

__all__ = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_and_grad",
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
    logits,
    target,
    *,
    pos_weight=None,
    label_smoothing=0.0,
    weight=None,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
):
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
    logits,
    target,
    *,
    pos_weight=None,
    label_smoothing=0.0,
    weight=None,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
    out=None,
):
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
    ``x = +-inf`` (no NaN from ``0 * inf``). Matches
    ``torch.nn.functional.binary_cross_entropy_with_logits`` for ``weight``,
    ``pos_weight`` and the reductions."""

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
