"""Plain float64 NumPy twin of ``fastloss.softmax_cross_entropy_and_grad``.

Written from the formulas of ``docs/softmax_cross_entropy.md``, not from the
kernel, and it never imports fastloss: log-softmax by max-subtraction, every
operation in float64, one formula per line as the contract states it.

Besides the loss and the gradient, ``reference`` returns for every result the
sum of the absolute values of the terms that make it up (the "scale"). The
rounding error of any stable evaluation order is a modest multiple of the unit
roundoff times that scale, so the tests derive their tolerances from it instead
of guessing an ``atol`` per test. An entry whose scale is zero (an ignored row,
a masked class) must match exactly.

The second half of the module holds NumPy-only helpers shared by the tests:
input builders, the comparison against this twin, and 4th-order central finite
differences.
"""

import math
from typing import NamedTuple

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


class Result(NamedTuple):
    loss: object  # float for "mean"/"sum", float64 array for "none"
    grad: np.ndarray  # float64, shape of the logits
    loss_scale: object  # same shape as ``loss``
    grad_scale: np.ndarray  # same shape as ``grad``


def _times(coef, value):
    """``coef * value`` where a zero coefficient contributes exactly 0.

    The contract drops terms whose coefficient is zero even where the value is
    infinite (``-inf`` masks), so ``0 * inf`` must not become NaN here.
    """
    coef, value = np.broadcast_arrays(np.asarray(coef, float), np.asarray(value))
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(coef == 0, 0.0, coef * value)


