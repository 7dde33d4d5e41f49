"""fastloss.torch against PyTorch's own losses: values, gradients, autograd rules.

Every reference is PyTorch itself (``torch.nn.functional``, or the losses PyTorch
lacks written in torch ops and differentiated by autograd), computed in float64 on
the same values; fastloss.torch runs in the dtype under test.
"""

import copy
import doctest
import subprocess
import sys

import numpy as np
import pytest
from _matrix import REDUCTIONS

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fastloss  # noqa: E402
import fastloss.torch as flt  # noqa: E402

DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------


def tensor(array, dtype=torch.float64):
    return torch.tensor(np.asarray(array), dtype=dtype)


def compare(ours, ref, inputs, dtype, rng, *, rtol=None):
    """Loss and input gradients of ``ours(*xs)`` (xs in `dtype`) against
    ``ref(*xs)`` (xs in float64), for grad_output 1 and a random grad_output."""
    xs = [x.detach().to(dtype).requires_grad_() for x in inputs]
    rs = [x.detach().to(torch.float64).requires_grad_() for x in inputs]
    loss = ours(*xs)
    ref_loss = ref(*rs)
    assert loss.dtype == dtype
    assert loss.shape == ref_loss.shape
    if rtol is None:
        rtol = 1e-10 if dtype == torch.float64 else 2e-5
    scale = float(ref_loss.detach().abs().max()) if ref_loss.numel() else 1.0
    torch.testing.assert_close(
        loss.detach().double(), ref_loss.detach(), rtol=rtol, atol=rtol * scale
    )
    go = tensor(rng.standard_normal(loss.shape))
    for grad_output in (torch.ones_like(go), go):
        grads = torch.autograd.grad(loss, xs, grad_output.to(dtype), retain_graph=True)
        ref_grads = torch.autograd.grad(ref_loss, rs, grad_output, retain_graph=True)
        for g, r in zip(grads, ref_grads):
            assert g.dtype == dtype and g.shape == r.shape
            gscale = float(r.abs().max())
            torch.testing.assert_close(g.double(), r, rtol=rtol, atol=rtol * gscale)
    assert any(float(r.abs().max()) > 0 for r in ref_grads), "trivial gradient"
    return loss


# --------------------------------------------------------------------------------
# cross_entropy
# --------------------------------------------------------------------------------

CE_OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "ignore": {"ignore_index": -100},
    "ignore_in_range": {"ignore_index": 1},
    "smoothing": {"label_smoothing": 0.15},
    "all": {"weight": True, "ignore_index": 2, "label_smoothing": 0.3},
}
CE_SHAPES = [(6, 5), (2, 4, 3), (5,), (2, 3, 2, 2)]


