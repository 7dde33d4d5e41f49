"""fastloss.objectives: gradient and hessian of the boosting objectives against the
float64 twins of tests/_reference_objectives.py, 4th-order central finite
differences, extreme scores, thread counts, hypothesis properties and bad input."""

import _reference_objectives as ref
import numpy as np
import pytest
from _matrix import DTYPES
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastloss import objectives as ob

RNG = np.random.default_rng(17)


def _data(name, n, rng):
    """Raw scores and targets inside the objective's domain, away from kinks."""
    x = rng.normal(0, 2, n)
    if name in ("logistic", "sigmoid_focal"):
        y = np.where(rng.random(n) < 0.5, 0.0, 1.0)
        y[: n // 4] = rng.random(n // 4)  # soft labels too
    elif name == "squared_log_error":
        x, y = rng.uniform(0, 5, n), rng.uniform(0, 5, n)
    elif name in ("poisson", "tweedie"):
        y = rng.poisson(2.0, n).astype(float)
    elif name == "gamma":
        y = rng.gamma(2.0, 1.5, n)
    else:
        y = x + rng.normal(0, 2, n)
    return x, y


# (objective, options): every elementwise objective, some with non-default options
CASES = [
    ("logistic", {}),
    ("logistic", {"pos_weight": 3.0, "label_smoothing": 0.1}),
    ("sigmoid_focal", {}),
    ("sigmoid_focal", {"alpha": None, "gamma": 0.5}),
    ("sigmoid_focal", {"alpha": 0.7, "gamma": 0.0}),
    ("squared_error", {}),
    ("pseudo_huber", {"delta": 1.5}),
    ("huber", {"delta": 1.2}),
    ("huber", {"delta": 1.2, "exact_hessian": True}),
    ("log_cosh", {}),
    ("squared_log_error", {}),
    ("poisson", {}),
    ("poisson", {"max_delta_step": 0.7}),
    ("gamma", {}),
    ("tweedie", {"power": 1.3}),
    ("quantile", {"alpha": 0.8}),
    ("absolute_error", {}),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for n, o in CASES]
# kinked (piecewise) objectives: no finite-difference hessian
KINKED = {"huber", "quantile", "absolute_error"}
TOL = {np.float32: (3e-5, 1e-6), np.float64: (1e-11, 1e-13)}


def _fns(name):
    return getattr(ob, f"{name}_grad_hess"), getattr(ob, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("use_out", [False, True])
@pytest.mark.parametrize(("name", "opts"), CASES, ids=IDS)
def test_matches_twin(name, opts, dtype, weighted, use_out, simd_path):
    n = 5000  # more than one block of the kernel
    x, y = _data(name, n, RNG)
    w = RNG.uniform(0, 3, n) if weighted else None
    if weighted:
        w[::7] = 0
    xd, yd = x.astype(dtype), y.astype(dtype)
    wd = None if w is None else w.astype(dtype)
    gh, lo = _fns(name)
    out = (np.empty(n, dtype), np.empty(n, dtype)) if use_out else None
    g, h = gh(xd, yd, sample_weight=wd, out=out, **opts)
    if use_out:
        assert g is out[0] and h is out[1]
    assert g.dtype == dtype and h.dtype == dtype
    x64, y64 = xd.astype(np.float64), yd.astype(np.float64)
    w64 = np.ones(n) if wd is None else wd.astype(np.float64)
    rl, rg, rh = ref.ELEMENTWISE[name](x64, y64, **opts)
    rtol, atol = TOL[dtype]
    scale = 1 + np.abs(x64) + np.abs(y64)  # the operands' size bounds the rounding
    np.testing.assert_allclose(
        g, w64 * rg, rtol=rtol * 10, atol=atol * 10 * scale.max()
    )
    np.testing.assert_allclose(
        h, w64 * rh, rtol=rtol * 10, atol=atol * 10 * scale.max()
    )
    val = lo(xd, yd, sample_weight=wd, **opts)
    want = np.sum(w64 * rl) / np.sum(w64)
    assert val == pytest.approx(want, rel=rtol * 100, abs=atol * 100)


def _fd(f, x, h):
    """4th-order central difference of elementwise f at x, step h."""
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)


@pytest.mark.parametrize(("name", "opts"), CASES, ids=IDS)
def test_finite_differences(name, opts):
    x, y = _data(name, 400, RNG)
    gh, _ = _fns(name)
    g, h = gh(x, y, **opts)
    if name in KINKED:  # keep the points away from the kinks
        r = x - y
        keep = np.abs(np.abs(r) - opts.get("delta", 0.0)) > 1e-2
        keep &= np.abs(r) > 1e-2
        x, y, g, h = x[keep], y[keep], g[keep], h[keep]
    step = 1e-3 * (1 + np.abs(x))

    def loss_at(v):  # the twin's per-sample loss: independent of the kernel
        return ref.ELEMENTWISE[name](v, y, **opts)[0]

    np.testing.assert_allclose(g, _fd(loss_at, x, step), rtol=1e-7, atol=1e-8)
    if name in KINKED or opts.get("max_delta_step"):
        return  # their hessians are the libraries' conventions, checked by the twin

    def grad_at(v):  # the kernel's own gradient: its hessian must be its derivative
        return gh(v, y, **opts)[0]

    np.testing.assert_allclose(h, _fd(grad_at, x, step), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "opts"), CASES, ids=IDS)
