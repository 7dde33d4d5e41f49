"""The renamed arguments: per-class weights are ``class_weight`` everywhere, both
focal losses take ``(alpha, gamma)``; the old spellings still work, warn with a
DeprecationWarning that names the new one (pointing at the caller's line), and give
the same bits as the new spelling. Also perplexity's weights."""

import inspect
import math

import numpy as np
import pytest
from _reference import reference as sce_ref
from _reference_rowwise import softmax_focal_loss_ref

import fastloss

RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 4)) * 2.0
Y = np.array([0, 3, 1, 2, -100, 1])
W = np.array([0.5, 2.0, 1.25, 0.75])


def _same(a, b):
    if isinstance(a, tuple):
        for u, v in zip(a, b):
            _same(u, v)
    else:
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize(
    "name", ["softmax_cross_entropy", "softmax_cross_entropy_and_grad"]
)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_ce_weight_is_class_weight(name, reduction):
    fn = getattr(fastloss, name)
    new = fn(X, Y, class_weight=W, reduction=reduction)
    with pytest.warns(DeprecationWarning, match=r"weight= .*use class_weight=") as w:
        old = fn(X, Y, weight=W, reduction=reduction)
    assert w[0].filename == __file__  # the warning points at the caller
    assert f"fastloss.{name}:" in str(w[0].message)
    _same(new, old)
    with pytest.raises(TypeError, match="both class_weight= and .* weight="):
        fn(X, Y, weight=W, class_weight=W)


def test_normalizer_weight_is_class_weight():
    new = fastloss.cross_entropy_normalizer(Y, class_weight=W)
    assert new == 0.5 + 0.75 + 2.0 + 1.25 + 2.0  # classes 0, 3, 1, 2, 1
    with pytest.warns(DeprecationWarning, match="use class_weight="):
        assert fastloss.cross_entropy_normalizer(Y, weight=W) == new
    with pytest.raises(TypeError, match="both"):
        fastloss.cross_entropy_normalizer(Y, weight=W, class_weight=W)


@pytest.mark.parametrize("name", ["softmax_focal_loss", "sigmoid_focal_loss"])
def test_focal_losses_take_alpha_then_gamma(name):
    for fn in (getattr(fastloss, name), getattr(fastloss, name + "_and_grad")):
        params = list(inspect.signature(fn).parameters)
        assert params.index("alpha") + 1 == params.index("gamma"), params


@pytest.mark.parametrize("name", ["softmax_focal_loss", "softmax_focal_loss_and_grad"])
def test_softmax_focal_per_class_alpha_is_class_weight(name):
    fn = getattr(fastloss, name)
    new = fn(X, Y, class_weight=W, gamma=1.5)
    with pytest.warns(DeprecationWarning, match=r"alpha= .*use class_weight=") as w:
        old = fn(X, Y, alpha=W, gamma=1.5)
    assert w[0].filename == __file__
    _same(new, old)
    with pytest.raises(TypeError, match="both"):
        fn(X, Y, alpha=list(W), class_weight=W)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_focal_scalar_alpha_scales_every_row(dtype, reduction):
    x = X.astype(dtype)
    loss, grad = fastloss.softmax_focal_loss_and_grad(
        x, Y, alpha=0.25, gamma=2.0, class_weight=W, reduction=reduction
    )
    # the kernel sees alpha * class_weight: the same bits as passing the product
    _same(
        (loss, grad),
        fastloss.softmax_focal_loss_and_grad(
            x, Y, gamma=2.0, class_weight=0.25 * W, reduction=reduction
        ),
    )
    ref = softmax_focal_loss_ref(
        x, Y, alpha=0.25, gamma=2.0, class_weight=W, reduction=reduction
    )
    # the twin scales by the product too: check its meaning independently, 0.25 x
    plain = softmax_focal_loss_ref(x, Y, gamma=2.0, class_weight=W, reduction=reduction)
    np.testing.assert_allclose(ref.loss, 0.25 * np.asarray(plain.loss), rtol=1e-15)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, ref.loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, ref.grad, rtol=tol, atol=tol)
    # without class weights alpha alone
    a_loss = fastloss.softmax_focal_loss(x, Y, alpha=0.25, reduction=reduction)
    ref = softmax_focal_loss_ref(x, Y, alpha=0.25, reduction=reduction)
    np.testing.assert_allclose(a_loss, ref.loss, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "alpha, match", [(-0.5, "alpha"), (np.nan, "alpha"), ("0.5", "alpha")]
)
def test_softmax_focal_bad_alpha_is_named(alpha, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fastloss.softmax_focal_loss(X, Y, alpha=alpha)


def test_torch_softmax_focal_old_positional_order_warns():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt

    x = torch.from_numpy(X)
    y = torch.from_numpy(Y)
    new = flt.softmax_focal_loss(x, y, gamma=0.5, class_weight=torch.from_numpy(W))
    # two warnings: the positional order, and a per-class tensor as alpha
    with pytest.warns(DeprecationWarning, match="by keyword|use class_weight=") as w:
        old = flt.softmax_focal_loss(x, y, 0.5, torch.from_numpy(W))
    assert len(w) == 2
    assert any(r.filename == __file__ for r in w)
    assert torch.equal(new, old)
    with pytest.warns(DeprecationWarning, match="use class_weight="):
        old = flt.softmax_focal_loss(x, y, gamma=0.5, alpha=torch.from_numpy(W))
    assert torch.equal(new, old)
    scaled = flt.softmax_focal_loss(x, y, alpha=0.5, gamma=0.5)
    plain = flt.softmax_focal_loss(x, y, gamma=0.5)
    assert scaled.item() == pytest.approx(0.5 * plain.item(), rel=1e-14)
    with pytest.raises(TypeError, match="positional"):
        flt.softmax_focal_loss(x, y, 0.5, None, -100, "mean", 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_perplexity_takes_the_cross_entropy_weights(dtype):
    x = X.astype(dtype)
    sw = np.array([1.0, 0.0, 2.0, 0.5, 3.0, 1.0])
    got = fastloss.perplexity(x, Y, class_weight=W, sample_weight=sw)
    rows = sce_ref(x, Y, reduction="none").loss  # unweighted row cross-entropies
    keep = Y != -100
    wy = np.where(keep, W[np.where(keep, Y, 0)], 0.0) * sw
    want = math.exp(np.sum(wy * rows) / np.sum(wy))
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert got == pytest.approx(want, rel=tol)
    assert fastloss.perplexity(x, Y) == pytest.approx(
        math.exp(np.mean(rows[keep])), rel=tol
    )
    with pytest.raises(ValueError, match="sample_weight"):
        fastloss.perplexity(x, Y, sample_weight=sw[:-1])
    with pytest.raises(ValueError, match="class_weight"):
        fastloss.perplexity(x, Y, class_weight=W[:-1])
