"""The row-wise losses (softmax focal, KL with logits, perplexity, triplet margin):
against the float64 twins of ``_reference_rowwise``, finite differences, PyTorch,
on extreme values, across threads and SIMD paths, and on bad input."""

import doctest
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _matrix import DTYPES, N_THREADS, REDUCTIONS, table_losses
from _reference import (
    assert_close,
    assert_same_bits,
    assert_unchanged,
    make_case,
    non_contiguous,
    numerical_gradient,
    read_only,
    snapshot,
)
from _reference import softmax_cross_entropy as sce_ref
from _reference_rowwise import (
    kl_div_with_logits_ref,
    perplexity_ref,
    softmax_focal_loss_ref,
    triplet_hinge_ref,
    triplet_margin_loss_ref,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastloss
import fastloss._rowwise

# --------------------------------------------------------------------------------
# case builders and the comparison against the twins
# --------------------------------------------------------------------------------


def focal_case(rng, shape, dtype, *, gamma=2.0, alpha=False, ignore=None, sw=False):
    logits, target, kw = make_case(
        rng, shape, dtype, "hard", ignore=ignore, sample_weight=sw
    )
    kw["gamma"] = gamma
    if alpha:
        kw["class_weight"] = rng.uniform(0.25, 2.0, shape[-1])
    return (logits, target), kw


def kl_case(rng, shape, dtype, *, temperature=1.0, probs=False, sw=False):
    student = (3.0 * rng.standard_normal(shape)).astype(dtype)
    if probs:
        p = rng.random(shape) ** 2
        p[p < 0.1] = 0.0  # exact zeros: their terms must be 0
        p[..., 0] += 1e-3  # no all-zero row
        teacher = (p / p.sum(axis=-1, keepdims=True)).astype(dtype)
    else:
        teacher = (3.0 * rng.standard_normal(shape)).astype(dtype)
    kw = {"temperature": temperature, "teacher_probs": probs}
    if sw:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, shape[:-1])
    return (student, teacher), kw


def triplet_case(rng, shape, dtype, *, p=2, swap=False, margin=1.0, sw=False):
    a, pos, neg = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    kw = {"p": p, "swap": swap, "margin": margin}
    if sw:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, shape[:-1])
    return (a, pos, neg), kw


# id -> (loss, loss_and_grad, twin, case builder), for every row-wise loss of the
# loss table (fastloss/_table.py) that has a gradient
LOSSES = table_losses(
    "_rowwise",
    {
        "softmax_focal_loss": ("focal", softmax_focal_loss_ref, focal_case),
        "kl_div_with_logits": ("kl", kl_div_with_logits_ref, kl_case),
        "triplet_margin_loss": ("triplet", triplet_margin_loss_ref, triplet_case),
    },
)


def _grads(grad):
    return grad if isinstance(grad, tuple) else (grad,)


def check_twin(name, loss, grad, args, kw):
    """``(loss, grad)`` of loss `name` match its twin for these inputs."""
    ref = LOSSES[name][2](*args, **kw)
    dtype = np.asarray(args[0]).dtype
    dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    reduction = kw.get("reduction", "mean")
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == dtype
        assert loss.shape == np.shape(args[0])[:-1]
        cmp = dtype
    else:
        assert isinstance(loss, float), type(loss)
        cmp = np.float32 if dtype == np.float16 else dtype
    assert_close(loss, ref.loss, ref.loss_scale, cmp, "loss")
    if grad is not None:
        for j, (g, rg, rs) in enumerate(
            zip(_grads(grad), _grads(ref.grad), _grads(ref.grad_scale))
        ):
            assert isinstance(g, np.ndarray) and g.dtype == dtype
            assert g.shape == np.shape(args[0])
            assert_close(g, rg, rs, dtype, f"grad[{j}]")
    return ref


def run_both(name, args, kw):
    """Forward-only and fused calls; their losses are the same bits."""
    fwd, fused = LOSSES[name][:2]
    loss_only = fwd(*args, **kw)
    loss, grad = fused(*args, **kw)
    assert_same_bits(loss_only, loss)
    return loss, grad


# --------------------------------------------------------------------------------
# values and gradients against the twins: dtype x reduction x options x SIMD path
# --------------------------------------------------------------------------------

