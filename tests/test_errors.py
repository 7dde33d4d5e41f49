"""Every bad argument raises an error naming it, before anything is written."""

import re

import numpy as np
import pytest
from _matrix import SIMD_ABSENT
from _reference import assert_unchanged, snapshot

import fastloss

N, C = 3, 4


def _base():
    """Valid arguments: float64 (3, 4) logits, hard targets, every option set."""
    rng = np.random.default_rng(0)
    return {
        "logits": rng.standard_normal((N, C)),
        "target": np.array([0, 3, 1]),
        "class_weight": np.array([1.0, 0.5, 2.0, 1.5]),
        "sample_weight": np.array([1.0, 2.0, 0.5]),
        "label_smoothing": 0.1,
        "z_loss": 1e-3,
        "reduction": "mean",
    }


def _set(**changes):
    def change(args):
        args.update(changes)

    return change


def _set_target(flat_index, value):
    def change(args):
        args["target"] = args["target"].copy()
        args["target"].reshape(-1)[flat_index] = value

    return change


# id: (change to the valid arguments, exception types, argument named)
BAD_ARGS = {
    # target
    "target_short": (_set(target=np.array([0, 1])), ValueError, "target"),
    "target_2d_int": (
        _set(target=np.zeros((N, C), np.int64)),
        (ValueError, TypeError),
        "target",
    ),
    "target_extra_axis": (
        _set(target=np.zeros((N, 1), np.int64)),
        ValueError,
        "target",
    ),
    "target_scalar": (_set(target=np.array(1)), ValueError, "target"),
    "soft_target_wrong_shape": (
        _set(target=np.full((N, C + 1), 0.2)),
        ValueError,
        "target",
    ),
    "float_class_indices": (
        _set(target=np.array([0.0, 3.0, 1.0])),
        TypeError,
        "target",
    ),
    "float32_class_indices": (
        _set(target=np.array([0, 3, 1], np.float32)),
        TypeError,
        "target",
    ),
    "bool_target": (_set(target=np.array([True, False, True])), TypeError, "target"),
    "string_target": (_set(target=np.array(["0", "3", "1"])), TypeError, "target"),
    "target_equals_C": (_set_target(2, C), ValueError, "target"),
    "target_minus_one": (_set_target(0, -1), ValueError, "target"),
    "target_huge": (_set_target(1, 2**40), ValueError, "target"),
    "target_uint8_255": (
        _set(target=np.array([0, 255, 1], np.uint8)),
        ValueError,
        "target",
    ),
    "target_default_ignore_not_ignored": (
        lambda a: (_set_target(2, -100)(a), a.update(ignore_index=-1)),
        ValueError,
        "target",
    ),
    # weight / sample_weight
    "class_weight_short": (
        _set(class_weight=np.ones(C - 1)),
        ValueError,
        "class_weight",
    ),
    "class_weight_long": (
        _set(class_weight=np.ones(C + 1)),
        ValueError,
        "class_weight",
    ),
    "class_weight_2d": (_set(class_weight=np.ones((1, C))), ValueError, "class_weight"),
    "class_weight_nan": (
        _set(class_weight=np.array([1.0, np.nan, 1.0, 1.0])),
        ValueError,
        "class_weight",
    ),
    "class_weight_inf": (
        _set(class_weight=np.array([1.0, 1.0, np.inf, 1.0])),
        ValueError,
        "class_weight",
    ),
    "sample_weight_short": (
        _set(sample_weight=np.ones(N - 1)),
        ValueError,
        "sample_weight",
    ),
    "sample_weight_logits_shape": (
        _set(sample_weight=np.ones((N, C))),
        ValueError,
        "sample_weight",
    ),
    "sample_weight_nan": (
        _set(sample_weight=np.array([1.0, np.nan, 1.0])),
        ValueError,
        "sample_weight",
    ),
    "sample_weight_neg_inf": (
        _set(sample_weight=np.array([1.0, 1.0, -np.inf])),
        ValueError,
        "sample_weight",
    ),
    # scalar options
    "smoothing_negative": (_set(label_smoothing=-0.1), ValueError, "label_smoothing"),
    "smoothing_above_one": (_set(label_smoothing=1.5), ValueError, "label_smoothing"),
    "smoothing_nan": (
        _set(label_smoothing=float("nan")),
        ValueError,
        "label_smoothing",
    ),
    "z_loss_negative": (_set(z_loss=-1e-3), ValueError, "z_loss"),
    "z_loss_nan": (_set(z_loss=float("nan")), ValueError, "z_loss"),
    "z_loss_inf": (_set(z_loss=float("inf")), ValueError, "z_loss"),
    "reduction_unknown": (_set(reduction="avg"), ValueError, "reduction"),
    "reduction_upper": (_set(reduction="MEAN"), ValueError, "reduction"),
    "reduction_none_object": (
        _set(reduction=None),
        (ValueError, TypeError),
        "reduction",
    ),
    "ignore_index_float": (
        _set(ignore_index=1.5),
        (ValueError, TypeError),
        "ignore_index",
    ),
    "n_threads_zero": (_set(n_threads=0), ValueError, "n_threads"),
    "n_threads_negative": (_set(n_threads=-1), ValueError, "n_threads"),
    "n_threads_float": (_set(n_threads=1.5), (ValueError, TypeError), "n_threads"),
    "n_threads_string": (_set(n_threads="2"), (ValueError, TypeError), "n_threads"),
}

