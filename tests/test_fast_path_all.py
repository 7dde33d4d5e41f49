"""The compiled fast path of every loss against the general path, row by row of
the loss table (fastloss/_table.py).

Each loss offers its call to the fast path first (`_kernels.fast_call`, one for
every family) that takes it only when every argument is already in the form the
general path would pass on unchanged, and otherwise declines. Every call here is
made twice: as the public function makes it, and with the fast paths switched off
(each module's `_fast` declining). The two must give the same bits, or the same
exception with the same message, having written nothing. The canonical calls must
also really be taken by the fast path, else these comparisons would test the
general path against itself.
"""

import numpy as np
import pytest
from _reference import assert_same_bits

import fastloss
from fastloss import _categorical, _elementwise, _rowwise, _similarity, _softmax_ce
from fastloss._table import LOSSES, by_name

# categorical_hinge_loss runs _similarity's pair path (its _fast)
FAST_MODULES = (_elementwise, _rowwise, _softmax_ce, _similarity, _categorical)
# circle_loss has no compiled fast path: its kernel's input, S = E E^T, is made
# in NumPy first
ROWS = [
    row
    for row in LOSSES
    if row.family not in ("linear_ce", "ctc") and row.name != "circle_loss"
]  # linear_ce and ctc have no fast path
GRAD_ROWS = [row for row in ROWS if row.grad]
SHAPE = (6, 5)

# Options other than the defaults that the fast path takes too, per loss.
OPTIONS = {
    "softmax_cross_entropy": [dict(label_smoothing=0.1, z_loss=1e-3)],
    "perplexity": [dict(ignore_index=2)],
    "softmax_focal_loss": [dict(gamma=0.0), dict(gamma=1.5, ignore_index=2)],
    "kl_div_with_logits": [dict(temperature=2.5)],
    "triplet_margin_loss": [dict(margin=0.5, p=1, eps=0.0, swap=True)],
    "huber_loss": [dict(delta=0.3)],
    "smooth_l1_loss": [dict(beta=0.0)],
    "binary_cross_entropy_with_logits": [dict(label_smoothing=0.2)],
    "binary_cross_entropy": [dict(epsilon=1e-3, label_smoothing=0.1)],
    "sigmoid_focal_loss": [dict(alpha=None, gamma=0.5)],
    "categorical_generalized_cross_entropy_loss": [
        dict(q=1.0, ignore_index=2),
        dict(q=0.05),
    ],
}


def _inputs(row, rng, dtype, shape=SHAPE):
    """Canonical positional inputs of the row's loss."""
    n_classes = shape[-1]

    def floats():
        return (rng.standard_normal(shape) * 2).astype(dtype)

    if row.family == "softmax_ce" or row.kind == "FOCAL":
        return [floats(), rng.integers(0, n_classes, shape[:-1])]
    if row.kind == "GCE":
        return [rng.random(shape).astype(dtype), rng.integers(0, n_classes, shape[:-1])]
    if row.kind in ("BCE_LOGITS", "SIGMOID_FOCAL"):
        return [floats(), (rng.random(shape) > 0.5).astype(dtype)]
    if row.kind == "BCE_PROB":
        return [rng.random(shape).astype(dtype), rng.random(shape).astype(dtype)]
    return [floats() for _ in row.inputs]


def _fn(row, grad):
    return getattr(fastloss, row.name + ("_and_grad" if grad else ""))


def _call(fn, args, kw):
    """(True, result) or (False, (exception type, message))."""
    try:
        return True, fn(*args, **kw)
    except (TypeError, ValueError) as exc:
        return False, (type(exc), str(exc))


@pytest.fixture
def general(monkeypatch):
    """Runs a callable with every fast path declining (the general path only)."""

    def run(fn, *args, **kw):
        with monkeypatch.context() as m:
            for module in FAST_MODULES:
                m.setattr(module, "_fast", lambda *a: None)
            return _call(fn, args, kw)

    return run


@pytest.fixture
def taken(monkeypatch):
    """A list that records, per fast-path call, whether it took the call."""
    log = []
    for module in FAST_MODULES:
        real = module._fast

        def spy(*args, _real=real):
            result = _real(*args)
            log.append(result is not None)
            return result

        monkeypatch.setattr(module, "_fast", spy)
    return log


def _same(a, b):
    """The same results bit for bit, or the same (exception type, message)."""
    assert type(a) is type(b), f"{a!r} vs {b!r}"
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif isinstance(a, (float, np.ndarray)):
        assert_same_bits(a, b)
    else:
        assert a == b