def ce_case(rng, shape, kind, option):
    """(logits, target, kwargs) in torch's layout: classes on axis 1 (0 if 1-D)."""
    opts = dict(CE_OPTIONS[option])
    c = shape[1] if len(shape) >= 2 else shape[0]
    lead = (shape[0], *shape[2:]) if len(shape) >= 2 else ()
    logits = tensor(3.0 * rng.standard_normal(shape))
    kwargs = {}
    if kind == "hard":
        target = torch.tensor(rng.integers(0, c, size=lead), dtype=torch.int64)
        if "ignore_index" in opts and target.numel() > 1:
            flat = target.view(-1)
            flat[::3] = opts["ignore_index"]
            kwargs["ignore_index"] = opts["ignore_index"]
    else:
        p = rng.random(shape) ** 2 + 1e-3
        target = tensor(p / p.sum(axis=1 if len(shape) >= 2 else 0, keepdims=True))
    if opts.get("weight"):
        kwargs["weight"] = tensor(rng.uniform(0.25, 2.0, c))
    if "label_smoothing" in opts:
        kwargs["label_smoothing"] = opts["label_smoothing"]
    return logits, target, kwargs


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("option", list(CE_OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cross_entropy_matches_torch(rng, dtype, reduction, option, kind, shape):
    logits, target, kw = ce_case(rng, shape, kind, option)
    kw["reduction"] = reduction

    def ours(x):
        t = target.to(dtype) if kind == "soft" else target
        w = kw.get("weight")
        return flt.cross_entropy(
            x, t, **dict(kw, weight=None if w is None else w.to(dtype))
        )

    compare(ours, lambda x: F.cross_entropy(x, target, **kw), [logits], dtype, rng)


def test_cross_entropy_positional_arguments_in_torch_order(rng):
    logits, target, kw = ce_case(rng, (6, 4), "hard", "all")
    args = (kw["weight"], kw["ignore_index"], "sum", kw["label_smoothing"])
    compare(
        lambda x: flt.cross_entropy(x, target, *args),
        lambda x: F.cross_entropy(
            x, target, args[0], None, *args[1:2], None, *args[2:]
        ),
        [logits],
        torch.float64,
        rng,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_cross_entropy_z_loss_and_sample_weight(rng, reduction, kind):
    """fastloss's extras against the same loss written in torch ops."""
    logits, target, kw = ce_case(
        rng, (7, 5), kind, "all" if kind == "hard" else "weight"
    )
    sw = tensor(rng.uniform(0.0, 2.0, 7))
    z = 0.05

    def ref(x):
        rows = F.cross_entropy(x, target, reduction="none", **kw)
        rows = sw * (rows + z * torch.logsumexp(x, dim=1) ** 2)
        if kind == "hard":
            kept = target != kw["ignore_index"]
            norm = (sw * kw["weight"][target.clamp_min(0)] * kept).sum()
            rows = rows * kept
        else:
            norm = sw.sum()
        return {"none": rows, "sum": rows.sum(), "mean": rows.sum() / norm}[reduction]

    compare(
        lambda x: flt.cross_entropy(
            x, target, **kw, reduction=reduction, z_loss=z, sample_weight=sw
        ),
        ref,
        [logits],
        torch.float64,
        rng,
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_cross_entropy_half_precision_computes_in_float32(rng, dtype):
    logits, target, kw = ce_case(rng, (6, 5), "hard", "all")
    x = logits.to(dtype).requires_grad_()
    loss = flt.cross_entropy(x, target, kw["weight"].to(dtype), kw["ignore_index"])
    loss.backward()
    assert loss.dtype == dtype and x.grad.dtype == dtype
    # the reference: torch in float64 on the same (rounded) half-precision values
    r = x.detach().double().requires_grad_()
    ref = F.cross_entropy(r, target, kw["weight"].to(dtype).double(), ignore_index=2)
    ref.backward()
    tol = 1e-2 if dtype == torch.float16 else 4e-2
    torch.testing.assert_close(loss.double(), ref.detach(), rtol=tol, atol=tol)
    torch.testing.assert_close(x.grad.double(), r.grad, rtol=tol, atol=tol * 0.1)


def test_cross_entropy_mean_over_nothing_is_zero_where_torch_gives_nan(rng):
    x = tensor(rng.standard_normal((3, 4))).requires_grad_()
    target = torch.full((3,), -100)
    loss = flt.cross_entropy(x, target)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(x.grad == 0)
    assert torch.isnan(F.cross_entropy(x, target))


def test_cross_entropy_accepts_any_integer_target_dtype(rng):
    logits, target, _ = ce_case(rng, (6, 5), "hard", "plain")
    want = F.cross_entropy(logits, target)
    for dtype in (torch.int32, torch.uint8, torch.int16):
        got = flt.cross_entropy(logits, target.to(dtype))
        torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------
# the other losses
# --------------------------------------------------------------------------------


def bce_case(rng, shape):
    logits = tensor(2.0 * rng.standard_normal(shape))
    target = tensor(rng.random(shape))
    return logits, target


BCE_OPTIONS = ["plain", "weight_full", "weight_last", "pos_weight", "pos_scalar", "all"]


@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("option", BCE_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_bce_with_logits_matches_torch(rng, dtype, reduction, option, shape):
    logits, target = bce_case(rng, shape)
    kw = {"reduction": reduction}
    if option in ("weight_full", "all"):
        kw["weight"] = tensor(rng.uniform(0.0, 2.0, shape))
    if option == "weight_last":
        kw["weight"] = tensor(rng.uniform(0.0, 2.0, shape[-1:]))
    if option in ("pos_weight", "all"):
        kw["pos_weight"] = tensor(rng.uniform(0.5, 3.0, shape[-1:]))
    if option == "pos_scalar":
        kw["pos_weight"] = tensor(2.5)

    def ours(x):
        cast = {k: v.to(dtype) if torch.is_tensor(v) else v for k, v in kw.items()}
        return flt.binary_cross_entropy_with_logits(x, target.to(dtype), **cast)

    def ref(x):
        return F.binary_cross_entropy_with_logits(x, target, **kw)

    compare(ours, ref, [logits], dtype, rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_label_smoothing(rng, reduction):
    logits, target = bce_case(rng, (5, 3))
    compare(
        lambda x: flt.binary_cross_entropy_with_logits(
            x, target, reduction=reduction, label_smoothing=0.2
        ),
        lambda x: F.binary_cross_entropy_with_logits(
            x, target * 0.8 + 0.1, reduction=reduction
        ),
        [logits],
        torch.float64,
        rng,
    )


def torchvision_sigmoid_focal_loss(inputs, targets, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, as torchvision writes it."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@pytest.mark.parametrize("alpha", [0.25, -1.0, None, 0.9])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sigmoid_focal_loss_matches_torchvision_formula(
    rng, dtype, reduction, gamma, alpha
):
    logits, _ = bce_case(rng, (6, 3))
    target = tensor(rng.integers(0, 2, (6, 3)))
    compare(
        lambda x: flt.sigmoid_focal_loss(x, target.to(dtype), alpha, gamma, reduction),
        lambda x: torchvision_sigmoid_focal_loss(x, target, alpha, gamma, reduction),
        [logits],
        dtype,
        rng,
    )


def test_sigmoid_focal_loss_defaults_are_torchvisions(rng):
    logits, target = bce_case(rng, (4, 2))
    got = flt.sigmoid_focal_loss(logits, target)
    assert got.shape == (4, 2)  # reduction="none"
    want = torchvision_sigmoid_focal_loss(logits, target, 0.25, 2.0, "none")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)


REGRESSION = {
    "mse": (flt.mse_loss, F.mse_loss, {}),
    "mse_weight": (flt.mse_loss, F.mse_loss, {"weight": True}),
    "l1": (flt.l1_loss, F.l1_loss, {}),
    "l1_weight": (flt.l1_loss, F.l1_loss, {"weight": True}),
    "huber": (flt.huber_loss, F.huber_loss, {"delta": 0.7}),
    "huber_weight": (flt.huber_loss, F.huber_loss, {"delta": 1.5, "weight": True}),
    "smooth_l1": (flt.smooth_l1_loss, F.smooth_l1_loss, {"beta": 0.5}),
    "smooth_l1_beta0": (flt.smooth_l1_loss, F.smooth_l1_loss, {"beta": 0.0}),
}


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("case", list(REGRESSION))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_regression_losses_match_torch(rng, dtype, reduction, case, shape):
    ours_fn, torch_fn, opts = REGRESSION[case]
    pred = tensor(2.0 * rng.standard_normal(shape))
    target = tensor(2.0 * rng.standard_normal(shape))
    kw = {k: v for k, v in opts.items() if k != "weight"}
    if opts.get("weight"):
        kw["weight"] = tensor(rng.uniform(0.0, 2.0, shape))

    def ours(x):
        cast = {k: v.to(dtype) if torch.is_tensor(v) else v for k, v in kw.items()}
        return ours_fn(x, target.to(dtype), reduction=reduction, **cast)

    compare(
        ours,
        lambda x: torch_fn(x, target, reduction=reduction, **kw),
        [pred],
        dtype,
        rng,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_log_cosh_loss_matches_torch_ops(rng, dtype, reduction):
    pred = tensor(2.0 * rng.standard_normal((5, 3)))
    target = tensor(2.0 * rng.standard_normal((5, 3)))

    def ref(x):
        loss = torch.log(torch.cosh(x - target))
        return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]

    compare(
        lambda x: flt.log_cosh_loss(x, target.to(dtype), reduction),
        ref,
        [pred],
        dtype,
        rng,
    )


@pytest.mark.parametrize("temperature", [1.0, 2.5])
@pytest.mark.parametrize("teacher_probs", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_kl_div_with_logits_matches_torch(
    rng, dtype, reduction, teacher_probs, temperature
):
    student = tensor(2.0 * rng.standard_normal((6, 5)))
    teacher = tensor(2.0 * rng.standard_normal((6, 5)))
    sw = tensor(rng.uniform(0.2, 2.0, 6))
    if teacher_probs:
        teacher = torch.softmax(teacher, dim=1)
    T = temperature

    def ref(s):
        logq = F.log_softmax(s / T, dim=1)
        if teacher_probs:
            rows = F.kl_div(logq, teacher, reduction="none").sum(1) * T**2
        else:
            logp = F.log_softmax(teacher / T, dim=1)
            rows = F.kl_div(logq, logp, log_target=True, reduction="none").sum(1) * T**2
        rows = sw * rows
        return {"none": rows, "mean": rows.sum() / sw.sum(), "sum": rows.sum()}[
            reduction
        ]

    compare(
        lambda s: flt.kl_div_with_logits(
            s,
            teacher.to(dtype),
            temperature=T,
            teacher_probs=teacher_probs,
            sample_weight=sw.to(dtype),
            reduction=reduction,
        ),
        ref,
        [student],
        dtype,
        rng,
    )


def test_kl_div_with_logits_mean_is_torch_batchmean(rng):
    student = tensor(rng.standard_normal((6, 5)))
    teacher = tensor(rng.standard_normal((6, 5)))
    compare(
        lambda s: flt.kl_div_with_logits(s, teacher, temperature=2.0),
        lambda s: (
            F.kl_div(
                F.log_softmax(s / 2, 1),
                F.log_softmax(teacher / 2, 1),
                log_target=True,
                reduction="batchmean",
            )
            * 4
        ),
        [student],
        torch.float64,
        rng,
    )


@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3)], ids=str)
@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_softmax_focal_loss_matches_torch_ops(rng, dtype, reduction, alpha, shape):
    logits, target, _ = ce_case(rng, shape, "hard", "ignore")
    a = tensor(rng.uniform(0.25, 2.0, shape[1])) if alpha else None
    gamma = 1.5

    def ref(x):
        kept = target != -100
        logp = F.log_softmax(x, dim=1).gather(1, target.clamp_min(0).unsqueeze(1))
        logp = logp.squeeze(1)
        rows = -((1 - logp.exp()) ** gamma) * logp
        if a is not None:
            rows = a[target.clamp_min(0)] * rows
        rows = torch.where(kept, rows, torch.zeros_like(rows))
        return {"none": rows, "mean": rows.sum() / kept.sum(), "sum": rows.sum()}[
            reduction
        ]

    compare(
        lambda x: flt.softmax_focal_loss(
            x,
            target,
            gamma=gamma,
            class_weight=None if a is None else a.to(dtype),
            reduction=reduction,
        ),
        ref,
        [logits],
        dtype,
        rng,
    )


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_triplet_margin_loss_matches_torch(rng, dtype, reduction, swap, p):
    inputs = [tensor(rng.standard_normal((8, 4))) for _ in range(3)]
    kw = {"margin": 1.5, "p": p, "eps": 1e-6, "swap": swap, "reduction": reduction}
    compare(
        lambda a, b, c: flt.triplet_margin_loss(a, b, c, **kw),
        lambda a, b, c: F.triplet_margin_loss(a, b, c, **kw),
        inputs,
        dtype,
        rng,
    )


def test_triplet_margin_loss_differentiates_only_what_requires_grad(rng):
    a, pos, neg = (tensor(rng.standard_normal((5, 3))) for _ in range(3))
    a.requires_grad_()
    flt.triplet_margin_loss(a, pos, neg, margin=5.0).backward()
    assert a.grad is not None and pos.grad is None and neg.grad is None


# --------------------------------------------------------------------------------
# linear_cross_entropy (hidden, weight and bias differentiated)
# --------------------------------------------------------------------------------


def linear_case(rng, lead, n_in=4, n_classes=7, ignore=True):
    hidden = tensor(rng.standard_normal((*lead, n_in)))
    weight = tensor(rng.standard_normal((n_classes, n_in)))
    bias = tensor(rng.standard_normal(n_classes))
    target = torch.tensor(rng.integers(0, n_classes, lead), dtype=torch.int64)
    if ignore:
        target.view(-1)[::3] = -100
    return hidden, weight, bias, target


def torch_linear_ce(h, w, b, target, **kw):
    logits = F.linear(h, w, b)
    return F.cross_entropy(
        logits.movedim(-1, 1) if logits.ndim > 2 else logits, target, **kw
    )


@pytest.mark.parametrize("chunk_size", [None, 2])
@pytest.mark.parametrize("lead", [(6,), (2, 3)], ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("option", ["plain", "all"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_linear_cross_entropy_matches_torch(
    rng, dtype, reduction, option, with_bias, lead, chunk_size
):
    hidden, weight, bias, target = linear_case(rng, lead)
    kw = {"reduction": reduction}
    if option == "all":
        kw.update(weight=tensor(rng.uniform(0.5, 2.0, 7)), label_smoothing=0.2)
    inputs = [hidden, weight, bias] if with_bias else [hidden, weight]

    def ours(h, w, b=None):
        cw = kw.get("weight")
        return flt.linear_cross_entropy(
            h,
            w,
            target,
            b,
            class_weight=None if cw is None else cw.to(dtype),
            label_smoothing=kw.get("label_smoothing", 0.0),
            reduction=reduction,
            chunk_size=chunk_size,
        )

    compare(
        ours,
        lambda h, w, b=None: torch_linear_ce(h, w, b, target, **kw),
        inputs,
        dtype,
        rng,
        rtol=None if dtype == torch.float64 else 1e-4,  # float32 matmuls
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_linear_cross_entropy_z_loss_and_sample_weight(rng, reduction):
    hidden, weight, bias, target = linear_case(rng, (8,))
    cw = tensor(rng.uniform(0.5, 2.0, 7))
    sw = tensor(rng.uniform(0.0, 2.0, 8))

    def ref(h, w, b):
        logits = F.linear(h, w, b)
        rows = F.cross_entropy(logits, target, cw, reduction="none")
        rows = sw * (rows + 0.01 * torch.logsumexp(logits, 1) ** 2) * (target != -100)
        norm = (sw * cw[target.clamp_min(0)] * (target != -100)).sum()
        return {"none": rows, "sum": rows.sum(), "mean": rows.sum() / norm}[reduction]

    compare(
        lambda h, w, b: flt.linear_cross_entropy(
            h,
            w,
            target,
            b,
            class_weight=cw,
            sample_weight=sw,
            z_loss=0.01,
            reduction=reduction,
        ),
        ref,
        [hidden, weight, bias],
        torch.float64,
        rng,
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_linear_cross_entropy_half_precision(rng, dtype):
    hidden, weight, bias, target = linear_case(rng, (6,))
    h, w, b = (v.to(dtype).requires_grad_() for v in (hidden, weight, bias))
    loss = flt.linear_cross_entropy(h, w, target, b)
    loss.backward()
    assert loss.dtype == dtype
    assert h.grad.dtype == w.grad.dtype == b.grad.dtype == dtype
    rs = [v.detach().double().requires_grad_() for v in (h, w, b)]
    ref = torch_linear_ce(*rs, target)
    ref.backward()
    tol = 1e-2 if dtype == torch.float16 else 4e-2
    torch.testing.assert_close(loss.double(), ref.detach(), rtol=tol, atol=tol)
    for v, r in zip((h, w, b), rs):
        torch.testing.assert_close(v.grad.double(), r.grad, rtol=tol, atol=tol * 0.1)


def test_linear_cross_entropy_none_refuses_inputs_modified_in_place(rng):
    """With "none" the backward recomputes from the inputs: autograd's version
    check must catch an input changed in between."""
    hidden, weight, bias, target = linear_case(rng, (5,))
    w = weight.clone().requires_grad_()
    h = hidden.clone()
    loss = flt.linear_cross_entropy(h, w, target, reduction="none")
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.sum().backward()


def test_linear_cross_entropy_is_zero_copy(rng, monkeypatch):
    calls = _spy(monkeypatch, "linear_cross_entropy_and_grad")
    hidden, weight, bias, target = linear_case(rng, (2, 3))
    h = hidden.clone().requires_grad_()
    w_stored = weight.t().contiguous().requires_grad_()  # (in_features, n_classes)
    w = w_stored.t()  # the layer's (n_classes, in_features): a transposed view
    flt.linear_cross_entropy(h, w, target, bias).backward()
    args, kwargs, _ = calls[0]
    assert args[0].ctypes.data == h.data_ptr()
    assert args[1].ctypes.data == w_stored.data_ptr()
    assert kwargs["bias"].ctypes.data == bias.data_ptr()
    r = w_stored.detach().clone().requires_grad_()
    torch_linear_ce(hidden, r.t(), bias, target).backward()
    torch.testing.assert_close(w_stored.grad, r.grad, rtol=1e-10, atol=1e-14)


def test_linear_cross_entropy_trains_a_language_model_head_like_torch(rng):
    vocab, dim = 11, 6
    torch.manual_seed(0)
    embed = torch.nn.Embedding(vocab, dim).double()
    head = torch.nn.Linear(dim, vocab).double()
    tokens = torch.tensor(rng.integers(0, vocab, (3, 8)))
    target = tokens.roll(-1, dims=1)
    target[:, -1] = -100

    def train(use_fastloss):
        e, hd = copy.deepcopy(embed), copy.deepcopy(head)
        opt = torch.optim.Adam([*e.parameters(), *hd.parameters()], lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            hidden = torch.tanh(e(tokens))
            if use_fastloss:
                loss = flt.linear_cross_entropy(
                    hidden, hd.weight, target, hd.bias, chunk_size=5
                )
            else:
                loss = F.cross_entropy(
                    hd(hidden).reshape(-1, vocab), target.reshape(-1)
                )
            loss.backward()
            opt.step()
        return [*e.parameters(), *hd.parameters()]

    for p, q in zip(train(True), train(False)):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


def test_linear_cross_entropy_bad_arguments():
    h, w = torch.zeros((3, 4)), torch.zeros((5, 4))
    with pytest.raises(TypeError, match="integer class indices"):
        flt.linear_cross_entropy(h, w, torch.zeros((3, 5)))
    with pytest.raises(ValueError, match="device 'meta'"):
        flt.linear_cross_entropy(h, w.to("meta"), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="weight"):
        flt.linear_cross_entropy(
            h, torch.zeros((5, 3)), torch.zeros(3, dtype=torch.int64)
        )
    with pytest.raises(ValueError, match="requires grad"):
        flt.linear_cross_entropy(
            h,
            w,
            torch.zeros(3, dtype=torch.int64),
            class_weight=torch.ones(5, requires_grad=True),
        )


# --------------------------------------------------------------------------------
# gradcheck (float64 finite differences through the autograd Function)
# --------------------------------------------------------------------------------


def _gradcheck_cases():
    """name -> (function of the differentiated tensors, their shapes); the tensors
    that are not differentiated are fixed in the closures."""
    r = np.random.default_rng(1234)
    t3 = torch.tensor([0, 2, -100, 1])
    soft = torch.softmax(tensor(r.standard_normal((4, 3))), 1)
    w3 = tensor(r.uniform(0.5, 2.0, 3))
    pw3 = tensor(r.uniform(0.5, 2.0, 3))
    y = tensor(r.standard_normal((4, 3)))
    y01 = tensor(r.random((4, 3)))
    teacher = tensor(r.standard_normal((4, 3)))
    kdim = torch.tensor([[0, 1], [2, -100]])
    return {
        "cross_entropy": (
            lambda x, red: flt.cross_entropy(
                x, t3, w3, label_smoothing=0.1, reduction=red, z_loss=0.01
            ),
            [(4, 3)],
        ),
        "cross_entropy_soft": (
            lambda x, red: flt.cross_entropy(x, soft, w3, reduction=red),
            [(4, 3)],
        ),
        "cross_entropy_kdim": (
            lambda x, red: flt.cross_entropy(x, kdim, reduction=red),
            [(2, 3, 2)],
        ),
        "softmax_focal_loss": (
            lambda x, red: flt.softmax_focal_loss(
                x, t3, gamma=2.0, class_weight=w3, reduction=red
            ),
            [(4, 3)],
        ),
        "kl_div_with_logits": (
            lambda x, red: flt.kl_div_with_logits(
                x, teacher, temperature=1.5, reduction=red
            ),
            [(4, 3)],
        ),
        "bce_with_logits": (
            lambda x, red: flt.binary_cross_entropy_with_logits(x, y01, w3, red, pw3),
            [(4, 3)],
        ),
        "sigmoid_focal_loss": (
            lambda x, red: flt.sigmoid_focal_loss(x, y01, reduction=red),
            [(4, 3)],
        ),
        "mse_loss": (lambda x, red: flt.mse_loss(x, y, red), [(4, 3)]),
        "l1_loss": (lambda x, red: flt.l1_loss(x, y, red), [(4, 3)]),
        "huber_loss": (lambda x, red: flt.huber_loss(x, y, red, 0.8), [(4, 3)]),
        "smooth_l1_loss": (lambda x, red: flt.smooth_l1_loss(x, y, red, 0.8), [(4, 3)]),
        "log_cosh_loss": (lambda x, red: flt.log_cosh_loss(x, y, red), [(4, 3)]),
        "linear_cross_entropy": (
            lambda h, w, b, red: flt.linear_cross_entropy(
                h,
                w,
                t3,
                b,
                class_weight=w3,
                label_smoothing=0.1,
                reduction=red,
                chunk_size=3,
            ),
            [(4, 5), (3, 5), (3,)],
        ),
        "triplet_margin_loss": (
            lambda a, p, n, red: flt.triplet_margin_loss(
                a, p, n, margin=3.0, reduction=red
            ),
            [(4, 3)] * 3,
        ),
    }


GRADCHECK_CASES = _gradcheck_cases()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(rng, name, reduction):
    fn, shapes = GRADCHECK_CASES[name]
    # away from the kinks of l1/huber/smooth-l1/hinge: |residuals| >= 0.05
    xs = [
        tensor(np.sign(v) * (np.abs(v) + 0.05)).requires_grad_()
        for v in (rng.standard_normal(s) for s in shapes)
    ]
    assert torch.autograd.gradcheck(
        lambda *a: fn(*a, reduction), xs, eps=1e-6, atol=1e-7, rtol=1e-5
    )


# --------------------------------------------------------------------------------
# training: the same parameters as with PyTorch's losses
# --------------------------------------------------------------------------------


class Net(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(n_in, 16), torch.nn.Tanh(), torch.nn.Linear(16, n_out)
        )

    def forward(self, x):
        return self.body(x)


def _train(model, loss_fn, x, y, steps=5):
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


TRAINING = {
    "cross_entropy": lambda w: (
        flt.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1),
        "classes",
    ),
    "bce_with_logits": lambda w: (
        flt.BCEWithLogitsLoss(pos_weight=w),
        torch.nn.BCEWithLogitsLoss(pos_weight=w),
        "labels",
    ),
    "mse": lambda w: (flt.MSELoss(), torch.nn.MSELoss(), "values"),
    "l1": lambda w: (
        flt.L1Loss(),
        torch.nn.L1Loss(),
        "values",
    ),
    "huber": lambda w: (
        flt.HuberLoss(delta=0.5),
        torch.nn.HuberLoss(delta=0.5),
        "values",
    ),
    "smooth_l1": lambda w: (
        flt.SmoothL1Loss(beta=0.5),
        torch.nn.SmoothL1Loss(beta=0.5),
        "values",
    ),
}


@pytest.mark.parametrize("case", list(TRAINING))
def test_training_gives_torchs_parameters(rng, case):
    torch.manual_seed(0)
    n_out = 4
    ours, theirs, kind = TRAINING[case](tensor(rng.uniform(0.5, 2.0, n_out)))
    x = tensor(rng.standard_normal((32, 6)))
    if kind == "classes":
        y = torch.tensor(rng.integers(0, n_out, 32))
    elif kind == "labels":
        y = tensor(rng.integers(0, 2, (32, n_out)))
    else:
        y = tensor(rng.standard_normal((32, n_out)))
    model = Net(6, n_out).double()
    twin = copy.deepcopy(model)
    ours_losses = _train(model, ours, x, y)
    theirs_losses = _train(twin, theirs, x, y)
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=1e-9)
    assert ours_losses[-1] < ours_losses[0]  # it trained
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)
    assert not torch.equal(model.body[0].weight, Net(6, n_out).double().body[0].weight)


def test_training_triplet_module(rng):
    torch.manual_seed(0)
    model = Net(5, 3).double()
    twin = copy.deepcopy(model)
    a, p, n = (tensor(rng.standard_normal((16, 5))) for _ in range(3))

    def run(net, loss_fn):
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(4):
            opt.zero_grad()
            loss_fn(net(a), net(p), net(n)).backward()
            opt.step()

    run(model, flt.TripletMarginLoss(margin=2.0, p=1.5))
    run(twin, torch.nn.TripletMarginLoss(margin=2.0, p=1.5))
    for p1, p2 in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p1, p2, rtol=1e-9, atol=1e-12)


def test_module_weights_are_buffers():
    w = torch.tensor([1.0, 2.0, 3.0])
    loss = flt.CrossEntropyLoss(w)
    assert torch.equal(loss.state_dict()["weight"], w)
    assert loss.double().weight.dtype == torch.float64
    bce = flt.BCEWithLogitsLoss(pos_weight=w)
    assert set(bce.state_dict()) == {"pos_weight"}


# --------------------------------------------------------------------------------
# autograd rules: what is differentiated, grad_output, double backward
# --------------------------------------------------------------------------------


def test_backward_scales_by_grad_output_and_survives_retain_graph(rng):
    logits, target, _ = ce_case(rng, (5, 4), "hard", "plain")
    x = logits.clone().requires_grad_()
    loss = flt.cross_entropy(x, target)
    (g1,) = torch.autograd.grad(loss, x, retain_graph=True)
    (g2,) = torch.autograd.grad(3.0 * loss, x, retain_graph=True)
    (g3,) = torch.autograd.grad(loss, x, retain_graph=True)
    torch.testing.assert_close(g2, 3.0 * g1, rtol=1e-15, atol=0)
    torch.testing.assert_close(g3, g1, rtol=0, atol=0)
    r = logits.clone().requires_grad_()
    F.cross_entropy(r, target).backward()
    torch.testing.assert_close(g1, r.grad, rtol=1e-10, atol=1e-14)
    # A leaf's .grad changed in place (clipping, zero_grad) is not the saved buffer
    loss.backward(retain_graph=True)
    x.grad.mul_(100.0)
    x.grad = None
    loss.backward()
    torch.testing.assert_close(x.grad, g1, rtol=0, atol=0)


def test_double_backward_is_a_clear_error(rng):
    x = tensor(rng.standard_normal((3, 4))).requires_grad_()
    loss = flt.cross_entropy(x, torch.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="once differentiable.*create_graph"):
        torch.autograd.grad(loss, x, create_graph=True)
    (g,) = torch.autograd.grad(loss, x)  # the graph is intact: a plain backward
    assert g.abs().max() > 0


@pytest.mark.parametrize(
    "call",
    [
        lambda x, t: flt.cross_entropy(x, t),  # soft target
        lambda x, t: flt.mse_loss(x, t),
        lambda x, t: flt.binary_cross_entropy_with_logits(x, t),
        lambda x, t: flt.kl_div_with_logits(x, t),
        lambda x, t: flt.cross_entropy(x, torch.tensor([0, 1]), t[0]),  # weight
        lambda x, t: flt.mse_loss(x, x.detach(), weight=t),
    ],
)
def test_a_second_tensor_that_requires_grad_is_refused(call):
    x = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    t = torch.softmax(torch.rand(2, 3, dtype=torch.float64), 1).requires_grad_()
    with pytest.raises(ValueError, match=r"requires grad.*\.detach\(\)"):
        call(x, t)
    with torch.no_grad():  # nothing is differentiated: no error
        call(x, t)
    call(x, t.detach())


def test_no_grad_runs_the_forward_only_kernel(rng, monkeypatch):
    logits, target, _ = ce_case(rng, (5, 4), "hard", "plain")
    want = F.cross_entropy(logits, target)

    def refuse(*args, **kwargs):
        raise AssertionError("the gradient kernel ran")

    monkeypatch.setattr(fastloss, "softmax_cross_entropy_and_grad", refuse)
    x = logits.clone().requires_grad_()
    with torch.no_grad():
        got = flt.cross_entropy(x, target)
    assert not got.requires_grad
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    got = flt.cross_entropy(logits, target)  # input does not require grad
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    with pytest.raises(AssertionError, match="gradient kernel"):
        flt.cross_entropy(x, target)


# --------------------------------------------------------------------------------
# memory: zero copy, never modifying inputs
# --------------------------------------------------------------------------------


def _spy(monkeypatch, name):
    """Record the arrays each call of fastloss.<name> gets and returns."""
    calls = []
    real = getattr(fastloss, name)

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(fastloss, name, spy)
    return calls


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cross_entropy_is_zero_copy(rng, monkeypatch, dtype):
    calls = _spy(monkeypatch, "softmax_cross_entropy_and_grad")
    logits = tensor(rng.standard_normal((6, 5)), dtype)
    x = logits.clone().requires_grad_()
    received = []
    y = x * 1.0  # a non-leaf: its hook sees the very gradient the Function returns
    y.register_hook(received.append)
    loss = flt.cross_entropy(y, torch.tensor([0, 1, 2, 3, 4, 0]))
    loss.backward()
    (args, kwargs, (_, grad)) = calls[0]
    # the kernel read the tensor's own memory ...
    assert args[0].ctypes.data == y.data_ptr()
    # ... and wrote the gradient that autograd passed on (no copy, no multiply)
    assert kwargs["out"] is grad
    assert received[0].data_ptr() == grad.ctypes.data
    assert received[0].data_ptr() != y.data_ptr()


def test_elementwise_is_zero_copy(rng, monkeypatch):
    calls = _spy(monkeypatch, "mse_loss_and_grad")
    x = tensor(rng.standard_normal((4, 3))).requires_grad_()
    t = tensor(rng.standard_normal((4, 3)))
    y = x * 1.0
    received = []
    y.register_hook(received.append)
    flt.mse_loss(y, t).backward()
    (args, kwargs, (_, grad)) = calls[0]
    assert args[0].ctypes.data == y.data_ptr()
    assert args[1].ctypes.data == t.data_ptr()
    assert received[0].data_ptr() == grad.ctypes.data == kwargs["out"].ctypes.data


def test_a_private_copy_receives_the_gradient_in_place(rng, monkeypatch):
    """Non-contiguous (and (N, C, d) or half) input is copied once; the gradient
    is written over that copy, and the caller's tensor is left alone."""
    calls = _spy(monkeypatch, "softmax_cross_entropy_and_grad")
    for x0 in (
        tensor(rng.standard_normal((5, 6))).t(),  # non-contiguous (6, 5)
        tensor(rng.standard_normal((2, 5, 3))),  # classes moved last
        tensor(rng.standard_normal((6, 5)), torch.float16),
    ):
        before = x0.clone()
        x = x0.requires_grad_()
        target = torch.zeros((x.shape[0], *x.shape[2:]), dtype=torch.int64)
        flt.cross_entropy(x, target).backward()
        args, kwargs, (_, grad) = calls[-1]
        assert kwargs["out"] is args[0] and grad is args[0]
        assert not np.shares_memory(args[0], x0.detach().numpy())
        assert torch.equal(x0.detach(), before)
        r = before.double().requires_grad_()
        F.cross_entropy(r, target).backward()
        tol = 1e-3 if x0.dtype == torch.float16 else 1e-12
        torch.testing.assert_close(x.grad.double(), r.grad, rtol=tol, atol=tol)


# --------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------


def test_other_devices_are_refused():
    x = torch.empty((3, 4), device="meta")
    t = torch.zeros(3, dtype=torch.int64)
    cpu = torch.zeros((3, 4))
    with pytest.raises(ValueError, match=r"input is on device 'meta'.*CPU only"):
        flt.cross_entropy(x, t)
    with pytest.raises(ValueError, match=r"target is on device 'meta'"):
        flt.cross_entropy(cpu, t.to("meta"))
    with pytest.raises(ValueError, match=r"weight is on device 'meta'"):
        flt.cross_entropy(cpu, t, torch.ones(4, device="meta"))
    with pytest.raises(ValueError, match="device 'meta'"):
        flt.mse_loss(x, torch.empty((3, 4), device="meta"))
    with pytest.raises(ValueError, match="device 'meta'"):
        flt.triplet_margin_loss(cpu, cpu, x)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: flt.cross_entropy(np.zeros((2, 3)), torch.zeros(2)),
            TypeError,
            "torch.Tensor",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3), dtype=torch.int64),
                torch.zeros(2, dtype=torch.int64),
            ),
            TypeError,
            "floating-point",
        ),
        (
            lambda: flt.cross_entropy(torch.zeros(()), torch.zeros(())),
            ValueError,
            "0-d",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3)), torch.zeros(3, dtype=torch.int64)
            ),
            ValueError,
            r"shape \(2,\)",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3)), torch.zeros(2, dtype=torch.bool)
            ),
            TypeError,
            "torch.bool",
        ),
        (
            lambda: flt.cross_entropy(torch.zeros((2, 3)), torch.tensor([0, 3])),
            ValueError,
            "out of range",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3)), torch.full((2, 3), 1 / 3), ignore_index=0
            ),
            ValueError,
            "ignore_index is not supported",
        ),
        (
            lambda: flt.cross_entropy(torch.zeros((2, 3)), torch.zeros((2, 2))),
            ValueError,
            "input's shape",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3)), torch.tensor([0, 1]), reduction="avg"
            ),
            ValueError,
            "reduction",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3)), torch.tensor([0, 1]), torch.ones(2)
            ),
            ValueError,
            "weight",
        ),
        (
            lambda: flt.cross_entropy(
                torch.zeros((2, 3)).to_sparse(), torch.tensor([0, 1])
            ),
            TypeError,
            "dense",
        ),
        (
            lambda: flt.mse_loss(torch.zeros(3), torch.zeros((1, 3))),
            ValueError,
            "no broadcasting",
        ),
        (
            lambda: flt.mse_loss(torch.zeros(3), torch.zeros(3), weight=torch.ones(1)),
            ValueError,
            "weight must have the input's shape",
        ),
        (
            lambda: flt.binary_cross_entropy_with_logits(
                torch.zeros((2, 3, 4)),
                torch.zeros((2, 3, 4)),
                pos_weight=torch.ones((3, 1)),
            ),
            NotImplementedError,
            "pos_weight",
        ),
        (
            lambda: flt.huber_loss(torch.zeros(3), torch.zeros(3), delta=0.0),
            ValueError,
            "delta",
        ),
        (
            lambda: flt.softmax_focal_loss(torch.zeros((2, 3)), torch.zeros((2, 3))),
            TypeError,
            "integer class",
        ),
        (
            lambda: flt.triplet_margin_loss(
                torch.zeros((2, 3)), torch.zeros((2, 3)), torch.zeros((2, 4))
            ),
            ValueError,
            "negative must have",
        ),
        (
            lambda: flt.kl_div_with_logits(torch.zeros((2, 3)), torch.zeros((3, 2))),
            ValueError,
            "teacher_logits",
        ),
        (lambda: flt.CrossEntropyLoss(reduction="avg"), ValueError, "reduction"),
    ],
)
def test_bad_arguments_raise_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------------
# packaging: optional import, docstring examples
# --------------------------------------------------------------------------------


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


def test_import_fastloss_does_not_import_torch():
    result = _run("import sys, fastloss; print('torch' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_missing_torch_gives_a_clear_import_error():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n"
        "    import fastloss.torch\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fastloss.torch needs PyTorch: pip install torch"


def test_docstring_examples():
    result = doctest.testmod(flt, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 20
    assert result.failed == 0