def reference(
    logits,
    target,
    *,
    class_weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    z_loss=0.0,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
    out=None,
):
    """Loss, gradient and error scales of softmax cross-entropy, in float64.

    ``n_threads`` and ``out`` are accepted so the package's keyword arguments
    can be passed as they are; they do not change the values.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}")
    x_full = np.asarray(logits, dtype=np.float64)
    lead, n_classes = x_full.shape[:-1], x_full.shape[-1]
    x = x_full.reshape(-1, n_classes)
    n_rows = x.shape[0]
    t = np.asarray(target)
    soft = np.issubdtype(t.dtype, np.floating)
    w = (
        np.ones(n_classes)
        if class_weight is None
        else np.asarray(class_weight, np.float64)
    )
    if sample_weight is None:
        s = np.ones(n_rows)
    else:
        s = np.asarray(sample_weight, np.float64).reshape(n_rows)
    eps = float(label_smoothing)
    z = float(z_loss)
    rows = np.arange(n_rows)

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # log-softmax by max-subtraction; a NaN, +inf or all -inf row gives NaN.
        # q and log q come from x - m, never from x - lse: with |x| ~ 1e30 the
        # log(sum) part of lse is lost to rounding and exp(x - lse) would not
        # sum to one over tied maxima.
        m = np.max(x, axis=1)
        shifted = x - m[:, None]
        sum_exp = np.sum(np.exp(shifted), axis=1)
        lse = m + np.log(sum_exp)
        logp = shifted - np.log(sum_exp)[:, None]
        q = np.exp(shifted) / sum_exp[:, None]
        z_term = _times(z, lse**2)
        # relative error of q from rounding the exp argument x - lse
        q_scale = _times(q, 1.0 + np.abs(logp))
        # lse = m + log(sum_exp) with sum_exp >= 1: rounding sum_exp leaves an
        # absolute error of order one unit roundoff in log(sum_exp) however small
        # lse - x_y is (a confident row), hence the 1 beside |lse|.
        lse_scale = np.abs(lse) + 1.0
        abs_x_lse = lse_scale[:, None] + np.abs(x)
        # z lse^2 inherits that error: d(lse^2) = 2 lse d(lse)
        z_term_scale = z_term + _times(z, 2.0 * np.abs(lse) * lse_scale)

        if soft:
            p = t.astype(np.float64).reshape(n_rows, n_classes)
            p_smooth = (1.0 - eps) * p + eps / n_classes
            wp = w * p_smooth  # w_c * p'_ic
            # l_i = s_i * [ -sum_c w_c p'_ic (x_ic - lse_i) + z lse_i^2 ]
            # a row of sample weight 0 contributes exactly 0, even an infinite loss
            loss_rows = _times(s, -np.sum(_times(wp, logp), axis=1) + z_term)
            loss_rows_scale = np.abs(s) * (
                np.sum(_times(np.abs(wp), abs_x_lse), axis=1) + z_term_scale
            )
            # g_ic = s_i * [ (sum_k w_k p'_ik + 2 z lse_i) q_ic - w_c p'_ic ]
            coef = np.sum(wp, axis=1) + 2.0 * z * lse
            coef_scale = np.sum(np.abs(wp), axis=1) + 2.0 * z * lse_scale
            grad = s[:, None] * (coef[:, None] * q - wp)
            grad_scale = np.abs(s)[:, None] * (
                coef_scale[:, None] * q_scale + np.abs(wp)
            )
            normaliser = np.sum(s)
        else:
            y = t.astype(np.int64).reshape(n_rows)
            keep = y != ignore_index
            y_safe = np.where(keep, y, 0)  # any valid index; those rows are zeroed
            w_y = w[y_safe]
            x_y = x[rows, y_safe]
            onehot = np.zeros((n_rows, n_classes))
            onehot[rows, y_safe] = 1.0
            # l_i = s_i * [ (1-eps) w_y (lse_i - x_iy)
            #              + (eps/C) sum_c w_c (lse_i - x_ic) + z lse_i^2 ]
            # lse - x as -log q: exact for ties of huge logits, same elsewhere
            target_term = _times((1.0 - eps) * w_y, -logp[rows, y_safe])
            smooth_term = np.sum(_times(eps / n_classes * w, -logp), axis=1)
            loss_rows = _times(s, target_term + smooth_term + z_term)
            loss_rows_scale = np.abs(s) * (
                _times(np.abs((1.0 - eps) * w_y), lse_scale + np.abs(x_y))
                + np.sum(_times(eps / n_classes * np.abs(w), abs_x_lse), axis=1)
                + z_term_scale
            )
            # g_ic = s_i * [ ((1-eps) w_y + eps W / C + 2 z lse_i) q_ic
            #               - (1-eps) w_y [c == y] - (eps/C) w_c ]
            coef = (1.0 - eps) * w_y + eps * np.sum(w) / n_classes + 2.0 * z * lse
            coef_scale = (
                np.abs((1.0 - eps) * w_y)
                + eps * np.sum(np.abs(w)) / n_classes
                + 2.0 * z * lse_scale
            )
            grad = s[:, None] * (
                coef[:, None] * q
                - (1.0 - eps) * w_y[:, None] * onehot
                - eps / n_classes * w
            )
            grad_scale = np.abs(s)[:, None] * (
                coef_scale[:, None] * q_scale
                + np.abs((1.0 - eps) * w_y)[:, None] * onehot
                + eps / n_classes * np.abs(w)
            )
            # ignored rows: zero loss, zero gradient, whatever their logits hold
            loss_rows[~keep] = 0.0
            loss_rows_scale[~keep] = 0.0
            grad[~keep] = 0.0
            grad_scale[~keep] = 0.0
            normaliser = np.sum(s[keep] * w_y[keep])

    grad = grad.reshape(x_full.shape)
    grad_scale = grad_scale.reshape(x_full.shape)
    if reduction == "none":
        return Result(
            loss_rows.reshape(lead), grad, loss_rows_scale.reshape(lead), grad_scale
        )
    if reduction == "sum":
        return Result(
            float(np.sum(loss_rows)), grad, float(np.sum(loss_rows_scale)), grad_scale
        )
    if normaliser == 0:
        # documented: mean over an empty normaliser is 0 with a zero gradient
        return Result(0.0, np.zeros_like(grad), 0.0, np.zeros_like(grad))
    d = abs(normaliser)
    return Result(
        float(np.sum(loss_rows) / normaliser),
        grad / normaliser,
        float(np.sum(loss_rows_scale) / d),
        grad_scale / d,
    )


def softmax_cross_entropy_and_grad(logits, target, **options):
    """``(loss, grad)`` of the reference, with the package's signature."""
    result = reference(logits, target, **options)
    return result.loss, result.grad


