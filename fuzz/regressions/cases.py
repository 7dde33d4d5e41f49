"""Minimal reproducers of the fuzzer's findings in fastloss, as calls.

Each entry builds one `_harness.Case` (a public loss, its arguments, its keyword
options) that `_harness.check` judges like a decoded fuzz input, and names what the
call must do now: "ok" (accepted and right), "error" (a clean ValueError or
TypeError, nothing written) or "known" (reported, not fixed yet). Every one of
them failed before its fix; the *.bin files beside this one are raw fuzz inputs
(see README.md).
"""

import numpy as np
from _harness import Case


def _overlapping(dtype, shape, shift):
    """(input, out): two C-ordered views of one buffer, `shift` elements apart."""
    n = int(np.prod(shape))
    buf = np.zeros(n + shift, dtype=dtype)
    x = buf[:n].reshape(shape)
    x[...] = np.arange(n).reshape(shape) % 5 - 2
    out = buf[shift:].reshape(shape)
    return x, out


def big_endian_float64_logits():
    x = (np.arange(6).reshape(2, 3) / 4).astype(">f8")
    return Case("softmax_cross_entropy_and_grad", [x, np.array([0, 2])], {})


def big_endian_float32_with_out():
    x = (np.arange(6).reshape(2, 3) / 4).astype(">f4")
    out = np.zeros((2, 3), np.float32)  # the gradient's dtype: native float32
    return Case("mse_loss_and_grad", [x, np.zeros((2, 3))], {"out": out})


def big_endian_float16_pred():
    x = np.array([0.5, -1.5, 2.0], dtype=">f2")
    return Case("l1_loss_and_grad", [x, np.zeros(3)], {"reduction": "none"})


def object_array_huge_int():
    x = np.array([10**400, 1.0], dtype=object)
    return Case("mse_loss", [x, np.zeros(2)], {})


def object_array_string():
    x = np.array(["1.5", 2.0], dtype=object)
    return Case("mse_loss", [x, np.zeros(2)], {})


def ignore_index_beyond_int64():
    kw = {"ignore_index": 2**63}
    return Case("softmax_cross_entropy", [np.zeros((2, 3)), np.array([0, 1])], kw)


def weight_finite_in_float64_inf_in_float32():
    x = np.zeros((2, 3), np.float32)
    kw = {"class_weight": np.array([1.0, 1e39, 1.0])}
    return Case("softmax_cross_entropy", [x, np.array([0, 1])], kw)


def sample_weight_inf_in_float32():
    x = np.zeros(2, np.float32)
    kw = {"sample_weight": np.array([1e39, 1.0])}
    return Case("mse_loss", [x, np.ones(2, np.float32)], kw)


def pos_weight_inf_in_float32():
    x = np.zeros((2, 2), np.float32)
    kw = {"pos_weight": np.array([1e39, 1.0])}
    return Case("binary_cross_entropy_with_logits", [x, np.ones((2, 2))], kw)


def out_overlaps_float16_pred():
    x, out = _overlapping(np.float16, (4, 2), 2)
    return Case("mse_loss_and_grad", [x, np.ones((4, 2))], {"out": out})


def out_overlaps_integer_logits():
    x, _ = _overlapping(np.int64, (3, 4), 4)
    out = x.base[4:16].view(np.float64).reshape(3, 4)  # the gradient's dtype
    return Case(
        "softmax_cross_entropy_and_grad", [x, np.array([0, 1, 2])], {"out": out}
    )


def out_overlaps_strided_student():
    buf = np.zeros(24)
    s = buf[:12].reshape(3, 4)[:, ::2]  # (3, 2), copied on the way in
    out = buf[2:8].reshape(3, 2)
    return Case("kl_div_with_logits_and_grad", [s, np.zeros((3, 2))], {"out": out})


def out_overlaps_broadcast_weight():
    out = np.zeros((2, 3))
    w = out[1]  # (3,) broadcast over the rows: the kernel gets a copy
    w[...] = 1.0
    kw = {"weight": w, "out": out}
    return Case("mse_loss_and_grad", [np.ones((2, 3)), np.zeros((2, 3))], kw)


def out_overlaps_one_element_pos_weight():
    out = np.zeros((2, 3))
    pw = out.reshape(-1)[:1]  # (1,): repeated along the last axis, a copy
    pw[...] = 2.0
    kw = {"pos_weight": pw, "out": out}
    return Case(
        "binary_cross_entropy_with_logits_and_grad",
        [np.ones((2, 3)), np.ones((2, 3))],
        kw,
    )


def out_overlaps_tiny_sample_weight():
    # sample weights summing below ~3e-39 reach the kernel divided by their sum,
    # as a copy, so the kernel's pointer check did not see them inside out
    out = np.full(2, 1.7e-46)
    kw = {"sample_weight": out, "out": out, "n_threads": 1}
    return Case("huber_loss_and_grad", [np.full(2, 1e4), np.zeros(2)], kw)


