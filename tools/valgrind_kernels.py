"""Every fastloss kernel on small arrays: the workload tools/valgrind.sh runs under
valgrind's memcheck.

Each public loss in ``fastloss.__all__`` and its ``_and_grad`` twin is called on
every SIMD path available, in float32 and float64 (float16 once), with every
reduction, with n_threads 1 and 2, with the options that pick other kernel branches
(class and sample weights, ignore_index, label smoothing, z-loss, probability
targets, ...), and for the gradient with a fresh buffer and, where the function
takes ``out=``, into a caller's buffer and into the input itself (in place). Shapes
are chosen for the kernels' code paths (src_c/fl_common.h): short rows (the padded
c <= 16 and c <= 32 windows, with a remainder block), generic rows, rows long enough
to be chunked and split across threads, and enough rows for several reduction
blocks on two threads. Bad arguments are passed too, so the kernels' error returns
(a class index out of range) and the bindings' overlap checks run.

The loss of ``name`` and of ``name_and_grad``, and the three gradients (fresh, into
out=, in place), must agree bit for bit: a read of memory the kernel did not write
would show there as well as in memcheck. A public loss this script has no case for
is an error (add one to CASES).

    python tools/valgrind_kernels.py [--quick]

``--quick`` keeps one thread count and the small shapes (a smoke run).
``FASTLOSS_VG_REQUIRE_SIMD=baseline,avx2`` fails unless those paths are available
(valgrind.sh passes the paths the CPU has outside valgrind). avx512 is not
required: valgrind 3.19 does not emulate AVX-512 (its CPUID hides it), so that
path cannot run under memcheck.
"""

import inspect
import os
import sys
import time

import numpy as np

import fastloss
from fastloss import _table

REDUCTIONS = ("none", "mean", "sum")
DTYPES = (np.float32, np.float64)
THREADS = (1, 2)
# (rows, classes) per kernel path: tiny windows c <= 16 and c <= 32 (5 and 33 rows:
# a partial block of 32 rows), the generic row loop, then the threaded paths.
SMALL = ((5, 7), (33, 20), (4, 37))
# The threaded paths need at least FL_PARALLEL_MIN (32768) elements: 2 rows of
# c >= FL_SPLIT_MIN_COLS (16384), fewer than 2 rows per thread, are chunked and split
# across the threads; 993 rows of 33 are 3 row blocks (elementwise: 9 blocks). Under
# valgrind these dominate the run time, so they take the first BIG_VARIANTS option
# sets of each loss and reduction "none" only (which writes every output).
BIG = ((2, 16400), (993, 33))
BIG_VARIANTS = 2
IGNORE = -100


# ---- inputs ----------------------------------------------------------------------
def _logits(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype) * 3
    if shape[-1] > 2:
        x[..., 1] = -np.inf  # a masked class
    return x


def _hard_target(rng, shape, ignore=True):
    n, c = shape
    y = rng.integers(0, c, n)
    y[y == 1] = 0  # never the masked class
    if ignore and n > 1:
        y[::3] = IGNORE
    return y


def _probs(rng, shape, dtype):
    p = rng.random(shape)
    if shape[-1] > 2:
        p[..., 1] = 0.0  # zero probability facing the masked class
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


def _positive(rng, n, dtype):
    return (rng.random(n) + 0.5).astype(dtype)


# ---- cases: name -> f(rng, shape, dtype) -> [(args, kwargs), ...] -----------------
# The first positional argument is the one differentiated (out=) and the one written
# over for the in-place call (triplet: the first three).
def _sce(rng, shape, dtype):
    n, c = shape
    x, y = _logits(rng, shape, dtype), _hard_target(rng, shape)
    w, sw = _positive(rng, c, dtype), _positive(rng, n, dtype)
    p = _probs(rng, shape, dtype)
    y0 = _hard_target(rng, shape, ignore=False)
    return [
        ((x, y), {}),
        ((x, y), {"class_weight": w, "sample_weight": sw}),
        ((x, y), {"class_weight": w, "label_smoothing": 0.1}),
        ((x, y), {"label_smoothing": 0.2, "z_loss": 1e-3, "sample_weight": sw}),
        ((x, y0), {"ignore_index": 0}),
        ((x, p), {}),
        ((x, p), {"class_weight": w, "sample_weight": sw, "label_smoothing": 0.1}),
    ]