FOCAL_OPTIONS = {
    "gamma2": {},
    "gamma0.5": {"gamma": 0.5},
    "gamma0_alpha": {"gamma": 0.0, "alpha": True},
    "gamma3.7_alpha": {"gamma": 3.7, "alpha": True},
    "ignore": {"ignore": -100},
    "ignore_in_range": {"gamma": 1.0, "ignore": 1},
    "sample_weight": {"gamma": 0.5, "sw": True},
    "all": {"gamma": 1.5, "alpha": True, "ignore": 2, "sw": True},
}


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 40), (7,)], ids=str)
@pytest.mark.parametrize("option", list(FOCAL_OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_matches_twin(simd_path, rng, dtype, reduction, option, shape):
    args, kw = focal_case(rng, shape, dtype, **FOCAL_OPTIONS[option])
    kw["reduction"] = reduction
    loss, grad = run_both("focal", args, kw)
    check_twin("focal", loss, grad, args, kw)


KL_OPTIONS = {
    "T1": {},
    "T2.5": {"temperature": 2.5},
    "T0.3_sw": {"temperature": 0.3, "sw": True},
    "probs": {"probs": True},
    "probs_T4_sw": {"probs": True, "temperature": 4.0, "sw": True},
}


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 40), (7,)], ids=str)
@pytest.mark.parametrize("option", list(KL_OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_matches_twin(simd_path, rng, dtype, reduction, option, shape):
    args, kw = kl_case(rng, shape, dtype, **KL_OPTIONS[option])
    kw["reduction"] = reduction
    loss, grad = run_both("kl", args, kw)
    check_twin("kl", loss, grad, args, kw)


TRIPLET_OPTIONS = {
    "p2": {},
    "p1": {"p": 1},
    "p3_swap": {"p": 3, "swap": True},
    "p1.5_sw": {"p": 1.5, "sw": True},
    "p2_swap_sw_margin": {"swap": True, "sw": True, "margin": 0.3},
    "p1_swap": {"p": 1, "swap": True},
}


@pytest.mark.parametrize("shape", [(9, 6), (2, 3, 33), (5,)], ids=str)
@pytest.mark.parametrize("option", list(TRIPLET_OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_triplet_matches_twin(simd_path, rng, dtype, reduction, option, shape):
    args, kw = triplet_case(rng, shape, dtype, **TRIPLET_OPTIONS[option])
    kw["reduction"] = reduction
    loss, grad = run_both("triplet", args, kw)
    assert isinstance(grad, tuple) and len(grad) == 3
    check_twin("triplet", loss, grad, args, kw)


def test_triplet_cases_have_active_and_inactive_rows(rng):
    """The random triplets above exercise both sides of the hinge."""
    args, kw = triplet_case(rng, (200, 6), np.float64)
    rows = fastloss.triplet_margin_loss(*args, reduction="none", **kw)
    assert 0.1 < np.mean(rows > 0) < 0.9


@pytest.mark.parametrize("dtype", DTYPES)
def test_perplexity_matches_twin(rng, dtype):
    for shape, ignore in [((6, 5), None), ((2, 7, 11), -100), ((4, 3), 1)]:
        (logits, target), _ = focal_case(rng, shape, dtype, ignore=ignore)
        kw = {} if ignore in (None, -100) else {"ignore_index": ignore}
        got = fastloss.perplexity(logits, target, **kw)
        assert isinstance(got, float)
        want = perplexity_ref(logits, target, **kw)
        assert math.isclose(got, want, rel_tol=1e-5 if dtype == np.float32 else 1e-12)
        # exactly exp of the softmax cross-entropy kernel's mean
        ce = fastloss.softmax_cross_entropy(logits, target, **kw)
        assert got == math.exp(ce)


# --------------------------------------------------------------------------------
# focal with gamma = 0 is cross-entropy
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, opts",
    [
        ((6, 5), {}),
        ((3, 4, 50), {"ignore": -100, "sw": True}),
        ((2, 20000), {"ignore": 1}),
        ((9,), {}),
    ],
    ids=["small", "ignore_sw", "long", "1d"],
)
def test_focal_gamma0_equals_cross_entropy_exactly(
    simd_path, rng, dtype, reduction, shape, opts
):
    (logits, target), kw = focal_case(rng, shape, dtype, gamma=0.0, **opts)
    kw["reduction"] = reduction
    ce_kw = {k: v for k, v in kw.items() if k != "gamma"}
    for n_threads in N_THREADS:
        loss = fastloss.softmax_focal_loss(logits, target, n_threads=n_threads, **kw)
        ce = fastloss.softmax_cross_entropy(logits, target, **ce_kw)
        assert_same_bits(loss, ce)
        f_loss, f_grad = fastloss.softmax_focal_loss_and_grad(logits, target, **kw)
        ce_loss, ce_grad = fastloss.softmax_cross_entropy_and_grad(
            logits, target, **ce_kw
        )
        assert_same_bits(f_loss, ce_loss)
        assert_same_bits(f_grad, ce_grad)
    # the focal kernel itself at gamma = 0 (class weights of 1 take it) agrees to
    # rounding
    k_loss, k_grad = fastloss.softmax_focal_loss_and_grad(
        logits, target, class_weight=np.ones(shape[-1]), **kw
    )
    ref = sce_ref(logits, target, **ce_kw)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(k_loss, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(k_grad, ce_grad, rtol=tol, atol=tol)


# --------------------------------------------------------------------------------
# finite differences (float64, 4th order)
# --------------------------------------------------------------------------------


def _fd_check(fwd, fused, args, kw, which=0):
    def f(x):
        a = list(args)
        a[which] = x
        return np.sum(fwd(*a, **kw))

    _, grad = fused(*args, **kw)
    fd = numerical_gradient(f, args[which])
    np.testing.assert_allclose(_grads(grad)[which], fd, rtol=1e-7, atol=1e-9)
    assert np.max(np.abs(fd)) > 1e-3, "finite differences are trivially zero"


@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
@pytest.mark.parametrize(
    "opts",
    [
        {"gamma": 0.0, "alpha": True},
        {"gamma": 0.5},
        {"gamma": 2.0, "ignore": -100, "sw": True},
        {"gamma": 3.7, "alpha": True, "sw": True},
    ],
    ids=["g0_alpha", "g0.5", "g2_ignore_sw", "g3.7_alpha_sw"],
)
def test_focal_finite_differences(rng, opts, reduction):
    args, kw = focal_case(rng, (3, 5), np.float64, **opts)
    kw["reduction"] = reduction
    _fd_check(
        fastloss.softmax_focal_loss, fastloss.softmax_focal_loss_and_grad, args, kw
    )


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize(
    "opts",
    [{}, {"temperature": 2.5, "sw": True}, {"probs": True, "temperature": 0.7}],
    ids=["T1", "T2.5_sw", "probs"],
)
def test_kl_finite_differences(rng, opts, reduction):
    args, kw = kl_case(rng, (3, 5), np.float64, **opts)
    kw["reduction"] = reduction
    _fd_check(
        fastloss.kl_div_with_logits, fastloss.kl_div_with_logits_and_grad, args, kw
    )


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize(
    "opts",
    [{"p": 2}, {"p": 1}, {"p": 3, "swap": True, "sw": True}, {"p": 1.5, "swap": True}],
    ids=["p2", "p1", "p3_swap_sw", "p1.5_swap"],
)
def test_triplet_finite_differences(rng, opts, reduction):
    # margin large enough that every row is active (away from the kink)
    args, kw = triplet_case(rng, (3, 4), np.float64, margin=10.0, **opts)
    kw["reduction"] = reduction
    for which in range(3):
        _fd_check(
            fastloss.triplet_margin_loss,
            fastloss.triplet_margin_loss_and_grad,
            args,
            kw,
            which,
        )


# --------------------------------------------------------------------------------
# PyTorch: values and autograd gradients
# --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _reduce_torch(torch, rows, sw, reduction, normaliser=None):
    if sw is not None:
        rows = rows * torch.tensor(sw, dtype=torch.float64)
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    if normaliser is None:
        normaliser = rows.numel() if sw is None else float(np.sum(sw))
    return rows.sum() / normaliser


def torch_focal(
    torch,
    logits,
    target,
    *,
    alpha=None,
    gamma=2.0,
    class_weight=None,
    ignore_index=-100,
    sample_weight=None,
    reduction="mean",
):
    """The focal loss written with torch ops; float64 autograd."""
    F = torch.nn.functional
    x = torch.tensor(np.asarray(logits, np.float64), requires_grad=True)
    y = torch.from_numpy(np.asarray(target, np.int64))
    keep = y != ignore_index
    ys = torch.where(keep, y, torch.zeros_like(y))
    logp = F.log_softmax(x, -1).gather(-1, ys[..., None])[..., 0]
    a = torch.ones(x.shape[-1], dtype=torch.float64)
    if class_weight is not None:
        a = torch.tensor(class_weight, dtype=torch.float64)
    if alpha is not None:
        a = alpha * a
    rows = -a[ys] * (1 - logp.exp()) ** gamma * logp
    rows = torch.where(keep, rows, torch.zeros_like(rows))
    sw = np.ones(y.shape) if sample_weight is None else sample_weight
    norm = float(np.sum(np.asarray(sw) * keep.numpy()))
    loss = _reduce_torch(torch, rows, sample_weight, reduction, norm)
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def torch_kl(
    torch,
    student,
    teacher,
    *,
    temperature=1.0,
    teacher_probs=False,
    sample_weight=None,
    reduction="mean",
):
    F = torch.nn.functional
    t = temperature
    s = torch.tensor(np.asarray(student, np.float64), requires_grad=True)
    te = torch.tensor(np.asarray(teacher, np.float64))
    logq = F.log_softmax(s / t, -1)
    if reduction == "mean" and s.ndim == 2 and sample_weight is None:
        # exactly the documented correspondence
        if teacher_probs:
            loss = F.kl_div(logq, te, reduction="batchmean") * t**2
        else:
            loss = (
                F.kl_div(
                    logq,
                    F.log_softmax(te / t, -1),
                    log_target=True,
                    reduction="batchmean",
                )
                * t**2
            )
    else:
        if teacher_probs:
            el = F.kl_div(logq, te, reduction="none")
        else:
            el = F.kl_div(
                logq, F.log_softmax(te / t, -1), log_target=True, reduction="none"
            )
        rows = el.sum(-1) * t**2
        loss = _reduce_torch(torch, rows, sample_weight, reduction)
    loss.sum().backward()
    return loss.detach().numpy(), s.grad.numpy()


def torch_triplet(
    torch,
    a,
    p_,
    n,
    *,
    margin=1.0,
    p=2,
    eps=1e-6,
    swap=False,
    sample_weight=None,
    reduction="mean",
):
    F = torch.nn.functional
    ts = [
        torch.tensor(np.asarray(v, np.float64), requires_grad=True) for v in (a, p_, n)
    ]
    if sample_weight is None:
        loss = F.triplet_margin_loss(
            *ts, margin=margin, p=p, eps=eps, swap=swap, reduction=reduction
        )
    else:
        rows = F.triplet_margin_loss(
            *ts, margin=margin, p=p, eps=eps, swap=swap, reduction="none"
        )
        loss = _reduce_torch(torch, rows, sample_weight, reduction)
    loss.sum().backward()
    return loss.detach().numpy(), tuple(t.grad.numpy() for t in ts)


def _check_torch(name, args, kw, t_loss, t_grad):
    loss, grad = LOSSES[name][1](*args, **kw)
    ref = LOSSES[name][2](*args, **kw)  # only for the error scales
    dtype = np.asarray(args[0]).dtype
    assert_close(loss, t_loss, ref.loss_scale, dtype, "loss vs torch")
    for j, (g, tg, rs) in enumerate(
        zip(_grads(grad), _grads(t_grad), _grads(ref.grad_scale))
    ):
        assert_close(g, tg, rs, dtype, f"grad[{j}] vs torch")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "opts",
    [
        {"gamma": 0.0},
        {"gamma": 0.5},
        {"gamma": 2.0, "alpha": True},
        {"gamma": 2.0, "ignore": -100, "sw": True},
        {"gamma": 1.3, "alpha": True, "ignore": 0},
    ],
    ids=["g0", "g0.5", "g2_alpha", "g2_ignore_sw", "g1.3_alpha_ignore0"],
)
def test_focal_matches_torch(torch, rng, dtype, opts, reduction):
    for shape in [(6, 5), (2, 3, 4)]:
        args, kw = focal_case(rng, shape, dtype, **opts)
        kw["reduction"] = reduction
        t_loss, t_grad = torch_focal(torch, *args, **kw)
        _check_torch("focal", args, kw, t_loss, t_grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"temperature": 3.0},
        {"probs": True},
        {"probs": True, "temperature": 0.5},
        {"temperature": 2.0, "sw": True},
    ],
    ids=["T1", "T3", "probs", "probs_T0.5", "T2_sw"],
)
def test_kl_matches_torch(torch, rng, dtype, opts, reduction):
    for shape in [(6, 5), (2, 3, 4)]:
        args, kw = kl_case(rng, shape, dtype, **opts)
        kw["reduction"] = reduction
        t_loss, t_grad = torch_kl(torch, *args, **kw)
        _check_torch("kl", args, kw, t_loss, t_grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "opts",
    [
        {"p": 2},
        {"p": 1},
        {"p": 3},
        {"p": 2, "swap": True, "margin": 0.5},
        {"p": 1.5, "swap": True, "sw": True},
    ],
    ids=["p2", "p1", "p3", "p2_swap", "p1.5_swap_sw"],
)
def test_triplet_matches_torch(torch, rng, dtype, opts, reduction):
    for shape in [(9, 6), (5,), (2, 3, 4)]:
        args, kw = triplet_case(rng, shape, dtype, **opts)
        kw["reduction"] = reduction
        kw["eps"] = 1e-3
        t_loss, t_grad = torch_triplet(torch, *args, **kw)
        _check_torch("triplet", args, kw, t_loss, t_grad)


def test_triplet_degenerate_cases_match_torch(torch):
    """d == 0 (zero gradient, no NaN), a swap tie (gradient split), the kink."""
    a = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]])
    p = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [3.0, 4.0, 0.0]])
    n = np.array([[1.0, 2.0, 3.5], [1.5, 0.5, 0.5], [0.0, 0.0, 5.0]])
    for p_norm in (1, 2, 3):
        for swap in (False, True):
            kw = {
                "eps": 0.0,
                "margin": 1.5,  # every row active
                "p": p_norm,
                "swap": swap,
                "reduction": "sum",
            }
            loss, grads = fastloss.triplet_margin_loss_and_grad(a, p, n, **kw)
            t_loss, t_grads = torch_triplet(torch, a, p, n, **kw)
            assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads)
            np.testing.assert_allclose(loss, t_loss, rtol=1e-14, atol=1e-14)
            for g, tg in zip(grads, t_grads):
                np.testing.assert_allclose(g, tg, rtol=1e-14, atol=1e-14)
            # rows 0, 1: d(a, p) == 0 contributes nothing; with swap p == a makes
            # d(a, n) == d(p, n) a tie, half the gradient through the positive
            ga, gp, gn = grads
            np.testing.assert_array_equal(ga[:2], -(0.5 if swap else 1.0) * gn[:2])
            assert (np.abs(gp[:2]).sum() > 0) == swap
    # the hinge exactly at 0: the active branch's gradient, as torch's clamp_min
    a1, p1, n1 = np.zeros((1, 2)), np.array([[3.0, 4.0]]), np.array([[0.0, 6.0]])
    kw = {"eps": 0.0, "margin": 1.0, "reduction": "sum"}
    loss, grads = fastloss.triplet_margin_loss_and_grad(a1, p1, n1, **kw)
    t_loss, t_grads = torch_triplet(torch, a1, p1, n1, **kw)
    assert loss == 0.0 and float(t_loss) == 0.0
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=1e-15)
    assert np.abs(grads[0]).sum() > 0


