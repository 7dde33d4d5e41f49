"""The loss families under benchmark and the implementations of each, shared by
the pytest-benchmark suite (``test_losses.py``) and ``losses_summary.py``.

Every case is one fastloss ``*_and_grad`` function on one float32 shape: the
elementwise losses on 4M elements (1-D) and on (4096, 1000), the row-wise ones
on (8192, 1000) and (4096, 32000), the triplet margin loss on embedding batches
(8192, 1000) and (65536, 128). Every implementation computes the same
``reduction="mean"`` loss and d(loss)/d(first input), with the loss options
below, and returns ``(loss, grad)``; for the triplet loss the gradients with
respect to all three inputs, ``(loss, (grad_anchor, grad_positive,
grad_negative))``. An entry's ``prepare(case, inputs)`` does
what a training loop does once (convert inputs, compile, allocate reused
buffers, one warm-up call) and returns a :class:`Runner` whose ``call`` is what
gets timed and whose ``memory`` reports the extra memory of one call.

Threads: 2 for everyone. fastloss ``n_threads=2``, ``torch.set_num_threads(2)``,
TensorFlow's intra-op pool 2; XLA (JAX, and TensorFlow's ``jit_compile``) sizes
its CPU pool from the process's affinity mask, so this module narrows the mask
to ``N_THREADS`` CPUs before any framework is imported (on the 2-CPU benchmark
machine nothing changes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import math
import os
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

N_THREADS = 2
DTYPE = np.float32


def _narrow_affinity(n: int) -> None:
    # Before jax or tensorflow start their CPU client (see the module docstring).
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > n:
            os.sched_setaffinity(0, cpus[:n])


_narrow_affinity(N_THREADS)

from fastloss import _table  # noqa: E402  (after the mask, like every framework)

# Loss options, the same for every implementation: the benchmark cases' options in
# the loss table (fastloss/_table.py), named for the implementations below.
_OPTIONS = {row.bench.id: row.bench.options for row in _table.LOSSES if row.bench}
HUBER_DELTA = _OPTIONS["huber"]["delta"]
SMOOTH_L1_BETA = _OPTIONS["smooth_l1"]["beta"]
FOCAL_ALPHA = _OPTIONS["sigmoid_focal"]["alpha"]
FOCAL_GAMMA = _OPTIONS["sigmoid_focal"]["gamma"]
BCE_EPSILON = _OPTIONS["bce"]["epsilon"]  # Keras' clip of probabilities
SOFTMAX_FOCAL_GAMMA = _OPTIONS["softmax_focal"]["gamma"]
KL_TEMPERATURE = _OPTIONS["kl_div"]["temperature"]
TRIPLET_MARGIN = _OPTIONS["triplet"]["margin"]
TRIPLET_P = _OPTIONS["triplet"]["p"]  # the NumPy entry is written for p=2 only
TRIPLET_EPS = _OPTIONS["triplet"]["eps"]  # added to u - v before the norm, as torch
TRIPLET_NOISE = 0.1  # positives and hard negatives: anchor + this x N(0, 1)
TRIPLET_HARD = 0.5  # fraction of rows with a hard negative (active hinge)
LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Loss:
    name: str  # short id used on the command line
    func: str  # the fastloss function
    rowwise: bool
    inputs: str  # which generator in make_inputs
    options: dict = field(default_factory=dict, hash=False, compare=False)
    # The gradient is taken with respect to the first n_grads inputs; with more
    # than one, implementations return them as a tuple.
    n_grads: int = 1
    shapes: tuple = ()  # its own shapes; () means the elementwise or row-wise ones


# One case per loss of the loss table that has a benchmark case: the elementwise
# losses first, then the row-wise ones, each in the table's order.
LOSSES = [
    Loss(
        row.bench.id,
        row.name + "_and_grad",
        row.family != "elementwise",
        row.bench.inputs,
        dict(row.bench.options),
        n_grads=row.bench.n_grads,
        shapes=row.bench.shapes,
    )
    for row in sorted(
        (r for r in _table.LOSSES if r.bench), key=lambda r: r.family != "elementwise"
    )
]
LOSS_BY_NAME = {loss.name: loss for loss in LOSSES}

ELEMENTWISE_SHAPES = [(4 * 2**20,), (4096, 1000)]
ROWWISE_SHAPES = [(8192, 1000), (4096, 32000)]


def shape_name(shape: tuple) -> str:
    return "x".join(str(n) for n in shape)


@dataclass(frozen=True)
class Case:
    loss: Loss
    shape: tuple

    @property
    def id(self) -> str:
        return f"{self.loss.name}:{shape_name(self.shape)}"

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def n_rows(self) -> int:
        return self.shape[0] if self.loss.rowwise else self.size


CASES = [
    Case(loss, shape)
    for loss in LOSSES
    for shape in (
        loss.shapes or (ROWWISE_SHAPES if loss.rowwise else ELEMENTWISE_SHAPES)
    )
]


def select_cases(tokens: list[str]) -> list[Case]:
    """Cases matching any token: a loss name, a shape ("4096x1000"), a case id
    ("huber:4194304"), "elementwise" or "rowwise". Unknown tokens raise."""
    chosen = []
    for token in tokens:
        hits = [
            c
            for c in CASES
            if token in (c.id, c.loss.name, shape_name(c.shape))
            or token == ("rowwise" if c.loss.rowwise else "elementwise")
        ]
        if not hits:
            raise ValueError(f"no case matches {token!r}")
        chosen += [c for c in hits if c not in chosen]
    return [c for c in CASES if c in chosen]  # in table order


def make_inputs(case: Case, seed: int = 0) -> tuple[np.ndarray, ...]:
    """C-contiguous inputs in the fastloss argument order; the first
    ``n_grads`` are what the gradient is taken with respect to."""
    rng = np.random.default_rng(seed)
    shape, kind = case.shape, case.loss.inputs

    def normal(scale=1.0):
        x = rng.standard_normal(shape, dtype=DTYPE)
        if scale != 1.0:
            x *= DTYPE(scale)
        return x

    def labels():
        return (rng.random(shape, dtype=DTYPE) < 0.5).astype(DTYPE)

    if kind == "logits":  # logits with spread ~2, hard 0/1 labels
        return normal(2.0), labels()
    if kind == "regression":  # |r| > 1 on about half the elements
        return normal(), normal()
    if kind == "probs":  # sigmoid(N(0, 2)): inside (eps, 1 - eps), never clipped
        x = normal(2.0)
        np.negative(x, out=x)
        np.exp(x, out=x)
        x += 1
        np.reciprocal(x, out=x)
        return x, labels()
    if kind == "classes":
        return normal(), rng.integers(0, shape[-1], size=shape[:-1], dtype=np.int64)
    if kind == "two_logits":
        return normal(), normal()
    if kind == "triplet":
        # (anchor, positive, negative) rows. positive = anchor + small noise;
        # the negative is a hard one (anchor + the same noise: d_an ~ d_ap, the
        # hinge ~ margin, active) on TRIPLET_HARD of the rows, an unrelated
        # N(0, 1) row elsewhere (d_an ~ sqrt(2 n_features) >> d_ap + margin,
        # inactive): both branches, and no row near the kink, at any width.
        anchor, positive, negative = normal(), normal(TRIPLET_NOISE), normal()
        positive += anchor
        hard = rng.random(shape[:-1]) < TRIPLET_HARD
        negative[hard] *= DTYPE(TRIPLET_NOISE)
        negative[hard] += anchor[hard]
        return anchor, positive, negative
    raise ValueError(kind)


def grad_bytes(case: Case, inputs: tuple[np.ndarray, ...]) -> int:
    """Size of the gradient(s): of the first ``n_grads`` inputs, together."""
    return sum(a.nbytes for a in inputs[: case.loss.n_grads])


def bytes_needed(case: Case, inputs: tuple[np.ndarray, ...]) -> int:
    """Every input read once and the gradient(s) written once: the least
    memory traffic of any fused pass."""
    return sum(a.nbytes for a in inputs) + grad_bytes(case, inputs)


# ---------------------------------------------------------------------------
# Plain NumPy: float32 in, float32 arithmetic, new temporaries every call.
# ``scale`` is 1 / (number of elements, or of rows): the "mean" normaliser,
# explicit so the float64 reference can run on row chunks.


def _sigmoid_and_softplus_tail(x):
    # e = exp(-|x|) once: sigmoid(x) = (1 or e) / (1 + e), softplus(x) =
    # max(x, 0) + log1p(e); neither overflows for any x.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e), np.log1p(e)


def np_bce_logits(x, y, scale):
    p, tail = _sigmoid_and_softplus_tail(x)
    loss = np.maximum(x, 0) - x * y + tail
    return float(loss.sum()) * scale, (p - y) * scale


def np_mse(x, y, scale):
    r = x - y
    loss = float(np.vdot(r, r)) * scale
    r *= 2 * scale
    return loss, r


def np_huber(x, y, scale, delta=HUBER_DELTA):
    r = x - y
    a = np.abs(r)
    loss = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    return float(loss.sum()) * scale, np.clip(r, -delta, delta) * scale


def np_l1(x, y, scale):
    r = x - y
    return float(np.abs(r).sum()) * scale, np.sign(r) * scale


def np_smooth_l1(x, y, scale, beta=SMOOTH_L1_BETA):
    r = x - y
    a = np.abs(r)
    loss = np.where(a < beta, (0.5 / beta) * r * r, a - 0.5 * beta)
    return float(loss.sum()) * scale, np.clip(r / beta, -1, 1) * scale


def np_log_cosh(x, y, scale):
    # log(cosh(r)) = |r| - log 2 + log1p(exp(-2|r|)): no overflow.
    r = x - y
    a = np.abs(r)
    loss = a + np.log1p(np.exp(-2 * a)) - LOG2
    return float(loss.sum()) * scale, np.tanh(r) * scale


def np_sigmoid_focal(x, y, scale, alpha=FOCAL_ALPHA, gamma=FOCAL_GAMMA):
    # torchvision's loss; gradient by hand:
    # a_t [(p - y) m**g + g ce (1 - 2y) p (1 - p) m**(g - 1)],  m = 1 - p_t.
    p, tail = _sigmoid_and_softplus_tail(x)
    ce = np.maximum(x, 0) - x * y + tail
    m = 1 - (p * y + (1 - p) * (1 - y))
    a_t = alpha * y + (1 - alpha) * (1 - y)
    loss = float((a_t * ce * m**gamma).sum()) * scale
    grad = (p - y) * m**gamma + gamma * ce * (1 - 2 * y) * p * (1 - p) * m ** (
        gamma - 1
    )
    grad *= a_t * scale
    return loss, grad


def np_bce(p, y, scale, eps=BCE_EPSILON):
    # Keras: clip, then the logs; the clip's derivative zeroes the gradient
    # outside [eps, 1 - eps].
    eps = p.dtype.type(eps)
    q = np.clip(p, eps, 1 - eps)
    loss = -(y * np.log(q) + (1 - y) * np.log1p(-q))
    grad = (q - y) / (q * (1 - q))
    grad[(p < eps) | (p > 1 - eps)] = 0
    return float(loss.sum()) * scale, grad * scale


def np_softmax_focal(x, t, scale, gamma=SOFTMAX_FOCAL_GAMMA):
    # loss_i = -(1 - q_y)**g log q_y; grad = K (softmax - onehot) with
    # K = (1 - q_y)**g + g q_y (1 - q_y)**(g - 1) (-log q_y).
    rows = np.arange(x.shape[0])
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1)
    logq = shifted[rows, t] - np.log(s)
    q = np.exp(logq)
    m = 1 - q
    loss = float((-(m**gamma) * logq).sum()) * scale
    k = (m**gamma + gamma * q * m ** (gamma - 1) * -logq) * scale
    grad = e
    grad *= (k / s)[:, None]
    grad[rows, t] -= k
    return loss, grad


def _np_log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def np_kl_div(s, t, scale):
    # sum_c P (log P - log Q) per row; gradient Q - P (temperature 1).
    log_q = _np_log_softmax(s)
    log_p = _np_log_softmax(t)
    p = np.exp(log_p)
    loss = float((p * (log_p - log_q)).sum()) * scale
    grad = np.exp(log_q)
    grad -= p
    grad *= scale
    return loss, grad


def np_triplet(
    a, p, n, scale, margin=TRIPLET_MARGIN, eps=TRIPLET_EPS
) -> tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    # torch's triplet_margin_loss, p = 2: with u = a - p + eps, w = a - n + eps,
    # h = ||u|| - ||w|| + margin; rows with h >= 0 (clamp_min's subgradient)
    # have grad_p = -u / ||u||, grad_n = w / ||w||, grad_a = -(grad_p + grad_n);
    # the others 0 (and 0 for a zero norm, as torch's norm).
    eps = a.dtype.type(eps)
    u = a - p
    u += eps
    w = a - n
    w += eps
    d_ap = np.sqrt(np.einsum("ij,ij->i", u, u))
    d_an = np.sqrt(np.einsum("ij,ij->i", w, w))
    h = d_ap - d_an + margin
    active = h >= 0
    loss = float(h[active].sum()) * scale
    c_ap = np.divide(scale, d_ap, out=np.zeros_like(d_ap), where=active & (d_ap > 0))
    c_an = np.divide(scale, d_an, out=np.zeros_like(d_an), where=active & (d_an > 0))
    grad_p = u
    grad_p *= -c_ap[:, None]
    grad_n = w
    grad_n *= c_an[:, None]
    grad_a = grad_p + grad_n
    np.negative(grad_a, out=grad_a)
    return loss, (grad_a, grad_p, grad_n)


def triplet_active_fraction(inputs) -> float:
    """Fraction of rows whose hinge is active (d_ap - d_an + margin > 0), in
    float64: the inputs must exercise both branches."""
    a, p, n = (x.astype(np.float64) for x in inputs)
    d_ap = np.linalg.norm(a - p + TRIPLET_EPS, axis=-1)
    d_an = np.linalg.norm(a - n + TRIPLET_EPS, axis=-1)
    return float(np.mean(d_ap - d_an + TRIPLET_MARGIN > 0))


NUMPY_LOSSES = {
    "bce_logits": np_bce_logits,
    "mse": np_mse,
    "huber": np_huber,
    "l1": np_l1,
    "smooth_l1": np_smooth_l1,
    "log_cosh": np_log_cosh,
    "sigmoid_focal": np_sigmoid_focal,
    "bce": np_bce,
    "softmax_focal": np_softmax_focal,
    "kl_div": np_kl_div,
    "triplet": np_triplet,
}


# ---------------------------------------------------------------------------
# PyTorch, JAX and TensorFlow: each framework's own ops (its built-in loss where
# it has one), gradient by its autodiff. Built on first use.


def torch_losses() -> dict:
    import torch
    import torch.nn.functional as F

    def sigmoid_focal(x, y):  # torchvision.ops.sigmoid_focal_loss, mean
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        a_t = FOCAL_ALPHA * y + (1 - FOCAL_ALPHA) * (1 - y)
        return (a_t * ce * (1 - p_t) ** FOCAL_GAMMA).mean()

    def softmax_focal(x, t):
        # log q_y from cross_entropy(reduction="none"): as fast as
        # log_softmax().gather() and faster than x[t] - logsumexp(x) here.
        log_q = -F.cross_entropy(x, t, reduction="none")
        return (-((1 - log_q.exp()) ** SOFTMAX_FOCAL_GAMMA) * log_q).mean()

    def kl_div(s, t):
        return F.kl_div(
            F.log_softmax(s, -1),
            F.log_softmax(t, -1),
            log_target=True,
            reduction="batchmean",
        )

    def triplet(a, p, n):
        return F.triplet_margin_loss(
            a, p, n, margin=TRIPLET_MARGIN, p=TRIPLET_P, eps=TRIPLET_EPS
        )

    return {
        "bce_logits": F.binary_cross_entropy_with_logits,
        "mse": F.mse_loss,
        "huber": lambda x, y: F.huber_loss(x, y, delta=HUBER_DELTA),
        "l1": F.l1_loss,
        "smooth_l1": lambda x, y: F.smooth_l1_loss(x, y, beta=SMOOTH_L1_BETA),
        # No built-in; the usual stable form (Keras' too).
        "log_cosh": lambda x, y: (x - y + F.softplus(-2 * (x - y)) - LOG2).mean(),
        "sigmoid_focal": sigmoid_focal,
        # torch's fused kernel; it clamps the logs instead of clipping the
        # probabilities, identical here since no input is outside the clip.
        "bce": F.binary_cross_entropy,
        "softmax_focal": softmax_focal,
        "kl_div": kl_div,
        "triplet": triplet,
    }


def jax_losses() -> dict:
    import jax
    import jax.numpy as jnp

    def bce_logits(x, y):
        return jnp.mean(jnp.maximum(x, 0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x))))

    def huber(x, y, d=HUBER_DELTA):
        r = x - y
        a = jnp.abs(r)
        return jnp.mean(jnp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d)))

    def smooth_l1(x, y, b=SMOOTH_L1_BETA):
        r = x - y
        a = jnp.abs(r)
        return jnp.mean(jnp.where(a < b, 0.5 * r * r / b, a - 0.5 * b))

    def log_cosh(x, y):
        r = x - y
        return jnp.mean(r + jax.nn.softplus(-2 * r) - LOG2)

    def sigmoid_focal(x, y):
        p = jax.nn.sigmoid(x)
        ce = jnp.maximum(x, 0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x)))
        p_t = p * y + (1 - p) * (1 - y)
        a_t = FOCAL_ALPHA * y + (1 - FOCAL_ALPHA) * (1 - y)
        return jnp.mean(a_t * ce * (1 - p_t) ** FOCAL_GAMMA)

    def bce(p, y):  # Keras' JAX backend
        q = jnp.clip(p, BCE_EPSILON, 1 - BCE_EPSILON)
        return jnp.mean(-(y * jnp.log(q) + (1 - y) * jnp.log(1 - q)))

    def softmax_focal(x, t):
        # x[t] - logsumexp(x): XLA's fastest plain form of log q_y (see _impls.py)
        picked = jnp.take_along_axis(x, t[:, None], axis=-1)[:, 0]
        log_q = picked - jax.nn.logsumexp(x, axis=-1)
        return jnp.mean(-((1 - jnp.exp(log_q)) ** SOFTMAX_FOCAL_GAMMA) * log_q)

    def kl_div(s, t):
        log_q = jax.nn.log_softmax(s, axis=-1)
        log_p = jax.nn.log_softmax(t, axis=-1)
        return jnp.sum(jnp.exp(log_p) * (log_p - log_q)) / s.shape[0]

    def triplet(a, p, n):  # torch's, with its pairwise_distance
        d_ap = jnp.linalg.norm(a - p + TRIPLET_EPS, ord=TRIPLET_P, axis=-1)
        d_an = jnp.linalg.norm(a - n + TRIPLET_EPS, ord=TRIPLET_P, axis=-1)
        return jnp.mean(jnp.maximum(d_ap - d_an + TRIPLET_MARGIN, 0))

    return {
        "bce_logits": bce_logits,
        "mse": lambda x, y: jnp.mean(jnp.square(x - y)),
        "huber": huber,
        "l1": lambda x, y: jnp.mean(jnp.abs(x - y)),
        "smooth_l1": smooth_l1,
        "log_cosh": log_cosh,
        "sigmoid_focal": sigmoid_focal,
        "bce": bce,
        "softmax_focal": softmax_focal,
        "kl_div": kl_div,
        "triplet": triplet,
    }


def tf_losses() -> dict:
    import tensorflow as tf

    def bce_logits(x, y):  # what Keras' from_logits=True calls
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, x))

    def huber(x, y, d=HUBER_DELTA):
        r = x - y
        a = tf.abs(r)
        return tf.reduce_mean(tf.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d)))

    def smooth_l1(x, y, b=SMOOTH_L1_BETA):
        r = x - y
        a = tf.abs(r)
        return tf.reduce_mean(tf.where(a < b, 0.5 * r * r / b, a - 0.5 * b))

    def log_cosh(x, y):  # Keras' log_cosh
        r = x - y
        return tf.reduce_mean(r + tf.nn.softplus(-2 * r) - LOG2)

    def sigmoid_focal(x, y):
        p = tf.sigmoid(x)
        ce = tf.nn.sigmoid_cross_entropy_with_logits(y, x)
        p_t = p * y + (1 - p) * (1 - y)
        a_t = FOCAL_ALPHA * y + (1 - FOCAL_ALPHA) * (1 - y)
        return tf.reduce_mean(a_t * ce * (1 - p_t) ** FOCAL_GAMMA)

    def bce(p, y):  # Keras' TensorFlow backend, from_logits=False
        q = tf.clip_by_value(p, BCE_EPSILON, 1 - BCE_EPSILON)
        return tf.reduce_mean(-(y * tf.math.log(q) + (1 - y) * tf.math.log(1 - q)))

    def softmax_focal(x, t):
        picked = tf.gather(x, t, axis=1, batch_dims=1)
        log_q = picked - tf.reduce_logsumexp(x, axis=-1)
        return tf.reduce_mean(-((1 - tf.exp(log_q)) ** SOFTMAX_FOCAL_GAMMA) * log_q)

    def kl_div(s, t):
        log_q = tf.nn.log_softmax(s, axis=-1)
        log_p = tf.nn.log_softmax(t, axis=-1)
        n = tf.cast(tf.shape(s)[0], s.dtype)
        return tf.reduce_sum(tf.exp(log_p) * (log_p - log_q)) / n

    def triplet(a, p, n):  # torch's, with its pairwise_distance
        d_ap = tf.norm(a - p + TRIPLET_EPS, ord=TRIPLET_P, axis=-1)
        d_an = tf.norm(a - n + TRIPLET_EPS, ord=TRIPLET_P, axis=-1)
        return tf.reduce_mean(tf.maximum(d_ap - d_an + TRIPLET_MARGIN, 0.0))

    return {
        "bce_logits": bce_logits,
        "mse": lambda x, y: tf.reduce_mean(tf.square(x - y)),
        "huber": huber,
        "l1": lambda x, y: tf.reduce_mean(tf.abs(x - y)),
        "smooth_l1": smooth_l1,
        "log_cosh": log_cosh,
        "sigmoid_focal": sigmoid_focal,
        "bce": bce,
        "softmax_focal": softmax_focal,
        "kl_div": kl_div,
        "triplet": triplet,
    }


# ---------------------------------------------------------------------------
# Extra memory of one call


_libc = None


def _malloc_trim() -> None:
    # Hand freed heap pages back to the kernel, so a call that reuses them has
    # to fault them in again and shows up in the peak RSS (glibc only).
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name) if name else False
    if _libc and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_peak_growth(call: Callable[[], object]) -> int | None:
    """Peak resident memory during one ``call`` above the resident memory just
    before it, in bytes (Linux: VmHWM after resetting it through
    /proc/self/clear_refs); None where that is unavailable. Freed heap pages
    are returned first (malloc_trim), but an allocator with its own pool (XLA,
    TensorFlow) hides its allocations, and heap fragmentation can add to them."""
    try:
        _malloc_trim()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current RSS
        before = _status_kib("VmRSS")
    except OSError:
        return None
    result = call()
    peak = _status_kib("VmHWM")
    del result
    return max(0, peak - before) * 1024


def traced_peak(call: Callable[[], object]) -> int:
    """Peak bytes allocated through Python's and NumPy's allocators (both report
    to tracemalloc) during one call, the returned result included."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        if started:
            tracemalloc.stop()
    return peak - base


