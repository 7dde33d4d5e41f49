"""Huge, infinite and NaN logits, masks, all-equal rows, C = 1, zero rows."""

import math

import numpy as np
import pytest
from _matrix import DTYPES, REDUCTIONS
from _reference import assert_close, check_against_reference, reference

import fastloss


def _big_rows(m, dtype):
    """Rows mixing +m, -m and moderate values; targets on and off the argmax."""
    logits = np.array(
        [
            [m, -m, 0.0, 0.5 * m],
            [-m, m, 1.0, -1.0],
            [0.0, -m, -m, m],
            [m, m, -m, 0.0],
            [-m, -m, -m, -m + 1.0 if m < 1e7 else -m],
        ],
        dtype=dtype,
    )
    target = np.array([1, 1, 2, 0, 3])
    return logits, target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("magnitude", [1e4, 1e30])
@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits_give_finite_results(simd_path, dtype, magnitude, reduction):
    logits, target = _big_rows(magnitude, dtype)
    kw = {
        "reduction": reduction,
        "class_weight": np.array([1.0, 2.0, 0.5, 1.5]),
        "label_smoothing": 0.1,
    }
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    check_against_reference(loss, grad, logits, target, kw)
    # the big terms are there, and ties of huge maxima split the probability
    rows = reference(logits, target, **dict(kw, reduction="none"))
    assert np.max(rows.loss) >= magnitude
    if magnitude == 1e30:  # row 4 is all equal: q = 1/4, coef 0.9 w_3 + 0.1 W / 4
        assert rows.grad[4, 0] == pytest.approx(1.475 * 0.25 - 0.1 / 4 * 1.0)
    assert np.count_nonzero(grad) >= 8


@pytest.mark.parametrize("magnitude", [1e4, 1e30])
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_huge_logits_with_z_loss_match_reference(simd_path, magnitude, kind):
    logits, target = _big_rows(magnitude, np.float64)
    if kind == "soft":
        target = np.eye(4)[target] * 0.7 + 0.075
    kw = {"reduction": "sum", "z_loss": 1e-4}
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    check_against_reference(loss, grad, logits, target, kw)


