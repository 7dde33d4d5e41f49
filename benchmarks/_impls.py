"""The implementations under benchmark: one ``IMPLS`` table, shared by the
pytest-benchmark suite (``test_cross_entropy.py``) and ``summary.py``.

Every entry computes the same thing: float32 softmax cross-entropy with integer
class targets, ``reduction="mean"``, returning ``(loss, grad)`` where ``grad`` is
d(loss)/d(logits). Each entry's ``prepare(logits, target)`` does everything that a
training loop does once (converting inputs, compiling, allocating reused buffers,
one warm-up call) and returns a :class:`Runner` whose ``call`` is what gets timed.

Threads: every implementation gets 2 threads. fastloss, PyTorch and numba have a
knob for it. XLA's CPU client has none that works (``--xla_cpu_multi_thread_eigen``
and ``intra_op_parallelism_threads`` leave its thunk-runtime pool untouched); it
sizes that pool from the process's CPU affinity mask when the backend starts, so
this module narrows the mask to ``N_THREADS`` CPUs before any peer is imported.
On the 2-vCPU benchmark machine the mask already has 2 CPUs and nothing changes.
"""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

N_THREADS = 2
DTYPE = np.float32


def _pin_cpus(n: int) -> None:
    # Must run before jax starts its CPU backend (see the module docstring).
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > n:
            os.sched_setaffinity(0, cpus[:n])


_pin_cpus(N_THREADS)


# ---------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Shape:
    n: int  # rows (samples)
    c: int  # classes

    @property
    def name(self) -> str:
        return f"{self.n}x{self.c}"

    @property
    def nbytes(self) -> int:
        return self.n * self.c * np.dtype(DTYPE).itemsize


# The five shapes the targets name, in their order, then the per-call overhead case.
SHAPES = [
    Shape(65536, 10),
    Shape(8192, 1000),
    Shape(4096, 32000),
    Shape(1024, 131072),
    Shape(1, 1048576),
    Shape(32, 10),
]
OVERHEAD_SHAPE = Shape(32, 10)
# Shapes whose logits do not fit in a core's caches: the memory-floor target.
FLOOR_SHAPES = [Shape(8192, 1000), Shape(4096, 32000), Shape(1024, 131072)]


def parse_shape(text: str) -> Shape:
    """``"4096x32000"`` -> ``Shape(4096, 32000)``."""
    n, c = text.lower().split("x")
    return Shape(int(n), int(c))


def make_inputs(shape: Shape, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal float32 logits (C-contiguous) and int64 targets."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((shape.n, shape.c), dtype=DTYPE)
    target = rng.integers(0, shape.c, size=shape.n, dtype=np.int64)
    return logits, target


# ---------------------------------------------------------------------------
# The table


@dataclass
class Runner:
    """``call()`` is timed; ``setup()``, when set, runs untimed before each call."""

    call: Callable[[], tuple]
    setup: Callable[[], None] | None = None


@dataclass(frozen=True)
class Impl:
    name: str
    module: str  # importable module whose absence skips this entry
    prepare: Callable[[np.ndarray, np.ndarray], Runner]
    note: str
    is_fastloss: bool = False
    requires: str = ""  # an attribute the module must have (a half-built package)


def _warm(runner: Runner) -> Runner:
    # One untimed call: compiles (jax, numba), loads libraries, starts threads.
    if runner.setup is not None:
        runner.setup()
    runner.call()
    return runner


def _fastloss_fn():
    import fastloss

    return fastloss.softmax_cross_entropy_and_grad


def prepare_fastloss_fresh(logits, target):
    fn = _fastloss_fn()
    return _warm(
        Runner(lambda: fn(logits, target, reduction="mean", n_threads=N_THREADS))
    )


def prepare_fastloss_out(logits, target):
    fn = _fastloss_fn()
    out = np.empty_like(logits)
    out.fill(0)  # touch every page once, as a training loop's second step would

    def call():
        return fn(logits, target, reduction="mean", n_threads=N_THREADS, out=out)

    return _warm(Runner(call))


def prepare_fastloss_inplace(logits, target):
    # out=logits overwrites the logits with the gradient, so each call gets a
    # fresh copy of the original logits, made untimed by ``setup``.
    fn = _fastloss_fn()
    work = np.empty_like(logits)

    def call():
        return fn(work, target, reduction="mean", n_threads=N_THREADS, out=work)

    return _warm(Runner(call, setup=lambda: np.copyto(work, logits)))


def numpy_cross_entropy(logits, target):
    """The plain float32 NumPy reference: max-shifted log-softmax, then
    softmax - onehot scaled by 1/N. Allocates its temporaries every call."""
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) - shifted[rows, target]))
    grad = e
    grad *= 1 / (s * n)  # softmax / N
    grad[rows, target] -= DTYPE(1 / n)
    return loss, grad


