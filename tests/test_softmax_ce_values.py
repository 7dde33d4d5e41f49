"""fastloss against the float64 twin across the option, dtype and layout matrix."""

import numpy as np
import pytest
from _matrix import DTYPES, LAYOUTS, N_THREADS, REDUCTIONS
from _reference import (
    OPTIONS,
    assert_same_bits,
    assert_unchanged,
    check_against_reference,
    make_case,
    non_contiguous,
    read_only,
    reference,
    snapshot,
)

import fastloss

KINDS = ["hard", "soft"]
SHAPES = [(6, 5), (2, 3, 6), (7,)]


def _call(logits, target, kw):
    """Both entry points; forward-only must give exactly the fused loss."""
    inputs = [target, kw.get("weight"), kw.get("sample_weight")]
    if kw.get("out") is not logits:
        inputs.append(logits)
    before = snapshot(*inputs)
    fw_kw = {k: v for k, v in kw.items() if k != "out"}
    forward = fastloss.softmax_cross_entropy(logits, target, **fw_kw)
    assert_unchanged(before)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    assert_unchanged(before)
    assert_same_bits(forward, loss)
    return loss, grad


def _assert_not_trivial(ref):
    assert np.any(ref.grad != 0), "reference gradient is all zero"
    assert np.any(np.asarray(ref.loss) != 0), "reference loss is zero"


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_options_match_reference(simd_path, rng, dtype, reduction, kind, option):
    logits, target, kw = make_case(rng, (6, 5), dtype, kind, **OPTIONS[option])
    kw["reduction"] = reduction
    loss, grad = _call(logits, target, kw)
    ref = check_against_reference(loss, grad, logits, target, kw)
    _assert_not_trivial(ref)


@pytest.mark.parametrize("n_threads", N_THREADS)
@pytest.mark.parametrize("layout,out_mode", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_out_and_threads_match_reference(
    simd_path, rng, dtype, reduction, kind, shape, layout, out_mode, n_threads
):
    logits, target, kw = make_case(rng, shape, dtype, kind, **OPTIONS["all"])
    kw["reduction"] = reduction
    kw["n_threads"] = n_threads
    if layout != "contiguous":
        change = non_contiguous if layout == "strided" else read_only
        logits, target = change(logits), change(target)
        kw["class_weight"] = change(kw["class_weight"])
        kw["sample_weight"] = change(kw["sample_weight"])
        if layout == "strided" and len(shape) > 1:
            assert not logits.flags.c_contiguous
    original = logits.copy()
    if out_mode == "out":
        kw["out"] = np.full(shape, np.nan, dtype=dtype)
    elif out_mode == "inplace":
        kw["out"] = logits
    loss, grad = _call(logits, target, kw)
    if out_mode is not None:
        assert grad is kw["out"]
    if out_mode == "inplace":
        assert grad is logits
    ref = check_against_reference(loss, grad, original, target, kw)
    _assert_not_trivial(ref)


@pytest.mark.parametrize(
    "target_dtype",
    [
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.intp,
    ],
)
def test_any_integer_target_dtype(rng, target_dtype):
    logits, target, kw = make_case(rng, (5, 7), np.float64, "hard", weight=True)
    want = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    got = fastloss.softmax_cross_entropy_and_grad(
        logits, target.astype(target_dtype), **kw
    )
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


def test_signed_small_target_dtype_with_ignore_index(simd_path, rng):
    logits, target, kw = make_case(rng, (9, 4), np.float32, "hard", ignore=-1)
    assert np.any(target == -1)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        logits, target.astype(np.int8), **kw
    )
    check_against_reference(loss, grad, logits, target, kw)


def test_array_likes_equal_arrays(rng):
    logits, target, _ = make_case(rng, (3, 4), np.float64, "hard")
    want = fastloss.softmax_cross_entropy_and_grad(logits, target, reduction="sum")
    got = fastloss.softmax_cross_entropy_and_grad(
        logits.tolist(), target.tolist(), reduction="sum"
    )
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