class TestFloat32NearMax:
    """float32 logits at +-3.3e38: lse - x_y = 6.6e38 exceeds float32's range."""

    logits = np.array(
        [[3.3e38, -3.3e38, 0.0], [-3.3e38, 3.3e38, 1.0], [0.5, 2.0, -1.0]],
        dtype=np.float32,
    )
    target = np.array([1, 1, 0])  # row 0 overflows, row 1 is confident and right

    @pytest.mark.parametrize("reduction", ["mean", "sum"])
    def test_reduced_loss_is_finite_float64(self, simd_path, reduction):
        kw = {"reduction": reduction}
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            self.logits, self.target, **kw
        )
        assert math.isfinite(loss) and loss > 3.4e38 / 3
        assert np.all(np.isfinite(grad))
        check_against_reference(loss, grad, self.logits, self.target, kw)
        assert fastloss.softmax_cross_entropy(self.logits, self.target, **kw) == loss

    def test_per_row_float32_loss_overflows_to_inf(self, simd_path):
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            self.logits, self.target, reduction="none"
        )
        assert loss.dtype == np.float32
        assert loss[0] == np.inf  # 6.6e38 is not a float32
        assert np.all(np.isfinite(loss[1:])) and np.all(np.isfinite(grad))
        ref = reference(self.logits, self.target, reduction="none")
        assert_close(loss[1:], ref.loss[1:], ref.loss_scale[1:], np.float32)
        assert_close(grad, ref.grad, ref.grad_scale, np.float32, "grad")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_neg_inf_masks_give_exact_zero_gradient(simd_path, rng, dtype, reduction):
    logits = rng.standard_normal((6, 7)).astype(dtype)
    mask = rng.random((6, 7)) < 0.4
    target = rng.integers(0, 7, size=6)
    mask[np.arange(6), target] = False  # target classes stay visible
    mask[0, :] = True
    mask[0, target[0]] = False  # one row with a single visible class
    logits[mask] = -np.inf
    kw = {
        "reduction": reduction,
        "class_weight": rng.uniform(0.5, 2.0, 7),
        "z_loss": 1e-3,
    }
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert np.all(grad[mask] == 0.0)
    assert np.count_nonzero(grad[~mask]) >= 10
    check_against_reference(loss, grad, logits, target, kw)
    # soft targets with zero probability on the masked classes
    p = rng.random((6, 7))
    p[mask] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    p = p.astype(dtype)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, p, **kw)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert np.all(grad[mask] == 0.0)
    check_against_reference(loss, grad, logits, p, kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_class_under_smoothing_gives_inf_loss(simd_path, dtype):
    """Smoothing puts weight eps/C on a -inf class: (lse - x_c) is infinite."""
    logits = np.array([[0.0, -np.inf, 1.0], [0.5, 0.2, 0.1]], dtype=dtype)
    target = np.array([2, 0])
    kw = {"reduction": "none", "label_smoothing": 0.1}
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert loss[0] == np.inf and np.isfinite(loss[1])
    assert np.all(np.isfinite(grad))
    check_against_reference(loss, grad, logits, target, kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_neg_inf_target_logit_gives_inf_loss(simd_path, dtype, reduction):
    logits = np.array([[0.0, -np.inf, 1.0], [0.5, 0.2, 0.1]], dtype=dtype)
    target = np.array([1, 0])
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction=reduction
    )
    if reduction == "none":
        assert loss[0] == np.inf and np.isfinite(loss[1])
    else:
        assert loss == np.inf
    check_against_reference(loss, grad, logits, target, {"reduction": reduction})


BAD_ROWS = {
    "all_neg_inf": [-np.inf, -np.inf, -np.inf, -np.inf],
    "nan": [0.0, np.nan, 1.0, 2.0],
    "pos_inf": [0.0, np.inf, 1.0, 2.0],
    "pos_inf_target": [np.inf, 0.0, 1.0, 2.0],
}


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("bad", list(BAD_ROWS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_row_is_nan_only_there(simd_path, rng, dtype, bad, reduction, kind):
    logits = rng.standard_normal((5, 4)).astype(dtype)
    logits[2] = BAD_ROWS[bad]
    if kind == "hard":
        target = np.array([0, 1, 0, 3, 2])
    else:
        target = rng.random((5, 4)).astype(dtype)
    kw = {"reduction": reduction, "n_threads": 2}
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert np.all(np.isnan(grad[2])), grad[2]
    good = [0, 1, 3, 4]
    assert np.all(np.isfinite(grad[good]))
    if reduction == "none":
        assert np.isnan(loss[2]) and np.all(np.isfinite(loss[good]))
    else:
        assert math.isnan(loss)
    check_against_reference(loss, grad, logits, target, kw)


@pytest.mark.parametrize("value", [0.0, 3.7, -50.0, 1e4, -1e4])
@pytest.mark.parametrize("n_classes", [1, 2, 7, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_equal_rows(simd_path, dtype, n_classes, value):
    logits = np.full((3, n_classes), value, dtype=dtype)
    target = np.array([0, n_classes - 1, n_classes // 2])
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction="none"
    )
    want_grad = np.full((3, n_classes), 1.0 / n_classes)
    want_grad[np.arange(3), target] -= 1.0
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(loss, math.log(n_classes), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=rtol / n_classes)
    total, grad_sum = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction="sum"
    )
    np.testing.assert_allclose(total, 3 * math.log(n_classes), rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(grad_sum, grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_single_class(simd_path, rng, dtype, reduction):
    """C = 1: the cross-entropy part is 0, only z_loss (lse = x) is left."""
    logits = (3.0 * rng.standard_normal((4, 1))).astype(dtype)
    target = np.zeros(4, dtype=np.int64)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction=reduction, label_smoothing=0.2
    )
    assert np.all(np.abs(np.asarray(loss)) <= 1e-6)
    assert np.all(np.abs(grad) <= 1e-6)
    kw = {"reduction": reduction, "z_loss": 0.1, "class_weight": np.array([2.0])}
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    ref = check_against_reference(loss, grad, logits, target, kw)
    # g = (s/D) [(w + 2 z lse) q - w] = (s/D) 2 z x, since q = 1 and lse = x
    scale = 1.0 if reduction != "mean" else 1.0 / (4 * 2.0)
    np.testing.assert_allclose(
        ref.grad[:, 0], scale * 2 * 0.1 * logits[:, 0].astype(float), rtol=1e-12
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_dimensional_input_is_one_row(simd_path, rng, dtype):
    logits = rng.standard_normal(9).astype(dtype)
    for reduction in REDUCTIONS:
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, np.array(4), reduction=reduction
        )
        assert grad.shape == (9,)
        if reduction == "none":
            assert np.shape(loss) == ()
        check_against_reference(
            loss, grad, logits, np.array(4), {"reduction": reduction}
        )
        row = fastloss.softmax_cross_entropy_and_grad(
            logits[None, :], np.array([4]), reduction=reduction
        )
        assert float(np.asarray(loss)) == float(np.asarray(row[0]).reshape(-1)[0])
        np.testing.assert_array_equal(grad, row[1][0])


def test_gradient_beyond_float32_range_keeps_zero_entries_zero(simd_path):
    # The true gradient is [2**128, 0]: the first entry overflows float32 (inf is
    # the honest answer), the second must stay 0, not inf * 0 = NaN.
    x = np.array([[8.507059e37, 0.0]], np.float32)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        x, np.array([0]), class_weight=np.array([2.0**-8, 0.0]), z_loss=2.0**-7
    )
    assert np.isfinite(loss)
    assert grad[0, 0] == np.inf
    assert grad[0, 1] == 0.0