def test_bit_identical_for_any_thread_count(name, opts, dtype):
    x, y = _data(name, 100_003, np.random.default_rng(3))
    w = np.random.default_rng(4).uniform(0, 2, x.size).astype(dtype)
    gh, lo = _fns(name)
    args = (x.astype(dtype), y.astype(dtype))
    ref_g, ref_h = gh(*args, sample_weight=w, n_threads=1, **opts)
    ref_l = lo(*args, sample_weight=w, n_threads=1, **opts)
    for nt in (2, 3, 8):
        g, h = gh(*args, sample_weight=w, n_threads=nt, **opts)
        assert np.array_equal(g, ref_g) and np.array_equal(h, ref_h)
        assert lo(*args, sample_weight=w, n_threads=nt, **opts) == ref_l


# ---- extreme scores -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_logistic_extremes(dtype):
    x = np.array([-1e4, 1e4, -np.inf, np.inf, -1e4, 1e4], dtype)
    y = np.array([1, 0, 1, 0, 0, 1], dtype)
    g, h = ob.logistic_grad_hess(x, y)
    np.testing.assert_array_equal(g, [-1, 1, -1, 1, 0, 0])
    np.testing.assert_array_equal(h, 0)
    # a confident wrong score costs |x|; a right one 0; -inf for y = 0 is exact
    assert ob.logistic(x[:2], y[:2]) == pytest.approx(1e4, rel=1e-6)
    assert ob.logistic(x[4:], y[4:]) == 0
    assert ob.logistic(x[2:3], y[2:3]) == np.inf


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_focal_finite_for_any_score(dtype, gamma):
    big = float(np.finfo(dtype).max)
    x = np.array([-big, -1e4, -50, -1, 0, 1, 50, 1e4, big, -np.inf, np.inf], dtype)
    for y in (0.0, 1.0, 0.3):
        g, h = ob.sigmoid_focal_grad_hess(x, np.full(x.size, y, dtype), gamma=gamma)
        assert np.isfinite(g).all() and np.isfinite(h).all(), (y, g, h)
    # the limits: a confident right score has zero gradient, a wrong one's gradient
    # tends to the weight of its term (gamma's factor tends to 1)
    g, _ = ob.sigmoid_focal_grad_hess(
        np.array([1e4, -1e4], dtype),
        np.array([0.0, 1.0], dtype),
        alpha=0.25,
        gamma=gamma,
    )
    np.testing.assert_allclose(g, [0.75, -0.25], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_regression_extremes(dtype):
    x = np.array([-1e4, 1e4, 0.0], dtype)
    y = np.zeros(3, dtype)
    g, h = ob.log_cosh_grad_hess(x, y)
    np.testing.assert_array_equal(g, [-1, 1, 0])
    np.testing.assert_array_equal(h, [0, 0, 1])
    assert ob.log_cosh(x[:1], y[:1]) == pytest.approx(1e4 - np.log(2), rel=1e-6)
    huge = np.array([-1e300, 1e300, 1e30]) if dtype == np.float64 else None
    if huge is not None:
        g, h = ob.pseudo_huber_grad_hess(huge, np.zeros(3), delta=2.0)
        np.testing.assert_allclose(g, [-2, 2, 2], rtol=1e-12)
        assert (h >= 0).all() and np.isfinite(h).all()
    g, h = ob.poisson_grad_hess(np.array([-np.inf, -1e4], dtype), np.zeros(2, dtype))
    np.testing.assert_array_equal(g, 0)
    assert ob.poisson(np.array([-np.inf], dtype), np.zeros(1, dtype)) == 0


# ---- softmax ----------------------------------------------------------------------


def _softmax_data(n, k, rng):
    return rng.normal(0, 2, (n, k)), rng.integers(0, k, n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3, 7, 100, 5000])