def _perplexity(rng, shape, dtype):
    x = _logits(rng, shape, dtype)
    return [((x, _hard_target(rng, shape)), {})]


def _softmax_focal(rng, shape, dtype):
    n, c = shape
    x, y = _logits(rng, shape, dtype), _hard_target(rng, shape)
    return [
        ((x, y), {}),
        ((x, y), {"gamma": 0.5, "class_weight": _positive(rng, c, dtype)}),
        ((x, y), {"gamma": 0.0, "sample_weight": _positive(rng, n, dtype)}),
        ((x, y), {"gamma": 3.0}),
    ]


def _kl(rng, shape, dtype):
    n, _ = shape
    s, t = _logits(rng, shape, dtype), _logits(rng, shape, dtype)
    return [
        ((s, t), {}),
        ((s, t), {"temperature": 2.0, "sample_weight": _positive(rng, n, dtype)}),
        ((s, _probs(rng, shape, dtype)), {"teacher_probs": True}),
        ((s, _probs(rng, shape, dtype)), {"teacher_probs": True, "temperature": 0.5}),
    ]


def _triplet(rng, shape, dtype):
    n, _ = shape
    a, p, q = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    return [
        ((a, p, q), {}),
        ((a, p, q), {"p": 1, "swap": True}),
        (
            (a, p, q),
            {"p": 3.0, "margin": 0.5, "sample_weight": _positive(rng, n, dtype)},
        ),
        ((a, a, q), {"swap": True}),  # equal distances: the swap tie
    ]


def _categorical_hinge(rng, shape, dtype):
    n, c = shape
    x = rng.standard_normal(shape).astype(dtype) * 2
    t = (np.arange(c) == rng.integers(0, c, n)[:, None]).astype(dtype)
    return [
        ((x, t), {}),
        ((x, t), {"sample_weight": _positive(rng, n, dtype)}),
        ((x, rng.random(shape).astype(dtype)), {}),  # class weights, not one-hot
        ((x[0], t[0]), {}),  # 1-D: one row
    ]


def _gce(rng, shape, dtype):
    n, _ = shape
    p, y = _probs(rng, shape, dtype), _hard_target(rng, shape)
    return [
        ((p, y), {}),
        ((p, y), {"q": 0.1, "sample_weight": _positive(rng, n, dtype)}),
        ((p, y), {"q": 1.0}),
    ]


def _pair_rows(extra):
    """Cosine, Dice, Tversky: (pred, target) rows of one shape."""

    def cases(rng, shape, dtype):
        n, _ = shape
        x, t = _probs(rng, shape, dtype), rng.random(shape).astype(dtype)
        zero = x.copy()
        zero[0] = 0  # a zero row: epsilon's guard
        out = [
            ((x, t), {}),
            ((x, t), {"sample_weight": _positive(rng, n, dtype)}),
            ((zero, t), {}),
            ((x[0], t[0]), {}),  # 1-D: one row
        ]
        return out + [((x, t), kw) for kw in extra]

    return cases