def prepare_numpy(logits, target):
    from threadpoolctl import threadpool_limits

    threadpool_limits(N_THREADS)  # NumPy's BLAS is unused here, but cap it anyway
    return _warm(Runner(lambda: numpy_cross_entropy(logits, target)))


def prepare_torch(logits, target):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(N_THREADS)
    x = torch.from_numpy(logits).requires_grad_(True)  # shares memory, no copy
    t = torch.from_numpy(target)

    def call():
        loss = F.cross_entropy(x, t, reduction="mean")
        (grad,) = torch.autograd.grad(loss, x)
        return loss.item(), grad

    return _warm(Runner(call))


def _jax_cross_entropy(x, t):
    import jax
    import jax.numpy as jnp

    # Of the plain forms tried (max-shift by hand, one_hot * log_softmax,
    # logsumexp - picked logit), this one is XLA's fastest: up to 2x on large C.
    lse = jax.nn.logsumexp(x, axis=-1)
    picked = jnp.take_along_axis(x, t[:, None], axis=-1)[:, 0]
    return jnp.mean(lse - picked)


def prepare_jax(logits, target):
    import jax

    fn = jax.jit(jax.value_and_grad(_jax_cross_entropy))
    x = jax.device_put(logits)
    t = jax.device_put(target.astype(np.int32))  # jax's default int width

    def call():
        return jax.block_until_ready(fn(x, t))

    return _warm(Runner(call))


_numba_kernel = None


def _numba_compile():
    # A user's own fused row loop: one pass for the max, one for exp and sum,
    # one scaling pass writing the gradient into a buffer the caller reuses.
    global _numba_kernel
    if _numba_kernel is None:
        import numba

        @numba.njit(parallel=True, fastmath=False, cache=False)
        def kernel(x, t, grad):
            n, c = x.shape
            losses = np.empty(n, np.float64)
            inv_n = np.float32(1.0 / n)
            for i in numba.prange(n):
                m = x[i, 0]
                for j in range(1, c):
                    m = max(m, x[i, j])
                s = 0.0
                for j in range(c):
                    e = np.exp(x[i, j] - m)
                    grad[i, j] = e
                    s += e
                scale = np.float32(1.0 / s) * inv_n
                for j in range(c):
                    grad[i, j] *= scale
                grad[i, t[i]] -= inv_n
                losses[i] = math.log(s) + m - x[i, t[i]]
            return losses.sum() / n

        _numba_kernel = kernel
    return _numba_kernel


def prepare_numba(logits, target):
    import numba

    numba.set_num_threads(N_THREADS)
    kernel = _numba_compile()
    grad = np.empty_like(logits)
    grad.fill(0)
    return _warm(Runner(lambda: (kernel(logits, target, grad), grad)))


