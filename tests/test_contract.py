"""The numeric contract's ranges (docs/RELIABILITY.md, "accepted ranges") at the
entry points that are not functional losses: the Keras-style classes, the PyTorch
adapter, cross_entropy_normalizer; and the rule that weights are checked as given,
before conversion to the compute dtype."""

import warnings

import numpy as np
import pytest

import fastloss
from fastloss.losses import (
    BinaryCrossentropy,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)

RANGE = {np.float32: 2.0**32, np.float64: 2.0**200}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_are_checked_before_the_conversion(dtype):
    """A float64 1e-50 would be 0 in float32 and pass as "0"."""
    tiny = 1e-50 if dtype == np.float32 else 1e-250
    x = np.zeros((2, 3), dtype)
    with pytest.raises(ValueError, match=r"sample_weight\[0\] = 1e-[0-9]+ is out of"):
        fastloss.softmax_cross_entropy(x, [0, 1], sample_weight=[tiny, tiny])
    with pytest.raises(ValueError, match=r"weight\[1\] = 1e-[0-9]+ is out of"):
        fastloss.mse_loss(x, x, weight=np.array([1.0, tiny, 1.0]))
    with pytest.raises(ValueError, match="pos_weight"):
        fastloss.binary_cross_entropy_with_logits(x, x, pos_weight=tiny)


@pytest.mark.parametrize("weight_dtype", [np.float16, np.float32])
def test_narrower_weights_than_the_compute_dtype_pass_quietly(weight_dtype):
    """float16/float32 weights of a float64 call: the range's bounds do not fit
    their dtype, and comparing against them must not warn (it did: overflow in
    cast) or misjudge; the largest and smallest weights of the dtype are in range."""
    info = np.finfo(weight_dtype)
    x = np.zeros((3, 4))
    sw = np.array([info.max, info.smallest_subnormal, 1.0], weight_dtype)
    w = np.array([1.0, 0.5, 2.0, info.max], weight_dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = fastloss.softmax_cross_entropy(
            x, [0, 1, 2], sample_weight=sw, class_weight=w, reduction="sum"
        )
        fastloss.mse_loss(x, x, weight=np.ones((3, 4), weight_dtype))
        fastloss.binary_cross_entropy_with_logits(
            x, x, pos_weight=np.ones(4, weight_dtype)
        )
    expected = (float(sw[0]) * 1.0 + float(sw[1]) * 0.5 + 2.0) * np.log(4.0)
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_of_the_range_are_accepted(dtype):
    b = RANGE[dtype]
    x = np.zeros((2, 3), dtype)
    for w in (1 / b, b, 0.0, -b):
        sw = np.array([w, 1.0])
        loss = fastloss.softmax_cross_entropy(
            x, [0, 1], sample_weight=sw, reduction="sum"
        )
        assert loss == pytest.approx((w + 1.0) * np.log(3.0), rel=1e-6)
    with pytest.raises(ValueError, match="z_loss"):
        fastloss.softmax_cross_entropy(x, [0, 1], z_loss=2 * b)
    with pytest.raises(ValueError, match="temperature"):
        fastloss.kl_div_with_logits(x, x, temperature=0.5 / b)


def test_keras_classes_check_the_callers_weights_not_their_folded_ones():
    rng = np.random.default_rng(0)
    yt = rng.random((2000, 10)).astype(np.float32)
    yp = rng.random((2000, 10)).astype(np.float32)
    small = np.full(2000, 1e-6)  # in range; 1e-6 / 20,000 folded in is not
    got = MeanSquaredError()(yt, yp, sample_weight=small)
    want = np.mean(np.mean((yp.astype(float) - yt) ** 2, axis=-1) * small)
    assert got == pytest.approx(want, rel=1e-5)
    for reduction in ("sum", "sum_over_batch_size"):
        with pytest.raises(
            ValueError, match=r"sample_weight\[0\] = 10000000000.0 is out"
        ):
            MeanSquaredError(reduction=reduction)(
                yt, yp, sample_weight=np.full(2000, 1e10)
            )
    y = rng.integers(0, 10, 2000)
    with pytest.raises(ValueError, match="sample_weight"):
        SparseCategoricalCrossentropy(from_logits=True)(
            y, yp, sample_weight=np.full(2000, 1e-12)
        )
    with pytest.raises(ValueError, match="sample_weight"):
        BinaryCrossentropy()(yt, yp, sample_weight=np.full(2000, 1e-300))


def test_normalizer_checks_both_weights():
    y = np.array([0, 1])
    for kw in ({"class_weight": [1e300, 1.0]}, {"sample_weight": [1e-300, 1.0]}):
        with pytest.raises(ValueError, match="out of range"):
            fastloss.cross_entropy_normalizer(y, **kw)
    assert (
        fastloss.cross_entropy_normalizer(y, class_weight=[2.0**-200, 1.0])
        == 1.0 + 2.0**-200
    )


def test_torch_linear_ce_none_backward_takes_small_upstream_gradients():
    torch = pytest.importorskip("torch")
    import fastloss.torch as flt

    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, 8, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 8, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 1, 2, 3])
    for scale in (1e-10, 1e10):
        h.grad = w.grad = None
        (flt.linear_cross_entropy(h, w, t, reduction="none") * scale).sum().backward()
        hr = h.detach().clone().requires_grad_(True)
        wr = w.detach().clone().requires_grad_(True)
        ref = torch.nn.functional.cross_entropy(hr @ wr.T, t, reduction="none")
        (ref * scale).sum().backward()
        torch.testing.assert_close(h.grad, hr.grad, rtol=1e-10, atol=0)
        torch.testing.assert_close(w.grad, wr.grad, rtol=1e-10, atol=0)
