"""The fused optimizer kernels (src_c/fl_optim.c) against plain float64 NumPy.

The kernels are checked directly (`_kernels.adam_step` / `sgd_step`) against the
update rules written out below, on both SIMD paths, and through `fastloss.nn`'s
optimizers against their NumPy reference (`_update_numpy`), which they match bit
for bit (same operations in the same order, no multiply-add fusion).
"""

import math
import platform
import sys

import numpy as np
import pytest
from _matrix import DTYPES

from fastloss import _kernels
from fastloss.nn import SGD, Adam, AdamW

SIZES = [0, 1, 7, 33, 100003]  # 100003 crosses the parallel threshold (32768)
# Bit-for-bit with the NumPy reference except where a clang build on FMA hardware
# may fuse multiply-adds (src_c/fl_optim_impl.h): macOS arm64.
EXACT = not (sys.platform == "darwin" and platform.machine() == "arm64")
TOL = {np.float32: (2e-5, 1e-6), np.float64: (1e-12, 1e-15)}  # (rtol, atol)


def _adam_twin(p, g, m, v, t, lr, b1, b2, eps, wd=0.0):
    """PyTorch's Adam(W) step in float64, from its formula."""
    p = p * (1.0 - lr * wd)
    m = b1 * m + (1.0 - b1) * g
    v = b2 * v + (1.0 - b2) * g * g
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _sgd_twin(p, g, buf, lr, mu, nesterov):
    """PyTorch's SGD step in float64 (buf None: no momentum)."""
    if buf is None:
        return p - lr * g, None
    buf = mu * buf + g
    return p - lr * ((g + mu * buf) if nesterov else buf), buf


def _adam_kernel(p, g, m, v, t, lr, b1, b2, eps, wd=0.0, n_threads=1):
    _kernels.adam_step(
        p,
        g,
        m,
        v,
        1.0 - lr * wd,
        b1,
        b2,
        math.sqrt(1.0 - b2**t),
        eps,
        lr / (1.0 - b1**t),
        n_threads,
    )


def _arrays(rng, n, dtype, k):
    return [rng.standard_normal(n).astype(dtype) for _ in range(k)]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_matches_float64_twin_over_many_steps(simd_path, n, dtype, wd, rng):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    p = rng.standard_normal(n).astype(dtype)
    m, v = np.zeros(n, dtype), np.zeros(n, dtype)
    p64, m64, v64 = p.astype(np.float64), m.astype(np.float64), v.astype(np.float64)
    rtol, atol = TOL[dtype]
    for t in range(1, 13):
        g = rng.standard_normal(n).astype(dtype)
        _adam_kernel(p, g, m, v, t, lr, b1, b2, eps, wd)
        p64, m64, v64 = _adam_twin(
            p64, g.astype(np.float64), m64, v64, t, lr, b1, b2, eps, wd
        )
        # the twin starts each step from the kernel's state: no drift to compare
        np.testing.assert_allclose(p, p64, rtol=rtol, atol=atol)
        np.testing.assert_allclose(m, m64, rtol=rtol, atol=atol)
        np.testing.assert_allclose(v, v64, rtol=rtol, atol=atol)
        p64, m64, v64 = (a.astype(np.float64) for a in (p, m, v))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["plain", "momentum", "nesterov"])
