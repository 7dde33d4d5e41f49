"""fastloss.ctc_loss / ctc_loss_and_grad and fastloss.losses.CTC.

Against the float64 twins of tests/_reference_ctc.py (a scaled probability-space
recursion, and brute-force enumeration on tiny problems), 4th-order central finite
differences, PyTorch's ``ctc_loss`` with autograd and Keras 3's ``CTC`` when they
import; across dtype x reduction x layout x out= x n_threads; on the extreme cases
(one frame, empty targets, repeated labels that need blanks, impossible alignments,
-inf masks, long sequences) and bad input.
"""

import doctest
import os
import sys

import numpy as np
import pytest
from _matrix import DTYPES, N_THREADS, REDUCTIONS
from _reference import assert_same_bits, assert_unchanged, numerical_gradient, snapshot
from _reference_ctc import ctc_brute_force, ctc_sequence, reference
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss
from fastloss import _ctc
from fastloss import losses as fl

TOL = {np.float32: 2e-5, np.float64: 1e-11}


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def make(rng, t=12, n=5, c=6, s=4, blank=0, dtype=np.float64, scale=2.0):
    """(log_probs (T, N, C), padded targets (N, S), input_lengths, target_lengths)
    with every sequence feasible, a few lengths at their extremes."""
    lp = _log_softmax(rng.standard_normal((t, n, c)) * scale).astype(dtype)
    labels = [k for k in range(c) if k != blank]
    tl = rng.integers(0, s + 1, n)
    tl[0] = s
    if n > 1:
        tl[1] = 0
    il = np.array([rng.integers(min(t, 2 * k + 1), t + 1) for k in tl])
    il[0] = t
    y = rng.choice(labels, (n, s))
    y[np.arange(s)[None, :] >= tl[:, None]] = blank  # padding: never read
    return lp, y, il, tl


def _close(got, want, dtype, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(want))) if want.size else 1.0)
    np.testing.assert_allclose(
        got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale, err_msg=what
    )


# ---- twins ---------------------------------------------------------------------------


