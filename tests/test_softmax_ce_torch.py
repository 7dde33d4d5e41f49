"""fastloss against torch.nn.functional.cross_entropy, values and autograd."""

import numpy as np
import pytest
from _matrix import REDUCTIONS
from _reference import OPTIONS, assert_close, make_case, reference

import fastloss

torch = pytest.importorskip("torch")
F = torch.nn.functional

# torch has no z_loss and no sample_weight; everything else is compared
TORCH_OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore": {"ignore": -100},
    "ignore_in_range": {"ignore": 1},
    "smoothing": {"label_smoothing": 0.15},
    "weight_smoothing_ignore": {"weight": True, "ignore": 2, "label_smoothing": 0.3},
}


def torch_cross_entropy(logits, target, *, reduction="mean", class_weight=None, **kw):
    """torch's loss and gradient in float64, classes moved to axis 1."""
    x = torch.tensor(np.asarray(logits, dtype=np.float64), requires_grad=True)
    t = torch.from_numpy(np.array(target))
    if t.is_floating_point():
        kw.pop("ignore_index", None)  # torch refuses it; fastloss ignores it
        t = t.to(torch.float64)
        if t.ndim >= 2:
            t = t.movedim(-1, 1)
    else:
        t = t.to(torch.int64)
    w = (
        None
        if class_weight is None
        else torch.tensor(class_weight, dtype=torch.float64)
    )
    xt = x.movedim(-1, 1) if x.ndim >= 2 else x
    loss = F.cross_entropy(xt, t, weight=w, reduction=reduction, **kw)
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4), (7,)], ids=str)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("option", list(TORCH_OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(simd_path, rng, dtype, reduction, option, kind, shape):
    logits, target, kw = make_case(rng, shape, dtype, kind, **TORCH_OPTIONS[option])
    kw["reduction"] = reduction
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    t_loss, t_grad = torch_cross_entropy(logits, target, **kw)
    # tolerances from the twin's error scales; torch itself runs in float64
    ref = reference(logits, target, **kw)
    loss_dtype = dtype if reduction == "none" else np.float64
    if reduction != "none" and dtype == np.float32:
        loss_dtype = np.float32
    assert_close(loss, t_loss, ref.loss_scale, loss_dtype, "loss vs torch")
    assert_close(grad, t_grad, ref.grad_scale, dtype, "grad vs torch")
    assert np.any(t_grad != 0)


def test_all_options_torch_sees_match(rng):
    logits, target, kw = make_case(rng, (8, 6), np.float64, "hard", **OPTIONS["all"])
    kw.pop("z_loss")
    kw.pop("sample_weight")
    for reduction in REDUCTIONS:
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, reduction=reduction, **kw
        )
        t_loss, t_grad = torch_cross_entropy(logits, target, reduction=reduction, **kw)
        np.testing.assert_allclose(loss, t_loss, rtol=1e-10)
        np.testing.assert_allclose(grad, t_grad, rtol=1e-10, atol=1e-13)


def test_mean_of_empty_normaliser_differs_from_torch_by_design(rng):
    """All targets ignored: fastloss gives 0.0 and a zero gradient, torch NaN."""
    logits = rng.standard_normal((3, 4))
    target = np.full(3, -100)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target)
    assert loss == 0.0 and np.all(grad == 0.0)
    t_loss, _ = torch_cross_entropy(logits, target)
    assert np.isnan(t_loss)
    # with "sum" both agree on 0
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction="sum"
    )
    t_loss, t_grad = torch_cross_entropy(logits, target, reduction="sum")
    assert loss == 0.0 == t_loss
    np.testing.assert_array_equal(grad, t_grad)
