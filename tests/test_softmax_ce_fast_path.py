"""The compiled fast path of softmax cross-entropy against the general path.

The fast path every loss shares (`fastloss._kernels.fast_call`), called as
`fastloss._softmax_ce` calls it (`_fast_path` below), takes the common call and
returns None for any other; `fastloss._softmax_ce._softmax_cross_entropy` is the
general path. Every call here is made both ways: the fast path must give the same
bits, and for a bad argument decline, so that the error (type and message) is the
general path's and nothing is written.
"""

import numpy as np
import pytest
from _reference import assert_same_bits

import fastloss
from fastloss import _softmax_ce
from fastloss._softmax_ce import _softmax_cross_entropy

DEFAULTS = dict(
    class_weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    z_loss=0.0,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
)
INT_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.longlong,
    np.intc,
]


def _args(logits, target, out, want_grad, options):
    kw = {**DEFAULTS, **options}
    return (
        logits,
        target,
        kw["class_weight"],
        kw["ignore_index"],
        kw["label_smoothing"],
        kw["z_loss"],
        kw["sample_weight"],
        kw["reduction"],
        kw["n_threads"],
        out,
        want_grad,
    )


def _fast_path(
    logits,
    target,
    class_weight,
    ignore_index,
    label_smoothing,
    z_loss,
    sample_weight,
    reduction,
    n_threads,
    out,
    want_grad,
):
    """As softmax_cross_entropy(_and_grad) offers a call to the fast path."""
    if class_weight is not None or sample_weight is not None:
        return None
    return _softmax_ce._fast(
        _softmax_ce._FAST_SCE,
        0,
        logits,
        None,
        None,
        target,
        _softmax_ce._sce_params,
        (ignore_index, label_smoothing, z_loss),
        reduction,
        n_threads,
        out,
        want_grad,
    )


def _fast(logits, target, out=None, want_grad=True, **options):
    return _fast_path(*_args(logits, target, out, want_grad, options))


def _general(logits, target, out=None, want_grad=True, **options):
    return _softmax_cross_entropy(*_args(logits, target, out, want_grad, options))


def _public(logits, target, out=None, want_grad=True, **options):
    if want_grad:
        return fastloss.softmax_cross_entropy_and_grad(
            logits, target, out=out, **options
        )
    return fastloss.softmax_cross_entropy(logits, target, **options)


def _case(rng, shape, dtype, target_dtype=np.int64, ignored=True):
    logits = (3 * rng.standard_normal(shape)).astype(dtype)
    c = shape[-1]
    target = np.asarray(rng.integers(0, c, shape[:-1])).astype(target_dtype)
    if ignored and target.size > 2 and np.iinfo(target_dtype).min < 0:
        target.reshape(-1)[1::5] = -100  # ignore_index rows
    return logits, target


def _same_result(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want) == 2
        for g, w in zip(got, want):
            assert type(g) is type(w)
            assert_same_bits(g, w)
    else:
        assert type(got) is type(want)
        assert_same_bits(got, want)