def test_perplexity_matches_torch(torch, rng):
    F = torch.nn.functional
    (logits, target), _ = focal_case(rng, (2, 6, 9), np.float64, ignore=-100)
    want = torch.exp(
        F.cross_entropy(
            torch.tensor(logits).flatten(0, -2), torch.tensor(target).flatten()
        )
    ).item()
    assert math.isclose(fastloss.perplexity(logits, target), want, rel_tol=1e-13)


# --------------------------------------------------------------------------------
# numerics: q_y -> 1, extremes, masks
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.25, 0.5, 1.0, 2.0, 5.0])
def test_focal_confident_rows_are_accurate(simd_path, dtype, gamma):
    """q_y -> 1: u = 1 - q_y and log q_y stay relatively accurate (no 1 - q_y
    cancellation, no log of a rounded q), K -> 0 even for gamma < 1, and q_y == 1
    exactly gives exactly 0 without NaN."""
    c = 6
    big = np.array([5.0, 12.0, 20.0, 30.0])
    logits = np.zeros((len(big) + 1, c), dtype=dtype)
    logits[:-1, 2] = big
    logits[-1] = -np.inf
    logits[-1, 2] = 1.0  # every other class masked: q_y == 1 exactly
    target = np.full(len(logits), 2)
    rows = fastloss.softmax_focal_loss(logits, target, gamma=gamma, reduction="none")
    loss, grad = fastloss.softmax_focal_loss_and_grad(
        logits, target, gamma=gamma, reduction="sum"
    )
    # closed forms: S_o = (c - 1) e^-b, u = S_o / (1 + S_o), nu = log1p(S_o)
    so = (c - 1) * np.exp(-big.astype(np.float64))
    u, nu = so / (1 + so), np.log1p(so)
    want = u**gamma * nu
    k = u**gamma * (1 + gamma * (1 - u) * nu / u)
    # float32 results below its normal range are rounded to subnormals or 0
    rtol, atol = (3e-6, 1e-37) if dtype == np.float32 else (1e-13, 0.0)
    np.testing.assert_allclose(rows[:-1], want, rtol=rtol, atol=atol)
    assert rows[-1] == 0.0 and np.all(grad[-1] == 0.0)
    np.testing.assert_allclose(grad[:-1, 2], -k * u, rtol=rtol, atol=atol)
    q0 = np.exp(-big) / (1 + so)
    np.testing.assert_allclose(grad[:-1, 0], k * q0, rtol=rtol, atol=atol)
    assert np.isfinite(loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_focal_extreme_logits(simd_path, rng, dtype, scale):
    (logits, target), kw = focal_case(rng, (40, 7), dtype, gamma=1.5, alpha=True)
    logits = (np.sign(logits) * scale).astype(dtype)
    logits[::3, 4] = -np.inf  # masks
    target[::3] = np.where(target[::3] == 4, 0, target[::3])
    for reduction in REDUCTIONS:
        kw["reduction"] = reduction
        loss, grad = run_both("focal", (logits, target), kw)
        assert np.all(np.isfinite(grad)) and np.all(np.isfinite(loss))
        assert np.all(grad[::3, 4] == 0.0)
        check_twin("focal", loss, grad, (logits, target), kw)
    # a target at -inf: infinite loss, finite gradient
    logits[0, target[0]] = -np.inf
    rows, grad = fastloss.softmax_focal_loss_and_grad(
        logits, target, gamma=2.0, reduction="none"
    )
    assert rows[0] == np.inf and np.all(np.isfinite(grad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e4, 1e30])
@pytest.mark.parametrize("probs", [False, True])
def test_kl_extreme_logits_and_masks(simd_path, rng, dtype, scale, probs):
    (student, teacher), kw = kl_case(rng, (30, 8), dtype, probs=probs)
    student = (np.sign(student) * scale).astype(dtype)
    if probs:
        # zero probabilities facing -inf student logits contribute exactly 0
        student[teacher == 0] = -np.inf
    else:
        teacher = (np.sign(teacher) * scale).astype(dtype)
        teacher[:, 3] = -np.inf  # masked teacher classes
        student[:, 3] = -np.inf
    for reduction in REDUCTIONS:
        kw["reduction"] = reduction
        loss, grad = run_both("kl", (student, teacher), kw)
        assert np.all(np.isfinite(grad)) and np.all(np.isfinite(loss))
        check_twin("kl", loss, grad, (student, teacher), kw)


def test_kl_identical_rows_give_zero(rng):
    x = 5.0 * rng.standard_normal((7, 9))
    loss, grad = fastloss.kl_div_with_logits_and_grad(x, x, temperature=1.7)
    assert loss == 0.0
    assert np.max(np.abs(grad)) < 1e-15
    p = np.exp(x - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    loss = fastloss.kl_div_with_logits(x, p, teacher_probs=True)
    assert abs(loss) < 1e-14


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_triplet_extremes(simd_path, rng, dtype, p):
    (a, pos, neg), kw = triplet_case(rng, (20, 5), dtype, p=p, swap=True)
    for scale in (1e4, 1e30):
        args = tuple((v * scale).astype(dtype) for v in (a, pos, neg))
        kw["reduction"] = "sum"
        loss, grads = run_both("triplet", args, kw)
        assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads)
        check_twin("triplet", loss, grads, args, kw)


@pytest.mark.parametrize("p", [1, 2, 3, 1.5, 1.01])
def test_triplet_tiny_and_wide_range_vectors(simd_path, p):
    """Differences near the bottom of float64 (general p: ratios |v_k| / max that
    are subnormal) keep their exact norm and gradient."""
    a = np.array([[1e-300, -3e-300, 2e-310, 0.0], [1.0, 1e-310, -2.0, 5e-320]])
    pos = np.zeros_like(a)
    neg = np.full_like(a, 1e-290)
    kw = {"p": p, "eps": 0.0, "margin": 1.0, "reduction": "sum"}
    loss, grads = fastloss.triplet_margin_loss_and_grad(a, pos, neg, **kw)
    ref = triplet_margin_loss_ref(a, pos, neg, **kw)
    np.testing.assert_allclose(loss, ref.loss, rtol=1e-12)
    for g, rg in zip(grads, ref.grad):
        np.testing.assert_allclose(g, rg, rtol=1e-10, atol=1e-320)


def test_nan_rows_stay_in_their_row(rng):
    (logits, target), _ = focal_case(rng, (4, 5), np.float64)
    logits[1, 2] = np.nan
    rows, grad = fastloss.softmax_focal_loss_and_grad(logits, target, reduction="none")
    assert np.isnan(rows[1]) and np.all(np.isfinite(np.delete(rows, 1)))
    assert np.all(np.isfinite(np.delete(grad, 1, axis=0)))
    (s, t), _ = kl_case(rng, (4, 5), np.float64)
    t[2, 0] = np.nan
    rows = fastloss.kl_div_with_logits(s, t, reduction="none")
    assert np.isnan(rows[2]) and np.all(np.isfinite(np.delete(rows, 2)))
    (a, p, n), _ = triplet_case(rng, (4, 5), np.float64, margin=10.0)
    a[3, 1] = np.nan
    rows = fastloss.triplet_margin_loss(a, p, n, reduction="none")
    assert np.isnan(rows[3]) and np.all(np.isfinite(rows[:3]))


def test_perplexity_edge_cases():
    logits = np.zeros((3, 4))
    assert fastloss.perplexity(logits, np.array([-100, -100, -100])) == 1.0
    assert fastloss.perplexity(np.zeros((0, 4)), np.zeros(0, np.int64)) == 1.0
    assert math.isclose(fastloss.perplexity(logits, np.array([0, 1, 2])), 4.0)
    big = np.array([[0.0, 1000.0]])
    assert fastloss.perplexity(big, np.array([0])) == math.inf


# --------------------------------------------------------------------------------
# out=, in place, float16, strided and read-only inputs, empty and 1-D input
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_and_in_place(simd_path, rng, name, dtype):
    fused = LOSSES[name][1]
    args, kw = LOSSES[name][3](rng, (64, 300), dtype)
    kw["reduction"] = "mean"
    snap = snapshot(*args)
    loss, grad = fused(*args, **kw)
    assert_unchanged(snap)
    grads = _grads(grad)
    bufs = tuple(np.full_like(g, np.nan) for g in grads)
    out = bufs if name == "triplet" else bufs[0]
    loss2, grad2 = fused(*args, out=out, **kw)
    assert all(g2 is b for g2, b in zip(_grads(grad2), bufs))
    assert_same_bits(loss2, loss)
    for g, g2 in zip(grads, _grads(grad2)):
        assert_same_bits(g2, g)
    # in place: each gradient written over its own input
    copies = tuple(a.copy() if a.dtype.kind == "f" else a for a in args)
    n_grads = len(grads)
    out = copies[:3] if name == "triplet" else copies[0]
    loss3, grad3 = fused(*copies, out=out, **kw)
    assert all(g3 is c for g3, c in zip(_grads(grad3), copies[:n_grads]))
    assert_same_bits(loss3, loss)
    for g, g3 in zip(grads, _grads(grad3)):
        assert_same_bits(g3, g)


@pytest.mark.parametrize("name", list(LOSSES))
def test_float16_is_computed_in_float32(rng, name):
    fwd, fused, _, case = LOSSES[name]
    args, kw = case(rng, (5, 6), np.float32)
    args16 = [a.astype(np.float16) if a.dtype.kind == "f" else a for a in args]
    args32 = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in args16]
    rows16, grad16 = fused(*args16, reduction="none", **kw)
    rows32, grad32 = fused(*args32, reduction="none", **kw)
    assert rows16.dtype == np.float16
    assert_same_bits(rows16, rows32.astype(np.float16))
    for g16, g32 in zip(_grads(grad16), _grads(grad32)):
        assert g16.dtype == np.float16
        assert_same_bits(g16, g32.astype(np.float16))
    assert fwd(*args16, reduction="sum", **kw) == fwd(*args32, reduction="sum", **kw)
    # out= of float16, in place: each gradient over its own float16 input
    n_grads = len(_grads(grad16))
    for i in range(n_grads):
        args16[i] = args16[i].copy()
    out = tuple(args16[:3]) if name == "triplet" else args16[0]
    _, grad = fused(*args16, out=out, reduction="none", **kw)
    for i, (g, g32) in enumerate(zip(_grads(grad), _grads(grad32))):
        assert g is args16[i]
        assert_same_bits(g, g32.astype(np.float16))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("layout", ["strided", "read_only"])