def test_one_row_target_as_python_int(simd_path, rng):
    logits = rng.standard_normal(6)
    want = fastloss.softmax_cross_entropy_and_grad(logits, np.array(4))
    got = fastloss.softmax_cross_entropy_and_grad(logits, 4)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])
    check_against_reference(got[0], got[1], logits, np.array(4), {})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_float16_is_computed_in_float32(simd_path, rng, kind, reduction):
    logits, target, kw = make_case(rng, (6, 5), np.float16, kind, **OPTIONS["all"])
    kw["reduction"] = reduction
    loss, grad = _call(logits, target, kw)
    check_against_reference(loss, grad, logits, target, kw)
    # and it is the float32 computation cast back
    kw32 = dict(kw)
    t32 = target.astype(np.float32) if kind == "soft" else target
    loss32, grad32 = fastloss.softmax_cross_entropy_and_grad(
        logits.astype(np.float32), t32, **kw32
    )
    np.testing.assert_array_equal(grad, grad32.astype(np.float16))
    if reduction == "none":
        np.testing.assert_array_equal(loss, loss32.astype(np.float16))
    else:
        assert loss == pytest.approx(loss32, rel=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "logits_dtype", [np.int8, np.int32, np.int64, np.uint8, np.bool_]
)
def test_integer_and_bool_logits_are_float64(simd_path, rng, logits_dtype, reduction):
    if logits_dtype is np.bool_:
        logits = rng.random((5, 4)) < 0.5
    else:
        logits = rng.integers(0, 6, size=(5, 4)).astype(logits_dtype)
    target = rng.integers(0, 4, size=5)
    out = np.empty((5, 4), dtype=np.float64)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction=reduction, out=out
    )
    assert grad is out
    want = fastloss.softmax_cross_entropy_and_grad(
        logits.astype(np.float64), target, reduction=reduction
    )
    assert_same_bits(loss, want[0])
    assert_same_bits(grad, want[1])
    check_against_reference(loss, grad, logits, target, {"reduction": reduction})


def test_soft_targets_are_used_as_given(simd_path, rng):
    """Rows that do not sum to one are not renormalised."""
    logits = rng.standard_normal((4, 5))
    target = rng.random((4, 5)) * 3.0
    for reduction in REDUCTIONS:
        kw = {
            "reduction": reduction,
            "label_smoothing": 0.1,
            "class_weight": rng.random(5),
        }
        loss, grad = _call(logits, target, kw)
        check_against_reference(loss, grad, logits, target, kw)


def test_soft_targets_of_another_float_dtype(simd_path, rng):
    logits, target, kw = make_case(rng, (4, 5), np.float32, "soft")
    loss, grad = _call(logits, target.astype(np.float64), kw)
    check_against_reference(loss, grad, logits, target, kw)


def test_ignore_index_does_not_apply_to_soft_targets(rng):
    logits, target, _ = make_case(rng, (4, 5), np.float64, "soft")
    want = fastloss.softmax_cross_entropy_and_grad(logits, target)
    for ignore_index in (0, 1, -100):
        got = fastloss.softmax_cross_entropy_and_grad(
            logits, target, ignore_index=ignore_index
        )
        assert_same_bits(got[0], want[0])
        assert_same_bits(got[1], want[1])


def test_one_hot_soft_targets_equal_hard_targets(rng):
    logits, target, kw = make_case(rng, (6, 4), np.float64, "hard", **OPTIONS["all"])
    kw.pop("ignore_index", None)
    target[target == -100] = 3
    onehot = np.eye(4)[target]
    for reduction in ("none", "sum"):
        hard = fastloss.softmax_cross_entropy_and_grad(
            logits, target, reduction=reduction, **kw
        )
        soft = fastloss.softmax_cross_entropy_and_grad(
            logits, onehot, reduction=reduction, **kw
        )
        np.testing.assert_allclose(soft[0], hard[0], rtol=1e-12)
        np.testing.assert_allclose(soft[1], hard[1], rtol=1e-10, atol=1e-14)


