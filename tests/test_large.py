"""64-bit indexing: inputs of more than 2**31 elements give the right loss.

Each input is mostly zeros with a few entries set beyond flat index 2**31, so the
expected loss has a closed form and those entries change it by far more than the
tolerance: a kernel that counted or indexed elements in 32 bits would skip them
(a truncated count), read other elements (a wrapped offset: a different value or
a crash), and the test would fail. The buffers come from ``np.zeros``, whose
pages the kernel only reads, so the memory actually touched is small; the skip
rule still asks for the full size (times 1.3), as a copy anywhere would need it.

Marked ``slow`` (about 10 s each on two cores); run with ``-m slow`` or by default.
"""

import math
import os

import numpy as np
import pytest

import fastloss

pytestmark = pytest.mark.slow

BIG = 2**31
GIB = 2**30


def _available_bytes():
    try:
        import psutil

        return psutil.virtual_memory().available
    except ImportError:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return 0


def _need(nbytes):
    available = _available_bytes()
    if available < 1.3 * nbytes:
        pytest.skip(
            f"needs {1.3 * nbytes / GIB:.1f} GiB of available memory "
            f"(1.3 x {nbytes / GIB:.1f} GiB of inputs), "
            f"{available / GIB:.1f} GiB available"
        )


def _threads():
    return min(2, os.cpu_count() or 1)


def test_softmax_cross_entropy_rows_beyond_2_31_elements():
    """(R, C) float32 logits with R * C > 2**31; the last rows start beyond it."""
    c = 4096
    r = BIG // c + 64
    _need(r * c * 4)
    logits = np.zeros((r, c), dtype=np.float32)
    target = np.arange(r, dtype=np.int64) % c
    first_beyond = BIG // c  # row whose first element has flat index 2**31
    assert first_beyond * c >= BIG and r * c > BIG
    a = 3.0
    special = [first_beyond, first_beyond + 17, r - 2]
    for i in special:
        target[i] = c - 1 - (i % 7)  # near the end of its row
        logits[i, target[i]] = a
    # the last row: its target logit and, the last element of the buffer, a
    # larger non-target logit
    target[r - 1] = c - 2
    logits[r - 1, c - 2] = a
    logits[r - 1, c - 1] = 2 * a

    rows = fastloss.softmax_cross_entropy(
        logits, target, reduction="none", n_threads=_threads()
    )

    zero_row = math.log(c)  # lse of C zeros is log C; the target logit is 0
    want = np.full(r, zero_row)
    for i in special:
        want[i] = math.log(c - 1 + math.exp(a)) - a
    want[r - 1] = math.log(c - 2 + math.exp(a) + math.exp(2 * a)) - a
    assert rows.shape == (r,) and rows.dtype == np.float32
    np.testing.assert_allclose(rows, want, rtol=2e-6)
    total = fastloss.softmax_cross_entropy(
        logits, target, reduction="sum", n_threads=_threads()
    )
    assert total == pytest.approx(float(np.sum(want)), rel=1e-6)
    # each special row differs from a zero row by 3: the sum would show it too
    assert abs(want[special[0]] - zero_row) > 2


def test_softmax_cross_entropy_one_row_longer_than_2_31():
    """One row of 2**31 + 2**20 classes, split across threads; its maximum and its
    target both lie beyond index 2**31."""
    c = BIG + 2**20
    _need(c * 4)
    logits = np.zeros((1, c), dtype=np.float32)
    t = c - 1
    logits[0, t] = 10.0
    logits[0, BIG + 5] = 20.0  # the row's maximum
    loss = fastloss.softmax_cross_entropy(
        logits, np.array([t]), reduction="sum", n_threads=_threads()
    )
    want = math.log(c - 2 + math.exp(10.0) + math.exp(20.0)) - 10.0
    # without the maximum the loss would be ~11.4 smaller
    assert loss == pytest.approx(want, rel=1e-6)


def test_mse_more_than_2_31_elements():
    """float32 pred of 2**31 + 2**24 elements: the sum is exact in float64."""
    n = BIG + 2**24
    _need(2 * n * 4)
    pred = np.zeros(n, dtype=np.float32)
    target = np.zeros(n, dtype=np.float32)
    pred[: 2**20] = 2.0  # squares to 4 each
    pred[BIG:] = 1.0  # the 2**24 elements beyond 2**31: 1 each
    target[-1] = -1.0  # the last element: (1 - -1)**2 = 4
    loss = fastloss.mse_loss(pred, target, reduction="sum", n_threads=_threads())
    want = 4.0 * 2**20 + (2**24 - 1) + 4.0
    assert loss == want  # every term and partial sum is an exact float64 integer
    mean = fastloss.mse_loss(pred, target, n_threads=_threads())
    assert mean == pytest.approx(want / n, rel=1e-15)


def test_bce_with_logits_more_than_2_31_elements():
    """The elementwise kernel with one buffer as both logits and target."""
    n = BIG + 2**24
    _need(n * 4)
    x = np.zeros(n, dtype=np.float32)
    x[BIG:] = 1.0
    loss = fastloss.binary_cross_entropy_with_logits(
        x, x, reduction="sum", n_threads=_threads()
    )
    # x = y = 0: log 2; x = y = 1: softplus(-1) = log(1 + e**-1)
    want = BIG * math.log(2.0) + 2**24 * math.log1p(math.exp(-1.0))
    # float32 terms carry a relative rounding of ~6e-8; the 2**24 ones beyond
    # 2**31 change the sum by 2**24 * 0.38 = 6.4e6, a relative 4e-3
    assert loss == pytest.approx(want, rel=1e-6)