def test_strided_and_read_only_inputs(simd_path, rng, name, layout):
    fused = LOSSES[name][1]
    args, kw = LOSSES[name][3](rng, (6, 7), np.float64)
    kw["reduction"] = "none"
    if "sample_weight" not in kw:
        kw["sample_weight"] = rng.uniform(0, 2, 6)
    change = non_contiguous if layout == "strided" else read_only
    args2 = tuple(change(a) for a in args)
    kw2 = dict(kw, sample_weight=change(kw["sample_weight"]))
    snap = snapshot(*args2)
    loss, grad = fused(*args, **kw)
    loss2, grad2 = fused(*args2, **kw2)
    assert_unchanged(snap)
    assert_same_bits(loss2, loss)
    for g, g2 in zip(_grads(grad), _grads(grad2)):
        assert_same_bits(g2, g)


@pytest.mark.parametrize("name", list(LOSSES))
def test_empty_and_one_row(rng, name):
    fwd, fused, twin, case = LOSSES[name]
    args, kw = case(rng, (0, 5), np.float64)
    for reduction in REDUCTIONS:
        loss, grad = fused(*args, reduction=reduction, **kw)
        if reduction == "none":
            assert loss.shape == (0,)
        else:
            assert loss == 0.0
        assert all(g.shape == (0, 5) for g in _grads(grad))
    args, kw = case(rng, (5,), np.float64)
    loss, grad = fused(*args, reduction="none", **kw)
    assert isinstance(loss, np.ndarray) and loss.shape == ()
    check_twin(name, loss, grad, args, dict(kw, reduction="none"))
    # lists are accepted as array-likes
    loss_l = fwd(*(a.tolist() for a in args), **kw)
    assert_same_bits(loss_l, fwd(*args, **kw))