BAD_LOGITS = {
    "scalar": (np.float64(1.0), np.array(0), ValueError),
    "no_classes": (np.zeros((N, 0)), np.zeros(N, np.int64), ValueError),
    "strings": (np.array([["a", "b"], ["c", "d"]]), np.array([0, 1]), TypeError),
    "numeric_strings": (np.array([["1.0", "2.0"]]), np.array([0]), TypeError),
    "complex": (np.ones((2, 3), np.complex128), np.array([0, 1]), TypeError),
    "objects": (
        np.array([[object(), object()]], dtype=object),
        np.array([0]),
        TypeError,
    ),
    "none": (None, np.array(0), TypeError),
}


def _call_and_check(fn, args, exc, name, guarded):
    """``fn(**args)`` raises ``exc`` naming ``name``; ``guarded`` is untouched."""
    snap = snapshot(*guarded)
    args = dict(args)
    logits, target = args.pop("logits"), args.pop("target")
    with pytest.raises(exc, match=re.escape(name)):
        fn(logits, target, **args)
    assert_unchanged(snap)


@pytest.mark.parametrize("out_mode", [None, "out", "inplace"])
@pytest.mark.parametrize("case", list(BAD_ARGS))
def test_bad_argument_is_named_and_nothing_is_written(case, out_mode):
    change, exc, name = BAD_ARGS[case]
    args = _base()
    change(args)
    guarded = [
        args["logits"],
        args["target"],
        args["class_weight"],
        args["sample_weight"],
    ]
    if out_mode == "out":
        args["out"] = np.full((N, C), 7.0)
        guarded.append(args["out"])
    elif out_mode == "inplace":
        args["out"] = args["logits"]
    _call_and_check(fastloss.softmax_cross_entropy_and_grad, args, exc, name, guarded)
    if out_mode is None:
        _call_and_check(fastloss.softmax_cross_entropy, args, exc, name, guarded)


@pytest.mark.parametrize("out_mode", [None, "out"])
@pytest.mark.parametrize("case", list(BAD_LOGITS))
def test_bad_logits_are_named(case, out_mode):
    logits, target, exc = BAD_LOGITS[case]
    args = {"logits": logits, "target": target}
    guarded = [target]
    if out_mode == "out":
        args["out"] = np.full(np.shape(logits), 7.0)
        guarded.append(args["out"])
    _call_and_check(
        fastloss.softmax_cross_entropy_and_grad, args, exc, "logits", guarded
    )
    if out_mode is None:
        _call_and_check(fastloss.softmax_cross_entropy, args, exc, "logits", guarded)


def test_out_of_range_message_names_position_and_value():
    logits = np.zeros((2, 3, 4))
    target = np.zeros((2, 3), dtype=np.int64)
    target[1, 2] = 17  # flat position 5
    with pytest.raises(ValueError, match="target") as info:
        fastloss.softmax_cross_entropy_and_grad(logits, target)
    message = str(info.value)
    assert re.search(r"\b5\b", message), message
    assert re.search(r"\b17\b", message), message
    target[1, 2] = 0
    target[0, 1] = -100  # flat position 1; -100 is not the ignore_index here
    with pytest.raises(ValueError, match="target") as info:
        fastloss.softmax_cross_entropy(logits, target, ignore_index=-1)
    message = str(info.value)
    assert re.search(r"\b1\b", message) and re.search(r"-100\b", message), message


