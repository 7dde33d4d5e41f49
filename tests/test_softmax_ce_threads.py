"""Bit-identical results for any thread count, row splitting, concurrent callers."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _reference import (
    OPTIONS,
    assert_same_bits,
    check_against_reference,
    make_case,
)

import fastloss

# (1, 1 << 20) and (3, 300000) have fewer rows than threads, so the kernel has
# to split rows across threads; (5000, 37) is a plain multi-row batch.
BIG_SHAPES = [(1, 1 << 20), (3, 300_000), (5000, 37)]


def _run(logits, target, kw, n_threads, inplace=False):
    kw = dict(kw, n_threads=n_threads)
    if inplace:
        buf = logits.copy()
        loss, grad = fastloss.softmax_cross_entropy_and_grad(buf, target, out=buf, **kw)
        assert grad is buf
    else:
        loss, grad = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    return loss, grad


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BIG_SHAPES, ids=str)
def test_bit_identical_for_any_thread_count(
    simd_path, rng, shape, dtype, kind, reduction
):
    logits, target, kw = make_case(rng, shape, dtype, kind, **OPTIONS["all"])
    kw["reduction"] = reduction
    loss1, grad1 = _run(logits, target, kw, 1)
    for n_threads in (2, 3, None):
        loss, grad = _run(logits, target, kw, n_threads)
        assert_same_bits(loss, loss1)
        assert_same_bits(grad, grad1)
    # in place, with row splitting: every thread must finish reading a row
    # (its max and sum) before any thread overwrites it with the gradient
    loss, grad = _run(logits, target, kw, 2, inplace=True)
    assert_same_bits(loss, loss1)
    assert_same_bits(grad, grad1)
    forward = fastloss.softmax_cross_entropy(
        logits, target, n_threads=2, **{k: v for k, v in kw.items() if k != "n_threads"}
    )
    assert_same_bits(forward, loss1)
    # and the shared answer is the right one
    check_against_reference(loss1, grad1, logits, target, kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_row_with_masks_and_extremes_split_across_threads(simd_path, rng, dtype):
    """The max and the masks of one split row may sit in any thread's chunk."""
    logits = rng.standard_normal((2, 1 << 19)).astype(dtype)
    logits[:, ::7] = -np.inf
    logits[0, -3] = 80.0  # the max in the last chunk
    logits[1, 5] = 80.0  # the max in the first chunk
    target = np.array([(1 << 19) - 4, 4])  # not on the ::7 mask
    kw = {"reduction": "sum"}
    results = [_run(logits, target, kw, n) for n in (1, 2, 4)]
    for loss, grad in results[1:]:
        assert_same_bits(loss, results[0][0])
        assert_same_bits(grad, results[0][1])
    loss, grad = results[0]
    assert np.all(grad[:, ::7] == 0.0)
    check_against_reference(loss, grad, logits, target, kw)


def test_n_threads_above_one_is_accepted_without_openmp_too(rng):
    logits, target, _ = make_case(rng, (8, 5), np.float64, "hard")
    want = fastloss.softmax_cross_entropy_and_grad(logits, target, n_threads=1)
    got = fastloss.softmax_cross_entropy_and_grad(logits, target, n_threads=64)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


def test_concurrent_python_threads_equal_serial_results(rng):
    cases = []
    for i in range(6):
        kind = "hard" if i % 2 else "soft"
        dtype = np.float32 if i % 3 else np.float64
        logits, target, kw = make_case(
            rng, (400 + 50 * i, 300), dtype, kind, **OPTIONS["all"]
        )
        kw["n_threads"] = 1 + i % 2
        kw["reduction"] = ("mean", "sum", "none")[i % 3]
        cases.append((logits, target, kw))
    serial = [fastloss.softmax_cross_entropy_and_grad(x, t, **kw) for x, t, kw in cases]

    def work(i):
        x, t, kw = cases[i]
        return [fastloss.softmax_cross_entropy_and_grad(x, t, **kw) for _ in range(8)]

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(work, list(range(len(cases))) * 2))
    for i, runs in enumerate(results):
        want = serial[i % len(cases)]
        for loss, grad in runs:
            assert_same_bits(loss, want[0])
            assert_same_bits(grad, want[1])


def test_concurrent_in_place_calls_on_separate_buffers(rng):
    logits = [rng.standard_normal((700, 129)) for _ in range(4)]
    target = [rng.integers(0, 129, size=700) for _ in range(4)]
    want = [
        fastloss.softmax_cross_entropy_and_grad(x, t) for x, t in zip(logits, target)
    ]

    def work(i):
        buf = logits[i].copy()
        return fastloss.softmax_cross_entropy_and_grad(
            buf, target[i], out=buf, n_threads=2
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(work, range(4)))
    for (loss, grad), (w_loss, w_grad) in zip(got, want):
        assert_same_bits(loss, w_loss)
        assert_same_bits(grad, w_grad)