def test_all_rows_ignored_give_zero(rng):
    (logits, target), _ = focal_case(rng, (4, 3), np.float64)
    target[:] = -100
    loss, grad = fastloss.softmax_focal_loss_and_grad(
        logits, target, class_weight=np.ones(3)
    )
    assert loss == 0.0 and np.all(grad == 0.0)
    sw = np.zeros(4)
    loss, grad = fastloss.kl_div_with_logits_and_grad(
        logits, logits + 1, sample_weight=sw
    )
    assert loss == 0.0 and np.all(grad == 0.0)


def test_integer_targets_of_any_dtype(rng):
    (logits, target), kw = focal_case(rng, (6, 5), np.float64, gamma=0.5)
    want = fastloss.softmax_focal_loss(logits, target, **kw)
    for dt in (np.int8, np.uint8, np.int32, np.uint64):
        assert_same_bits(
            fastloss.softmax_focal_loss(logits, target.astype(dt), **kw), want
        )


def test_triplet_mixed_dtypes_promote(rng):
    (a, p, n), kw = triplet_case(rng, (4, 3), np.float64)
    loss, grads = fastloss.triplet_margin_loss_and_grad(
        a.astype(np.float32), p, n.astype(np.float16), reduction="none", **kw
    )
    assert loss.dtype == np.float64 and all(g.dtype == np.float64 for g in grads)


