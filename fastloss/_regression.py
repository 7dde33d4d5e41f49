"""Regression losses: mse_loss (more in this family: l1, huber, smooth_l1, log_cosh)."""

from ._elementwise import MSE, document, elementwise_loss

__all__ = ["mse_loss", "mse_loss_and_grad"]

_PRED_DOC = """\
    pred : array_like
        Predictions, any shape. float32/float64 as given, float16 computed in
        float32, integers as float64. Never modified (unless passed as ``out=``).
    target : array_like
        Targets of the same shape."""


def mse_loss(
    pred, target, *, weight=None, sample_weight=None, reduction="mean", n_threads=None
):
    return elementwise_loss(
        MSE,
        pred,
        target,
        weight=weight,
        sample_weight=sample_weight,
        reduction=reduction,
        n_threads=n_threads,
        input_name="pred",
    )


def mse_loss_and_grad(
    pred,
    target,
    *,
    weight=None,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
    out=None,
):
    return elementwise_loss(
        MSE,
        pred,
        target,
        weight=weight,
        sample_weight=sample_weight,
        reduction=reduction,
        n_threads=n_threads,
        out=out,
        want_grad=True,
        input_name="pred",
    )


_MSE_NOTES = """\
    ``loss = (pred - target)**2`` per element, gradient ``2 (pred - target)``. Matches
    ``torch.nn.functional.mse_loss`` (which has no ``weight``/``sample_weight``)."""

document(
    mse_loss,
    "Mean squared error between predictions and targets.",
    _PRED_DOC,
    _MSE_NOTES,
    """\
    >>> import fastloss
    >>> fastloss.mse_loss([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])
    3.3333333333333335""",
)
document(
    mse_loss_and_grad,
    "Mean squared error and its gradient with respect to the predictions.",
    _PRED_DOC,
    _MSE_NOTES,
    """\
    >>> import fastloss
    >>> loss, grad = fastloss.mse_loss_and_grad([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])
    >>> grad
    array([0.        , 0.66666667, 2.        ])""",
    grad=True,
)