@pytest.mark.parametrize("n_threads", [1, 2])
def test_bad_last_target_of_a_big_in_place_batch_writes_nothing(rng, n_threads):
    """Targets are checked before the kernel writes its first gradient row."""
    logits = rng.standard_normal((2000, 50))
    target = rng.integers(0, 50, size=2000)
    target[-1] = 50
    before = logits.copy()
    with pytest.raises(ValueError, match="target"):
        fastloss.softmax_cross_entropy_and_grad(
            logits, target, out=logits, n_threads=n_threads
        )
    np.testing.assert_array_equal(logits, before)
    assert logits.tobytes() == before.tobytes()


def _overlapping(offset_rows):
    buf = np.arange((N + 1) * C, dtype=np.float64)
    logits = buf[: N * C].reshape(N, C)
    out = buf[offset_rows * C : offset_rows * C + N * C].reshape(N, C)
    return buf, logits, out


def _bad_outs():
    """id -> (logits, target, extra kwargs, out, exception types)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C))
    t = np.array([0, 3, 1])
    readonly = np.zeros((N, C))
    readonly.setflags(write=False)
    _, logits_view, out_view = _overlapping(1)
    wbuf = np.zeros(N * C)
    soft = np.full((N, C), 0.25)
    cases = {
        "wrong_shape": (x, t, {}, np.zeros((C, N)), ValueError),
        "extra_axis": (x, t, {}, np.zeros((N, C, 1)), ValueError),
        "flat": (x, t, {}, np.zeros(N * C), ValueError),
        "wrong_dtype": (
            x,
            t,
            {},
            np.zeros((N, C), np.float32),
            (ValueError, TypeError),
        ),
        "float32_for_int_logits": (
            np.ones((N, C), np.int32),
            t,
            {},
            np.zeros((N, C), np.float32),
            (ValueError, TypeError),
        ),
        "non_contiguous": (x, t, {}, np.zeros((N, 2 * C))[:, ::2], ValueError),
        "fortran_order": (x, t, {}, np.zeros((N, C), order="F"), ValueError),
        "read_only": (x, t, {}, readonly, ValueError),
        "list": (x, t, {}, np.zeros((N, C)).tolist(), TypeError),
        "partial_overlap_logits": (logits_view, t, {}, out_view, ValueError),
        "overlaps_weight": (
            x,
            t,
            {"class_weight": wbuf[:C]},
            wbuf.reshape(N, C),
            ValueError,
        ),
        "overlaps_sample_weight": (
            x,
            t,
            {"sample_weight": wbuf[-N:]},
            wbuf.reshape(N, C),
            ValueError,
        ),
        "overlaps_soft_target": (x, soft, {}, soft, ValueError),
    }
    return cases


BAD_OUTS = _bad_outs()


@pytest.mark.parametrize("case", list(BAD_OUTS))
def test_bad_out_is_named_and_untouched(case):
    logits, target, kw, out, exc = BAD_OUTS[case]
    guarded = [logits, target, *kw.values()]
    if isinstance(out, np.ndarray):
        guarded.append(out)
        if out.base is not None:
            guarded.append(out.base)
    args = {"logits": logits, "target": target, **kw, "out": out}
    _call_and_check(fastloss.softmax_cross_entropy_and_grad, args, exc, "out", guarded)


def test_read_only_logits_cannot_be_their_own_out():
    logits = np.zeros((N, C))
    logits.setflags(write=False)
    with pytest.raises(ValueError, match="out"):
        fastloss.softmax_cross_entropy_and_grad(logits, np.array([0, 1, 2]), out=logits)


def test_strided_logits_cannot_be_their_own_out():
    buf = np.arange(2 * N * C, dtype=np.float64).reshape(N, 2 * C)
    logits = buf[:, ::2]
    before = buf.copy()
    with pytest.raises(ValueError, match="out"):
        fastloss.softmax_cross_entropy_and_grad(logits, np.array([0, 1, 2]), out=logits)
    assert buf.tobytes() == before.tobytes()


def test_unknown_simd_name():
    with pytest.raises((ValueError, TypeError)):
        fastloss.set_simd("avx512-please")
    assert fastloss.get_simd() in fastloss.config()["simd_available"]


@pytest.mark.parametrize("name", SIMD_ABSENT)  # empty on a CPU with every path
def test_set_simd_unavailable_path_raises(name):
    before = fastloss.get_simd()
    with pytest.raises(RuntimeError):
        fastloss.set_simd(name)
    assert fastloss.get_simd() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_set_num_threads_rejects_bad_counts(bad, restore_threads):
    before = fastloss.get_num_threads()
    with pytest.raises((ValueError, TypeError)):
        fastloss.set_num_threads(bad)
    assert fastloss.get_num_threads() == before
