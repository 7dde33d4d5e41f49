"""Concurrent callers: 8 Python threads at once give the serial results bit for bit,
and ``n_threads=1`` calls start no OpenMP threads.

tests/test_softmax_ce_threads.py already checks bit-identity across thread counts
and a few concurrent softmax cross-entropy callers; here every loss family runs at
once, from 8 threads released together by a barrier, writing into out= buffers, and
the process's OS thread count is watched while they run.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _matrix import N_THREADS
from _reference import assert_same_bits

import fastloss

N_WORKERS = 8
ITERATIONS = 60


def _jobs(rng):
    """(name, call) pairs; each call writes its gradient into buffers it owns and
    returns (loss, grads as a tuple), copied so later iterations cannot alias it."""
    jobs = []

    def add(name, fn, args, kw, outs):
        def call():
            loss, grad = fn(*args, **kw, out=outs if len(outs) > 1 else outs[0])
            grads = grad if isinstance(grad, tuple) else (grad,)
            for g, o in zip(grads, outs):
                assert g is o
            loss = loss.copy() if isinstance(loss, np.ndarray) else loss
            return loss, tuple(g.copy() for g in grads)

        jobs.append((name, call))

    shape = (160, 257)  # 41k elements: above the kernels' threading threshold
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(shape).astype(dtype)
        y = rng.integers(0, shape[1], shape[0])
        y[::7] = -100
        kw = dict(label_smoothing=0.1, z_loss=1e-3, reduction="mean")
        add(
            "sce",
            fastloss.softmax_cross_entropy_and_grad,
            (x, y),
            kw,
            (np.empty_like(x),),
        )
        add(
            "focal",
            fastloss.softmax_focal_loss_and_grad,
            (x, y),
            dict(gamma=1.5, reduction="none"),
            (np.empty_like(x),),
        )
        t = rng.standard_normal(shape).astype(dtype)
        add(
            "kl",
            fastloss.kl_div_with_logits_and_grad,
            (x, t),
            dict(temperature=2.0, reduction="sum"),
            (np.empty_like(x),),
        )
        p = rng.random(shape).astype(dtype)
        add(
            "bce",
            fastloss.binary_cross_entropy_with_logits_and_grad,
            (x, p),
            dict(pos_weight=rng.uniform(0.5, 2, shape[1])),
            (np.empty_like(x),),
        )
        add(
            "sigmoid_focal",
            fastloss.sigmoid_focal_loss_and_grad,
            (x, p),
            {},
            (np.empty_like(x),),
        )
        add(
            "huber",
            fastloss.huber_loss_and_grad,
            (x, t),
            dict(delta=0.5, sample_weight=rng.random(shape[0])),
            (np.empty_like(x),),
        )
        a, b = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
        add(
            "triplet",
            fastloss.triplet_margin_loss_and_grad,
            (x, a, b),
            dict(p=1.5, swap=True),
            (np.empty_like(x), np.empty_like(x), np.empty_like(x)),
        )
    return jobs


def _same(got, want):
    assert_same_bits(got[0], want[0])
    for g, w in zip(got[1], want[1]):
        assert_same_bits(g, w)


@pytest.mark.parametrize("n_threads", N_THREADS)
def test_eight_threads_at_once_equal_serial_results(rng, n_threads, restore_threads):
    # every thread its own data and out= buffers
    jobs = [_jobs(rng) for _ in range(N_WORKERS)]
    fastloss.set_num_threads(n_threads)  # the default of every call below
    serial = [[call() for _, call in thread_jobs] for thread_jobs in jobs]
    barrier = threading.Barrier(N_WORKERS)
    errors = []

    def worker(w):
        try:
            barrier.wait()
            for it in range(ITERATIONS):
                k = (w + it) % len(jobs[w])  # threads start on different families
                name, call = jobs[w][k]
                try:
                    _same(call(), serial[w][k])
                except AssertionError as exc:
                    raise AssertionError(f"{name}, iteration {it}: {exc}") from None
        except BaseException as exc:  # reported below, with the thread
            errors.append((w, exc))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(N_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_shared_inputs_read_by_eight_threads_stay_unchanged(rng):
    """Many readers of the same input arrays (no out=): inputs untouched, every
    result the serial one."""
    x = rng.standard_normal((400, 129)).astype(np.float32)
    y = rng.integers(0, 129, 400)
    before = x.copy()
    want = fastloss.softmax_cross_entropy_and_grad(x, y, n_threads=1)
    barrier = threading.Barrier(N_WORKERS)

    def work(_):
        barrier.wait()
        return [
            fastloss.softmax_cross_entropy_and_grad(x, y, n_threads=1 + i % 2)
            for i in range(ITERATIONS)
        ]

    with ThreadPoolExecutor(N_WORKERS) as pool:
        results = list(pool.map(work, range(N_WORKERS)))
    for runs in results:
        for got in runs:
            assert_same_bits(got[0], want[0])
            assert_same_bits(got[1], want[1])
    assert x.tobytes() == before.tobytes()


# The thread-count checks run in a fresh interpreter, so that no OpenMP team from
# an earlier test exists yet. OpenBLAS (imported by NumPy) may start its own pool
# at import; the counts are taken after importing, relative to that baseline.
_THREAD_PROBE = textwrap.dedent(
    """
    import json, os, sys, threading
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    import fastloss

    def count():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 257))  # above the threading threshold
    y = rng.integers(0, 257, 400)
    p = rng.random(x.shape)
    report = {"openmp": bool(fastloss.config()["openmp"]), "start": count()}

    # 1. many n_threads=1 calls on the main thread
    for _ in range(50):
        fastloss.softmax_cross_entropy_and_grad(x, y, n_threads=1)
        fastloss.binary_cross_entropy_with_logits_and_grad(x, p, n_threads=1)
        fastloss.kl_div_with_logits(x, p, n_threads=1)
    report["after_serial_calls"] = count()

    # 2. n_threads=1 from 8 pool workers, watched while they run
    workers = int(sys.argv[1])
    go = threading.Barrier(workers + 1)
    def work(i):
        go.wait()
        for _ in range(60):
            fastloss.softmax_cross_entropy_and_grad(x, y, n_threads=1)
            fastloss.mse_loss_and_grad(x, p, n_threads=1)
            fastloss.triplet_margin_loss_and_grad(x, p, x, n_threads=1)
    peak = 0
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(work, i) for i in range(workers)]
        go.wait()
        while not all(f.done() for f in futures):
            peak = max(peak, count())
        for f in futures:
            f.result()
    report["peak_during_pool"] = peak

    # 3. positive control: a call with 2 threads does start a team
    fastloss.softmax_cross_entropy_and_grad(x, y, n_threads=2)
    report["after_two_thread_call"] = count()
    print(json.dumps(report))
    """
)


def test_n_threads_1_starts_no_openmp_threads():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the thread count from /proc/self/status (Linux)")
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    result = subprocess.run(
        [sys.executable, "-c", _THREAD_PROBE, str(N_WORKERS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    r = json.loads(result.stdout.strip().splitlines()[-1])
    start = r["start"]
    # n_threads=1 on the main thread: not one thread more
    assert r["after_serial_calls"] == start, r
    # from 8 workers: the workers themselves, no OpenMP team per worker
    assert r["peak_during_pool"] <= start + N_WORKERS, r
    assert r["peak_during_pool"] > start, r  # the sampling saw the workers
    if r["openmp"]:
        # the probe can see a team: one n_threads=2 call adds a pool thread
        assert r["after_two_thread_call"] > start, r