def softmax_cross_entropy(logits, target, **options):
    """Loss only, of the reference."""
    return softmax_cross_entropy_and_grad(logits, target, **options)[0]


# --------------------------------------------------------------------------
# helpers shared by the tests (NumPy only)
# --------------------------------------------------------------------------

# Unit-roundoff multiples allowed against the scale above. float32 results may
# pass through a float32 exp/log and float32 rows; float16 results are
# computed in float32 and rounded to float16 (unit roundoff 4.9e-4).
RTOL = {
    np.dtype(np.float64): 1e-10,
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float16): 2e-3,
}
# Absolute floor for entries that underflow (exp of a very negative argument
# may be flushed to zero by a vectorised exp).
FLOOR = {
    np.dtype(np.float64): 1e-300,
    np.dtype(np.float32): 1e-35,
    np.dtype(np.float16): 1e-7,
}

OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore": {"ignore": -100},
    "ignore_in_range": {"ignore": 1},
    "smoothing": {"label_smoothing": 0.1},
    "smoothing_one": {"label_smoothing": 1.0},
    "z_loss": {"z_loss": 1e-2},
    "sample_weight": {"sample_weight": True},
    "all": {
        "weight": True,
        "ignore": -100,
        "label_smoothing": 0.2,
        "z_loss": 1e-3,
        "sample_weight": True,
    },
}


def make_case(
    rng,
    shape,
    dtype,
    kind="hard",
    *,
    weight=False,
    ignore=None,
    label_smoothing=0.0,
    z_loss=0.0,
    sample_weight=False,
    scale=3.0,
):
    """Random ``(logits, target, kwargs)`` for one call.

    ``ignore`` is an ``ignore_index`` value; for hard targets about a third of
    the rows (never all of them) get that target. Soft targets are random
    probability rows.
    """
    shape = tuple(shape)
    lead, n_classes = shape[:-1], shape[-1]
    logits = (scale * rng.standard_normal(shape)).astype(dtype)
    kwargs = {}
    if kind == "hard":
        target = np.asarray(rng.integers(0, n_classes, size=lead), dtype=np.int64)
        flat = target.reshape(-1)  # a view, also of a 0-d target
        if ignore is not None and target.size > 1:
            flat[::3] = ignore
        if ignore is not None and target.size and np.all(flat == ignore):
            flat[-1] = 1 if ignore == 0 else 0
    elif kind == "soft":
        p = rng.random(shape) ** 2 + 1e-3
        target = (p / p.sum(axis=-1, keepdims=True)).astype(dtype)
    else:
        raise ValueError(kind)
    if ignore is not None and ignore != -100:
        kwargs["ignore_index"] = ignore
    if weight:
        kwargs["class_weight"] = rng.uniform(0.25, 2.0, n_classes)
    if label_smoothing:
        kwargs["label_smoothing"] = label_smoothing
    if z_loss:
        kwargs["z_loss"] = z_loss
    if sample_weight:
        sw = rng.uniform(0.0, 2.0, lead)
        if sw.ndim and sw.size > 2:
            sw.reshape(-1)[1] = 0.0  # a zero sample weight is legal
        kwargs["sample_weight"] = np.asarray(sw)
    return logits, target, kwargs


def result_dtype(logits_dtype):
    """Dtype of the gradient and of a "none" loss for logits of this dtype."""
    logits_dtype = np.dtype(logits_dtype)
    if logits_dtype.kind in "fc":
        return logits_dtype
    return np.dtype(np.float64)


