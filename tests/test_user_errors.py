"""Mistakes users make first get an error that says what to do instead."""

import numpy as np
import pytest

import fastloss

LABELS = np.array([0, 2, 1, 2])
SCORES = np.random.default_rng(0).standard_normal((4, 3))

KERAS_ORDER = "looks like Keras's argument order (y_true, y_pred)"


@pytest.mark.parametrize(
    "fn, error",
    [
        (fastloss.softmax_cross_entropy, ValueError),
        (fastloss.softmax_cross_entropy_and_grad, ValueError),
        (fastloss.softmax_focal_loss, TypeError),
        (fastloss.softmax_focal_loss_and_grad, TypeError),
    ],
)
@pytest.mark.parametrize("lead", [(4,), (2, 2)])
def test_keras_argument_order_is_named(fn, error, lead):
    labels = LABELS.reshape(lead)
    scores = SCORES.reshape(lead + (3,))
    with pytest.raises(error, match=r"fastloss takes \(logits, target\)") as info:
        fn(labels, scores)
    assert KERAS_ORDER in str(info.value)
    assert np.array_equal(labels, LABELS.reshape(lead))  # nothing written
    fn(scores, labels)  # the right order works


@pytest.mark.parametrize(
    "logits, target",
    [
        # probabilities of the wrong shape, first argument floats: not Keras's order
        (SCORES[:, :2], SCORES),
        # integer "logits" whose shape does not match the scores without their axis
        (LABELS[:3], SCORES),
    ],
)
def test_no_keras_hint_when_it_does_not_fit(logits, target):
    with pytest.raises(ValueError) as info:
        fastloss.softmax_cross_entropy(logits, target)
    assert "Keras" not in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda x, t: fastloss.softmax_cross_entropy(x, t),
        lambda x, t: fastloss.softmax_cross_entropy_and_grad(x, t),
        lambda x, t: fastloss.softmax_focal_loss(x, t),
        lambda x, t: fastloss.mse_loss(x, np.zeros((4, 3))),
        lambda x, t: fastloss.binary_cross_entropy_with_logits(x, np.zeros((4, 3))),
    ],
)
def test_torch_tensor_requiring_grad_names_the_adapter(call):
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(TypeError, match="requires grad") as info:
        call(x, LABELS)
    message = str(info.value)
    assert "fastloss.torch" in message
    assert ".detach()" in message
    assert x.grad is None
    # Detached, the same tensor is a plain input and gives the NumPy answer.
    got = call(x.detach(), LABELS)
    want = call(x.detach().numpy(), LABELS)
    np.testing.assert_array_equal(
        np.asarray(got[0] if isinstance(got, tuple) else got),
        np.asarray(want[0] if isinstance(want, tuple) else want),
    )