def test_defaults(simd_path, rng):
    logits, target, _ = make_case(rng, (5, 4), np.float64, "hard", ignore=-100)
    explicit = fastloss.softmax_cross_entropy_and_grad(
        logits,
        target,
        class_weight=None,
        ignore_index=-100,
        label_smoothing=0.0,
        z_loss=0.0,
        sample_weight=None,
        reduction="mean",
        n_threads=None,
        out=None,
    )
    default = fastloss.softmax_cross_entropy_and_grad(logits, target)
    assert_same_bits(default[0], explicit[0])
    assert_same_bits(default[1], explicit[1])
    assert_same_bits(fastloss.softmax_cross_entropy(logits, target), default[0])
    check_against_reference(default[0], default[1], logits, target, {})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_unit_weights_equal_no_weights(rng, kind, reduction):
    logits, target, kw = make_case(rng, (5, 4), np.float64, kind, label_smoothing=0.1)
    kw["reduction"] = reduction
    want = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    got = fastloss.softmax_cross_entropy_and_grad(
        logits, target, class_weight=np.ones(4), sample_weight=np.ones(5), **kw
    )
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-14, atol=1e-17)


class TestZeroNormaliser:
    """'mean' with D == 0 is 0.0 with an all-zero gradient (not NaN)."""

    def _check_zero(self, logits, target, **kw):
        out = np.full(np.shape(logits), np.nan, dtype=np.asarray(logits).dtype)
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, reduction="mean", out=out, **kw
        )
        assert isinstance(loss, float) and loss == 0.0
        assert grad is out and np.all(grad == 0.0)
        assert fastloss.softmax_cross_entropy(logits, target, **kw) == 0.0
        # the twin agrees, and "sum" of the same batch is not degenerate
        assert reference(logits, target, **kw).loss == 0.0
        return fastloss.softmax_cross_entropy_and_grad(
            logits, target, reduction="sum", **kw
        )

    def test_every_target_ignored(self, rng):
        logits = rng.standard_normal((4, 3))
        loss, grad = self._check_zero(logits, np.full(4, -100))
        assert loss == 0.0 and np.all(grad == 0.0)

    def test_every_target_ignored_custom_index(self, rng):
        logits = rng.standard_normal((2, 2, 3))
        self._check_zero(logits, np.full((2, 2), 2), ignore_index=2)

    def test_weights_of_present_targets_zero(self, rng):
        logits = rng.standard_normal((4, 3))
        weight = np.array([0.0, 1.0, 0.0])
        target = np.array([0, 2, 2, 0])
        _, grad = self._check_zero(
            logits, target, class_weight=weight, label_smoothing=0.3
        )
        assert np.any(grad != 0)  # smoothing still pulls on class 1

    def test_sample_weights_zero(self, rng):
        logits = rng.standard_normal((3, 4))
        self._check_zero(logits, np.array([1, 2, 3]), sample_weight=np.zeros(3))
        soft = rng.random((3, 4))
        self._check_zero(logits, soft, sample_weight=np.zeros(3))

    @pytest.mark.parametrize("shape", [(0, 5), (2, 0, 5)], ids=str)
    @pytest.mark.parametrize("kind", KINDS)
    def test_no_rows(self, shape, kind):
        logits = np.zeros(shape, dtype=np.float32)
        if kind == "hard":
            target = np.zeros(shape[:-1], dtype=np.int64)
        else:
            target = np.zeros(shape, dtype=np.float32)
        self._check_zero(logits, target)
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, reduction="sum"
        )
        assert loss == 0.0 and grad.shape == shape and grad.dtype == np.float32
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, reduction="none"
        )
        assert loss.shape == shape[:-1] and loss.dtype == np.float32
        assert grad.shape == shape
