"""No leak per call: 10,000 calls of every public function leave memory flat.

Every public loss in ``fastloss.__all__`` (found by name; a test fails until a new
one has a case below) and its ``_and_grad`` twin are each called 10,000 times,
round-robin over their variants: forward with its options, ``_and_grad`` into a new
buffer, into ``out=`` and in place, and bad arguments that raise ValueError or
TypeError (in validation, in the bindings' overlap check, and for class indices
out of range in the kernel). After a warm-up the test asserts that:

- resident memory grows by less than 5 MB (psutil, else /proc/self/statm; free heap
  memory is first given back with malloc_trim, so a leak cannot hide in it): a
  function leaking 0.5 KB a call would add 5 MB;
- pymalloc's count of allocated blocks grows by less than 1,000: a Python object
  leaked by one variant in 10 (the returned float, an exception, an array, a
  memoryview) would add 1,000;
- the reference counts of the inputs are unchanged: a reference leaked in the
  bindings keeps an array alive without growing memory here.

The self-checks feed the same measurement functions that leak on purpose. Under
AddressSanitizer (tools/sanitize.sh) freed memory is held in a quarantine, so RSS
says nothing about leaks there, and PYTHONMALLOC=malloc leaves no pymalloc blocks
to count: only the reference counts are checked.
"""

import gc
import math
import os
import sys

import numpy as np
import pytest

import fastloss
from fastloss import _table

N_CALLS = 10_000
WARMUP_ROUNDS = 50
MAX_RSS_GROWTH = 5 * 2**20
MAX_BLOCK_GROWTH = 1_000
N, C = 8, 16  # a float64 gradient of (8, 16) is 1 KB


