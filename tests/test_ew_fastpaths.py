"""The elementwise kernels' specialised paths: the division-free log1p on [0, 1]
behind softplus and log-cosh, sigmoid focal's hard-target blocks (u**2 for
gamma = 2), and BCE with logits without label smoothing. References are float64
NumPy; the block tests compare the kernel with itself across block kinds, which
must agree to the bit (an element's value may not depend on its neighbours)."""

import numpy as np
import pytest

import fastloss

BLOCK = 4096  # elements per reduction block in src_c/fl_elementwise_impl.h


def _ulps(got, want, dtype):
    """|got - want| in units of the last place of want rounded to dtype."""
    want = np.asarray(want, dtype=np.float64)
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    return np.abs(np.asarray(got, dtype=np.float64) - want) / ulp


def test_softplus_of_negative_logits_is_within_two_ulp(simd_path):
    """y = 0 and x <= 0: the loss is log1p(exp(x)) alone. A dense sweep of float32
    plus the points around the log1p's switch (exp(x) = sqrt(2) - 1)."""
    x = np.linspace(-87.0, 0.0, 1_000_003).astype(np.float32)
    cut = np.float32(np.log(np.sqrt(2.0) - 1.0))
    steps = np.arange(-300, 300).astype(np.float32) * np.spacing(np.float32(0.9))
    x = np.concatenate([x, cut + steps, np.float32([-0.0, -1e-30, -1e-7])])
    loss = fastloss.binary_cross_entropy_with_logits(
        x, np.zeros_like(x), reduction="none"
    )
    want = np.log1p(np.exp(x.astype(np.float64)))
    err = _ulps(loss, want, np.float32)
    worst = int(np.argmax(err))
    # exp (within 2 ulp) passes its error on scaled by e / ((1 + e) log1p(e)) <= 1;
    # measured 1.87 ulp with FMA, 2.02 without (the baseline path)
    assert err[worst] <= 2.5, f"softplus({x[worst]!r}): {err[worst]:.2f} ulp"


def test_log1p_edges_give_exact_values(simd_path):
    """log1p(exp(-inf)) = 0 exactly, NaN stays NaN, log1p(1) within an ulp of log 2,
    through BCE's softplus."""
    x = np.array([-np.inf, np.nan, -200.0, 0.0], dtype=np.float32)
    loss = fastloss.binary_cross_entropy_with_logits(
        x, np.zeros_like(x), reduction="none"
    )
    assert loss[0] == 0.0 and np.isnan(loss[1])
    assert loss[2] == 0.0  # exp(-200) flushes to 0 in float32
    assert abs(loss[3] - np.log(2.0)) <= np.spacing(np.float32(np.log(2.0)))


def test_log_cosh_is_within_six_ulp(simd_path):
    """log cosh r for |r| >= 1/2 is |r| - log 2 + log1p(exp(-2|r|)), which cancels a
    little near 1/2 (the polynomial takes over below): 5.4 ulp measured there."""
    r = np.linspace(0.5, 40.0, 500_003).astype(np.float32)
    loss = fastloss.log_cosh_loss(r, np.zeros_like(r), reduction="none")
    want = np.log(np.cosh(r.astype(np.float64)))
    err = _ulps(loss, want, np.float32)
    worst = int(np.argmax(err))
    assert err[worst] <= 6.0, f"log cosh({r[worst]!r}): {err[worst]:.2f} ulp"


