"""The private bindings (fastloss._kernels) check every buffer's length against the
n, c (and t) they are given before the kernel runs: a direct call with wrong lengths
raises ValueError naming the argument, and writes nothing (issue 6)."""

import re

import numpy as np
import pytest
from _matrix import DTYPES

import fastloss  # noqa: F401  (sets up the package before its extension)
from fastloss import _kernels

SENTINEL = 1234.5
N, C, T = 4, 3, 3  # rows, classes; elementwise: N * C elements, C per sample weight


def _full(shape, dtype):
    return np.full(shape, SENTINEL, dtype=dtype)


def _sce_hard(dt):
    """softmax_cross_entropy with class indices and every optional buffer."""
    x = np.linspace(-2.0, 2.0, N * C).astype(dt)
    y = np.array([0, 2, 1, -100], np.int64)
    w, sw = np.array([0.5, 1.0, 2.0], dt), np.array([1.0, 2.0, 0.5, 1.0], dt)
    args = [x, y, None, w, sw, _full(N * C, dt), _full(N, dt)]
    return args + [N, C, -100, 0.1, 1e-3, True, 1]


def _sce_soft(dt):
    """softmax_cross_entropy with probability targets."""
    x = np.linspace(-2.0, 2.0, N * C).astype(dt)
    prob = np.full(N * C, 1.0 / C, dt)
    sw = np.array([1.0, 2.0, 0.5, 1.0], dt)
    args = [x, None, prob, None, sw, _full(N * C, dt), _full(N, dt)]
    return args + [N, C, -100, 0.0, 0.0, False, 1]


def _elementwise(dt):
    """BCE with logits (kind 1: reads pos_weight), input of shape (N, C)."""
    x = np.linspace(-2.0, 2.0, N * C).astype(dt)
    y = (np.arange(N * C) % 2).astype(dt)
    w = np.linspace(0.5, 1.5, N * C).astype(dt)
    sw, pw = np.array([1.0, 2.0, 0.5, 1.0], dt), np.array([1.0, 2.0, 3.0], dt)
    args = [1, x, y, w, sw, pw, _full(N * C, dt), _full(N * C, dt)]
    return args + [C, T, 0.0, 0.0, 0.0, 0.0, 1.0 / (N * C), 1]


def _focal(dt):
    x = np.linspace(-2.0, 2.0, N * C).astype(dt)
    y = np.array([0, 2, 1, -100], np.int64)
    alpha, sw = np.array([0.5, 1.0, 2.0], dt), np.array([1.0, 2.0, 0.5, 1.0], dt)
    args = [_kernels.RW_FOCAL, x, None, None, y, alpha, sw]
    args += [_full(N * C, dt), None, None, _full(N, dt)]
    return args + [N, C, -100, 2.0, 0.0, 0.0, 0.0, True, 1]


def _triplet(dt):
    a, p, n = (np.linspace(-1.0, s, N * C).astype(dt) for s in (1.0, 2.0, 3.0))
    sw = np.array([1.0, 2.0, 0.5, 1.0], dt)
    args = [_kernels.RW_TRIPLET, a, p, n, None, None, sw]
    args += [_full(N * C, dt), _full(N * C, dt), _full(N * C, dt), _full(N, dt)]
    return args + [N, C, 0, 1.0, 2.0, 1e-6, 0.0, False, 1]


def _vexp(dt):
    return [np.linspace(-3.0, 3.0, 7).astype(dt), _full(7, dt)]


def _adam(dt):
    p, g, m, v = (np.linspace(s, 1.0, 5).astype(dt) for s in (0.1, -1.0, 0.2, 0.3))
    return [p, g, m, v, 1.0, 0.9, 0.999, 0.5, 1e-7, 1e-3, 1]


def _sgd(dt):
    p, g, buf = (np.linspace(s, 1.0, 5).astype(dt) for s in (0.1, -1.0, 0.2))
    return [p, g, buf, 0.1, 0.9, True, 1]