def assert_close(got, want, scale, dtype, what="value"):
    """``|got - want| <= rtol(dtype) * scale + floor`` with NaN/inf matched exactly."""
    dtype = np.dtype(dtype)
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), want.shape)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), (
        f"{what}: NaN at {np.argwhere(np.isnan(got) != nan)[:5].tolist()}"
        f"\n got {got}\nwant {want}"
    )
    inf = np.isinf(want)
    assert np.array_equal(got[inf], want[inf]), f"{what}: infinities differ"
    finite = ~nan & ~inf
    assert np.all(np.isfinite(got[finite])), f"{what}: got non-finite {got}"
    err = np.abs(got[finite] - want[finite])
    tol = RTOL[dtype] * scale[finite] + FLOOR[dtype]
    bad = err > tol
    if np.any(bad):
        worst = np.argmax(err / tol)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} entries off; worst got "
            f"{got[finite][worst]!r} want {want[finite][worst]!r} "
            f"(err {err[worst]:.3g}, tol {tol[worst]:.3g})"
        )


def check_against_reference(loss, grad, logits, target, options):
    """Assert ``(loss, grad)`` from fastloss match the twin for these inputs."""
    logits = np.asarray(logits)
    dtype = result_dtype(logits.dtype)
    cmp_dtype = dtype
    ref = reference(logits, target, **options)
    reduction = options.get("reduction", "mean")
    assert isinstance(grad, np.ndarray)
    assert grad.dtype == dtype, f"grad dtype {grad.dtype}, want {dtype}"
    assert grad.shape == logits.shape
    if reduction == "none":
        assert isinstance(loss, np.ndarray) or np.ndim(loss) == 0
        assert np.asarray(loss).dtype == dtype, f"loss dtype {np.asarray(loss).dtype}"
        assert np.shape(loss) == logits.shape[:-1]
    else:
        assert isinstance(loss, float), f"loss is {type(loss)}, want a float"
        # "mean"/"sum" are accumulated in float64: only the row terms carry the
        # compute dtype's rounding.
        cmp_dtype = np.float32 if dtype == np.float16 else dtype
    assert_close(loss, ref.loss, ref.loss_scale, cmp_dtype, "loss")
    assert_close(grad, ref.grad, ref.grad_scale, dtype, "grad")
    return ref


def numerical_gradient(f, x, h=1e-3):
    """4th-order central differences of the scalar function ``f`` at ``x``."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        orig = x[idx]
        values = []
        for k in (2, 1, -1, -2):
            x[idx] = orig + k * h
            values.append(float(f(x.copy())))
        x[idx] = orig
        fp2, fp1, fm1, fm2 = values
        grad[idx] = (-fp2 + 8.0 * fp1 - 8.0 * fm1 + fm2) / (12.0 * h)
    return grad


def non_contiguous(a):
    """A copy of ``a`` laid out with a negative, non-unit stride on its last axis."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a.copy()
    buf = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    view = buf[..., ::-2]
    view[...] = a
    return view


def read_only(a):
    """A read-only copy of ``a``."""
    a = np.array(a)
    a.setflags(write=False)
    return a


def snapshot(*arrays):
    """Copies (with dtype, shape and bytes) of ``arrays`` to check later."""
    return [
        (a, None if a is None else (np.asarray(a).dtype, np.shape(a), np.array(a)))
        for a in arrays
    ]


def assert_unchanged(snap):
    """Every array recorded by ``snapshot`` still holds the same bytes."""
    for i, (a, saved) in enumerate(snap):
        if a is None:
            continue
        dtype, shape, copy = saved
        now = np.asarray(a)
        assert now.dtype == dtype and now.shape == shape, f"argument {i} reshaped"
        assert now.tobytes() == copy.tobytes(), f"argument {i} was modified"


def assert_same_bits(a, b):
    """``a`` and ``b`` are the same value bit for bit (floats or arrays)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), "arrays differ in some bits"
        return
    assert type(a) is type(b), f"{type(a)} vs {type(b)}"
    assert np.float64(a).tobytes() == np.float64(b).tobytes(), f"{a!r} != {b!r}"
    assert a == b or (math.isnan(a) and math.isnan(b))