def ce_label_smoothing_one_minus_inf_target_logit():
    # label_smoothing = 1 gives the target term the coefficient 0, and x_y = -inf
    # made it 0 * inf = NaN instead of 0 (the loss is inf from the smoothing terms)
    x = np.array([-np.inf, -0.0, -np.inf, -0.0, -0.0], np.float32)
    kw = {
        "class_weight": np.array([2.046875, 710.0, 2.125, 3.046875, 2.765625]),
        "label_smoothing": 1.0,
        "z_loss": 0.001,
    }
    return Case(
        "softmax_cross_entropy", [x, np.array(0, np.int32)], kw, simd="baseline"
    )


def ce_zero_sample_weight_row_with_infinite_loss():
    # a row of sample weight 0 whose z_loss term overflows: 0 * inf made the
    # reduced loss NaN instead of the other row's inf
    x = np.array([[2.0, -1.0, 0.5], [3.0, 1.0, -2.0]])
    kw = {"sample_weight": np.array([0.0, 1.0]), "z_loss": 1e308, "reduction": "sum"}
    return Case("softmax_cross_entropy", [x, np.array([0, 2])], kw)


def ce_out_overlaps_rescaled_class_weight():
    # class weights below 1 are rescaled by a power of two for "mean" (a copy),
    # so the kernel's pointer check did not see the caller's weight inside out
    out = np.zeros(2, np.float32)
    w = out  # the weight is the out buffer itself
    w[...] = [-0.026743, 0.026743]
    kw = {"class_weight": w, "label_smoothing": 0.1, "out": out}
    x = np.array([-6.9375, -7.625], np.float32)
    return Case("softmax_cross_entropy_and_grad", [x, np.array(0, np.uint8)], kw)


def sample_weight_sum_overflows():
    kw = {"sample_weight": np.array([1e308, 1e308])}
    return Case("mse_loss", [np.ones(2), np.zeros(2)], kw)


def subnormal_sample_weights_softmax():
    # "mean" over D = 2e-323: 1 / D overflowed, and inf * 0 gave a NaN gradient
    kw = {
        "sample_weight": np.full(4, 5e-324),
        "label_smoothing": 0.1,
        "ignore_index": -1,
    }
    x = np.full((4, 1), 7e4)
    return Case("softmax_cross_entropy_and_grad", [x, np.zeros(4, np.int64)], kw)


def subnormal_sample_weights_mse():
    kw = {"sample_weight": np.full(4, 5e-324)}
    return Case("mse_loss_and_grad", [np.ones(4), np.ones(4)], kw)


def subnormal_target_class_weight_softmax():
    # (CI-seed fuzz run, 2026-11-26) "mean" over D = w_0 = 5e-324 while the other
    # class weights are ~4: s_i / D overflowed, and inf * w gave a NaN gradient where
    # w_y / D = 1 (the kernel now scales a tiny D and the weight terms by 2^600)
    kw = {"class_weight": np.array([5e-324, 3.96875, 1.625, 1.578125])}
    return Case("softmax_cross_entropy_and_grad", [np.zeros(4), np.array(0)], kw)


def tiny_class_weights_label_smoothing_float32():
    # (hypothesis, 2026-11-26) all class weights 1.4e-45 in float32 with
    # label_smoothing: eps / C * s_i / D overflowed float32 (a -inf gradient); the
    # weights are now scaled by a power of two into [1/2, 1) first
    kw = {"class_weight": np.full(3, 1.4e-45, np.float32), "label_smoothing": 1.0}
    x = np.zeros((2, 3), np.float32)
    return Case("softmax_cross_entropy_and_grad", [x, np.array([0, 2])], kw)


# The same corners inside the contract's ranges (docs/RELIABILITY.md, "Accepted
# ranges": weights and z_loss 0 or of magnitude in [2**-200, 2**200] for float64,
# [2**-32, 2**32] for float32): the inputs above are refused now, these still reach
# the kernel fixes they were written for.


def ce_zero_sample_weight_row_overflowing_z_term_in_range():
    # the z_loss term of the weight-0 row overflows float64 (z lse^2 = 4e360)
    x = np.array([[2e150, -1.0, 0.5], [3.0, 1.0, -2.0]])
    kw = {"sample_weight": np.array([0.0, 1.0]), "z_loss": 1e60, "reduction": "sum"}
    return Case("softmax_cross_entropy", [x, np.array([0, 2])], kw)


def smallest_target_class_weight_softmax():
    # "mean" over D = w_0 = 2**-200 with the other class weights ~4: s_i / D = 2**200
    kw = {"class_weight": np.array([2.0**-200, 3.96875, 1.625, 1.578125])}
    return Case("softmax_cross_entropy_and_grad", [np.zeros(4), np.array(0)], kw)


def smallest_class_weights_label_smoothing_float32():
    kw = {"class_weight": np.full(3, 2.0**-32, np.float32), "label_smoothing": 1.0}
    x = np.zeros((2, 3), np.float32)
    return Case("softmax_cross_entropy_and_grad", [x, np.array([0, 2])], kw)