def test_sgd_matches_float64_twin_over_many_steps(simd_path, n, dtype, mode, rng):
    lr, mu = 0.05, (0.0 if mode == "plain" else 0.9)
    p = rng.standard_normal(n).astype(dtype)
    buf = None if mode == "plain" else np.zeros(n, dtype)
    rtol, atol = TOL[dtype]
    for _ in range(12):
        g = rng.standard_normal(n).astype(dtype)
        p64 = p.astype(np.float64)
        b64 = None if buf is None else buf.astype(np.float64)
        _kernels.sgd_step(p, g, buf, lr, mu, mode == "nesterov", 1)
        p64, b64 = _sgd_twin(p64, g.astype(np.float64), b64, lr, mu, mode == "nesterov")
        np.testing.assert_allclose(p, p64, rtol=rtol, atol=atol)
        if buf is not None:
            np.testing.assert_allclose(buf, b64, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_a_bit(simd_path, dtype, rng, openmp):
    n = 100003
    p, g, m = _arrays(rng, n, dtype, 3)
    v = np.abs(rng.standard_normal(n)).astype(dtype)
    results = []
    for nt in (1, 2, 3):
        a = [x.copy() for x in (p, m, v)]
        b = [p.copy(), m.copy()]
        for t in (1, 2, 3):
            _adam_kernel(a[0], g, a[1], a[2], t, 0.01, 0.9, 0.999, 1e-7, 0.1, nt)
            _kernels.sgd_step(b[0], g, b[1], 0.05, 0.9, True, nt)
        results.append(a + b)
    for other in results[1:]:
        for x, y in zip(results[0], other):
            np.testing.assert_array_equal(x, y)


OPTIMIZERS = [
    lambda: SGD(learning_rate=0.05),
    lambda: SGD(learning_rate=0.05, momentum=0.9),
    lambda: SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
    lambda: Adam(learning_rate=0.01),
    lambda: Adam(learning_rate=0.01, beta_1=0.85, beta_2=0.995, epsilon=1e-6),
    lambda: AdamW(learning_rate=0.01, weight_decay=0.1),
    lambda: AdamW(learning_rate=0.01, weight_decay=0.0),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizers_fused_step_is_the_numpy_reference_bit_for_bit(
    simd_path, make, dtype, rng
):
    shapes = [(300, 120), (120,), (1,), (7, 5)]  # 36000 crosses the threshold
    ps = [rng.standard_normal(s).astype(dtype) for s in shapes]
    qs = [p.copy() for p in ps]
    rs = [p.copy() for p in ps]
    fused, reference, threaded = make(), make(), make()
    reference._fused = False
    threaded._n_threads = 2
    for _ in range(8):
        gs = [rng.standard_normal(s).astype(dtype) for s in shapes]
        fused.step(ps, gs)
        reference.step(qs, gs)
        threaded.step(rs, gs)
    rtol, atol = TOL[dtype]
    for p, q, r in zip(ps, qs, rs):
        np.testing.assert_array_equal(r, p)  # threads never change a bit
        if EXACT:
            np.testing.assert_array_equal(p, q)
        np.testing.assert_allclose(p, q, rtol=rtol, atol=10 * atol)
    ref_state = reference.get_state()
    for k, a in fused.get_state().items():
        if EXACT:
            np.testing.assert_array_equal(a, ref_state[k])
        np.testing.assert_allclose(a, ref_state[k], rtol=rtol, atol=10 * atol)


def test_optimizers_fall_back_to_numpy_for_what_the_kernel_does_not_take(rng):
    # Fortran order, a float32 gradient for float64 parameters, a strided view,
    # a gradient that is the parameter itself: all still update correctly
    base = rng.standard_normal((6, 8))
    cases = [
        (np.asfortranarray(base), rng.standard_normal((6, 8))),
        (base.copy(), rng.standard_normal((6, 8)).astype(np.float32)),
        (base.copy()[:, ::2], rng.standard_normal((6, 4))),
    ]
    for p, g in cases:
        want = p - 0.1 * g.astype(np.float64)
        SGD(learning_rate=0.1).step([p], [g])
        np.testing.assert_allclose(p, want, rtol=1e-6)  # g * lr in float32
    p = base.copy()
    SGD(learning_rate=0.1).step([p], [p])
    np.testing.assert_allclose(p, 0.9 * base)


def test_fusable_says_no_to_every_array_the_kernel_does_not_take():
    from fastloss._optim import _fusable

    def four(dtype=np.float32):
        return [np.zeros((3, 4), dtype) for _ in range(4)]

    assert _fusable(*four()) and _fusable(*four(np.float64))
    ro = four()
    ro[0].flags.writeable = False
    buf = np.zeros(24, np.float32)
    bad = {
        "float16": four(np.float16),
        "mixed dtypes": [*four()[:3], np.zeros((3, 4))],
        "shapes": [*four()[:3], np.zeros((4, 3), np.float32)],
        "Fortran p": [np.asfortranarray(four()[0]), *four()[1:]],
        "strided state": [*four()[:3], np.zeros((3, 8), np.float32)[:, ::2]],
        "read-only p": ro,
        "m is v": (lambda a: [a[0], a[1], a[2], a[2]])(four()),
        "m overlaps v": [*four()[:2], buf[:12].reshape(3, 4), buf[8:20].reshape(3, 4)],
    }
    for why, arrays in bad.items():
        assert not _fusable(*arrays), why
    # a read-only gradient is fine (only read), touching halves too
    g_ro = four()
    g_ro[1].flags.writeable = False
    assert _fusable(*g_ro)
    assert _fusable(*four()[:2], buf[:12].reshape(3, 4), buf[12:].reshape(3, 4))


def _good(dtype=np.float64, n=5):
    return [np.zeros(n, dtype) for _ in range(4)]


_BUF9, _BUF6 = np.zeros(9), np.zeros(6)
ADAM_COEF = (1.0, 0.9, 0.999, 0.5, 1e-7, 1e-3, 1)


@pytest.mark.parametrize(
    "bad, err",
    [
        (lambda a: [a[0].astype(np.float32), *a[1:]], TypeError),  # mixed dtypes
        (lambda a: [x.astype(np.int64) for x in a], TypeError),  # not float
        (lambda a: [x.astype(np.float16) for x in a], TypeError),
        (lambda a: [list(a[0]), *a[1:]], TypeError),  # not an array
        (lambda a: [a[0], a[1][:4], *a[2:]], ValueError),  # lengths differ
        (lambda a: [np.zeros(10)[::2], *a[1:]], ValueError),  # not contiguous
        (lambda a: [a[0].reshape(1, 5), *a[1:]], ValueError),  # not 1-D
        (lambda a: [a[0], a[0], *a[2:]], ValueError),  # p is g
        (lambda a: [a[0], a[1], a[2], a[2]], ValueError),  # m is v
        (lambda a: [_BUF9[:5], a[1], a[2], _BUF9[4:]], ValueError),  # 1 shared
        (lambda a: [_BUF6[1:], a[1], _BUF6[:5], a[3]], ValueError),  # 4 shared
    ],
)
def test_adam_step_rejects_bad_buffers(bad, err):
    args = bad(_good())
    with pytest.raises(err):
        _kernels.adam_step(*args, *ADAM_COEF)


def test_overlap_check_uses_actual_memory():
    # two halves of one buffer touch but do not overlap: accepted
    buf = np.zeros(20)
    _kernels.adam_step(buf[:5], buf[5:10], buf[10:15], buf[15:], *ADAM_COEF)
    two = np.zeros(10)
    overlapping = np.lib.stride_tricks.as_strided(two[1:], shape=(5,))
    with pytest.raises(ValueError, match="overlap"):
        _kernels.sgd_step(two[:5], overlapping, None, 0.1, 0.0, False, 1)


def test_read_only_buffers():
    p, g, m, v = _good()
    g.flags.writeable = False  # the gradient is only read
    _kernels.adam_step(p, g, m, v, *ADAM_COEF)
    _kernels.sgd_step(p, g, None, 0.1, 0.0, False, 1)
    p.flags.writeable = False
    with pytest.raises(ValueError):
        _kernels.adam_step(p, g, m, v, *ADAM_COEF)
    with pytest.raises(ValueError):
        _kernels.sgd_step(p, g, m, 0.1, 0.9, False, 1)


@pytest.mark.parametrize(
    "bad, err",
    [
        (lambda p, g, b: (p, g.astype(np.float32), b), TypeError),
        (lambda p, g, b: (p, g, b[:3]), ValueError),
        (lambda p, g, b: (p, g, p), ValueError),
        (lambda p, g, b: (p, p, None), ValueError),
        (lambda p, g, b: (p, g, np.zeros(10)[::2]), ValueError),
    ],
)
def test_sgd_step_rejects_bad_buffers(bad, err):
    p, g, b = np.zeros(5), np.zeros(5), np.zeros(5)
    with pytest.raises(err):
        _kernels.sgd_step(*bad(p, g, b), 0.1, 0.9, False, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_moments_never_go_subnormal(dtype):
    """A unit whose gradient stays 0 decays m (and v) geometrically: the moments are
    stored as 0 once below the smallest normal number, in the kernel and in the
    NumPy path alike (subnormal arithmetic is ~100x slower on x86)."""
    from fastloss.nn import Adam

    tiny = np.finfo(dtype).tiny
    finals = []
    for fused in (True, False):
        opt = Adam(learning_rate=1e-3)
        opt._fused = fused
        p = np.ones(40_000, dtype=dtype)
        g = np.zeros_like(p)
        opt.step([p], [np.full_like(p, 1e-2)])
        m, v = opt._state["m"][0], opt._state["v"][0]
        m[:3] = [tiny * 8, -tiny * 8, tiny * 1.5]  # one or a few steps from the edge
        v[:3] = [tiny * 8, tiny * 1.01, tiny * 4]  # 0.999**40 = 0.96
        for _ in range(40):
            opt.step([p], [g])
        for arr in (m, v):
            nz = arr[arr != 0]
            assert not np.any(np.abs(nz) < tiny), "a subnormal moment was stored"
        assert m[0] == 0 and m[1] == 0 and v[1] == 0  # decayed past the edge: 0
        finals.append(p.copy())
    assert np.array_equal(finals[0], finals[1])  # kernel == NumPy path, bit for bit