# --------------------------------------------------------------------------------
# threads: bit-identical for any count, rows split across threads, concurrency
# --------------------------------------------------------------------------------

THREAD_CASES = {
    "focal": {"gamma": 2.0, "alpha": True, "ignore": -100, "sw": True},
    "focal_g0.5": {"gamma": 0.5},
    "kl": {"temperature": 2.0, "sw": True},
    "kl_probs": {"probs": True},
    "triplet_p2_swap": {"p": 2, "swap": True, "sw": True},
    "triplet_p3": {"p": 3},
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(THREAD_CASES))
@pytest.mark.parametrize("shape", [(2, 300_000), (3000, 37)], ids=str)
def test_bit_identical_for_any_thread_count(simd_path, rng, shape, case, dtype):
    name = case.split("_")[0]
    fwd, fused, _, builder = LOSSES[name]
    args, kw = builder(rng, shape, dtype, **THREAD_CASES[case])
    for reduction in ("mean", "none"):
        kw["reduction"] = reduction
        loss1, grad1 = fused(*args, n_threads=1, **kw)
        for n_threads in (2, 3):
            loss, grad = fused(*args, n_threads=n_threads, **kw)
            assert_same_bits(loss, loss1)
            for g, g1 in zip(_grads(grad), _grads(grad1)):
                assert_same_bits(g, g1)
        assert_same_bits(fwd(*args, n_threads=2, **kw), loss1)
    # in place with rows split across threads: every thread finishes reading a row
    # before any overwrites it
    copies = tuple(a.copy() if a.dtype.kind == "f" else a for a in args)
    n_grads = len(_grads(grad1))
    out = copies[:3] if name == "triplet" else copies[0]
    loss, grad = fused(*copies, out=out, n_threads=2, **kw)
    assert_same_bits(loss, loss1)
    for g, g1 in zip(_grads(grad), _grads(grad1)):
        assert_same_bits(g, g1)
    assert n_grads == len(_grads(grad))
    # and the shared answer is the right one
    check_twin(name, loss1, grad1, args, kw)


def test_concurrent_callers(rng):
    """Several Python threads call the kernels at once (the GIL is released)."""
    jobs = []
    for name, opts in [("focal", {}), ("kl", {}), ("triplet", {"swap": True})]:
        args, kw = LOSSES[name][3](rng, (400, 513), np.float64, **opts)
        jobs.append((LOSSES[name][1], args, kw, LOSSES[name][1](*args, **kw)))

    def run(job):
        fn, args, kw, want = job
        for _ in range(5):
            loss, grad = fn(*args, n_threads=2, **kw)
            assert_same_bits(loss, want[0])
            for g, w in zip(_grads(grad), _grads(want[1])):
                assert_same_bits(g, w)
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, jobs * 3))


# --------------------------------------------------------------------------------
# bad input: an error naming the argument, nothing written
# --------------------------------------------------------------------------------


def _focal_args():
    rng = np.random.default_rng(1)
    return {
        "fn": fastloss.softmax_focal_loss_and_grad,
        "args": [rng.standard_normal((3, 4)), np.array([0, 3, 1])],
        "kw": {"gamma": 2.0, "class_weight": np.ones(4), "sample_weight": np.ones(3)},
    }


def _kl_args():
    rng = np.random.default_rng(2)
    return {
        "fn": fastloss.kl_div_with_logits_and_grad,
        "args": [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))],
        "kw": {"temperature": 2.0, "sample_weight": np.ones(3)},
    }


def _triplet_args():
    rng = np.random.default_rng(3)
    return {
        "fn": fastloss.triplet_margin_loss_and_grad,
        "args": [rng.standard_normal((3, 4)) for _ in range(3)],
        "kw": {"margin": 1.0, "p": 2, "sample_weight": np.ones(3)},
    }