def _focal(x, y, **kw):
    return fastloss.sigmoid_focal_loss_and_grad(x, y, reduction="none", **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "gamma,alpha", [(2.0, 0.25), (1.5, 0.25), (0.0, 0.25), (2.0, 1.0), (2.0, -1.0)]
)
def test_focal_element_bits_do_not_depend_on_its_block(simd_path, dtype, gamma, alpha):
    """A block of hard targets takes the hard-target form only (for gamma = 2 one
    loop where alpha may zero a class's weight, another where it cannot); one soft
    target makes it a mixed block. Every hard element must get the same bits either
    way, loss and gradient, with or without the gradient, for any thread count."""
    rng = np.random.default_rng(7)
    n = 3 * BLOCK + 123
    x = (rng.standard_normal(n) * 6).astype(dtype)
    x[:8] = [0.0, -0.0, 30.0, -30.0, 50.0, -50.0, 100.0, -100.0]
    y = (rng.random(n) < 0.4).astype(dtype)
    soft = [BLOCK + 5, 2 * BLOCK + 77, n - 1]
    ym = y.copy()
    ym[soft] = [0.3, 0.999, 1e-6]
    keep = np.ones(n, bool)
    keep[soft] = False
    kw = {"gamma": gamma, "alpha": None if alpha < 0 else alpha}
    l_hard, g_hard = _focal(x, y, n_threads=1, **kw)
    l_mixed, g_mixed = _focal(x, ym, n_threads=2, **kw)
    np.testing.assert_array_equal(l_hard[keep], l_mixed[keep])
    np.testing.assert_array_equal(g_hard[keep], g_mixed[keep])
    assert not np.array_equal(l_hard[soft], l_mixed[soft])  # the soft ones changed
    l_only = fastloss.sigmoid_focal_loss(x, y, reduction="none", **kw)
    np.testing.assert_array_equal(l_only, l_hard)
    # the reduced loss of the hard call is the float64 sum of the same elements
    total = fastloss.sigmoid_focal_loss(x, y, reduction="sum", n_threads=2, **kw)
    assert total == pytest.approx(float(np.sum(l_hard, dtype=np.float64)), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_prob_element_bits_do_not_depend_on_its_block(simd_path, dtype):
    """BCE on probabilities: blocks of hard targets, of soft targets and mixed ones
    each take their own loop; an element gets the same bits in any of them."""
    rng = np.random.default_rng(9)
    n = 4 * BLOCK + 55
    q = (1 / (1 + np.exp(-rng.standard_normal(n) * 3))).astype(dtype)
    q[:6] = [0.0, 1.0, 1e-30, 0.5, np.nextafter(dtype(0.5), dtype(0)), 0.9999]
    y = (rng.random(n) < 0.5).astype(dtype)
    y[3 * BLOCK :] = rng.random(n - 3 * BLOCK).astype(dtype)  # a soft-only tail
    ym = y.copy()
    soft = [7, BLOCK + 5, 2 * BLOCK + 9]
    ym[soft] = 0.25
    hard_tail = 3 * BLOCK + 11
    ym[hard_tail] = 1.0  # makes the soft-only block mixed
    keep = np.ones(n, bool)
    keep[soft + [hard_tail]] = False
    call = fastloss.binary_cross_entropy_and_grad
    l1, g1 = call(q, y, reduction="none", n_threads=1)
    l2, g2 = call(q, ym, reduction="none", n_threads=2)
    np.testing.assert_array_equal(l1[keep], l2[keep])
    np.testing.assert_array_equal(g1[keep], g2[keep])
    l_only = fastloss.binary_cross_entropy(q, ym, reduction="none")
    np.testing.assert_array_equal(l_only, l2)
    # and the values: float64 formula at the probabilities clipped to [eps, 1 - eps]
    # as the dtype rounds them
    lo = dtype(1e-7)
    hi = dtype(1) - lo
    qc = np.clip(q, lo, hi).astype(np.float64)
    y64 = ym.astype(np.float64)
    want = -(y64 * np.log(qc) + (1 - y64) * np.log1p(-qc))
    rtol = 1e-13 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(l2, want, rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_bce_prob_hard_targets_are_within_three_ulp(simd_path, dtype, target):
    """Hard targets take one log: -log q for y = 1, and for y = 0 log(1 - q) as
    log(nq) + c / nq with nq = 1 - q rounded and c its exact rounding error. Over
    the whole unclipped range, small q included, the loss stays within 3 ulp of
    float64 -log1p(-q) / -log(q) at the same (rounded) q."""
    q = np.concatenate(
        [np.geomspace(1e-7, 0.5, 100001), np.linspace(0.5, 1 - 1e-7, 100001)]
    ).astype(dtype)
    y = np.full(q.shape, target, dtype)
    loss, _ = fastloss.binary_cross_entropy_and_grad(q, y, reduction="none")
    q64 = q.astype(np.float64)
    want = -np.log1p(-q64) if target == 0.0 else -np.log(q64)
    err = np.abs(loss - want) / np.spacing(want.astype(dtype)).astype(np.float64)
    worst = int(np.argmax(err))
    assert err[worst] <= 3.0, f"q = {q[worst]!r}: {err[worst]:.2f} ulp"


def _focal_ref(x, y, alpha, gamma):
    """torchvision's formula in float64 for hard targets and moderate logits, with
    both sigmoids computed directly (1 - s would cancel where u is tiny)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    s, sn = 1.0 / (1.0 + np.exp(-x)), 1.0 / (1.0 + np.exp(x))
    ce = np.logaddexp(0.0, -x) * y + np.logaddexp(0.0, x) * (1 - y)
    u = y * sn + (1 - y) * s
    at = alpha * y + (1 - alpha) * (1 - y)
    loss = at * ce * u**gamma
    dce = (1 - y) * s - y * sn
    grad = at * (u**gamma * dce + gamma * ce * (1 - 2 * y) * s * sn * u ** (gamma - 1))
    return loss, grad


@pytest.mark.parametrize("gamma", [2.0, 3.0, 0.5])
def test_focal_hard_targets_match_float64_formula(simd_path, gamma):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(5000) * 4, np.linspace(-15, 15, 3001)])
    y = (rng.random(x.size) < 0.5).astype(np.float64)
    loss, grad = _focal(x, y, gamma=gamma)
    want_l, want_g = _focal_ref(x, y, 0.25, gamma)
    np.testing.assert_allclose(loss, want_l, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grad, want_g, rtol=1e-9, atol=1e-14)
    # float32 against the formula at the float32 inputs; u**gamma = exp(gamma log u)
    # carries gamma |log u| times the rounding of log u, so the bound scales with it
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    loss32, grad32 = _focal(x32, y32, gamma=gamma)
    want_l, want_g = _focal_ref(x32, y32, 0.25, gamma)
    log_u = -np.logaddexp(0.0, np.where(y32 == 1, x32, -x32).astype(np.float64))
    bound = 4 * np.finfo(np.float32).eps * (1 + gamma * np.abs(log_u))
    assert np.all(np.abs(loss32 - want_l) <= bound * np.abs(want_l) + 1e-37)
    assert np.all(np.abs(grad32 - want_g) <= bound * np.abs(want_g) + 1e-7)


def test_focal_gamma2_hard_targets_at_the_extremes(simd_path):
    """u**2 where u = sigmoid(-|x|) underflows: finite, >= 0, 0 in the limit; an
    infinite logit on the wrong side is an infinite loss with a finite gradient."""
    x = np.array([40.0, 45.0, 60.0, 1e4, np.inf, -np.inf, np.inf, -np.inf], np.float32)
    y = np.array([1, 1, 1, 1, 1, 0, 0, 1], np.float32)
    loss, grad = _focal(x, y, gamma=2.0)
    assert np.all(loss[:6] >= 0) and np.all(np.isfinite(loss[:6]))
    assert loss[3] == 0.0 and grad[3] == 0.0 and loss[4] == 0.0 and grad[4] == 0.0
    assert np.all(np.isinf(loss[6:])) and np.all(np.isfinite(grad))
    assert grad[6] == pytest.approx(0.75) and grad[7] == pytest.approx(-0.25)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_focal_gamma2_class_weight_zero_at_infinite_logits(simd_path, dtype, alpha):
    """alpha = 0 or 1 gives one class weight 0: its elements contribute exactly 0,
    even at an infinite logit on the wrong side, where the cross-entropy is inf (a
    block of hard targets with gamma = 2 takes a loop of its own for such alpha)."""
    n = BLOCK + 40
    x = np.linspace(-8, 8, n).astype(dtype)
    y = (np.arange(n) % 2).astype(dtype)
    x[:4] = [np.inf, -np.inf, -np.inf, np.inf]
    y[:4] = [0, 1, 0, 1]  # wrong side, wrong side, right side, right side
    loss, grad = _focal(x, y, gamma=2.0, alpha=alpha)
    zero_class = 1.0 if alpha == 0.0 else 0.0
    z = y == zero_class
    assert np.all(loss[z] == 0) and np.all(grad[z] == 0)
    other = 1 if zero_class == 0.0 else 0  # the other class's wrong-side infinity
    assert np.isinf(loss[other]) and np.isfinite(grad[other]) and grad[other] != 0
    assert np.all(np.isfinite(loss[4:])) and np.all(np.isfinite(grad))
    want_l, want_g = _focal_ref(x[4:], y[4:], alpha, 2.0)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(loss[4:], want_l, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(grad[4:], want_g, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_logits_element_bits_do_not_depend_on_its_block(simd_path, dtype):
    """BCE with logits, no label smoothing nor pos_weight: a block of hard targets
    takes the one-sided form, a block with one soft target the two-sided one; a hard
    element gets the same bits in either, loss and gradient, including the signed
    zeros and infinities at the extremes."""
    rng = np.random.default_rng(13)
    n = 3 * BLOCK + 71
    x = (rng.standard_normal(n) * 6).astype(dtype)
    x[:10] = [0.0, -0.0, 30.0, -30.0, 100.0, -100.0, 800.0, -800.0, np.inf, -np.inf]
    y = (rng.random(n) < 0.5).astype(dtype)
    y[:10] = [0, 1, 0, 1, 1, 0, 0, 1, 1, 0]
    soft = [5 + BLOCK, 2 * BLOCK + 3, n - 2]
    ym = y.copy()
    ym[soft] = [0.5, 0.01, 0.75]
    keep = np.ones(n, bool)
    keep[soft] = False
    call = fastloss.binary_cross_entropy_with_logits_and_grad
    l_hard, g_hard = call(x, y, reduction="none", n_threads=1)
    l_mixed, g_mixed = call(x, ym, reduction="none", n_threads=2)
    np.testing.assert_array_equal(l_hard[keep], l_mixed[keep])
    np.testing.assert_array_equal(g_hard[keep], g_mixed[keep])
    assert not np.signbit(g_hard[keep & (g_hard == 0)]).any()  # +0, as 0 - 0
    assert not np.array_equal(l_hard[soft], l_mixed[soft])  # the soft ones changed
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    fin = np.isfinite(x64)
    want = np.where(y64 == 1, np.logaddexp(0, -x64), np.logaddexp(0, x64))
    rtol = 1e-14 if dtype == np.float64 else 2e-6
    tiny = np.finfo(dtype).tiny  # exp(-|x|) below it flushes to 0
    np.testing.assert_allclose(l_hard[fin], want[fin], rtol=rtol, atol=tiny)


def test_softplus_of_negative_logits_is_within_two_ulp_float64(simd_path):
    """float64 softplus(x) for x <= 0, log1p(exp(x)), goes through the one-division
    log1p on [0, 1]: within 2.5 ulp, as float32's."""
    x = np.concatenate([np.linspace(-745.0, 0.0, 400_001), [-0.0, -1e-300, -1e-17]])
    loss = fastloss.binary_cross_entropy_with_logits(
        x, np.zeros_like(x), reduction="none"
    )
    # within about an ulp: libm's log1p of a rounded exp, whose error log1p scales
    # by e / ((1 + e) log1p(e)) <= 1 (the previous two-division log1p: 4 ulp)
    want = np.log1p(np.exp(x))
    err = _ulps(loss, want, np.float64)
    big = want > 1e-300  # below, exp(x) is subnormal and ulps lose meaning
    worst = int(np.argmax(np.where(big, err, 0)))
    assert err[worst] <= 2.5, f"softplus({x[worst]!r}): {err[worst]:.2f} ulp"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_without_smoothing_equals_a_tiny_smoothing_limit(simd_path, dtype):
    """label_smoothing=0 runs its own specialisation; it must agree with the general
    one as the smoothing goes to 0 (to rounding), and with float64 NumPy."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(20000) * 5).astype(dtype)
    y = rng.random(20000).astype(dtype)
    l0, g0 = fastloss.binary_cross_entropy_with_logits_and_grad(x, y, reduction="none")
    eps = 1e-30 if dtype == np.float64 else 1e-20
    l1, g1 = fastloss.binary_cross_entropy_with_logits_and_grad(
        x, y, label_smoothing=eps, reduction="none"
    )
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(l0, l1, rtol=rtol)
    np.testing.assert_allclose(g0, g1, rtol=rtol, atol=1e-30)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    want = y64 * np.logaddexp(0, -x64) + (1 - y64) * np.logaddexp(0, x64)
    np.testing.assert_allclose(l0, want, rtol=rtol * 4)


@pytest.mark.parametrize(
    "dtype,tiny", [(np.float32, 1.4e-45), (np.float32, 1e-39), (np.float64, 5e-324)]
)
def test_ce_subnormal_class_weights_are_refused(dtype, tiny):
    """Below the accepted range (docs/RELIABILITY.md): a ValueError naming the
    weight and the range (hypothesis found -inf or NaN gradients there before the
    rescaling below; since 2026-12-07 the contract refuses such weights)."""
    x = np.zeros((2, 3), dtype=dtype)
    with pytest.raises(ValueError, match=r"weight\[0\] = .* is out of range"):
        fastloss.softmax_cross_entropy_and_grad(
            x, np.array([0, 2]), class_weight=np.full(3, tiny, dtype)
        )


@pytest.mark.parametrize(
    "dtype,tiny",
    [(np.float32, 2.0**-32), (np.float32, 3e-10), (np.float64, 2.0**-200)],
)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.5, 1.0])
def test_ce_mean_with_smallest_class_weights_is_finite(dtype, tiny, label_smoothing):
    """ "mean" divides by D = sum w_y: scaling every class weight by one factor changes
    nothing, so weights of the smallest accepted magnitude give the same loss and
    gradient as weights of 1."""
    x = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]], dtype=dtype)
    y = np.array([0, 2])
    kw = {"label_smoothing": label_smoothing}
    loss, grad = fastloss.softmax_cross_entropy_and_grad(
        x, y, class_weight=np.full(3, tiny, dtype), **kw
    )
    want_l, want_g = fastloss.softmax_cross_entropy_and_grad(x, y, **kw)
    assert np.all(np.isfinite(grad))
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    assert loss == pytest.approx(want_l, rel=rtol)
    np.testing.assert_allclose(grad, want_g, rtol=rtol, atol=rtol)


def test_ce_weight_rescaling_changes_no_bit():
    """The power-of-two rescaling of class weights below 1 is exact: the same bits as
    the weights scaled by hand, with z_loss scaled alike."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 7)).astype(np.float32)
    y = rng.integers(0, 7, 64)
    w = rng.random(7).astype(np.float32) * 0.01
    kw = {"label_smoothing": 0.1, "z_loss": 1e-3}
    l1, g1 = fastloss.softmax_cross_entropy_and_grad(x, y, class_weight=w, **kw)
    l2, g2 = fastloss.softmax_cross_entropy_and_grad(
        x,
        y,
        class_weight=w * np.float32(2.0**10),
        label_smoothing=0.1,
        z_loss=1e-3 * 2.0**10,
    )
    assert l1 == l2
    np.testing.assert_array_equal(g1, g2)
