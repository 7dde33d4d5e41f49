"""The short-row path: C <= 32 with class-index targets and no smoothing.

Those rows go through the kernel 32 at a time, one row per vector lane, in groups
that start at each reduction block's first row (16384 // C rows a block); a block of
a few rows, and float64 rows of 25 to 32 classes, take a row-by-row path instead.
These tests cross group and block boundaries for every C of the path, with each
option that stays on it, in place, across thread counts, and at the very end of a
buffer followed by an unmapped page.
"""

import ctypes
import mmap
import sys

import numpy as np
import pytest
from _matrix import DTYPES, REDUCTIONS
from _reference import (
    assert_same_bits,
    check_against_reference,
    make_case,
)

import fastloss

SHORT_C = [1, 2, 3, 5, 8, 10, 15, 16, 17, 24, 31, 32]
# 1 and 7 (and 12 for C > 16): so few rows they go row by row; 12, 16 and 17: a
# short group; 33 and 65: one and two whole groups and a row.
ROWS = [1, 7, 12, 16, 17, 33, 65]
# Options that keep rows on the path (label smoothing leaves it).
TINY_OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore": {"ignore": -100},
    "ignore_in_range": {"ignore": 1},
    "z_loss": {"z_loss": 1e-2},
    "sample_weight": {"sample_weight": True},
    "all": {"weight": True, "ignore": -100, "z_loss": 1e-3, "sample_weight": True},
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", SHORT_C)
def test_matches_reference(simd_path, rng, n_classes, dtype):
    for n in ROWS:
        for name, opts in TINY_OPTIONS.items():
            if name == "ignore_in_range" and n_classes < 2:
                continue
            logits, target, kw = make_case(rng, (n, n_classes), dtype, **opts)
            for reduction in REDUCTIONS:
                kw["reduction"] = reduction
                loss, grad = fastloss.softmax_cross_entropy_and_grad(
                    logits, target, **kw
                )
                check_against_reference(loss, grad, logits, target, kw)
                # forward only: the same row losses, bit for bit
                alone = fastloss.softmax_cross_entropy(logits, target, **kw)
                assert_same_bits(alone, loss)


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [3, 10, 24, 32])
@pytest.mark.parametrize("tail", [21, 3])
def test_blocks_bit_identical_for_any_thread_count(
    simd_path, rng, tail, n_classes, dtype, reduction
):
    # three whole reduction blocks and a short fourth: with 21 rows its last group is
    # short too; with 3 rows it takes the path for a few rows
    n = 3 * (16384 // n_classes) + tail
    opts = dict(TINY_OPTIONS["all"])
    logits, target, kw = make_case(rng, (n, n_classes), dtype, **opts)
    kw["reduction"] = reduction
    loss1, grad1 = fastloss.softmax_cross_entropy_and_grad(
        logits, target, n_threads=1, **kw
    )
    check_against_reference(loss1, grad1, logits, target, kw)
    for n_threads in (2, 3):
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, n_threads=n_threads, **kw
        )
        assert_same_bits(loss, loss1)
        assert_same_bits(grad, grad1)
    buf = logits.copy()
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        buf, target, out=buf, n_threads=2, **kw
    )
    assert grad is buf
    assert_same_bits(loss, loss1)
    assert_same_bits(grad, grad1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [4, 10, 16, 17, 32])
def test_masks_and_bad_rows_in_any_lane(simd_path, rng, n_classes, dtype):
    n = 40
    big = 3.3e38 if dtype == np.float32 else 1e150  # z lse^2 finite in float64
    logits = rng.standard_normal((n, n_classes)).astype(dtype)
    target = rng.integers(0, n_classes, n).astype(np.int64)
    mask = rng.random((n, n_classes)) < 0.3
    mask[np.arange(n), target] = False
    logits[mask] = -np.inf
    logits[0] = np.where(np.arange(n_classes) % 2 == 0, big, -big)
    target[0] = 0  # on a +big entry: a loss of log(number of them)
    logits[5, :] = -np.inf  # all masked
    logits[15, 1 % n_classes] = np.nan  # last lane of the first group
    logits[16, 0] = np.inf  # first lane of the second group
    logits[31, :] = -big
    mask[[0, 31]] = False  # rows overwritten above
    target[3] = -100  # ignored, with a NaN logit: gradient 0 all the same
    logits[3, 0] = np.nan
    bad = [5, 15, 16]
    good = np.setdiff1d(np.arange(n), bad)
    for reduction in REDUCTIONS:
        for z_loss in (0.0, 1e-3):
            kw = {"reduction": reduction, "z_loss": z_loss}
            loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
            assert np.all(np.isnan(grad[bad]))
            assert np.all(np.isfinite(grad[good]))
            assert np.all(grad[3] == 0)
            assert np.all(grad[good][mask[good]] == 0)
            if reduction == "none":
                assert np.all(np.isnan(loss[bad])) and loss[3] == 0
                if z_loss and dtype == np.float32:
                    continue  # z lse^2 of the +-3.3e38 rows: a float32 row's inf
                assert np.all(np.isfinite(loss[good]))
            check_against_reference(loss, grad, logits, target, kw)


def _guarded(nbytes):
    """A writable buffer of `nbytes` ending right before an inaccessible page, or
    None where that cannot be arranged."""
    if not sys.platform.startswith("linux"):
        return None
    page = mmap.PAGESIZE
    pages = -(-nbytes // page)
    mem = mmap.mmap(-1, (pages + 1) * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mem))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(ctypes.c_void_p(base + pages * page), page, 0) != 0:
        return None
    return mem, pages * page - nbytes


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [1, 3, 10, 17, 32])
def test_no_access_past_the_buffer_end(simd_path, rng, n_classes, dtype, inplace):
    n = 32 * 2 + 17
    src, target, kw = make_case(rng, (n, n_classes), dtype, **TINY_OPTIONS["all"])
    want_loss, want_grad = fastloss.softmax_cross_entropy_and_grad(src, target, **kw)
    size = src.nbytes
    held = _guarded(size)
    if held is None:
        pytest.skip("needs mmap + mprotect (Linux)")
    mem, offset = held
    logits = np.frombuffer(mem, dtype, n * n_classes, offset).reshape(n, n_classes)
    logits[...] = src
    if inplace:
        out = logits
    else:
        out_held = _guarded(size)
        out = np.frombuffer(out_held[0], dtype, n * n_classes, out_held[1])
        out = out.reshape(n, n_classes)
    loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, out=out, **kw)
    assert grad is out
    assert_same_bits(loss, want_loss)
    assert_same_bits(np.array(grad), want_grad)