# name: (binding, arguments, {buffer argument: position}, output positions,
#        the argument that sets n, if any: its error names the next buffer)
BINDINGS = {
    "sce_hard": (
        _kernels.softmax_cross_entropy,
        _sce_hard,
        {
            "logits": 0,
            "target": 1,
            "weight": 3,
            "sample_weight": 4,
            "grad": 5,
            "loss_rows": 6,
        },
        (5, 6),
        None,
    ),
    "sce_soft": (
        _kernels.softmax_cross_entropy,
        _sce_soft,
        {"logits": 0, "prob": 2, "sample_weight": 4, "grad": 5, "loss_rows": 6},
        (5, 6),
        None,
    ),
    "elementwise": (
        _kernels.elementwise,
        _elementwise,
        {
            "x": 1,
            "y": 2,
            "weight": 3,
            "sample_weight": 4,
            "pos_weight": 5,
            "grad": 6,
            "loss_elems": 7,
        },
        (6, 7),
        "x",
    ),
    "focal": (
        _kernels.rowwise,
        _focal,
        {
            "x": 1,
            "target": 4,
            "class_weight": 5,
            "sample_weight": 6,
            "grad": 7,
            "loss_rows": 10,
        },
        (7, 10),
        None,
    ),
    "triplet": (
        _kernels.rowwise,
        _triplet,
        {
            "x": 1,
            "x2": 2,
            "x3": 3,
            "sample_weight": 6,
            "grad": 7,
            "grad2": 8,
            "grad3": 9,
            "loss_rows": 10,
        },
        (7, 8, 9, 10),
        None,
    ),
    "vexp": (_kernels.vexp, _vexp, {"x": 0, "out": 1}, (1,), "x"),
    "adam": (
        _kernels.adam_step,
        _adam,
        {"p": 0, "g": 1, "m": 2, "v": 3},
        (0, 2, 3),
        "p",
    ),
    "sgd": (_kernels.sgd_step, _sgd, {"p": 0, "g": 1, "buf": 2}, (0, 2), "p"),
}

CASES = [(b, arg) for b, spec in BINDINGS.items() for arg in spec[2]]


def _snapshot(args, outs):
    return [None if args[i] is None else args[i].copy() for i in outs]


def _assert_untouched(args, outs, before):
    for i, b in zip(outs, before):
        if b is not None:
            np.testing.assert_array_equal(args[i], b, err_msg=f"argument {i} written")


def _call_expecting_error(binding, args, outs, match):
    before = _snapshot(args, outs)
    with pytest.raises(ValueError, match=match):
        binding(*args)
    _assert_untouched(args, outs, before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BINDINGS))
def test_a_correct_call_succeeds(name, dtype):
    binding, make, _, outs, _ = BINDINGS[name]
    args = make(dtype)
    before = _snapshot(args, outs)
    result = binding(*args)
    if isinstance(result, float):
        assert np.isfinite(result)
    for i, b in zip(outs, before):
        assert np.isfinite(args[i]).all()
        assert not np.array_equal(args[i], b), f"argument {i} was not written"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["short", "long"])
@pytest.mark.parametrize("name, arg", CASES)
def test_a_buffer_of_the_wrong_length_raises_and_writes_nothing(name, arg, how, dtype):
    binding, make, positions, outs, sets_n = BINDINGS[name]
    args = make(dtype)
    i = positions[arg]
    args[i] = args[i][:-1] if how == "short" else np.concatenate([args[i], args[i][:1]])
    # the argument that sets n is never itself "wrong": the others then are
    match = None if arg == sets_n else rf"\b{re.escape(arg)}\b"
    _call_expecting_error(binding, args, outs, match)


@pytest.mark.parametrize("name", ["sce_hard", "focal", "triplet"])
def test_lengths_far_beyond_the_buffers_raise(name):
    """The issue's example: small buffers, n = c = 1000."""
    binding, make, positions, outs, _ = BINDINGS[name]
    args = make(np.float64)
    n_at = len(args) - (9 if name != "sce_hard" else 7)
    args[n_at], args[n_at + 1] = 1000, 1000
    _call_expecting_error(binding, args, outs, r"\bx\b|\blogits\b")


@pytest.mark.parametrize("name", ["sce_hard", "focal", "triplet"])
@pytest.mark.parametrize(
    "n, c, match",
    [
        (-1, C, r"\bn must be >= 0"),
        (N, -1, r"\bc must be >= "),
        (2**62, 4, r"too large"),  # n * c wraps to 0 in int64
        (2**63 - 1, 2, r"too large"),
    ],
)
def test_negative_or_overflowing_n_and_c_raise(name, n, c, match):
    binding, make, _, outs, _ = BINDINGS[name]
    args = make(np.float64)
    n_at = len(args) - (9 if name != "sce_hard" else 7)
    args[n_at], args[n_at + 1] = n, c
    _call_expecting_error(binding, args, outs, match)