def _run_both(how, logits, target, want_grad=True, **options):
    """(fast, general) results of one call made twice on fresh copies, with the
    gradient fresh, into out=, or in place; checks what out= must be returned."""
    results = []
    for fn in (_fast, _general):
        x = logits.copy()
        out = None
        if how == "out":
            out = np.full_like(x, 7.0)
        elif how == "inplace":
            out = x
        res = fn(x, target, out, want_grad, **options)
        if want_grad and out is not None:
            assert res[1] is out
        if how != "inplace":
            assert_same_bits(x, logits)  # the input is never written
        results.append(res)
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["fresh", "out", "inplace"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_same_bits_as_the_general_path(rng, dtype, how, reduction):
    for shape in [(32, 10), (7,), (3, 4, 5), (1, 1), (300, 3), (5, 1000)]:
        logits, target = _case(rng, shape, dtype)
        for n_threads in (None, 1, 2):
            fast, general = _run_both(
                how, logits, target, reduction=reduction, n_threads=n_threads
            )
            assert fast is not None, "the fast path did not take a plain call"
            _same_result(fast, general)


@pytest.mark.parametrize("target_dtype", INT_DTYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_integer_target_dtype(rng, target_dtype, dtype):
    # 600 rows: converted targets beyond the stack scratch space are malloc'ed
    for shape in [(32, 10), (600, 7), (2, 3, 4)]:
        logits, target = _case(rng, shape, dtype, target_dtype)
        for how in ("fresh", "out", "inplace"):
            for reduction in ("mean", "none"):
                fast, general = _run_both(how, logits, target, reduction=reduction)
                assert fast is not None
                _same_result(fast, general)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_only_same_bits(rng, dtype):
    logits, target = _case(rng, (32, 10), dtype)
    for reduction in ("mean", "sum", "none"):
        fast, general = _run_both("fresh", logits, target, False, reduction=reduction)
        assert fast is not None
        _same_result(fast, general)
        _same_result(
            _public(logits, target, want_grad=False, reduction=reduction), general
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_options_the_fast_path_takes(rng, dtype):
    logits, target = _case(rng, (40, 6), dtype)
    for options in [
        dict(label_smoothing=0.1, z_loss=1e-3),
        dict(label_smoothing=1, z_loss=2),
        dict(label_smoothing=0, z_loss=0),
        dict(ignore_index=3),
        dict(ignore_index=-(2**63)),
        dict(n_threads=fastloss._config.MAX_THREADS),
    ]:
        t = target.copy()
        t[t == -100] = options.get("ignore_index", -100)
        for how in ("fresh", "out", "inplace"):
            fast, general = _run_both(how, logits, t, **options)
            assert fast is not None, options
            _same_result(fast, general)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_and_masks(dtype):
    logits = np.array(
        [
            [1.0, np.nan, 0.0],
            [np.inf, 0.0, 1.0],
            [-np.inf, -np.inf, -np.inf],
            [-np.inf, 2.0, 1.0],
            [-np.inf, 2.0, 1.0],
            [1e30, -1e30, 0.0],
        ],
        dtype=dtype,
    )
    target = np.array([0, 1, 2, 0, 1, -100])
    for how in ("fresh", "out", "inplace"):
        for reduction in ("mean", "sum", "none"):
            fast, general = _run_both(how, logits, target, reduction=reduction)
            assert fast is not None
            _same_result(fast, general)


def test_all_rows_ignored(rng):
    logits, _ = _case(rng, (8, 5), np.float32)
    target = np.full(8, -100)
    for how in ("fresh", "out", "inplace"):
        fast, general = _run_both(how, logits, target)
        assert fast is not None
        _same_result(fast, general)


def test_public_functions_agree_with_the_general_path(rng):
    logits, target = _case(rng, (32, 10), np.float32)
    out = np.empty_like(logits)
    _same_result(_public(logits, target, out), _general(logits, target, out.copy()))
    _same_result(_public(logits, target), _general(logits, target))
    work = logits.copy()
    want = _general(logits.copy(), target)
    _same_result(_public(work, target, work), (want[0], want[1]))


def test_another_view_of_the_logits_as_out_is_in_place(rng):
    logits, target = _case(rng, (16, 9), np.float64)
    want = _general(logits.copy(), target)
    x = logits.copy()
    view = x.view()
    got = _fast(x, target, view)
    assert got is not None and got[1] is view
    _same_result(got, want)
    assert_same_bits(x, want[1])


def _declined(logits, target, out=None, want_grad=True, **options):
    """The fast path declines the call; the public function then gives the general
    path's result, or its error with nothing written."""
    args = (logits, target, out, want_grad)
    before = [None if a is None else np.array(a, copy=True) for a in args[:3]]
    assert _fast(*args, **options) is None
    for a, b in zip(args[:3], before):
        if isinstance(a, np.ndarray):
            assert_same_bits(a, b)  # declining wrote nothing
    try:
        want = _general(*args, **options)
    except Exception as exc:  # noqa: BLE001 - any error must be the same
        for a, b in zip(args[:3], before):
            if isinstance(a, np.ndarray):
                assert_same_bits(a, b)
        with pytest.raises(type(exc)) as got:
            _public(*args, **options)
        assert str(got.value) == str(exc)
        for a, b in zip(args[:3], before):
            if isinstance(a, np.ndarray):
                assert_same_bits(a, b)
        return exc
    if out is not None and isinstance(out, np.ndarray):
        out[...] = before[2]
    _same_result(_public(*args, **options), want)
    return None


BAD_OPTIONS = [
    dict(reduction="avg"),
    dict(reduction=None),
    dict(reduction="MEAN"),
    dict(label_smoothing=1.5),
    dict(label_smoothing=-0.1),
    dict(label_smoothing=float("nan")),
    dict(label_smoothing=True),
    dict(label_smoothing="0.1"),
    dict(label_smoothing=2**60),
    dict(z_loss=-1.0),
    dict(z_loss=float("inf")),
    dict(z_loss=10**400),
    dict(ignore_index=2**63),
    dict(ignore_index=-(2**63) - 1),
    dict(ignore_index=1.0),
    dict(ignore_index=True),
    dict(n_threads=0),
    dict(n_threads=-1),
    dict(n_threads=fastloss._config.MAX_THREADS + 1),
    dict(n_threads=2**70),
    dict(n_threads=2.0),
    dict(n_threads=True),
    dict(n_threads="2"),
]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=repr)
@pytest.mark.parametrize("how", ["fresh", "out", "inplace"])
def test_bad_options_raise_the_general_paths_error(rng, options, how):
    logits, target = _case(rng, (12, 5), np.float32)
    out = {"fresh": None, "out": np.full_like(logits, 3.0), "inplace": logits}[how]
    assert _declined(logits, target, out, **options) is not None


# Options in a form the fast path leaves to the general path, which accepts them.
OTHER_FORMS = [
    dict(class_weight=np.ones(5, np.float32)),
    dict(sample_weight=np.ones(12, np.float32)),
    dict(n_threads=np.int64(2)),
]


@pytest.mark.parametrize("options", OTHER_FORMS, ids=repr)
def test_other_forms_give_the_general_paths_result(rng, options):
    logits, target = _case(rng, (12, 5), np.float32)
    assert _declined(logits, target, np.empty_like(logits), **options) is None


# NumPy scalars as options: the fast path's scalar checks are the general path's own
# validators, so it takes them, with the same bits.
NUMPY_SCALARS = [
    dict(ignore_index=np.int64(-100)),
    dict(label_smoothing=np.float64(0.1)),
    dict(z_loss=np.float32(0.5)),
]


@pytest.mark.parametrize("options", NUMPY_SCALARS, ids=repr)
@pytest.mark.parametrize("how", ["fresh", "out", "inplace"])
def test_numpy_scalar_options_same_bits(rng, options, how):
    logits, target = _case(rng, (12, 5), np.float32)
    fast, general = _run_both(how, logits, target, **options)
    assert fast is not None
    _same_result(fast, general)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target_dtype", [np.int64, np.int32, np.int8])
@pytest.mark.parametrize("how", ["fresh", "out", "inplace"])
@pytest.mark.parametrize("bad", [5, 99, -1, -101])
def test_target_out_of_range_is_reported_as_before(rng, dtype, target_dtype, how, bad):
    logits, target = _case(rng, (32, 5), dtype, target_dtype)
    target[17] = bad
    target[23] = bad
    out = {"fresh": None, "out": np.full_like(logits, 3.0), "inplace": logits}[how]
    for want_grad in (True, False):
        exc = _declined(logits, target, out if want_grad else None, want_grad)
        assert isinstance(exc, ValueError)
        assert "target[17] (flat position 17)" in str(exc)


def test_uint64_beyond_int64_is_reported_as_before(rng):
    logits, _ = _case(rng, (6, 4), np.float32)
    target = np.array([0, 1, 2**63, 3, 2**64 - 1, 0], dtype=np.uint64)
    exc = _declined(logits, target, np.empty_like(logits))
    assert isinstance(exc, ValueError)
    # 2**64 - 100 wraps to ignore_index = -100 in int64: still an error
    target = np.array([0, 1, 2**64 - 100, 3, 0, 0], dtype=np.uint64)
    assert isinstance(_declined(logits, target, np.empty_like(logits)), ValueError)
    # 700 rows: the conversion beyond the stack scratch space declines too
    logits, target = _case(rng, (700, 4), np.float32, np.uint64)
    target[650] = 2**63 + 5
    assert isinstance(_declined(logits, target), ValueError)


def _misaligned(a):
    raw = np.zeros(a.nbytes + a.itemsize, np.uint8)
    view = raw[1 : 1 + a.nbytes].view(a.dtype).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


class _Sub(np.ndarray):
    pass


def _byte_swapped(a):
    return a.astype(a.dtype.newbyteorder())


def _bad_inputs(rng, dtype):
    logits, target = _case(rng, (12, 5), dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    ro = logits.copy()
    ro.flags.writeable = False
    big = np.zeros((12, 10), dtype)
    return {
        # logits
        "strided logits": (big[:, ::2], target, None),
        "fortran logits": (np.asfortranarray(logits), target, None),
        "float16 logits": (logits.astype(np.float16), target, None),
        "int logits": (np.arange(60).reshape(12, 5), target, None),
        "list logits": (logits.tolist(), target, None),
        "swapped logits": (_byte_swapped(logits), target, None),
        "misaligned logits": (_misaligned(logits), target, None),
        "subclass logits": (logits.view(_Sub), target, None),
        "0-d logits": (np.array(1.0, dtype), np.array(0), None),
        "no classes": (np.zeros((12, 0), dtype), target, None),
        "no rows": (np.zeros((0, 5), dtype), np.zeros(0, np.int64), None),
        "None logits": (None, target, None),
        # target
        "list target": (logits, target.tolist(), None),
        "target shape": (logits, target[:-1], None),
        "target 2-d": (logits, target.reshape(3, 4), None),
        "float target lead shape": (logits, target.astype(dtype), None),
        "prob target": (logits, np.full(logits.shape, 0.2, dtype), None),
        "bool target": (logits, target > 0, None),
        "strided target": (logits, np.repeat(target, 2)[::2], None),
        "swapped target": (logits, _byte_swapped(target), None),
        "misaligned target": (logits, _misaligned(target), None),
        "str target": (logits, np.array(["a"] * 12), None),
        # out
        "out list": (logits, target, np.zeros(logits.shape, dtype).tolist()),
        "out shape": (logits, target, np.zeros((12, 6), dtype)),
        "out flat": (logits, target, np.zeros(60, dtype)),
        "out dtype": (logits, target, np.zeros(logits.shape, other)),
        "out strided": (logits, target, big[:, ::2]),
        "out fortran": (logits, target, np.zeros((5, 12), dtype).T),
        "out read-only": (logits, target, ro),
        "in place read-only": (ro, target, ro),
        "out swapped": (logits, target, _byte_swapped(np.zeros(logits.shape, dtype))),
        "out misaligned": (logits, target, _misaligned(np.zeros(logits.shape, dtype))),
        "out subclass": (logits, target, np.zeros(logits.shape, dtype).view(_Sub)),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unusual_or_bad_inputs_fall_back(rng, dtype):
    for name, (logits, target, out) in _bad_inputs(rng, dtype).items():
        try:
            _declined(logits, target, out)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_overlapping_an_input_is_refused_as_before(rng, dtype):
    logits, target = _case(rng, (12, 5), dtype, ignored=False)
    item = np.dtype(dtype).itemsize
    # out shifted by one element over a buffer that holds the logits
    buf = np.zeros(61, dtype)
    buf[:60] = logits.reshape(-1)
    x = buf[:60].reshape(12, 5)
    assert isinstance(_declined(x, target, buf[1:].reshape(12, 5)), ValueError)
    assert isinstance(_declined(buf[1:].reshape(12, 5), target, x), ValueError)
    # out over the target's bytes (int64 targets: caught by the binding; int8
    # targets: converted, caught in check_out)
    for target_dtype in (np.int64, np.int8):
        raw = np.zeros(60 * item + 16, np.uint8)
        out = raw[: 60 * item].view(dtype).reshape(12, 5)
        t_item = np.dtype(target_dtype).itemsize
        tgt = raw[8 : 8 + 12 * t_item].view(target_dtype)
        tgt[...] = target
        exc = _declined(logits, tgt, out)
        assert isinstance(exc, ValueError) and "overlaps" in str(exc)


def test_thread_settings_are_followed(rng, restore_threads):
    # the results are bit-identical for any thread count; here the count the fast
    # path resolves must simply be accepted and give those same bits
    logits, target = _case(rng, (64, 33), np.float64)
    want = _general(logits, target, n_threads=1)
    for setting in (1, 2, 3, None):
        fastloss.set_num_threads(setting)
        got = _fast(logits, target)
        assert got is not None
        _same_result(got, want)