def _arg(i, value):
    def change(case):
        case["args"][i] = value

    return change


def _kw(**changes):
    def change(case):
        case["kw"].update(changes)

    return change


def _out_in_place_overlap(case):
    """logits and out: C-contiguous views of one buffer, one row apart."""
    x = case["args"][0]
    buf = np.zeros(x.size + x.shape[-1])
    buf[: x.size] = x.reshape(-1)
    case["args"][0] = buf[: x.size].reshape(x.shape)
    case["kw"]["out"] = buf[x.shape[-1] :].reshape(x.shape)


BAD = {
    # focal
    "focal_target_shape": (
        _focal_args,
        _arg(1, np.array([0, 1])),
        ValueError,
        "target",
    ),
    "focal_target_float": (
        _focal_args,
        _arg(1, np.array([0.0, 1.0, 2.0])),
        TypeError,
        "target",
    ),
    "focal_target_range": (
        _focal_args,
        _arg(1, np.array([0, 4, 1])),
        ValueError,
        r"target\[1\].*= 4",
    ),
    "focal_target_negative": (
        _focal_args,
        _arg(1, np.array([0, 1, -3])),
        ValueError,
        r"target\[2\].*= -3",
    ),
    "focal_class_weight_length": (
        _focal_args,
        _kw(class_weight=np.ones(3)),
        ValueError,
        "class_weight",
    ),
    "focal_class_weight_nan": (
        _focal_args,
        _kw(class_weight=np.array([1, np.nan, 1, 1])),
        ValueError,
        "class_weight",
    ),
    "focal_alpha_negative": (_focal_args, _kw(alpha=-0.5), ValueError, "alpha"),
    "focal_alpha_nan": (_focal_args, _kw(alpha=np.nan), ValueError, "alpha"),
    "focal_gamma_negative": (_focal_args, _kw(gamma=-0.5), ValueError, "gamma"),
    "focal_gamma_nan": (_focal_args, _kw(gamma=np.nan), ValueError, "gamma"),
    "focal_gamma_none": (_focal_args, _kw(gamma=None), TypeError, "gamma"),
    "focal_ignore_float": (
        _focal_args,
        _kw(ignore_index=1.5),
        TypeError,
        "ignore_index",
    ),
    "focal_logits_0d": (_focal_args, _arg(0, np.array(1.0)), ValueError, "logits"),
    "focal_logits_str": (_focal_args, _arg(0, np.array([["a"]])), TypeError, "logits"),
    "focal_sample_weight": (
        _focal_args,
        _kw(sample_weight=np.ones(4)),
        ValueError,
        "sample_weight",
    ),
    "focal_reduction": (_focal_args, _kw(reduction="avg"), ValueError, "reduction"),
    "focal_n_threads": (_focal_args, _kw(n_threads=0), ValueError, "n_threads"),
    "focal_out_shape": (_focal_args, _kw(out=np.zeros((3, 5))), ValueError, "out"),
    "focal_out_dtype": (
        _focal_args,
        _kw(out=np.zeros((3, 4), np.float32)),
        ValueError,
        "out",
    ),
    "focal_out_list": (_focal_args, _kw(out=[[0.0] * 4] * 3), TypeError, "out"),
    "focal_out_read_only": (
        _focal_args,
        _kw(out=read_only(np.zeros((3, 4)))),
        ValueError,
        "out",
    ),
    "focal_out_strided": (
        _focal_args,
        _kw(out=np.zeros((3, 8))[:, ::2]),
        ValueError,
        "out",
    ),
    "focal_out_overlap": (_focal_args, _out_in_place_overlap, ValueError, "out"),
    # kl
    "kl_teacher_shape": (
        _kl_args,
        _arg(1, np.zeros((3, 5))),
        ValueError,
        "teacher_logits",
    ),
    "kl_temperature_zero": (_kl_args, _kw(temperature=0.0), ValueError, "temperature"),
    "kl_temperature_negative": (
        _kl_args,
        _kw(temperature=-1.0),
        ValueError,
        "temperature",
    ),
    "kl_temperature_inf": (
        _kl_args,
        _kw(temperature=np.inf),
        ValueError,
        "temperature",
    ),
    "kl_teacher_probs_flag": (
        _kl_args,
        _kw(teacher_probs="yes"),
        TypeError,
        "teacher_probs",
    ),
    "kl_negative_probs": (
        _kl_args,
        _kw(teacher_probs=True),
        ValueError,
        r"teacher_logits\[\d, \d\]",
    ),
    "kl_student_empty_axis": (
        _kl_args,
        _arg(0, np.zeros((3, 0))),
        ValueError,
        "student_logits",
    ),
    "kl_reduction": (_kl_args, _kw(reduction=None), ValueError, "reduction"),
    "kl_out_overlap": (_kl_args, _out_in_place_overlap, ValueError, "out"),
    "kl_out_is_teacher": (
        _kl_args,
        lambda c: c["kw"].update(out=c["args"][1]),
        ValueError,
        "out overlaps teacher_logits",
    ),
    # triplet
    "triplet_positive_shape": (
        _triplet_args,
        _arg(1, np.zeros((3, 5))),
        ValueError,
        "positive",
    ),
    "triplet_negative_shape": (
        _triplet_args,
        _arg(2, np.zeros((2, 4))),
        ValueError,
        "negative",
    ),
    "triplet_p_below_one": (_triplet_args, _kw(p=0.5), ValueError, r"\bp\b"),
    "triplet_p_inf": (_triplet_args, _kw(p=np.inf), ValueError, r"\bp\b"),
    "triplet_margin_nan": (_triplet_args, _kw(margin=np.nan), ValueError, "margin"),
    "triplet_eps_str": (_triplet_args, _kw(eps="x"), TypeError, "eps"),
    "triplet_swap_int": (_triplet_args, _kw(swap=1), TypeError, "swap"),
    "triplet_reduction": (
        _triplet_args,
        _kw(reduction="batchmean"),
        ValueError,
        "reduction",
    ),
    "triplet_out_not_tuple": (
        _triplet_args,
        _kw(out=np.zeros((3, 4))),
        TypeError,
        "out",
    ),
    "triplet_out_two": (
        _triplet_args,
        _kw(out=(np.zeros((3, 4)),) * 2),
        TypeError,
        "out",
    ),
    "triplet_out_shape": (
        _triplet_args,
        _kw(out=(np.zeros((3, 4)), np.zeros((3, 4)), np.zeros((4, 4)))),
        ValueError,
        r"out\[2\]",
    ),
    "triplet_out_same_buffer": (
        _triplet_args,
        lambda c: c["kw"].update(out=(c["args"][0], c["args"][0], np.zeros((3, 4)))),
        ValueError,
        r"out\[1\]",
    ),
    "triplet_out_crossed": (
        _triplet_args,
        lambda c: c["kw"].update(
            out=(c["args"][1], np.zeros((3, 4)), np.zeros((3, 4)))
        ),
        ValueError,
        r"out\[0\] overlaps positive",
    ),
}