@pytest.mark.parametrize("hessian", ["exact", "xgboost", "lightgbm"])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_softmax_matches_twin(dtype, k, hessian, gamma, simd_path):
    # 40 rows: short rows (k < 16) run 16 rows a time, one per lane: two full
    # groups and a part one
    x, c = _softmax_data(40, k, RNG)
    cw = RNG.uniform(0.5, 2, k)
    sw = RNG.uniform(0, 2, 40)
    xd = x.astype(dtype)
    g, h = ob.softmax_grad_hess(
        xd, c, class_weight=cw.astype(dtype), sample_weight=sw.astype(dtype),
        hessian=hessian, gamma=gamma,
    )  # fmt: skip
    x64 = xd.astype(np.float64)
    rl, rg, rh = ref.softmax(x64, c, class_weight=cw, gamma=gamma)
    factor = {"exact": 1.0, "xgboost": 2.0, "lightgbm": k / (k - 1)}[hessian]
    rtol, atol = TOL[dtype]
    cols = slice(None)
    if gamma:  # the twin's hessian: differences of its closed-form gradient
        cols = slice(0, min(k, 8))
        rh = np.empty((x64.shape[0], cols.stop))
        for j in range(cols.stop):

            def grad_j(v, j=j):
                z = x64.copy()
                z[:, j] = v
                return ref.softmax(z, c, class_weight=cw, gamma=gamma)[1][:, j]

            rh[:, j] = _fd(grad_j, x64[:, j], 1e-3)
        rtol, atol = max(rtol, 1e-7), max(atol, 1e-9)
    np.testing.assert_allclose(g, sw[:, None] * rg, rtol=rtol * 10, atol=atol * 10)
    np.testing.assert_allclose(
        h[:, cols], factor * sw[:, None] * rh, rtol=rtol * 10, atol=atol * 10
    )
    val = ob.softmax(
        xd, c, class_weight=cw.astype(dtype), sample_weight=sw.astype(dtype),
        gamma=gamma,
    )  # fmt: skip
    want = np.sum(sw * rl) / np.sum(sw * cw[c])
    assert val == pytest.approx(want, rel=rtol * 100)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.5])
@pytest.mark.parametrize("k", [2, 5, 40])
def test_softmax_focal_finite_differences(gamma, k):
    x, c = _softmax_data(60, k, RNG)
    g, h = ob.softmax_grad_hess(x, c, gamma=gamma)
    rows = np.arange(x.shape[0])
    for j in range(min(k, 6)):
        step = 1e-3

        def col(v, j=j):
            z = x.copy()
            z[:, j] = v
            return z

        def loss_at(v, j=j):  # twin's per-row loss
            return ref.softmax(col(v), c, gamma=gamma)[0]

        def grad_at(v, j=j):  # the kernel's own gradient, column j
            return ob.softmax_grad_hess(col(v), c, gamma=gamma)[0][:, j]

        np.testing.assert_allclose(
            g[:, j], _fd(loss_at, x[:, j], step), rtol=1e-7, atol=1e-9
        )
        np.testing.assert_allclose(
            h[:, j], _fd(grad_at, x[:, j], step), rtol=1e-6, atol=1e-9
        )
    # the gradient matches the twin's closed form too
    np.testing.assert_allclose(
        g, ref.softmax(x, c, gamma=gamma)[1], rtol=1e-10, atol=1e-13
    )
    assert rows.size == 60


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_extremes(dtype, gamma, simd_path):
    x = np.array(
        [[1e4, -1e4, 0], [-1e4, 1e4, 0], [0, -np.inf, 1], [5, -np.inf, -np.inf]], dtype
    )
    c = np.array([0, 0, 2, 0])
    g, h = ob.softmax_grad_hess(x, c, gamma=gamma)
    assert np.isfinite(g).all() and np.isfinite(h).all()
    # masked (-inf) classes get exactly zero gradient and hessian
    assert g[2, 1] == 0 and h[2, 1] == 0 and (g[3] == 0).all() and (h[3] == 0).all()
    np.testing.assert_allclose(g[0], 0, atol=1e-30)  # confident and right
    # confident and wrong: gradient -> onehot(argmax) - onehot(c) (focal factor 1)
    np.testing.assert_allclose(g[1], [-1, 1, 0], atol=1e-6)
    assert ob.softmax(x[1:2], c[1:2], gamma=gamma) == pytest.approx(2e4, rel=1e-6)
    assert ob.softmax(x[3:], c[3:], gamma=gamma) == 0