IMPLS = [
    Impl(
        "fastloss",
        "fastloss",
        prepare_fastloss_out,
        "fastloss, out= a reused gradient buffer (what a training loop sees)",
        is_fastloss=True,
        requires="softmax_cross_entropy_and_grad",
    ),
    Impl(
        "fastloss-fresh",
        "fastloss",
        prepare_fastloss_fresh,
        "fastloss, a freshly allocated gradient every call",
        is_fastloss=True,
        requires="softmax_cross_entropy_and_grad",
    ),
    Impl(
        "fastloss-inplace",
        "fastloss",
        prepare_fastloss_inplace,
        "fastloss, out=logits (in place), logits restored untimed before each call",
        is_fastloss=True,
        requires="softmax_cross_entropy_and_grad",
    ),
    Impl(
        "numpy",
        "numpy",
        prepare_numpy,
        "plain float32 NumPy, max-shifted log-softmax, new temporaries each call",
    ),
    Impl(
        "torch",
        "torch",
        prepare_torch,
        "F.cross_entropy + torch.autograd.grad, torch.set_num_threads(2)",
    ),
    Impl(
        "jax",
        "jax",
        prepare_jax,
        "jax.jit(jax.value_and_grad(logsumexp - picked)), block_until_ready",
    ),
    Impl(
        "numba",
        "numba",
        prepare_numba,
        "@njit(parallel=True, fastmath=False) fused row loop, reused grad buffer",
    ),
]
REFERENCE_IMPL = "fastloss"  # every ratio is taken against this entry


def is_available(impl: Impl) -> bool:
    """True when the entry's module imports in this interpreter."""
    try:
        module = importlib.import_module(impl.module)
    except Exception:  # noqa: BLE001 - a broken install may raise anything
        return False
    return not impl.requires or hasattr(module, impl.requires)


def available_impls() -> list[Impl]:
    return [impl for impl in IMPLS if is_available(impl)]


# ---------------------------------------------------------------------------
# Agreement check: a fast wrong answer must not be benchmarked silently.


def reference_loss(logits, target, chunk_rows: int = 1 << 20) -> float:
    """The mean loss in float64, a few MB of rows at a time."""
    rows_per_chunk = max(1, chunk_rows // logits.shape[1])
    total = 0.0
    for start in range(0, logits.shape[0], rows_per_chunk):
        x = logits[start : start + rows_per_chunk].astype(np.float64)
        t = target[start : start + rows_per_chunk]
        m = x.max(axis=1)
        lse = m + np.log(np.exp(x - m[:, None]).sum(axis=1))
        total += float(np.sum(lse - x[np.arange(x.shape[0]), t]))
    return total / logits.shape[0]


def reference_grad_rows(logits, target, k: int) -> np.ndarray:
    """The gradient's first ``k`` rows in float64."""
    x = logits[:k].astype(np.float64)
    q = np.exp(x - x.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    q[np.arange(q.shape[0]), target[:k]] -= 1.0
    return q / logits.shape[0]


def check_result(result, logits, target, ref_loss=None, k: int = 8) -> str:
    """'' when ``result`` = (loss, grad) matches float64, else what differs."""
    loss, grad = result
    loss = float(np.asarray(loss))
    grad = np.asarray(grad)
    if ref_loss is None:
        ref_loss = reference_loss(logits, target)
    problems = []
    if grad.shape != logits.shape or grad.dtype != logits.dtype:
        problems.append(f"grad is {grad.dtype}{grad.shape}")
    elif not math.isclose(loss, ref_loss, rel_tol=1e-4, abs_tol=1e-6):
        problems.append(f"loss {loss!r} vs float64 {ref_loss!r}")
    else:
        ref = reference_grad_rows(logits, target, k)
        got = grad[:k].astype(np.float64)
        # float32 exp/sum rounding: ~1e-6 relative; allow 1e-4 of the row scale.
        err = np.abs(got - ref).max()
        scale = np.abs(ref).max()
        if not err <= 1e-4 * scale:
            problems.append(f"grad rows max error {err:.3g} (scale {scale:.3g})")
    return "; ".join(problems)