def _under_asan():
    try:
        with open("/proc/self/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False


UNDER_ASAN = _under_asan()


def _rss():
    """Resident set size in bytes, or None where it cannot be read."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _trim():
    """Give free heap memory back to the OS (glibc), so that memory a leak takes
    cannot come from blocks freed earlier and go unseen in the RSS."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def measure(groups, watch=(), n_calls=N_CALLS):
    """Runs each group of calls (the variants of one public function) `n_calls`
    times in all, round-robin, after a warm-up; returns the growth of (RSS bytes,
    pymalloc blocks, total reference count of the `watch` objects)."""
    plan = [(calls, math.ceil(n_calls / len(calls))) for calls in groups if calls]

    def run(warm):
        for calls, rounds in plan:
            for _ in range(WARMUP_ROUNDS if warm else rounds):
                for call in calls:
                    call()

    run(warm=True)
    gc.collect()
    _trim()
    refs0 = sum(sys.getrefcount(obj) for obj in watch)
    rss0, blocks0 = _rss(), sys.getallocatedblocks()
    run(warm=False)
    gc.collect()
    rss1, blocks1 = _rss(), sys.getallocatedblocks()
    refs1 = sum(sys.getrefcount(obj) for obj in watch)
    rss = None if rss0 is None or rss1 is None else rss1 - rss0
    return rss, blocks1 - blocks0, refs1 - refs0


def assert_flat(groups, watch=()):
    rss, blocks, refs = measure(groups, watch)
    assert refs == 0, f"inputs gained {refs} references"
    if UNDER_ASAN:
        return
    assert blocks < MAX_BLOCK_GROWTH, f"{blocks} more pymalloc blocks"
    if rss is None:
        pytest.skip("no way to read the resident set size here")
    assert rss < MAX_RSS_GROWTH, f"RSS grew by {rss / 2**20:.1f} MB"


# ---- the self-checks: the measurement catches what it is meant to catch ---------


def _detected(groups, watch=()):
    try:
        assert_flat(groups, watch)
    except AssertionError:
        return True
    return False


@pytest.mark.skipif(UNDER_ASAN, reason="RSS is not a leak measure under ASan")
def test_self_check_a_leaking_function_is_detected():
    kept = []
    x = np.ones((N, C))
    # 1 KB arrays kept alive: what a gradient buffer never freed would look like
    rss, blocks, _ = measure([[lambda: kept.append(x.copy())]])
    del kept[:]
    if rss is not None:
        assert rss >= MAX_RSS_GROWTH, rss
    assert blocks >= MAX_BLOCK_GROWTH, blocks
    assert _detected([[lambda: kept.append(x.copy())]])
    del kept[:]
    # small Python objects only: too little memory for RSS, but pymalloc sees them
    assert _detected([[lambda: kept.append(float(len(kept)) + 0.5)]])
    del kept[:]


def test_self_check_a_leaked_reference_is_detected():
    kept = []
    x = np.ones((N, C))
    assert _detected([[lambda: kept.append(x)]], watch=(x,))
    del kept[:]


def test_self_check_a_flat_function_passes():
    x = np.ones((N, C))
    assert_flat([[lambda: x.sum()]], watch=(x,))


# ---- the calls per loss: (rng) -> (forward calls, _and_grad calls, inputs) ------


def _raises(fn, *args, **kwargs):
    def call():
        try:
            fn(*args, **kwargs)
        except (ValueError, TypeError):
            return
        raise AssertionError(f"{fn.__name__} did not raise")

    return call


def _grad_calls(g, args, kwargs, n_diff=1):
    """_and_grad into a new buffer, into out= a buffer, into out= the input(s)."""
    fresh = g(*args, **kwargs)[1]
    if n_diff == 1:
        out, own = np.empty_like(fresh), args[0].copy()
        mine = (own, *args[1:])
    else:
        out = tuple(np.empty_like(a) for a in fresh)
        own = tuple(a.copy() for a in args[:n_diff])
        mine = (*own, *args[n_diff:])
    return [
        lambda: g(*args, **kwargs),
        lambda: g(*args, out=out, **kwargs),
        lambda: g(*mine, out=own, **kwargs),
    ]


def _probs(rng):
    p = rng.random((N, C))
    return p / p.sum(axis=1, keepdims=True)


def _softmax_like(name, extra_kw, soft=False):
    def build(rng):
        f, g = getattr(fastloss, name), getattr(fastloss, name + "_and_grad")
        x = rng.standard_normal((N, C))
        y = rng.integers(0, C, N)
        y[::3] = -100
        bad_y = y.copy()
        bad_y[1] = C  # out of range: found by the kernel
        sw, p = rng.random(N), _probs(rng)
        kw = {"sample_weight": sw, **extra_kw}
        forward = [
            lambda: f(x, y),
            lambda: f(x.astype(np.float32), y, reduction="none", n_threads=2),
            lambda: f(x, y, reduction="sum", **kw),
            _raises(f, x, bad_y),
            _raises(f, x, y, reduction="avg"),
        ]
        grad = [
            *_grad_calls(g, (x, y), kw),
            _raises(g, x, bad_y),
            _raises(g, x, y[:-1]),
            _raises(g, x, y, out=np.empty((N, C), np.float32)),
        ]
        if soft:
            forward.append(lambda: f(x, p))
            grad += _grad_calls(g, (x, p), {})
        return forward, grad, [x, y, sw, p]

    return build


def _perplexity(rng):
    x = rng.standard_normal((N, C))
    y = rng.integers(0, C, N)
    y[0] = -100
    bad_y = y.copy()
    bad_y[2] = -5
    f = fastloss.perplexity
    forward = [
        lambda: f(x, y),
        lambda: f(x.astype(np.float32), y, n_threads=2),
        _raises(f, x, bad_y),
        _raises(f, x, y.astype(float)),
    ]
    return forward, [], [x, y]


def _kl(rng):
    f, g = fastloss.kl_div_with_logits, fastloss.kl_div_with_logits_and_grad
    s, t, p = rng.standard_normal((N, C)), rng.standard_normal((N, C)), _probs(rng)
    forward = [
        lambda: f(s, t),
        lambda: f(s, p, teacher_probs=True, reduction="none", temperature=2.0),
        _raises(f, s, t[:-1]),
        _raises(f, s, t, temperature=0.0),
    ]
    grad = [
        *_grad_calls(g, (s, t), {"temperature": 2.0}),
        *_grad_calls(g, (s, p), {"teacher_probs": True}),
        _raises(g, s, t, out=t),  # out overlapping the teacher
    ]
    return forward, grad, [s, t, p]


def _triplet(rng):
    f, g = fastloss.triplet_margin_loss, fastloss.triplet_margin_loss_and_grad
    a, p, q = (rng.standard_normal((N, C)) for _ in range(3))
    forward = [
        lambda: f(a, p, q),
        lambda: f(a, p, q, p=1, swap=True, reduction="none"),
        lambda: f(a, p, q, p=3.0, reduction="sum", n_threads=2),
        _raises(f, a, p, q[:-1]),
        _raises(f, a, p, q, p=0.5),
    ]
    grad = [
        *_grad_calls(g, (a, p, q), {"swap": True}, n_diff=3),
        _raises(g, a, p, q, out=(a, p)),
    ]
    return forward, grad, [a, p, q]


def _elementwise(name, extra_kw):
    def build(rng):
        f, g = getattr(fastloss, name), getattr(fastloss, name + "_and_grad")
        x = rng.random((N, C)) * 0.98 + 0.01  # also valid probabilities
        t = (rng.random((N, C)) > 0.5).astype(np.float64)
        w, sw = rng.random(C), rng.random(N)
        kw = {"weight": w, "sample_weight": sw, **extra_kw}
        forward = [
            lambda: f(x, t),
            lambda: f(x.astype(np.float32), t, reduction="none", n_threads=2),
            lambda: f(x, t, reduction="sum", **kw),
            _raises(f, x, t[:-1]),
            _raises(f, x, t, reduction=None),
        ]
        grad = [
            *_grad_calls(g, (x, t), kw),
            _raises(g, x, t, n_threads="2"),
            _raises(g, x, t, out=t),  # out overlapping the target
        ]
        return forward, grad, [x, t, w, sw]

    return build


def _pair(name, extra_kw):
    def build(rng):
        f, g = getattr(fastloss, name), getattr(fastloss, name + "_and_grad")
        x, t, sw = rng.random((N, C)), rng.random((N, C)), rng.random(N)
        kw = {"sample_weight": sw, **extra_kw}
        forward = [
            lambda: f(x, t),
            lambda: f(x.astype(np.float32), t, reduction="none", n_threads=2),
            lambda: f(x, t, reduction="sum", **kw),
            _raises(f, x, t[:-1]),
            _raises(f, x, t, epsilon=-1.0),
        ]
        grad = [
            *_grad_calls(g, (x, t), kw),
            _raises(g, x, t, out=t),  # out overlapping the target
        ]
        return forward, grad, [x, t, sw]

    return build


def _categorical_hinge(rng):
    f = fastloss.categorical_hinge_loss
    g = fastloss.categorical_hinge_loss_and_grad
    x, sw = rng.standard_normal((N, C)), rng.random(N)
    t = np.eye(C)[rng.integers(0, C, N)]
    forward = [
        lambda: f(x, t),
        lambda: f(x.astype(np.float32), t, reduction="none", n_threads=2),
        lambda: f(x, t, reduction="sum", sample_weight=sw),
        _raises(f, x, t[:-1]),
        _raises(f, x, t, reduction="avg"),
    ]
    grad = [
        *_grad_calls(g, (x, t), {"sample_weight": sw}),
        _raises(g, x, t, out=t),  # out overlapping the target
    ]
    return forward, grad, [x, t, sw]


def _circle(rng):
    f, g = fastloss.circle_loss, fastloss.circle_loss_and_grad
    e, sw = rng.standard_normal((N, C)), rng.random(N)
    y = rng.integers(0, 3, N)
    forward = [
        lambda: f(e, y),
        lambda: f(e.astype(np.float32), y, reduction="none", n_threads=2),
        lambda: f(e, y, reduction="sum", sample_weight=sw, remove_diagonal=False),
        _raises(f, e, y[:-1]),
        _raises(f, e, y, gamma=-1.0),
    ]
    grad = [
        *_grad_calls(g, (e, y), {"sample_weight": sw, "gamma": 2.0}),
        _raises(g, e, y, out=np.empty((N, C), np.float32)),
    ]
    return forward, grad, [e, y, sw]


def _linear_ce(rng):
    f = fastloss.linear_cross_entropy
    g = fastloss.linear_cross_entropy_and_grad
    h, w = rng.standard_normal((N, 4)), rng.standard_normal((C, 4))
    y = rng.integers(0, C, N)
    y[::3] = -100
    b, cw = rng.standard_normal(C), rng.random(C)
    forward = [
        lambda: f(h, w, y),
        lambda: f(h, w, y, bias=b, class_weight=cw, reduction="none", chunk_size=3),
        _raises(f, h, w, y[:-1]),
        _raises(f, h, w, y.astype(float)),
    ]
    grad = [
        lambda: g(h, w, y),
        lambda: g(h, w, y, bias=b, label_smoothing=0.1, z_loss=1e-3, chunk_size=2),
        _raises(g, h, w, np.full(N, C)),
    ]
    return forward, grad, [h, w, y, b, cw]


def _normalizer(rng):
    f = fastloss.cross_entropy_normalizer
    y = rng.integers(0, C, N)
    y[0] = -100
    w, sw, p = rng.random(C), rng.random(N), _probs(rng)
    forward = [
        lambda: f(y),
        lambda: f(y, class_weight=w, sample_weight=sw),
        lambda: f(p),
        _raises(f, y, sample_weight=sw[:-1]),
        _raises(f, np.array([0, -5, 1])),
    ]
    return forward, [], [y, w, sw, p]


def _ctc(rng):
    f, g = fastloss.ctc_loss, fastloss.ctc_loss_and_grad
    t = 6
    x = rng.standard_normal((t, N, C))
    y = rng.integers(1, C, (N, 3))
    il, tl = np.full(N, t), rng.integers(0, 4, N)
    il[0] = 1  # an impossible alignment: inf, NaN gradient
    bad_y = y.copy()
    bad_y[1, 0] = 0  # the blank
    kw = {"sample_weight": rng.random(N), "from_logits": True}
    forward = [
        lambda: f(x, y, il, tl),
        lambda: f(x.astype(np.float32), y, il, tl, reduction="none", n_threads=2),
        lambda: f(x, y, il, tl, zero_infinity=True, **kw),
        _raises(f, x, bad_y, il, np.full(N, 3)),
        _raises(f, x, y, il + 1, tl),
    ]
    grad = [
        *_grad_calls(g, (x, y, il, tl), kw),
        _raises(g, x, y, il, tl, out=np.empty((t, N, C), np.float32)),
    ]
    return forward, grad, [x, y, il, tl]


# Builders by public name (the _and_grad twin goes with its loss).
CASES = {
    "softmax_cross_entropy": _softmax_like(
        "softmax_cross_entropy", {"label_smoothing": 0.1, "z_loss": 1e-3}, soft=True
    ),
    "softmax_focal_loss": _softmax_like("softmax_focal_loss", {"gamma": 0.5}),
    "perplexity": _perplexity,
    "kl_div_with_logits": _kl,
    "triplet_margin_loss": _triplet,
    "mse_loss": _elementwise("mse_loss", {}),
    "l1_loss": _elementwise("l1_loss", {}),
    "huber_loss": _elementwise("huber_loss", {"delta": 0.5}),
    "smooth_l1_loss": _elementwise("smooth_l1_loss", {"beta": 0.5}),
    "log_cosh_loss": _elementwise("log_cosh_loss", {}),
    "poisson_loss": _elementwise("poisson_loss", {"log_input": False, "eps": 1e-3}),
    "binary_cross_entropy": _elementwise("binary_cross_entropy", {"epsilon": 1e-3}),
    "binary_cross_entropy_with_logits": _elementwise(
        "binary_cross_entropy_with_logits", {"pos_weight": 2.0, "label_smoothing": 0.1}
    ),
    "sigmoid_focal_loss": _elementwise("sigmoid_focal_loss", {"alpha": None}),
    "linear_cross_entropy": _linear_ce,
    "cross_entropy_normalizer": _normalizer,
    "cosine_similarity_loss": _pair("cosine_similarity_loss", {"epsilon": 1e-3}),
    "dice_loss": _pair("dice_loss", {}),
    "tversky_loss": _pair("tversky_loss", {"alpha": 0.7, "beta": 0.3}),
    "circle_loss": _circle,
    "hinge_loss": _elementwise("hinge_loss", {}),  # 0/1 targets: the label check
    "squared_hinge_loss": _elementwise("squared_hinge_loss", {}),
    "msle_loss": _elementwise("msle_loss", {"epsilon": 1e-3}),
    "mape_loss": _elementwise("mape_loss", {"epsilon": 1e-3}),
    "ctc_loss": _ctc,
    "categorical_hinge_loss": _categorical_hinge,
    "categorical_generalized_cross_entropy_loss": _softmax_like(
        "categorical_generalized_cross_entropy_loss", {"q": 0.3}
    ),
}


def _public_losses():
    # every loss of the loss table, and the normaliser helper, which allocates too
    return sorted([row.name for row in _table.LOSSES] + ["cross_entropy_normalizer"])


PUBLIC = _public_losses()


def test_every_public_loss_has_a_leak_case():
    missing = [name for name in PUBLIC if name not in CASES]
    assert not missing, f"add a case to tests/test_leaks.py for {missing}"


@pytest.mark.parametrize("name", [n for n in PUBLIC if n in CASES])
def test_ten_thousand_calls_leave_memory_flat(name):
    forward, grad, watch = CASES[name](np.random.default_rng(0))
    assert bool(grad) == hasattr(fastloss, name + "_and_grad")
    assert_flat([forward, grad], watch=watch)