def test_the_two_twins_agree():
    """The scaled recursion and brute force agree: the twin itself is right."""
    rng = np.random.default_rng(1)
    for labels, t in [([1, 2], 3), ([1, 1], 3), ([2, 2, 1], 5), ([], 3), ([1], 1)]:
        lp = _log_softmax(rng.standard_normal((t, 3)))
        l1, g1 = ctc_sequence(lp, labels)
        l2, g2 = ctc_brute_force(lp, labels)
        np.testing.assert_allclose(l1, l2, rtol=1e-12)
        np.testing.assert_allclose(g1, g2, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n_threads", N_THREADS)
@pytest.mark.parametrize("from_logits", [False, True])
def test_against_the_twin(dtype, reduction, n_threads, from_logits):
    rng = np.random.default_rng(2)
    lp, y, il, tl = make(rng, dtype=dtype)
    x = (lp * 1.5 + 0.3).astype(dtype) if from_logits else lp
    kw = dict(reduction=reduction, from_logits=from_logits)
    loss, grad = fastloss.ctc_loss_and_grad(x, y, il, tl, n_threads=n_threads, **kw)
    want_loss, want_grad = reference(x, y, il, tl, **kw)
    assert grad.dtype == dtype and grad.shape == x.shape
    if reduction == "none":
        assert loss.dtype == dtype and loss.shape == (5,)
    else:
        assert type(loss) is float
    _close(loss, want_loss, dtype, "loss")
    _close(grad, want_grad, dtype, "grad")
    assert_same_bits(fastloss.ctc_loss(x, y, il, tl, n_threads=n_threads, **kw), loss)


def test_brute_force_on_tiny_problems():
    rng = np.random.default_rng(3)
    for t, labels in [(1, [2]), (2, [1, 2]), (3, [1, 1]), (4, [2, 1]), (4, [])]:
        lp = _log_softmax(rng.standard_normal((t, 1, 3)))
        y = np.array([labels]) if labels else np.zeros((1, 0), int)
        loss, grad = fastloss.ctc_loss_and_grad(
            lp, y, [t], [len(labels)], reduction="sum"
        )
        want_loss, want_grad = ctc_brute_force(lp[:, 0], labels)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
        np.testing.assert_allclose(grad[:, 0], want_grad, atol=1e-12)


@pytest.mark.parametrize("blank", [0, 3, 5])
def test_blank_anywhere_and_concatenated_targets(blank):
    rng = np.random.default_rng(4)
    lp, y, il, tl = make(rng, blank=blank)
    flat = np.concatenate([y[i, : tl[i]] for i in range(len(tl))])
    for reduction in REDUCTIONS:
        a = fastloss.ctc_loss_and_grad(lp, y, il, tl, blank=blank, reduction=reduction)
        b = fastloss.ctc_loss_and_grad(
            lp, flat, il, tl, blank=blank, reduction=reduction
        )
        want = reference(lp, y, il, tl, blank=blank, reduction=reduction)
        assert_same_bits(a[0], b[0])
        assert_same_bits(a[1], b[1])
        _close(a[0], want[0], np.float64, "loss")
        _close(a[1], want[1], np.float64, "grad")


def test_batch_first_and_unbatched():
    rng = np.random.default_rng(5)
    lp, y, il, tl = make(rng)
    for reduction in REDUCTIONS:
        a = fastloss.ctc_loss_and_grad(lp, y, il, tl, reduction=reduction)
        b = fastloss.ctc_loss_and_grad(
            np.ascontiguousarray(lp.transpose(1, 0, 2)),
            y,
            il,
            tl,
            reduction=reduction,
            batch_first=True,
        )
        assert_same_bits(a[0], b[0])
        assert_same_bits(a[1], b[1].transpose(1, 0, 2).copy())
    # one sequence: (T, C), 1-D targets, scalar lengths
    loss, grad = fastloss.ctc_loss_and_grad(
        lp[:, 0], y[0, : tl[0]], il[0], tl[0], reduction="none"
    )
    full = fastloss.ctc_loss_and_grad(
        lp[:, :1], y[:1], il[:1], tl[:1], reduction="none"
    )
    assert loss.shape == () and grad.shape == lp[:, 0].shape
    assert_same_bits(loss, full[0].reshape(()))
    assert_same_bits(grad, full[1][:, 0].copy())


def test_sample_weight():
    rng = np.random.default_rng(6)
    lp, y, il, tl = make(rng)
    w = rng.random(5) + 0.5
    w[2] = 0.0
    for reduction in REDUCTIONS:
        loss, grad = fastloss.ctc_loss_and_grad(
            lp, y, il, tl, sample_weight=w, reduction=reduction
        )
        want = reference(lp, y, il, tl, sample_weight=w, reduction=reduction)
        _close(loss, want[0], np.float64, "loss")
        _close(grad, want[1], np.float64, "grad")
    # a weight of 0 drops an impossible sequence entirely (no 0 * inf)
    il2 = il.copy()
    il2[0] = 1  # 4 labels in 1 frame
    loss, grad = fastloss.ctc_loss_and_grad(
        lp, y, il2, tl, sample_weight=[0.0, 1, 1, 1, 1], reduction="sum"
    )
    assert np.isfinite(loss) and not grad[:, 0].any()


# ---- layouts, out=, threads ----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["out", "inplace", "strided", "readonly"])
def test_layouts_and_out(dtype, mode):
    rng = np.random.default_rng(7)
    lp, y, il, tl = make(rng, dtype=dtype)
    want = fastloss.ctc_loss_and_grad(lp, y, il, tl)
    x = lp
    if mode == "strided":
        buf = np.zeros(lp.shape[:-1] + (2 * lp.shape[-1],), dtype)
        x = buf[..., ::2]
        x[...] = lp
    elif mode == "readonly":
        x = lp.copy()
        x.setflags(write=False)
    snap = snapshot(y, il, tl)
    if mode == "out":
        out = np.empty_like(lp)
        loss, grad = fastloss.ctc_loss_and_grad(x, y, il, tl, out=out)
        assert grad is out
    elif mode == "inplace":
        x = lp.copy()
        loss, grad = fastloss.ctc_loss_and_grad(x, y, il, tl, out=x)
        assert grad is x
    else:
        before = snapshot(x)
        loss, grad = fastloss.ctc_loss_and_grad(x, y, il, tl)
        assert_unchanged(before)
    assert_unchanged(snap)
    assert_same_bits(loss, want[0])
    assert_same_bits(grad, want[1])


def test_misaligned_buffers():
    """Views at an odd byte offset (NumPy allows them, C does not) are computed
    through aligned copies, in place too."""
    rng = np.random.default_rng(22)
    lp, y, il, tl = make(rng)

    def misaligned(a):
        raw = np.zeros(a.nbytes + 1, np.uint8)
        v = np.frombuffer(raw[1:].data, dtype=a.dtype).reshape(a.shape)
        v[...] = a
        assert not v.flags.aligned
        return v

    want = fastloss.ctc_loss_and_grad(lp, y, il, tl)
    got = fastloss.ctc_loss_and_grad(misaligned(lp), y, il, tl)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])
    x = misaligned(lp)
    got = fastloss.ctc_loss_and_grad(x, y, il, tl, out=x)
    assert got[1] is x
    assert_same_bits(got[0], want[0])
    assert_same_bits(np.array(x), want[1])