def _copy(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _outs(row, args, where):
    """out= for the row's gradient: None, new buffers, or the inputs themselves."""
    n_grads = 3 if row.kind == "TRIPLET" else 1
    if where is None:
        return None
    bufs = [np.full_like(a, np.nan) if where == "new" else a for a in args[:n_grads]]
    return tuple(bufs) if n_grads == 3 else bufs[0]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_canonical_loss_is_fast_and_bit_identical(
    row, dtype, reduction, rng, general, taken
):
    args = _inputs(row, rng, dtype)
    kw = {} if row.name == "perplexity" else dict(reduction=reduction)
    for options in [{}] + OPTIONS.get(row.name, []):
        del taken[:]
        got = _call(_fn(row, False), args, {**kw, **options})
        assert taken and taken[-1], f"{row.name}{options}: the fast path declined"
        _same(got, general(_fn(row, False), *args, **kw, **options))


@pytest.mark.parametrize("row", GRAD_ROWS, ids=lambda r: r.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("where", [None, "new", "inplace"])
@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_canonical_grad_is_fast_and_bit_identical(
    row, dtype, reduction, where, n_threads, rng, general, taken
):
    base = _inputs(row, rng, dtype)
    for options in [{}] + OPTIONS.get(row.name, []):
        kw = dict(reduction=reduction, n_threads=n_threads, **options)
        args_fast, args_slow = _copy(base), _copy(base)
        del taken[:]
        ok, got = _call(
            _fn(row, True), args_fast, {**kw, "out": _outs(row, args_fast, where)}
        )
        assert ok, got
        assert taken and taken[-1], f"{row.name}{options}: the fast path declined"
        want = general(
            _fn(row, True), *args_slow, **kw, out=_outs(row, args_slow, where)
        )
        _same((True, got), want)
        _same(tuple(args_fast), tuple(args_slow))  # inputs as written (in place)


def _variants(row, rng, dtype):
    """(label, args, kw) of calls the fast path must decline or fail identically."""
    args = _inputs(row, rng, dtype)
    x = args[0]
    yield "lists", [a.tolist() for a in args], {}
    yield (
        "float16",
        [a.astype(np.float16) if a.dtype.kind == "f" else a for a in args],
        {},
    )
    yield "strided", [np.repeat(a, 2, axis=-1)[..., ::2] for a in args], {}
    yield "fortran", [np.asfortranarray(a) for a in args], {}
    yield (
        "other dtype",
        [args[0].astype(np.float64 if dtype == np.float32 else np.float32)] + args[1:],
        {},
    )
    yield "subclass", [args[0].view(np.matrix)] + args[1:], {}
    yield "swapped", [args[0].astype(args[0].dtype.newbyteorder())] + args[1:], {}
    yield "empty rows", [a[:0] for a in args], {}
    yield "shape mismatch", [args[0]] + [a[:-1] for a in args[1:]], {}
    if row.name != "perplexity":  # it has no reduction
        yield "bad reduction", args, dict(reduction="avg")
        yield "bad reduction type", args, dict(reduction=None)
    yield "n_threads 0", args, dict(n_threads=0)
    yield "n_threads float", args, dict(n_threads=2.0)
    yield "n_threads bool", args, dict(n_threads=True)
    if row.name != "perplexity":
        yield (
            "sample_weight",
            args,
            dict(sample_weight=rng.random(x.shape[:-1]).astype(dtype) + 0.5),
        )
        yield (
            "bad sample_weight",
            args,
            dict(sample_weight=np.full(x.shape[:-1], np.nan)),
        )
    if row.family == "softmax_ce" or row.kind == "FOCAL":
        t = args[1]
        yield "int32 target", [x, t.astype(np.int32)], {}
        yield "uint8 target", [x, t.astype(np.uint8)], {}
        yield "bool target", [x, t.astype(bool)], {}
        yield "float target", [x, t.astype(dtype)], {}
        bad = t.copy()
        bad[3] = x.shape[-1]
        yield "class out of range", [x, bad], {}
        yield "ignore_index float", args, dict(ignore_index=1.0)
        yield "ignore_index huge", args, dict(ignore_index=2**70)
        yield "ignore_index bool", args, dict(ignore_index=True)
    if row.kind == "FOCAL":
        yield "gamma nan", args, dict(gamma=float("nan"))
        yield "gamma negative", args, dict(gamma=-1.0)
        yield "gamma subnormal", args, dict(gamma=1e-310)
        yield "gamma str", args, dict(gamma="2")
        yield "gamma int", args, dict(gamma=2)
        yield (
            "class_weight",
            args,
            dict(class_weight=np.linspace(0.5, 1.0, x.shape[-1])),
        )
        yield "alpha", args, dict(alpha=0.5)
    if row.kind == "KL_LOGITS":
        yield "temperature 0", args, dict(temperature=0.0)
        yield "temperature huge", args, dict(temperature=1e300)
        yield "teacher_probs", [x, np.abs(args[1])], dict(teacher_probs=True)
        yield "teacher_probs numpy bool", args, dict(teacher_probs=np.False_)
    if row.kind == "TRIPLET":
        yield "p below 1", args, dict(p=0.5)
        yield "margin inf", args, dict(margin=float("inf"))
        yield "swap int", args, dict(swap=1)
        yield "same array twice", [x, x, args[2]], {}
    if row.kind == "HUBER":
        yield "delta 0", args, dict(delta=0.0)
        yield "delta 1e-40", args, dict(delta=1e-40)
    if row.kind == "SMOOTH_L1":
        yield "beta negative", args, dict(beta=-1.0)
        yield "beta 1e-300", args, dict(beta=1e-300)
    if row.family == "elementwise":
        yield "weight", args, dict(weight=np.full(x.shape[-1], 0.5, dtype))
        yield "0-d", [a[0, 0] for a in args], {}
        yield "0-d arrays", [np.asarray(a[0, 0]) for a in args], {}
    if row.kind in ("BCE_LOGITS", "BCE_PROB"):
        yield "label_smoothing 2", args, dict(label_smoothing=2.0)
        yield "label_smoothing 1e-45", args, dict(label_smoothing=1e-45)
    if row.kind == "BCE_LOGITS":
        yield "pos_weight", args, dict(pos_weight=2.0)
    if row.kind == "BCE_PROB":
        yield "epsilon 0.5", args, dict(epsilon=0.5)
    if row.kind == "SIGMOID_FOCAL":
        yield "alpha 2", args, dict(alpha=2.0)
        yield "gamma negative", args, dict(gamma=-0.5)


def _variant_ids():
    rng = np.random.default_rng(0)
    return [
        (row, label) for row in ROWS for label, _, _ in _variants(row, rng, np.float32)
    ]


@pytest.mark.parametrize(
    "row, label", _variant_ids(), ids=lambda v: getattr(v, "name", v)
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_other_calls_match_the_general_path(row, label, dtype, rng, general):
    ((args, kw),) = [(a, k) for lab, a, k in _variants(row, rng, dtype) if lab == label]
    kw = dict(kw)
    for grad in (False, True) if row.grad else (False,):
        _same(
            _call(_fn(row, grad), _copy(args), kw),
            general(_fn(row, grad), *_copy(args), **kw),
        )


def _out_variants(row, rng, dtype):
    args = _inputs(row, rng, dtype)
    x = args[0]
    triplet = row.kind == "TRIPLET"

    def outs(*bufs):
        return tuple(bufs) if triplet else bufs[0]

    def new(**kw):
        return np.zeros_like(x, **kw)

    other = np.float64 if dtype == np.float32 else np.float32
    yield "wrong dtype", args, outs(new(dtype=other), new(), new())
    yield "read-only", args, outs(new(), new(), new())
    yield (
        "strided",
        args,
        outs(
            *(
                np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype)[..., ::2]
                for _ in range(3)
            )
        ),
    )
    yield "wrong shape", args, outs(new()[:-1], new(), new())
    yield "list", args, [new()] if not triplet else [new(), new()]
    # the first input and out= one element apart in one buffer
    big = np.concatenate([x.reshape(-1), np.zeros(1, dtype)])
    shifted = [big[:-1].reshape(x.shape)] + args[1:]
    yield (
        "overlaps the first input",
        shifted,
        outs(big[1:].reshape(x.shape), new(), new()),
    )
    if len(args) > 1 and args[1].dtype == x.dtype:
        yield "is the second input", args, outs(args[1], new(), new())
    if triplet:
        shared = new()
        yield "two outs share", args, (shared, shared, new())
        yield "swapped in place", args, (args[1], args[0], new())


def _out_ids():
    rng = np.random.default_rng(0)
    return [
        (row, label)
        for row in GRAD_ROWS
        for label, _, _ in _out_variants(row, rng, np.float32)
    ]


@pytest.mark.parametrize("row, label", _out_ids(), ids=lambda v: getattr(v, "name", v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bad_out_gives_the_general_error_and_writes_nothing(
    row, label, dtype, rng, general
):
    ((args, out),) = [
        (a, o) for lab, a, o in _out_variants(row, rng, dtype) if lab == label
    ]
    if label == "read-only":
        for buf in out if isinstance(out, tuple) else (out,):
            buf.flags.writeable = False
    before = [a.copy() for a in args]
    fast = _call(_fn(row, True), args, dict(out=out))
    for a, b in zip(args, before):
        _same(a, b)
    slow = general(_fn(row, True), *args, out=out)
    assert not fast[0], f"{label}: accepted"
    _same(fast, slow)


def test_remembered_checks_follow_the_dtype_and_the_values(rng):
    """The fast path remembers each loss's last scalar check that passed; a call
    with another compute dtype, or with a mutable scalar changed since, is checked
    afresh (here it must fail as the general path fails)."""
    x64, y64 = _inputs(by_name("huber_loss"), rng, np.float64)
    x32, y32 = x64.astype(np.float32), y64.astype(np.float32)
    delta = 1e-40  # a normal float64, a subnormal float32
    fastloss.huber_loss(x64, y64, delta=delta)
    with pytest.raises(ValueError, match="not representable in float32"):
        fastloss.huber_loss(x32, y32, delta=delta)
    fastloss.huber_loss(x64, y64, delta=delta)

    logits, target = _inputs(by_name("softmax_focal_loss"), rng, np.float32)
    gamma = np.array(2.0)
    fastloss.softmax_focal_loss(logits, target, gamma=gamma)
    gamma[...] = -1.0
    with pytest.raises(ValueError, match="gamma"):
        fastloss.softmax_focal_loss(logits, target, gamma=gamma)