def smallest_sample_weights_softmax_float32():
    kw = {"sample_weight": np.full(4, 2.0**-32), "label_smoothing": 0.1}
    x = np.full((4, 3), 7e4, np.float32)
    return Case("softmax_cross_entropy_and_grad", [x, np.zeros(4, np.int64)], kw)


def largest_sample_weights_mse_sum():
    kw = {"sample_weight": np.array([2.0**200, 2.0**200]), "reduction": "sum"}
    return Case("mse_loss_and_grad", [np.full(2, 3.0), np.zeros(2)], kw)


def weight_below_range_refused_float32():
    # 1e-10 is a normal float32, but below 2**-32 (2.3e-10): refused
    kw = {"class_weight": np.array([1.0, 1e-10, 1.0])}
    x = np.zeros((2, 3), np.float32)
    return Case("softmax_cross_entropy", [x, np.array([0, 1])], kw)


def z_loss_beyond_float32_range_refused():
    kw = {"z_loss": 1e300}
    x = np.zeros((2, 3), np.float32)
    return Case("softmax_cross_entropy_and_grad", [x, np.array([0, 1])], kw)


def subnormal_label_smoothing_float32_refused():
    kw = {"label_smoothing": 1e-40}
    x = np.zeros((2, 3), np.float32)
    return Case("binary_cross_entropy_with_logits", [x, np.ones((2, 3))], kw)


def ce_smoothing_zero_class_weight_minus_inf_logit():
    # (generated fuzz input 62033 of seed 1, 2026-12-07; the same bug was found by
    # the aarch64 cross-check's driver) label smoothing with a class of weight 0 whose
    # logit is -inf: the smoothing sum's w_c (m - x_c) was 0 * inf = NaN
    x = np.array([[4.0, -np.inf, -2.5]])
    kw = {"class_weight": np.array([1.0, 0.0, 1.0]), "label_smoothing": 0.1}
    return Case("softmax_cross_entropy_and_grad", [x, np.array([0])], kw)


def n_threads_beyond_c_int():
    kw = {"n_threads": 2**31}
    return Case("mse_loss", [np.ones(2), np.zeros(2)], kw)


def empty_input_with_empty_pos_weight():
    # (0, 0) logits: pos_weight of length 0 broadcasts on the empty last axis, and
    # the kernel is handed c = 1; the length-checking bindings refused it
    kw = {"pos_weight": np.zeros(0)}
    x = np.zeros((0, 0), np.float32)
    return Case("binary_cross_entropy_with_logits_and_grad", [x, x], kw)


# name -> (builder, what the call must do now)
CASES = {
    f.__name__: (f, outcome)
    for f, outcome in [
        (big_endian_float64_logits, "ok"),
        (big_endian_float32_with_out, "ok"),
        (big_endian_float16_pred, "ok"),
        (object_array_huge_int, "error"),
        (object_array_string, "error"),
        (ignore_index_beyond_int64, "error"),
        (weight_finite_in_float64_inf_in_float32, "error"),
        (sample_weight_inf_in_float32, "error"),
        (pos_weight_inf_in_float32, "error"),
        (out_overlaps_float16_pred, "error"),
        (out_overlaps_integer_logits, "error"),
        (out_overlaps_strided_student, "error"),
        (out_overlaps_broadcast_weight, "error"),
        (out_overlaps_one_element_pos_weight, "error"),
        (out_overlaps_tiny_sample_weight, "error"),
        (ce_label_smoothing_one_minus_inf_target_logit, "ok"),
        (
            ce_zero_sample_weight_row_with_infinite_loss,
            "error",
        ),  # outside the ranges since 2026-12-07
        (ce_out_overlaps_rescaled_class_weight, "error"),
        (sample_weight_sum_overflows, "error"),  # outside the ranges since 2026-12-07
        (n_threads_beyond_c_int, "error"),
        (
            subnormal_sample_weights_softmax,
            "error",
        ),  # outside the ranges since 2026-12-07
        (subnormal_sample_weights_mse, "error"),  # outside the ranges since 2026-12-07
        (empty_input_with_empty_pos_weight, "ok"),
        (
            subnormal_target_class_weight_softmax,
            "error",
        ),  # outside the ranges since 2026-12-07
        (
            tiny_class_weights_label_smoothing_float32,
            "error",
        ),  # outside the ranges since 2026-12-07
        (ce_zero_sample_weight_row_overflowing_z_term_in_range, "ok"),
        (smallest_target_class_weight_softmax, "ok"),
        (smallest_class_weights_label_smoothing_float32, "ok"),
        (smallest_sample_weights_softmax_float32, "ok"),
        (largest_sample_weights_mse_sum, "ok"),
        (ce_smoothing_zero_class_weight_minus_inf_logit, "ok"),
        (weight_below_range_refused_float32, "error"),
        (z_loss_beyond_float32_range_refused, "error"),
        (subnormal_label_smoothing_float32_refused, "error"),
    ]
}