@pytest.mark.parametrize("k", [10, 30])  # short rows (16 a time) and long ones
def test_softmax_bit_identical_for_any_thread_count(k):
    x, c = _softmax_data(20_003, k, np.random.default_rng(9))
    for gamma in (0.0, 2.0):
        g1, h1 = ob.softmax_grad_hess(x, c, gamma=gamma, n_threads=1)
        l1 = ob.softmax(x, c, gamma=gamma, n_threads=1)
        for nt in (2, 5):
            g, h = ob.softmax_grad_hess(x, c, gamma=gamma, n_threads=nt)
            assert np.array_equal(g, g1) and np.array_equal(h, h1)
            assert ob.softmax(x, c, gamma=gamma, n_threads=nt) == l1


# ---- properties -------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    x=hnp.arrays(np.float64, (8,), elements=st.floats(-1e6, 1e6)),
    y=hnp.arrays(np.float64, (8,), elements=st.floats(0, 1)),
    gamma=st.floats(0, 5),
    alpha=st.one_of(st.none(), st.floats(0, 1)),
)
def test_property_focal_finite_and_signed(x, y, gamma, alpha):
    g, h = ob.sigmoid_focal_grad_hess(x, y, alpha=alpha, gamma=gamma)
    assert np.isfinite(g).all() and np.isfinite(h).all()
    # hard labels: the gradient pushes the score toward the label
    hard = (y == 0) | (y == 1)
    assert (g[hard & (y == 1)] <= 0).all() and (g[hard & (y == 0)] >= 0).all()


@settings(max_examples=80, deadline=None)
@given(
    x=hnp.arrays(np.float64, (6, 4), elements=st.floats(-1e3, 1e3)),
    c=hnp.arrays(np.int64, (6,), elements=st.integers(0, 3)),
    gamma=st.floats(0, 4),
)
def test_property_softmax_gradient_rows_sum_to_zero(x, c, gamma):
    g, h = ob.softmax_grad_hess(x, c, gamma=gamma)
    assert np.isfinite(g).all() and np.isfinite(h).all()
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-12)
    if gamma == 0:
        assert (h >= 0).all()


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(np.float64, (8,), elements=st.floats(-30, 30)),
    y=hnp.arrays(np.float64, (8,), elements=st.floats(0, 1)),
    pw=st.floats(0.1, 10),
)
def test_property_logistic_matches_twin(x, y, pw):
    g, h = ob.logistic_grad_hess(x, y, pos_weight=pw)
    _, rg, rh = ref.logistic(x, y, pos_weight=pw)
    np.testing.assert_allclose(g, rg, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, rh, rtol=1e-12, atol=1e-15)


