"""Memory use per call, measured with tracemalloc (NumPy reports its buffers to it).

The kernels promise: forward-only calls allocate no (..., n_classes) memory; a call
into out= (or in place) allocates none either; without out= exactly one gradient
buffer; an input that has to be converted is copied once and the gradient is then
written over that copy (so still one buffer, not two).
"""

import tracemalloc

import numpy as np
import pytest

import fastloss

N, C = 2000, 1000
NBYTES = N * C * 4  # one float32 (N, C) buffer: 8 MB
SMALL = NBYTES // 50  # per-row results and bookkeeping stay far below this


def _peak(fn):
    fn()  # warm up: first-call allocations (caches, thread pools) do not count
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del result
    return peak


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C), dtype=np.float32)
    y = rng.integers(0, C, N)
    return x, y


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_forward_only_allocates_no_n_by_c_memory(data, reduction):
    x, y = data
    peak = _peak(lambda: fastloss.softmax_cross_entropy(x, y, reduction=reduction))
    assert peak < SMALL, peak


def test_into_out_and_in_place_allocate_nothing_large(data):
    x, y = data
    out = np.empty_like(x)
    assert _peak(lambda: fastloss.softmax_cross_entropy_and_grad(x, y, out=out)) < SMALL
    work = x.copy()
    peak = _peak(lambda: fastloss.softmax_cross_entropy_and_grad(work, y, out=work))
    assert peak < SMALL


def test_fresh_gradient_is_exactly_one_buffer(data):
    x, y = data
    peak = _peak(lambda: fastloss.softmax_cross_entropy_and_grad(x, y))
    assert NBYTES <= peak < NBYTES + SMALL, peak


def test_converted_input_is_copied_once_and_reused_for_the_gradient(data):
    x, y = data
    strided = np.asfortranarray(x)  # not C-contiguous: must be copied
    peak = _peak(lambda: fastloss.softmax_cross_entropy_and_grad(strided, y))
    assert NBYTES <= peak < NBYTES + SMALL, peak
    x64 = x.astype(np.float64)[:, ::2]  # strided float64: one float64 copy
    peak = _peak(lambda: fastloss.softmax_cross_entropy_and_grad(x64, y % (C // 2)))
    assert peak < x64.nbytes + SMALL, peak


def test_elementwise_forward_allocates_nothing_large(data):
    x, _ = data
    t = np.zeros_like(x)
    assert _peak(lambda: fastloss.mse_loss(x, t)) < SMALL
    out = np.empty_like(x)
    assert _peak(lambda: fastloss.mse_loss_and_grad(x, t, out=out)) < SMALL
    peak = _peak(lambda: fastloss.binary_cross_entropy_with_logits(x, t))
    assert peak < SMALL