@pytest.mark.parametrize("case_id", list(BAD))
def test_bad_input_raises_naming_the_argument(case_id):
    make, change, exc, match = BAD[case_id]
    case = make()
    if case_id == "kl_negative_probs":
        case["args"][1] = np.abs(case["args"][1])
        case["args"][1][1, 2] = -0.5
    change(case)
    arrays = [a for a in case["args"] if isinstance(a, np.ndarray)]
    out = case["kw"].get("out")
    outs = [
        o
        for o in (out if isinstance(out, tuple) else (out,))
        if isinstance(o, np.ndarray)
    ]
    snap = snapshot(*arrays, *outs)
    with pytest.raises(exc, match=match):
        case["fn"](*case["args"], **case["kw"])
    assert_unchanged(snap)


def test_bad_input_forward_only_and_perplexity():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"target\[1\].*= 3"):
        fastloss.perplexity(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="reduction"):
        fastloss.softmax_focal_loss(logits, np.array([0, 1]), reduction="mean ")
    with pytest.raises(ValueError, match="temperature"):
        fastloss.kl_div_with_logits(logits, logits, temperature=-2)
    with pytest.raises(ValueError, match="teacher_logits"):
        fastloss.kl_div_with_logits(logits, logits + np.nan, teacher_probs=True)
    with pytest.raises(ValueError, match="margin"):
        fastloss.triplet_margin_loss(logits, logits, logits, margin=np.inf)
    with pytest.raises(TypeError, match="anchor"):
        fastloss.triplet_margin_loss(None, logits, logits)
    with pytest.raises(ValueError, match="anchor"):
        fastloss.triplet_margin_loss(
            np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((2, 0))
        )


# --------------------------------------------------------------------------------
# hypothesis: random small problems against the twins
# --------------------------------------------------------------------------------

# scalars inside the accepted range of float32 computation (docs/RELIABILITY.md)
F32_TINY = float(np.finfo(np.float32).tiny)
SETTINGS = settings(
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SHAPES = st.sampled_from([(1,), (4,), (2, 3)])


@SETTINGS
@given(
    lead=SHAPES,
    c=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    gamma=st.just(0.0) | st.floats(F32_TINY, 6.0),
    dtype=st.sampled_from(DTYPES),
    reduction=st.sampled_from(REDUCTIONS),
    alpha=st.booleans(),
    scale=st.sampled_from([0.1, 3.0, 30.0]),
)
def test_hypothesis_focal(lead, c, seed, gamma, dtype, reduction, alpha, scale):
    rng = np.random.default_rng(seed)
    args, kw = focal_case(
        rng, lead + (c,), dtype, gamma=gamma, alpha=alpha, ignore=-100
    )
    args = ((args[0] * scale).astype(dtype), args[1])
    kw["reduction"] = reduction
    loss, grad = run_both("focal", args, kw)
    if gamma == 0 and not alpha:
        # documented: this call runs the softmax cross-entropy kernel (the same
        # bits), whose loss (m - x_y) + log(sum) has cross-entropy's absolute error
        # scale, not the focal twin's log1p one (a confident row's 8.3585e-11 is off
        # by 4e-7 relative); the cross-entropy tests hold it to that scale
        ce = fastloss.softmax_cross_entropy_and_grad(
            *args, reduction=reduction, ignore_index=-100
        )
        assert_same_bits(loss, ce[0])
        assert_same_bits(grad, ce[1])
    else:
        check_twin("focal", loss, grad, args, kw)
    assert np.all(np.asarray(loss) >= 0)


@SETTINGS
@given(
    lead=SHAPES,
    c=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    temperature=st.floats(0.05, 20.0),
    probs=st.booleans(),
    dtype=st.sampled_from(DTYPES),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_hypothesis_kl(lead, c, seed, temperature, probs, dtype, reduction):
    rng = np.random.default_rng(seed)
    args, kw = kl_case(rng, lead + (c,), dtype, temperature=temperature, probs=probs)
    kw["reduction"] = reduction
    loss, grad = run_both("kl", args, kw)
    check_twin("kl", loss, grad, args, kw)


@SETTINGS
@given(
    lead=SHAPES,
    d=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    p=st.one_of(st.sampled_from([1.0, 2.0]), st.floats(1.0, 8.0)),
    swap=st.booleans(),
    margin=st.just(0.0) | st.floats(F32_TINY, 5.0) | st.floats(-2.0, -F32_TINY),
    dtype=st.sampled_from(DTYPES),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_hypothesis_triplet(lead, d, seed, p, swap, margin, dtype, reduction):
    rng = np.random.default_rng(seed)
    args, kw = triplet_case(rng, lead + (d,), dtype, p=p, swap=swap, margin=margin)
    kw["reduction"] = reduction
    # draws on the hinge's kink have two right subgradients: skip them
    if np.any(np.abs(triplet_hinge_ref(*args, **kw)) < 1e-5):
        return
    loss, grad = run_both("triplet", args, kw)
    check_twin("triplet", loss, grad, args, kw)


# --------------------------------------------------------------------------------
# docstrings
# --------------------------------------------------------------------------------


def test_docstring_examples():
    result = doctest.testmod(
        fastloss._rowwise, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted >= 30
    assert result.failed == 0


def test_public_api():
    for name in fastloss._rowwise.__all__:
        assert getattr(fastloss, name) is getattr(fastloss._rowwise, name)
        doc = getattr(fastloss, name).__doc__
        assert "Examples" in doc and "Parameters" in doc
    assert not hasattr(fastloss, "perplexity_and_grad")