# ---- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ob.logistic_grad_hess(np.zeros(3), np.zeros(4)), ValueError, "shape"),
        (
            lambda: ob.logistic_grad_hess(np.zeros((3, 2)), np.zeros(3)),
            ValueError,
            "raw",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(2), [0.0, 2.0]),
            ValueError,
            r"target\[1\]",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(1), [np.nan]),
            ValueError,
            "in \\[0, 1\\]",
        ),
        (lambda: ob.gamma_grad_hess(np.zeros(2), [1.0, 0.0]), ValueError, "> 0"),
        (lambda: ob.poisson_grad_hess(np.zeros(1), [-1.0]), ValueError, ">= 0"),
        (
            lambda: ob.squared_log_error_grad_hess(np.zeros(1), [-1.0]),
            ValueError,
            "> -1",
        ),
        (
            lambda: ob.squared_error_grad_hess(np.zeros(1), [np.inf]),
            ValueError,
            "finite",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(1), [0.0], pos_weight=-1),
            ValueError,
            "pos_weight",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(1), [0.0], bogus=1),
            TypeError,
            "bogus",
        ),
        (
            lambda: ob.tweedie_grad_hess(np.zeros(1), [0.0], power=2.0),
            ValueError,
            "power",
        ),
        (
            lambda: ob.quantile_grad_hess(np.zeros(1), [0.0], alpha=1.0),
            ValueError,
            "alpha",
        ),
        (
            lambda: ob.pseudo_huber_grad_hess(np.zeros(1), [0.0], delta=0),
            ValueError,
            "delta",
        ),
        (
            lambda: ob.huber_grad_hess(np.zeros(1), [0.0], exact_hessian=1),
            TypeError,
            "exact_hessian",
        ),
        (
            lambda: ob.sigmoid_focal_grad_hess(np.zeros(1), [0.0], gamma=-1),
            ValueError,
            "gamma",
        ),
        (lambda: ob.softmax_grad_hess(np.zeros(3), [0, 1, 0]), ValueError, "n_classes"),
        (
            lambda: ob.softmax_grad_hess(np.zeros((2, 3)), [0, 3]),
            ValueError,
            r"\[0, 3\)",
        ),
        (
            lambda: ob.softmax_grad_hess(np.zeros((2, 3)), [0, -1]),
            ValueError,
            r"\[0, 3\)",
        ),
        (
            lambda: ob.softmax_grad_hess(np.zeros((2, 3)), [0.0, 1.5]),
            ValueError,
            "whole",
        ),
        (
            lambda: ob.softmax_grad_hess(np.zeros((2, 3)), [0, 1, 1]),
            ValueError,
            "shape",
        ),
        (
            lambda: ob.softmax_grad_hess(np.zeros((2, 3)), [0, 1], hessian="x"),
            ValueError,
            "hessian",
        ),
        (
            lambda: ob.softmax_grad_hess(np.zeros((2, 3)), [0, 1], class_weight=[1, 1]),
            ValueError,
            "class_weight",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(2), [0, 1], class_weight=[1, 1]),
            TypeError,
            "class_weight",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(2), [0, 1], sample_weight=[1, -1]),
            ValueError,
            "sample_weight",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(2), [0, 1], sample_weight=[1]),
            ValueError,
            "sample_weight",
        ),
        (
            lambda: ob.logistic_grad_hess(np.zeros(2), [0, 1], min_hess=-1),
            ValueError,
            "min_hess",
        ),
        (lambda: ob.logistic_grad_hess(["a"], [0]), TypeError, "raw"),
        (
            lambda: ob.grad_hess("nope", np.zeros(1), [0]),
            ValueError,
            "unknown objective",
        ),
        (
            lambda: ob.logistic(np.zeros(2), [0, 1], sample_weight=[0, 0]),
            ValueError,
            "sum to 0",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bad_out_leaves_buffers_untouched():
    x, y = np.zeros(4), np.zeros(4)
    good = np.full(4, 7.0)
    cases = [
        (np.zeros(4), TypeError, "pair"),
        ((good, np.zeros(3)), ValueError, "shape"),
        ((good, np.zeros(4, np.float32)), ValueError, "dtype"),
        ((good, np.zeros(8)[::2]), ValueError, "C-contiguous"),
        ((good, x), ValueError, "overlaps raw"),
        ((good, y), ValueError, "overlaps target"),
        ((good, good), ValueError, "overlap"),
        ((good, [0.0] * 4), TypeError, "ndarray"),
    ]
    ro = np.zeros(4)
    ro.flags.writeable = False
    cases.append(((good, ro), ValueError, "read-only"))
    for out, error, match in cases:
        with pytest.raises(error, match=match):
            ob.logistic_grad_hess(x, y, out=out)
        assert (good == 7).all()


def test_inputs_not_modified_and_strided_accepted():
    x = np.linspace(-3, 3, 20)[::2]
    y = (np.arange(10) % 2).astype(float)
    x0, y0 = x.copy(), y.copy()
    g, h = ob.logistic_grad_hess(x, y)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)
    np.testing.assert_allclose(g, ref.logistic(x0, y0)[1], rtol=1e-12)


def test_empty_input():
    g, h = ob.squared_error_grad_hess(np.zeros(0), np.zeros(0))
    assert g.shape == h.shape == (0,)
    assert np.isnan(ob.squared_error(np.zeros(0), np.zeros(0)))
    g, h = ob.softmax_grad_hess(np.zeros((0, 3)), np.zeros(0, np.int64))
    assert g.shape == (0, 3)


def test_min_hess_floor_before_weight():
    x = np.array([40.0, 40.0])
    g, h = ob.logistic_grad_hess(x, np.ones(2), min_hess=1e-3, sample_weight=[1.0, 2.0])
    np.testing.assert_allclose(h, [1e-3, 2e-3])