def torch_peak(call: Callable[[], object]) -> int:
    """Peak bytes live in torch's CPU allocator during one call above the level
    before it, the returned gradient included, from the running total that the
    profiler records with each allocation and free (profile_memory=True)."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = call()
    del result
    events, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            fields = node.extra_fields
            events.append(
                (node.start_time_ns, fields.alloc_size, fields.total_allocated)
            )
        stack.extend(node.children)
    if not events:
        return 0
    events.sort()
    # total_allocated is the allocator's running total of live bytes, whatever
    # was allocated before the call included: subtract the level it started at.
    _, size, total = events[0]
    return max(t for _, _, t in events) - (total - size)


# ---------------------------------------------------------------------------
# The table


@dataclass
class Runner:
    """``call()`` is timed. ``memory()`` gives (bytes, how measured): the extra
    memory of one call, the returned gradient(s) included."""

    call: Callable[[], tuple]
    memory: Callable[[], tuple[int, str]] | None = None


@dataclass(frozen=True)
class Impl:
    name: str
    module: str  # importable module whose absence skips this entry
    prepare: Callable[[Case, tuple], Runner]
    note: str
    is_fastloss: bool = False


def _warm(runner: Runner) -> Runner:
    runner.call()  # compiles (jax, tf), loads libraries, starts thread pools
    return runner


def _fastloss(case: Case):
    import fastloss

    return getattr(fastloss, case.loss.func)


def prepare_fastloss_out(case, inputs):
    fn, options = _fastloss(case), case.loss.options
    out = tuple(np.empty_like(a) for a in inputs[: case.loss.n_grads])
    for buf in out:
        buf.fill(0)  # touched once, as by a training loop's first step
    if case.loss.n_grads == 1:
        (out,) = out

    def call():
        return fn(*inputs, **options, n_threads=N_THREADS, out=out)

    return _warm(Runner(call, lambda: (traced_peak(call), "tracemalloc")))


def prepare_fastloss_fresh(case, inputs):
    fn, options = _fastloss(case), case.loss.options

    def call():
        return fn(*inputs, **options, n_threads=N_THREADS)

    return _warm(Runner(call, lambda: (traced_peak(call), "tracemalloc")))


_limited = None


def prepare_numpy(case, inputs):
    global _limited
    try:
        from threadpoolctl import threadpool_limits

        # vdot (mse) is BLAS: cap its threads too. Kept for the process.
        _limited = _limited or threadpool_limits(N_THREADS)
    except ImportError:
        pass
    fn = NUMPY_LOSSES[case.loss.name]
    scale = 1.0 / case.n_rows

    def call():
        return fn(*inputs, scale)

    return _warm(Runner(call, lambda: (traced_peak(call), "tracemalloc")))


def prepare_torch(case, inputs):
    import torch

    torch.set_num_threads(N_THREADS)
    fn = torch_losses()[case.loss.name]
    n = case.loss.n_grads
    args = [torch.from_numpy(a) for a in inputs]  # shares memory, no copy
    xs = [a.requires_grad_(True) for a in args[:n]]

    def call():
        loss = fn(*args)
        grads = torch.autograd.grad(loss, xs)
        return loss.item(), grads[0] if n == 1 else grads

    return _warm(Runner(call, lambda: (torch_peak(call), "torch allocator peak")))


def prepare_jax(case, inputs):
    import jax

    fn = jax_losses()[case.loss.name]
    args = [jax.device_put(a) for a in inputs]
    if case.loss.inputs == "classes":
        args[1] = jax.device_put(inputs[1].astype(np.int32))  # jax's int width
    n = case.loss.n_grads
    argnums = 0 if n == 1 else tuple(range(n))  # a tuple of gradients for n > 1
    compiled = jax.jit(jax.value_and_grad(fn, argnums=argnums)).lower(*args).compile()

    def call():
        return jax.block_until_ready(compiled(*args))

    def memory():
        # XLA's buffer assignment: scratch plus outputs (the gradient(s)).
        stats = compiled.memory_analysis()
        return stats.temp_size_in_bytes + stats.output_size_in_bytes, "XLA temp+out"

    return _warm(Runner(call, memory))


_tf_configured = False


def _tensorflow():
    global _tf_configured
    import tensorflow as tf

    if not _tf_configured:
        tf.get_logger().setLevel("ERROR")  # one tf.function per case: no retrace talk
        try:  # only possible before TensorFlow's runtime starts
            tf.config.threading.set_intra_op_parallelism_threads(N_THREADS)
            tf.config.threading.set_inter_op_parallelism_threads(N_THREADS)
        except RuntimeError:
            pass
        _tf_configured = True
    return tf


def prepare_tensorflow(case, inputs):
    tf = _tensorflow()
    fn = tf_losses()[case.loss.name]
    n = case.loss.n_grads
    args = [tf.constant(a) for a in inputs]

    @tf.function(jit_compile=True)
    def step(*tensors):
        xs = list(tensors[:n])
        with tf.GradientTape() as tape:
            tape.watch(xs)
            loss = fn(*tensors)
        grads = tape.gradient(loss, xs)
        return loss, grads[0] if n == 1 else tuple(grads)

    def call():
        loss, grad = step(*args)
        return loss.numpy(), grad  # eager CPU ops are synchronous: grads are done

    def memory():
        # TensorFlow's CPU allocator keeps statistics (XLA's buffers included).
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        result = call()
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
        del result
        return peak - before, "TF allocator peak"

    return _warm(Runner(call, memory))


IMPLS = [
    Impl(
        "fastloss",
        "fastloss",
        prepare_fastloss_out,
        "fastloss *_and_grad(..., n_threads=2, out=buf), buf reused across calls",
        is_fastloss=True,
    ),
    Impl(
        "fastloss-fresh",
        "fastloss",
        prepare_fastloss_fresh,
        "fastloss *_and_grad(..., n_threads=2): a new gradient array every call",
        is_fastloss=True,
    ),
    Impl(
        "numpy",
        "numpy",
        prepare_numpy,
        "plain float32 NumPy, stable forms, new temporaries every call",
    ),
    Impl(
        "torch",
        "torch",
        prepare_torch,
        "torch.nn.functional loss + torch.autograd.grad, set_num_threads(2)",
    ),
    Impl(
        "jax",
        "jax",
        prepare_jax,
        "jax.jit(jax.value_and_grad(f)) compiled ahead, block_until_ready",
    ),
    Impl(
        "tensorflow",
        "tensorflow",
        prepare_tensorflow,
        "tf.function(jit_compile=True) of the loss and its GradientTape gradient",
    ),
]
IMPL_BY_NAME = {impl.name: impl for impl in IMPLS}
REFERENCE_IMPL = "fastloss"  # every ratio is taken against this entry


def is_available(impl: Impl, case: Case | None = None) -> bool:
    """True when the entry's module imports (and, for fastloss, has the case's
    function: another engineer may still be adding it)."""
    try:
        module = importlib.import_module(impl.module)
    except Exception:  # noqa: BLE001 - a broken install may raise anything
        return False
    return not (impl.is_fastloss and case) or hasattr(module, case.loss.func)


# ---------------------------------------------------------------------------
# Agreement with float64: a fast wrong answer must not be benchmarked silently.


def reference(case: Case, inputs, grad_rows: int = 8, chunk: int = 1 << 22):
    """(loss, first gradient entries) in float64 from the NumPy twin, a few
    million elements at a time for the row-wise losses. Elementwise: the whole
    gradient; row-wise: its first ``grad_rows`` rows (of each gradient, a tuple
    of them for ``n_grads`` > 1)."""
    fn, scale = NUMPY_LOSSES[case.loss.name], 1.0 / case.n_rows
    if not case.loss.rowwise:
        loss, grad = fn(*(a.astype(np.float64) for a in inputs), scale)
        return loss, grad
    step = max(1, chunk // case.shape[-1])
    total, head = 0.0, None
    for start in range(0, case.shape[0], step):
        part = [a[start : start + step] for a in inputs]
        part = [a.astype(np.float64) if a.dtype == DTYPE else a for a in part]
        loss, grad = fn(*part, scale)
        total += loss
        if head is None:
            head = tuple(g[:grad_rows] for g in as_grads(grad))
    return total, head[0] if len(head) == 1 else head


def as_grads(grad) -> tuple[np.ndarray, ...]:
    """An implementation's gradient, or tuple of gradients, as a tuple of
    NumPy arrays (torch and TensorFlow tensors converted)."""
    grads = grad if isinstance(grad, (tuple, list)) else (grad,)
    return tuple(g.numpy() if hasattr(g, "numpy") else np.asarray(g) for g in grads)


def check_result(case: Case, result, ref) -> str:
    """'' when ``result`` = (loss, grad) matches the float64 reference, else
    what differs; ``grad`` is a tuple of ``n_grads`` gradients when that is
    over 1, each compared."""
    (loss, grad), (ref_loss, ref_grad) = result, ref
    loss = float(np.asarray(loss))
    grads, ref_grads = as_grads(grad), as_grads(ref_grad)
    if len(grads) != len(ref_grads):
        return f"{len(grads)} gradients, not {len(ref_grads)}"
    names = [f"grad[{i}]" for i in range(len(grads))] if len(grads) > 1 else ["grad"]
    for which, g in zip(names, grads):
        if g.shape != case.shape or g.dtype != DTYPE:
            return f"{which} is {g.dtype}{g.shape}"
    if not math.isclose(loss, ref_loss, rel_tol=1e-4, abs_tol=1e-7):
        return f"loss {loss!r} vs float64 {ref_loss!r}"
    for which, g, ref_g in zip(names, grads, ref_grads):
        got = g[: ref_g.shape[0]].astype(np.float64)
        err = float(np.abs(got - ref_g).max())
        scale = float(np.abs(ref_g).max())
        if not err <= 1e-4 * scale:
            return f"{which} max error {err:.3g} (scale {scale:.3g})"
    return ""