def test_softmax_needs_a_class():
    args = _sce_hard(np.float64)
    args[-7], args[-6] = N, 0  # n rows of no class
    _call_expecting_error(
        _kernels.softmax_cross_entropy, args, (5, 6), r"\bc must be >= 1"
    )


@pytest.mark.parametrize(
    "c, t, match",
    [
        (0, T, r"\bc must be >= 1"),
        (-1, T, r"\bc must be >= 1"),
        (C, -1, r"\bt must be >= 1"),
        (C, 0, r"\bt must be >= 1"),  # n > 0 here
        (C, 5, r"t = 5 does not divide n = 12"),
        (C, 2, r"\bsample_weight has length 4, expected 6"),
    ],
)
def test_elementwise_c_and_t(c, t, match):
    args = _elementwise(np.float64)
    args[-8], args[-7] = c, t
    _call_expecting_error(_kernels.elementwise, args, (6, 7), match)


def test_required_buffers_may_not_be_none():
    args = _elementwise(np.float64)
    args[2] = None
    _call_expecting_error(_kernels.elementwise, args, (6, 7), r"\by is required")
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"\bout is required"):
        _kernels.vexp(x, None)


@pytest.mark.parametrize("name", ["sce_hard", "sce_soft", "elementwise", "focal"])
def test_optional_buffers_may_be_none(name):
    binding, make, positions, outs, _ = BINDINGS[name]
    args = make(np.float64)
    optional = (
        "weight",
        "sample_weight",
        "pos_weight",
        "class_weight",
        "grad",
        "loss_rows",
        "loss_elems",
    )
    for arg, i in positions.items():
        if arg in optional:
            args[i] = None
    assert np.isfinite(binding(*args))


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_gradient_over_the_logits(dtype):
    args = _sce_hard(dtype)
    args[5] = args[0]  # the gradient written over the logits
    _kernels.softmax_cross_entropy(*args)
    short = _sce_hard(dtype)
    short[0] = short[0][:-1]
    short[5] = short[0]
    _call_expecting_error(_kernels.softmax_cross_entropy, short, (0, 6), r"\blogits\b")


def _misaligned(a):
    """A copy of `a` whose data is one byte off its itemsize alignment."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    out = raw[1:].view(a.dtype)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_misaligned_buffers_are_checked_too():
    """The realigning path is only taken after the lengths were checked."""
    args = _sce_hard(np.float64)
    args[0], args[5] = _misaligned(args[0]), _misaligned(args[5])
    expected = _kernels.softmax_cross_entropy(*_sce_hard(np.float64))
    assert _kernels.softmax_cross_entropy(*args) == pytest.approx(expected, rel=1e-12)
    args = _sce_hard(np.float64)
    args[5], args[6] = _misaligned(args[5]), _misaligned(args[6][:-1])
    _call_expecting_error(
        _kernels.softmax_cross_entropy, args, (5, 6), r"\bloss_rows\b"
    )


def test_empty_calls_as_the_public_api_makes_them():
    """n == 0 with the lengths the Python layer passes (no row, c classes)."""
    e = np.zeros(0)
    w = np.ones(C)
    assert (
        _kernels.softmax_cross_entropy(
            e, np.zeros(0, np.int64), None, w, e, e, e, 0, C, -100, 0.0, 0.0, True, 1
        )
        == 0.0
    )
    # input of shape (3, 0) with sample weights of shape (3,): t = 0 elements each
    assert (
        _kernels.elementwise(
            0, e, e, None, np.ones(3), None, e, e, 1, 0, 0, 0, 0, 0, 1.0, 1
        )
        == 0.0
    )
    assert (
        _kernels.rowwise(
            _kernels.RW_TRIPLET,
            e,
            e,
            e,
            None,
            None,
            None,
            None,
            None,
            None,
            e,
            0,
            5,
            0,
            1.0,
            2.0,
            1e-6,
            0.0,
            True,
            1,
        )
        == 0.0
    )
    assert _kernels.vexp(e, np.zeros(0)).shape == (0,)