def _circle(rng, shape, dtype):
    n, c = shape
    e = rng.standard_normal(shape).astype(dtype)
    labels = rng.integers(0, max(n // 2, 1), n)
    return [
        ((e, labels), {}),
        ((e, labels), {"remove_diagonal": False, "gamma": 4.0}),
        ((e, labels), {"sample_weight": _positive(rng, n, dtype), "margin": 0.1}),
    ]


def _elementwise(extra):
    """Regression and binary losses: (input, target) of any shape."""

    def cases(rng, shape, dtype):
        n, c = shape
        x = rng.standard_normal(shape).astype(dtype) * 2
        t = rng.random(shape).astype(dtype)
        out = [
            ((x, t), {}),
            ((x, t), {"weight": _positive(rng, c, dtype)}),  # broadcast per column
            ((x, t), {"sample_weight": _positive(rng, n, dtype)}),
            ((x.reshape(-1), t.reshape(-1)), {}),  # 1-D
        ]
        return out + [((x, t), kw) for kw in extra(rng, shape, dtype)]

    return cases


def _bce_probs(rng, shape, dtype):
    n, c = shape
    p = rng.uniform(0.0, 1.0, shape).astype(dtype)
    p.flat[0] = 0.0  # clipped by epsilon
    t = (rng.random(shape) > 0.5).astype(dtype)
    return [
        ((p, t), {}),
        ((p, t), {"label_smoothing": 0.1, "weight": _positive(rng, c, dtype)}),
        ((p, t), {"epsilon": 1e-3, "sample_weight": _positive(rng, n, dtype)}),
    ]


def _normalizer(rng, shape, dtype):
    n, c = shape
    y = _hard_target(rng, shape)
    return [
        ((y,), {}),
        (
            (y,),
            {
                "class_weight": _positive(rng, c, dtype),
                "sample_weight": _positive(rng, n, dtype),
            },
        ),
        ((_probs(rng, shape, dtype),), {}),
    ]


def _linear_ce(rng, shape, dtype):
    n, c = shape
    d = 8
    h = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal((c, d)).astype(dtype)
    y, y0 = _hard_target(rng, shape), _hard_target(rng, shape, ignore=False)
    cw, sw = _positive(rng, c, dtype), _positive(rng, n, dtype)
    return [
        ((h, w, y0), {}),
        ((h, w, y), {"bias": rng.standard_normal(c).astype(dtype), "chunk_size": 2}),
        ((h, w, y), {"class_weight": cw, "sample_weight": sw, "label_smoothing": 0.1}),
        ((h, np.asfortranarray(w), y0), {"z_loss": 1e-3, "chunk_size": 3}),
    ]


def _ctc(rng, shape, dtype):
    """(T, N, C) frames over the shape's rows and classes; label lengths from 0 to
    3, one sequence with too few frames (inf: NaN gradient, or 0 with
    zero_infinity), labels in [1, c) (0 is the blank; c - 1 for the labels - 1)."""
    n, c = shape
    t = 5
    lp = rng.standard_normal((t, n, c)).astype(dtype)
    if c < 2:
        return []
    y = rng.integers(1, c, (n, 3))
    il, tl = rng.integers(0, t + 1, n), rng.integers(0, 4, n)
    il[0], tl[0] = 1, 3
    flat = np.concatenate([y[i, : tl[i]] for i in range(n)])
    return [
        ((lp, y, il, tl), {}),
        ((lp, flat, il, tl), {"zero_infinity": True, "from_logits": True}),
        ((lp, y - 1, il, tl), {"blank": c - 1, "zero_infinity": True}),
        ((lp, y, il, tl), {"sample_weight": _positive(rng, n, dtype)}),
    ]


CASES = {
    "softmax_cross_entropy": _sce,
    "perplexity": _perplexity,
    "softmax_focal_loss": _softmax_focal,
    "kl_div_with_logits": _kl,
    "triplet_margin_loss": _triplet,
    "mse_loss": _elementwise(lambda rng, s, d: []),
    "l1_loss": _elementwise(lambda rng, s, d: []),
    "log_cosh_loss": _elementwise(lambda rng, s, d: []),
    "huber_loss": _elementwise(lambda rng, s, d: [{"delta": 0.3}]),
    "smooth_l1_loss": _elementwise(lambda rng, s, d: [{"beta": 0.3}]),
    "binary_cross_entropy_with_logits": _elementwise(
        lambda rng, s, d: [
            {"pos_weight": _positive(rng, s[-1], d)},
            {"label_smoothing": 0.1, "pos_weight": 2.0},
        ]
    ),
    "sigmoid_focal_loss": _elementwise(
        lambda rng, s, d: [{"alpha": None, "gamma": 0.5}, {"alpha": 0.9, "gamma": 0.0}]
    ),
    "binary_cross_entropy": _bce_probs,
    "cross_entropy_normalizer": _normalizer,
    "linear_cross_entropy": _linear_ce,
    "poisson_loss": _elementwise(lambda rng, s, d: [{"log_input": False}]),
    "hinge_loss": _elementwise(lambda rng, s, d: []),
    "squared_hinge_loss": _elementwise(lambda rng, s, d: []),
    "msle_loss": _elementwise(lambda rng, s, d: [{"epsilon": 0.5}]),
    "mape_loss": _elementwise(lambda rng, s, d: [{"epsilon": 0.0}]),
    "ctc_loss": _ctc,
    "categorical_hinge_loss": _categorical_hinge,
    "categorical_generalized_cross_entropy_loss": _gce,
    "cosine_similarity_loss": _pair_rows([]),
    "dice_loss": _pair_rows([]),
    "tversky_loss": _pair_rows([{"alpha": 0.7, "beta": 0.3}]),
    "circle_loss": _circle,
}


def bad_calls(dtype):
    """(function, args, kwargs, exception) that must raise before writing anything."""
    x = np.zeros((4, 5), dtype)
    y = np.array([0, 1, 9, 2])  # 9 is out of range: found by the kernel
    out = np.zeros((4, 5), dtype)
    return [
        (fastloss.softmax_cross_entropy, (x, y), {}, ValueError),
        (fastloss.softmax_cross_entropy_and_grad, (x, y), {"out": out}, ValueError),
        (fastloss.softmax_focal_loss_and_grad, (x, y), {"out": out}, ValueError),
        (
            fastloss.categorical_generalized_cross_entropy_loss_and_grad,
            (x, y),
            {"out": out},
            ValueError,
        ),
        (fastloss.perplexity, (x, y), {}, ValueError),
        (fastloss.mse_loss, (x, x[:2]), {}, ValueError),
        (fastloss.mse_loss_and_grad, (x, x), {"out": x.reshape(-1)}, ValueError),
        # out overlapping an input without being it: the bindings' pointer check
        (fastloss.mse_loss_and_grad, (x, out), {"out": out}, ValueError),
        (fastloss.kl_div_with_logits_and_grad, (x, out), {"out": out}, ValueError),
        (fastloss.softmax_cross_entropy, (x, y[:3]), {}, ValueError),
        (fastloss.softmax_cross_entropy, (x, y), {"reduction": "avg"}, ValueError),
        (fastloss.mse_loss, (x, x), {"n_threads": 0}, ValueError),
        (fastloss.mse_loss, ("a", x), {}, (TypeError, ValueError)),
    ]


# ---- driver ----------------------------------------------------------------------
def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def _grads_equal(g1, g2):
    if isinstance(g1, tuple):
        return all(_same(a, b) for a, b in zip(g1, g2))
    return _same(g1, g2)


def public_losses():
    # every loss of the loss table, and the normaliser helper, in __all__'s order
    names = {row.name for row in _table.LOSSES} | {"cross_entropy_normalizer"}
    return [name for name in fastloss.__all__ if name in names]


def run_one(name, args, kw, reductions, n_threads):
    """All calls of one case; returns the number of calls."""
    f = getattr(fastloss, name)
    g = getattr(fastloss, name + "_and_grad", None)
    params = inspect.signature(f).parameters
    has_out = g is not None and "out" in inspect.signature(g).parameters
    calls = 0
    for reduction in reductions if "reduction" in params else (None,):
        kwargs = dict(kw)
        if reduction is not None:
            kwargs["reduction"] = reduction
        if "n_threads" in params:
            kwargs["n_threads"] = n_threads
        loss = f(*args, **kwargs)
        calls += 1
        if g is None:
            continue
        res = g(*args, **kwargs)
        calls += 1
        if not _same(loss, res[0]):
            raise AssertionError(f"{name} {kwargs}: loss differs from _and_grad's")
        if not has_out:
            continue
        loss2, grad = res
        ntri = 3 if isinstance(grad, tuple) else 1
        out = (
            tuple(np.empty_like(a) for a in grad) if ntri == 3 else np.empty_like(grad)
        )
        loss3, grad3 = g(*args, out=out, **kwargs)
        own = tuple(np.array(a, copy=True) for a in args[:ntri])
        inplace = own if ntri == 3 else own[0]
        loss4, grad4 = g(*own, *args[ntri:], out=inplace, **kwargs)
        calls += 2
        if not (_same(loss2, loss3) and _same(loss2, loss4)):
            raise AssertionError(f"{name} {kwargs}: losses differ between calls")
        if not (_grads_equal(grad, grad3) and _grads_equal(grad, grad4)):
            raise AssertionError(f"{name} {kwargs}: gradients differ between calls")
    return calls


def optimizer_steps(threads):
    """fastloss.nn's optimizers through the fused step kernels (fl_optim.c): every
    rule, both dtypes, sizes on both sides of the parallel threshold; the NumPy
    path (`_fused = False`) gives the same bits."""
    from fastloss.nn import SGD, Adam, AdamW

    calls = 0
    for dtype in DTYPES:
        for n in (0, 1, 7, 33, 40_000):
            for make in (
                lambda: SGD(learning_rate=0.1),
                lambda: SGD(learning_rate=0.1, momentum=0.9),
                lambda: SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
                lambda: Adam(learning_rate=1e-2),
                lambda: AdamW(learning_rate=1e-2, weight_decay=0.1),
            ):
                rng = np.random.default_rng(n)
                p0 = rng.standard_normal((2, n)).astype(dtype)
                grads = [rng.standard_normal((2, n)).astype(dtype) for _ in range(3)]
                results = []
                for fused, nt in [(True, t) for t in threads] + [(False, 1)]:
                    opt, p = make(), p0.copy()
                    opt._fused, opt._n_threads = fused, nt
                    for g in grads:
                        opt.step([p], [g])
                        calls += 1
                    results.append(p)
                for r in results[1:]:
                    assert np.array_equal(r, results[0]), f"{make().__class__}: n={n}"
    return calls


def main(argv):
    quick = "--quick" in argv
    t0 = time.perf_counter()
    paths = fastloss.config()["simd_available"]
    required = [
        p for p in os.environ.get("FASTLOSS_VG_REQUIRE_SIMD", "").split(",") if p
    ]
    missing = sorted(set(required) - set(paths) - {"avx512"})
    if missing:
        sys.exit(f"valgrind_kernels: SIMD paths {missing} not available here ({paths})")
    names = public_losses()
    uncovered = [n for n in names if n not in CASES]
    if uncovered:
        sys.exit(f"valgrind_kernels: no case for {uncovered}: add them to CASES")
    threads = THREADS[:1] if quick else THREADS
    shapes = [(s, REDUCTIONS, None) for s in SMALL]
    if not quick:
        shapes += [(s, ("none",), BIG_VARIANTS) for s in BIG]
    rng = np.random.default_rng(0)
    calls = 0
    for path in paths:
        fastloss.set_simd(path)
        for name in names:
            for dtype in DTYPES:
                for shape, reductions, n_variants in shapes:
                    for args, kw in CASES[name](rng, shape, dtype)[:n_variants]:
                        for nt in threads:
                            calls += run_one(name, args, kw, reductions, nt)
            # float16 goes through a float32 copy that the gradient overwrites
            for args, kw in CASES[name](rng, SMALL[0], np.float16):
                calls += run_one(name, args, kw, ("mean",), 1)
        for dtype in DTYPES:
            for f, args, kw, exc in bad_calls(dtype):
                try:
                    f(*args, **kw)
                except exc:
                    calls += 1
                else:
                    raise AssertionError(f"{f.__name__}{args, kw}: did not raise")
        calls += optimizer_steps(threads)
    fastloss.set_simd(None)
    print(
        f"valgrind_kernels: {calls} calls, {len(names)} losses (+ _and_grad), "
        f"SIMD paths {paths}, n_threads {threads}, "
        f"{time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