# ---- adapters, without the libraries (their (y_true, y_pred) signature) ------------


def test_adapters_check_options_when_made():
    with pytest.raises(ValueError, match="hessian"):
        ob.xgboost("softmax", hessian="bad")
    with pytest.raises(ValueError, match="unknown objective"):
        ob.lightgbm("nope")
    with pytest.raises(TypeError, match="bogus"):
        ob.xgboost_metric("logistic", bogus=1)
    with pytest.raises(ValueError, match="power"):
        ob.lightgbm_metric("tweedie", power=3.0)


def test_adapters_apply_library_conventions():
    rng = np.random.default_rng(2)
    x, c = rng.normal(size=(50, 4)), rng.integers(0, 4, 50)
    gx, hx = ob.xgboost("softmax")(c.astype(float), x)
    gl, hl = ob.lightgbm("softmax")(c.astype(float), x)
    _, _, rh = ref.softmax(x, c)
    np.testing.assert_allclose(hx, np.maximum(2 * rh, 1e-16), rtol=1e-12)
    np.testing.assert_allclose(hl, 4 / 3 * rh, rtol=1e-12)
    np.testing.assert_allclose(gx, gl)
    # LightGBM < 4 passed multiclass scores flat, class-major
    gf, _ = ob.lightgbm("softmax")(c.astype(float), x.T.reshape(-1))
    np.testing.assert_allclose(gf, gl)
    # sample weights through the scikit-learn signatures
    y, r = rng.integers(0, 2, 50).astype(float), rng.normal(size=50)
    w = rng.uniform(0.5, 2, 50)
    g1, h1 = ob.xgboost("logistic")(y, r, sample_weight=w)
    g2, h2 = ob.lightgbm("logistic")(y, r, w)
    _, rg, rh = ref.logistic(r, y)
    np.testing.assert_allclose(g1, w * rg, rtol=1e-12)
    np.testing.assert_allclose(g2, w * rg, rtol=1e-12)
    np.testing.assert_allclose(h2, w * rh, rtol=1e-12)
    # Poisson: both libraries' hessian exp(x + 0.7)
    _, hp = ob.xgboost("poisson")(np.ones(50), r)
    np.testing.assert_allclose(hp, np.exp(r + 0.7), rtol=1e-12)
    name, value = ob.xgboost_metric("logistic")(
        r, type("D", (), {"get_label": lambda s: y, "get_weight": lambda s: w})()
    )
    assert name == "fastloss-logistic"
    assert value == pytest.approx(np.sum(w * ref.logistic(r, y)[0]) / w.sum())


def _target_strategy(name):
    if name in ("logistic", "sigmoid_focal"):
        return st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1))
    if name in ("poisson", "tweedie"):
        return st.integers(0, 40).map(float)
    if name == "gamma":
        return st.floats(1e-3, 1e3)
    if name == "squared_log_error":
        return st.floats(0, 1e3)
    return st.floats(-1e3, 1e3)


@pytest.mark.parametrize(("name", "opts"), CASES, ids=IDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_property_every_objective_matches_twin(name, opts, data):
    low = 0.0 if name == "squared_log_error" else -20.0
    x = data.draw(hnp.arrays(np.float64, (7,), elements=st.floats(low, 20)))
    y = data.draw(hnp.arrays(np.float64, (7,), elements=_target_strategy(name)))
    g, h = _fns(name)[0](x, y, **opts)
    _, rg, rh = ref.ELEMENTWISE[name](x, y, **opts)
    scale = 1 + np.abs(rg) + np.abs(x) + np.abs(y)
    np.testing.assert_allclose(g, rg, rtol=1e-10, atol=1e-13 * scale.max())
    np.testing.assert_allclose(h, rh, rtol=1e-10, atol=1e-13 * scale.max())


@pytest.mark.parametrize(("given", "used"), [({}, 1), ({"n_threads": 2}, 2)])
def test_xgboost_adapter_runs_on_one_thread_unless_told(monkeypatch, given, used):
    # XGBoost's OpenMP threads spin between its parallel regions: a second team of
    # fastloss threads made training about 2x slower (see the adapter's docstring)
    seen = {}

    def spy(name, raw, y, **kw):
        seen.update(kw)
        return raw, raw

    monkeypatch.setattr(ob, "grad_hess", spy)
    ob.xgboost("logistic", **given)(np.array([1.0, 0.0]), np.array([0.3, -0.2]))
    assert seen["n_threads"] == used