def test_in_place_from_logits():
    rng = np.random.default_rng(8)
    lp, y, il, tl = make(rng)
    x = lp * 3.0
    want = fastloss.ctc_loss_and_grad(x, y, il, tl, from_logits=True)
    own = x.copy()
    got = fastloss.ctc_loss_and_grad(own, y, il, tl, from_logits=True, out=own)
    assert_same_bits(got[0], want[0])
    assert_same_bits(got[1], want[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_for_any_thread_count(dtype):
    # enough work for the parallel path: 24 x 200 x 41 states >= FL_PARALLEL_MIN
    rng = np.random.default_rng(9)
    lp, y, il, tl = make(rng, t=200, n=24, c=30, s=20, dtype=dtype)
    for reduction in REDUCTIONS:
        runs = [
            fastloss.ctc_loss_and_grad(lp, y, il, tl, reduction=reduction, n_threads=k)
            for k in (1, 2, 3, 7)
        ]
        for loss, grad in runs[1:]:
            assert_same_bits(loss, runs[0][0])
            assert_same_bits(grad, runs[0][1])


def test_float16_is_computed_in_float32():
    rng = np.random.default_rng(10)
    lp, y, il, tl = make(rng)
    h = lp.astype(np.float16)
    loss, grad = fastloss.ctc_loss_and_grad(h, y, il, tl, reduction="none")
    ref = fastloss.ctc_loss_and_grad(h.astype(np.float32), y, il, tl, reduction="none")
    assert loss.dtype == grad.dtype == np.float16
    assert_same_bits(loss, ref[0].astype(np.float16))
    assert_same_bits(grad, ref[1].astype(np.float16))


# ---- finite differences --------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_finite_differences(from_logits, reduction):
    rng = np.random.default_rng(11)
    lp, y, il, tl = make(rng, t=6, n=3, c=4, s=2)
    x = lp * 1.3 if from_logits else lp
    kw = dict(reduction=reduction, from_logits=from_logits)
    _, grad = fastloss.ctc_loss_and_grad(x, y, il, tl, **kw)

    def f(v):
        return np.sum(fastloss.ctc_loss(v, y, il, tl, **kw))

    np.testing.assert_allclose(grad, numerical_gradient(f, x), atol=1e-8)


# ---- extreme cases -------------------------------------------------------------------


def test_one_frame():
    lp = _log_softmax(np.array([[[0.3, 1.2, -0.4]]] * 1))  # T = 1, N = 1, C = 3
    f = fastloss.ctc_loss_and_grad
    loss, grad = f(lp, np.zeros((1, 0), int), [1], [0], reduction="sum")
    assert loss == pytest.approx(-lp[0, 0, 0], rel=1e-15)
    np.testing.assert_array_equal(grad[0, 0], [-1.0, 0.0, 0.0])
    loss, grad = f(lp, [[2]], [1], [1], reduction="sum")
    assert loss == pytest.approx(-lp[0, 0, 2], rel=1e-15)
    np.testing.assert_array_equal(grad[0, 0], [0.0, 0.0, -1.0])
    assert f(lp, [[2, 1]], [1], [2], reduction="sum")[0] == np.inf


def test_empty_targets_and_empty_inputs():
    rng = np.random.default_rng(12)
    lp = _log_softmax(rng.standard_normal((5, 2, 3)))
    loss = fastloss.ctc_loss(
        lp, np.zeros((2, 0), int), [5, 3], [0, 0], reduction="none"
    )
    np.testing.assert_allclose(loss, [-lp[:5, 0, 0].sum(), -lp[:3, 1, 0].sum()])
    # "mean" divides an empty target's loss by 1 (torch's clamp)
    mean = fastloss.ctc_loss(lp, np.zeros((2, 0), int), [5, 3], [0, 0])
    assert mean == pytest.approx(loss.sum() / 2, rel=1e-15)
    # no frames: 0 for no labels, inf otherwise
    loss, grad = fastloss.ctc_loss_and_grad(
        lp, [[1], [1]], [0, 0], [0, 1], reduction="none"
    )
    np.testing.assert_array_equal(loss, [0.0, np.inf])
    assert not grad.any()
    # T = 0 and N = 0
    empty = np.zeros((0, 2, 3))
    assert fastloss.ctc_loss(empty, [[1], [1]], [0, 0], [0, 0]) == 0.0
    loss, grad = fastloss.ctc_loss_and_grad(
        np.zeros((4, 0, 3)), np.zeros((0, 2), int), [], [], reduction="none"
    )
    assert loss.shape == (0,) and grad.shape == (4, 0, 3)
    assert fastloss.ctc_loss(np.zeros((4, 0, 3)), np.zeros((0, 2), int), [], []) == 0.0
    assert fastloss.ctc_loss(np.zeros((4, 0, 3)), [], [], [], reduction="sum") == 0.0


def test_repeated_labels_need_a_blank():
    lp = _log_softmax(np.zeros((3, 1, 3)))
    # "11" needs 1, blank, 1: three frames are enough, two are not
    assert fastloss.ctc_loss(lp, [[1, 1]], [2], [2]) == np.inf
    loss = fastloss.ctc_loss(lp, [[1, 1]], [3], [2], reduction="sum")
    assert loss == pytest.approx(3 * np.log(3.0), rel=1e-14)  # one alignment of 27
    # "12" fits in two frames
    assert np.isfinite(fastloss.ctc_loss(lp, [[1, 2]], [2], [2]))


def test_impossible_alignments_and_zero_infinity():
    rng = np.random.default_rng(13)
    lp, y, il, tl = make(rng)
    il = il.copy()
    il[0] = 3  # 4 labels in 3 frames
    loss, grad = fastloss.ctc_loss_and_grad(lp, y, il, tl, reduction="none")
    assert loss[0] == np.inf and np.isfinite(loss[1:]).all()
    assert np.isnan(grad[:3, 0]).all() and not grad[3:, 0].any()  # as torch
    assert fastloss.ctc_loss(lp, y, il, tl) == np.inf
    loss2, grad2 = fastloss.ctc_loss_and_grad(
        lp, y, il, tl, reduction="none", zero_infinity=True
    )
    assert loss2[0] == 0.0 and not grad2[:, 0].any()
    assert_same_bits(loss2[1:], loss[1:].copy())
    assert_same_bits(grad2[:, 1:].copy(), grad[:, 1:].copy())
    for reduction in ("mean", "sum"):
        got = fastloss.ctc_loss_and_grad(
            lp, y, il, tl, reduction=reduction, zero_infinity=True
        )
        want = reference(lp, y, il, tl, reduction=reduction, zero_infinity=True)
        _close(got[0], want[0], np.float64, "loss")
        _close(got[1], want[1], np.float64, "grad")


def test_minus_inf_masks_and_huge_values():
    rng = np.random.default_rng(14)
    lp, y, il, tl = make(rng)
    masked = lp.copy()
    masked[1::2, :, 0] = -np.inf  # no blank on odd frames: some paths are cut
    loss, grad = fastloss.ctc_loss_and_grad(masked, y, il, tl, reduction="none")
    want = reference(masked, y, il, tl, reduction="none")
    ok = np.isfinite(want[0])
    _close(loss[ok], want[0][ok], np.float64, "loss")
    np.testing.assert_array_equal(loss[~ok], np.inf)
    assert not np.isnan(grad[:, ok]).any()
    # logits of 1e4 in magnitude: log-softmax and log-adds stay finite (the
    # probability-space twin underflows here: brute force in log space instead)
    x = rng.standard_normal((4, 2, 3)) * 1e4
    y2, il2, tl2 = np.array([[1, 2], [2, 0]]), np.array([4, 3]), np.array([2, 1])
    loss, grad = fastloss.ctc_loss_and_grad(
        x, y2, il2, tl2, from_logits=True, reduction="none"
    )
    want = reference(
        x, y2, il2, tl2, from_logits=True, reduction="none", seq=ctc_brute_force
    )
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, want[0], rtol=1e-12)
    np.testing.assert_allclose(grad, want[1], atol=1e-12)


def test_from_logits_non_finite_rows_are_nan_as_log_softmax():
    x = np.zeros((3, 2, 3))
    x[1, 0] = -np.inf  # a frame of sequence 0 with no finite logit
    x[2, 1, 2] = np.inf
    loss, grad = fastloss.ctc_loss_and_grad(
        x, [[1], [2]], [3, 3], [1, 1], from_logits=True, reduction="none"
    )
    assert np.isnan(loss).all() and np.isnan(grad).all()


def test_long_sequences_do_not_underflow():
    # 1000 frames of probability ~1/50: p ~ 1e-1700, far below float64's range
    rng = np.random.default_rng(15)
    lp = _log_softmax(rng.standard_normal((1000, 2, 50)) * 0.1).astype(np.float32)
    y = rng.integers(1, 50, (2, 100))
    loss, grad = fastloss.ctc_loss_and_grad(
        lp, y, [1000, 700], [100, 80], reduction="none"
    )
    want = reference(lp, y, [1000, 700], [100, 80], reduction="none")
    assert np.isfinite(loss).all() and loss.min() > 1000
    _close(loss, want[0], np.float32, "loss")
    np.testing.assert_allclose(grad, want[1], atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    t=st.integers(0, 7),
    n=st.integers(1, 4),
    c=st.integers(2, 5),
    zero_infinity=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_property_matches_twin(data, t, n, c, zero_infinity, reduction):
    """Any lengths (feasible or not), labels, blank and log-probabilities."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    blank = data.draw(st.integers(0, c - 1))
    s = data.draw(st.integers(0, 5))
    labels = [k for k in range(c) if k != blank]
    y = rng.choice(labels, (n, s)) if s else np.zeros((n, 0), int)
    il = rng.integers(0, t + 1, n)
    tl = rng.integers(0, s + 1, n)
    lp = _log_softmax(rng.standard_normal((t, n, c)) * 3)
    kw = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    loss, grad = fastloss.ctc_loss_and_grad(lp, y, il, tl, **kw)
    want = reference(lp, y, il, tl, **kw)
    np.testing.assert_allclose(loss, want[0], rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(grad, want[1], rtol=1e-9, atol=1e-11)


# ---- PyTorch -------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("concatenated", [False, True])
def test_against_torch(reduction, zero_infinity, concatenated):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(16)
    lp, y, il, tl = make(rng, t=15, n=6, c=7, s=5)
    il = il.copy()
    il[2] = min(il[2], 2 * tl[2] - 1) if tl[2] else il[2]  # maybe impossible
    x = rng.standard_normal(lp.shape)
    targets = np.concatenate([y[i, : tl[i]] for i in range(6)]) if concatenated else y
    xt = torch.tensor(x, requires_grad=True)
    lpt = torch.log_softmax(xt, -1)
    lpt.retain_grad()
    kw = dict(reduction=reduction, zero_infinity=zero_infinity)
    out = F.ctc_loss(
        lpt, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), **kw
    )
    out.sum().backward()
    lp_np = lpt.detach().numpy()
    loss, grad = fastloss.ctc_loss_and_grad(lp_np, targets, il, tl, **kw)
    np.testing.assert_allclose(loss, out.detach().numpy(), rtol=1e-12)
    # torch's log_probs.grad is exp(log_probs) - posterior on the frames (times
    # the factor): ours + that factor * exp(log_probs)
    _, factor_grad = fastloss.ctc_loss_and_grad(lp_np, targets, il, tl, **kw)
    frames = np.arange(15)[:, None] < il[None, :]
    factor = -factor_grad.sum(-1)  # the posterior sums to 1 on each frame
    torch_leaf = grad + factor[..., None] * np.exp(lp_np) * frames[..., None]
    np.testing.assert_allclose(lpt.grad.numpy(), torch_leaf, atol=1e-12)
    # through log_softmax, to the logits: ours from_logits=True equals torch's
    loss_x, grad_x = fastloss.ctc_loss_and_grad(
        x, targets, il, tl, from_logits=True, **kw
    )
    np.testing.assert_allclose(loss_x, out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), atol=1e-12, equal_nan=True)


def test_torch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(17)
    lp, y, il, tl = make(rng, t=30, n=4, c=10, s=6, dtype=np.float32)
    want = torch.nn.functional.ctc_loss(
        torch.tensor(lp),
        torch.tensor(y),
        torch.tensor(il),
        torch.tensor(tl),
        reduction="none",
    ).numpy()
    loss = fastloss.ctc_loss(lp, y, il, tl, reduction="none")
    np.testing.assert_allclose(loss, want, rtol=1e-5)


# ---- Keras 3 -------------------------------------------------------------------------


def _keras(monkeypatch):
    if "keras" not in sys.modules:
        monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    return pytest.importorskip("keras")


def _keras_case(rng, n=4, t=10, c=5, s=3):
    x = (rng.standard_normal((n, t, c)) * 2).astype(np.float32)
    lengths = rng.integers(0, s + 1, n)
    lengths[0] = s
    y = rng.integers(1, c, (n, s))
    y[np.arange(s)[None, :] >= lengths[:, None]] = 0
    return y, x


@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight"]
)
def test_keras_ctc_class_against_keras(monkeypatch, reduction):
    keras = _keras(monkeypatch)
    rng = np.random.default_rng(18)
    y, x = _keras_case(rng)
    w = np.array([1.0, 0.5, 2.0, 0.0], np.float32)
    for sw in (None, w):
        want = np.asarray(keras.losses.CTC(reduction=reduction)(y, x, sample_weight=sw))
        got = fl.CTC(reduction=reduction)(y, x, sample_weight=sw)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_keras_ctc_gradient_against_jax(monkeypatch):
    keras = _keras(monkeypatch)
    if keras.backend.backend() != "jax":
        pytest.skip("the gradient comparison uses jax.grad")
    import jax

    rng = np.random.default_rng(19)
    y, x = _keras_case(rng)
    want = np.asarray(jax.grad(lambda v: keras.losses.CTC()(y, v))(x))
    loss, grad = fl.CTC().loss_and_grad(y, x)
    assert grad.dtype == np.float32 and grad.shape == x.shape
    np.testing.assert_allclose(grad, want, atol=2e-6)


def test_keras_ctc_class_twin_and_rules():
    rng = np.random.default_rng(20)
    y, x = _keras_case(rng)
    x = x.astype(np.float64)
    lengths = np.count_nonzero(y, axis=1)
    want_rows, want_grad = reference(
        x,
        y,
        np.full(4, 10),
        lengths,
        reduction="none",
        from_logits=True,
        batch_first=True,
    )
    loss, grad = fl.CTC().loss_and_grad(y, x)
    np.testing.assert_allclose(loss, want_rows.mean(), rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad / 4, atol=1e-12)
    rows = fl.CTC(reduction=None)(y, x)
    np.testing.assert_allclose(rows, want_rows, rtol=1e-12)
    assert fastloss.get_loss("ctc").get_config() == {
        "reduction": "sum_over_batch_size",
        "name": "ctc",
    }
    bad = y.copy()
    bad[0] = [0, 2, 1]
    with pytest.raises(ValueError, match=r"y_true\[0, 1\] = 2 follows a 0"):
        fl.CTC()(bad, x)
    with pytest.raises(ValueError, match="y_pred must be 3-D"):
        fl.CTC()(y, x[0])
    with pytest.raises(ValueError, match="y_true must have shape"):
        fl.CTC()(y[:2], x)
    with pytest.raises(TypeError, match="integer labels"):
        fl.CTC()(y + 0.5, x)


# ---- bad input -----------------------------------------------------------------------


def _bad_cases():
    lp = _log_softmax(np.random.default_rng(21).standard_normal((6, 2, 4)))
    y = np.array([[1, 2], [3, 0]])
    ok = (lp, y, [6, 5], [2, 1])
    return (
        lp,
        y,
        ok,
        [
            ((lp[0, 0], y, [6, 5], [2, 1]), {}, ValueError, "log_probs must be 3-D"),
            ((lp[..., :0], y, [6, 5], [2, 1]), {}, ValueError, "at least one class"),
            ((lp, y, [6, 7], [2, 1]), {}, ValueError, r"input_lengths\[1\] = 7"),
            ((lp, y, [-1, 5], [2, 1]), {}, ValueError, r"input_lengths\[0\] = -1"),
            (
                (lp, y, [6], [2, 1]),
                {},
                ValueError,
                r"input_lengths must have shape \(2,\)",
            ),
            ((lp, y, [6, 5], [2, -1]), {}, ValueError, r"target_lengths\[1\] = -1"),
            ((lp, y, [6, 5], [3, 1]), {}, ValueError, "exceeds the 2 labels"),
            (
                (lp, y, [6, 5], [2.0, 1.0]),
                {},
                TypeError,
                "target_lengths must be an int",
            ),
            ((lp, y[:1], [6, 5], [2, 1]), {}, ValueError, "must have 2 rows"),
            (
                (lp, [1, 2, 3], [6, 5], [2, 2]),
                {},
                ValueError,
                r"sum\(target_lengths\) = 4",
            ),
            (
                (lp, [[1, 4], [3, 0]], [6, 5], [2, 1]),
                {},
                ValueError,
                r"targets\[0, 1\] = 4 is out of range",
            ),
            (
                (lp, [[1, -2], [3, 0]], [6, 5], [2, 1]),
                {},
                ValueError,
                r"targets\[0, 1\] = -2",
            ),
            (
                (lp, [[1, 2], [0, 0]], [6, 5], [2, 1]),
                {},
                ValueError,
                r"targets\[1, 0\] = 0 is the blank",
            ),
            (
                (lp, y.astype(float), [6, 5], [2, 1]),
                {},
                TypeError,
                "targets must be an int",
            ),
            (
                (lp, y[None], [6, 5], [2, 1]),
                {},
                ValueError,
                "targets must be 1-D or 2-D",
            ),
            (ok, {"blank": 4}, ValueError, r"blank must be a class index in \[0, 4\)"),
            (ok, {"blank": 1.0}, TypeError, "blank must be an int"),
            (ok, {"reduction": "avg"}, ValueError, "reduction must be one of"),
            (ok, {"zero_infinity": 1}, TypeError, "zero_infinity must be a bool"),
            (ok, {"from_logits": None}, TypeError, "from_logits must be a bool"),
            (
                ok,
                {"sample_weight": [1.0]},
                ValueError,
                r"sample_weight must have shape",
            ),
            (ok, {"sample_weight": [1.0, np.nan]}, ValueError, "finite"),
            (ok, {"n_threads": 0}, ValueError, "n_threads"),
            ((["a"], y, [6, 5], [2, 1]), {}, TypeError, "log_probs"),
        ],
    )


@pytest.mark.parametrize("case", range(len(_bad_cases()[3])))
def test_bad_input(case):
    lp, y, _, cases = _bad_cases()
    args, kw, exc, match = cases[case]
    snap = snapshot(lp, y)
    with pytest.raises(exc, match=match):
        fastloss.ctc_loss(*args, **kw)
    out = np.full_like(lp, 7.0)
    with pytest.raises(exc, match=match):
        fastloss.ctc_loss_and_grad(*args, out=out, **kw)
    assert (out == 7.0).all()  # nothing written
    assert_unchanged(snap)


def test_bad_out():
    lp, y, ok, _ = _bad_cases()
    f = fastloss.ctc_loss_and_grad
    with pytest.raises(ValueError, match="out must have shape"):
        f(*ok, out=np.empty((6, 2, 3)))
    with pytest.raises(ValueError, match="out must have dtype"):
        f(*ok, out=np.empty((6, 2, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        f(*ok, out=np.empty((6, 2, 8))[..., ::2])
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        f(*ok, out=[0.0])
    w = np.ones(48)
    with pytest.raises(ValueError, match="overlaps"):
        f(*ok, sample_weight=w[:2], out=w.reshape(6, 2, 4))


def test_kernel_checks_lengths_itself():
    """The binding and the kernel refuse lengths the Python layer would have
    caught, so a direct call cannot read or write out of bounds."""
    from fastloss import _kernels as k

    x = np.zeros(6 * 2 * 4)
    y = np.array([1, 2, 3], dtype=np.int64)
    off = np.array([0, 2], dtype=np.int64)
    il = np.array([6, 5], dtype=np.int64)
    tl = np.array([2, 1], dtype=np.int64)
    red = k.CTC_REDUCTIONS["sum"]

    def call(**change):
        a = dict(x=x, y=y, off=off, il=il, tl=tl)
        a.update(change)
        return k.ctc(
            a["x"],
            a["y"],
            a["off"],
            a["il"],
            a["tl"],
            None,
            None,
            None,
            6,
            2,
            4,
            0,
            False,
            False,
            False,
            red,
            1,
        )

    assert np.isfinite(call())
    for change in (
        dict(il=np.array([7, 5], dtype=np.int64)),
        dict(tl=np.array([2, 2], dtype=np.int64)),  # 2 + 2 > 3 labels
        dict(off=np.array([0, -1], dtype=np.int64)),
        dict(off=np.array([0, 3], dtype=np.int64)),
        dict(tl=np.array([-1, 1], dtype=np.int64)),
    ):
        with pytest.raises(ValueError, match="out of range"):
            call(**change)
    with pytest.raises(ValueError, match="targets"):
        call(y=np.array([1, 4, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="x has length"):
        call(x=x[:-1])
    with pytest.raises(ValueError, match="input_lengths has length"):
        call(il=il[:1])


def test_docstrings():
    assert "torch.nn.functional.ctc_loss" in fastloss.ctc_loss.__doc__
    assert "log_softmax" in fastloss.ctc_loss_and_grad.__doc__
    for module in (_ctc,):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(fl.CTC, "CTC", globs={}):
        runner.run(test)
    assert runner.failures == 0
