"""fastloss.linear_cross_entropy(_and_grad) against materialised logits.

The reference materialises ``logits = hidden @ weight.T + bias`` in float64, takes
the loss and ``G = dloss/dlogits`` from the float64 twin (``_reference.py``) and
forms ``grad_hidden = G @ weight``, ``grad_weight = G.T @ hidden``, ``grad_bias =
G.sum(0)``: the definition, written plainly. Tolerances come from error scales
(see ``linear_reference``), so rows that must be exactly zero (ignored rows) are
checked exactly.
"""

import doctest
import os
import pathlib
import re
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from _matrix import DTYPES, REDUCTIONS
from _reference import (
    assert_same_bits,
    assert_unchanged,
    non_contiguous,
    numerical_gradient,
    read_only,
    reference,
    snapshot,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastloss
import fastloss._blas
import fastloss._linear_ce


@pytest.fixture(autouse=True, params=["numpy-blas", "matmul-add"])
def accumulation(request, monkeypatch):
    """Every test runs twice: grad_weight accumulated by NumPy's BLAS (beta = 1,
    when it was found) and by the portable matmul + add fallback."""
    use = request.param == "numpy-blas"
    if use and not fastloss._blas.available(np.float64):
        pytest.skip("NumPy's BLAS was not found: only the fallback runs")
    monkeypatch.setattr(fastloss._linear_ce, "_USE_NUMPY_BLAS", use)
    return request.param


N, D, V = 13, 6, 9  # rows, input features, classes

# option name -> what make_linear_case sets
OPTIONS = {
    "plain": {},
    "bias": {"bias": True},
    "class_weight": {"class_weight": True},
    "ignore": {"ignore": -100},
    "ignore_in_range": {"ignore": 2},
    "smoothing": {"label_smoothing": 0.1},
    "smoothing_one": {"label_smoothing": 1.0},
    "z_loss": {"z_loss": 1e-2},
    "sample_weight": {"sample_weight": True},
    "all": {
        "bias": True,
        "class_weight": True,
        "ignore": -100,
        "label_smoothing": 0.2,
        "z_loss": 1e-3,
        "sample_weight": True,
    },
}
CHUNK_SIZES = [1, 5, None, 1000]  # one row, odd (a short last chunk), auto, > N


def make_linear_case(
    rng,
    lead,
    n_in,
    n_classes,
    dtype,
    *,
    bias=False,
    class_weight=False,
    ignore=None,
    label_smoothing=0.0,
    z_loss=0.0,
    sample_weight=False,
):
    """Random ``(hidden, weight, target, kwargs)``; logits of order 3."""
    lead = tuple(lead)
    hidden = rng.standard_normal(lead + (n_in,)).astype(dtype)
    weight = (rng.standard_normal((n_classes, n_in)) * 1.5).astype(dtype)
    target = np.asarray(rng.integers(0, n_classes, size=lead), dtype=np.int64)
    kw = {}
    flat = target.reshape(-1)
    if ignore is not None and flat.size > 1:
        flat[::3] = ignore
        if np.all(flat == ignore):
            flat[-1] = 1 if ignore == 0 else 0
        if ignore != -100:
            kw["ignore_index"] = ignore
    if bias:
        kw["bias"] = rng.standard_normal(n_classes).astype(dtype)
    if class_weight:
        kw["class_weight"] = rng.uniform(0.25, 2.0, n_classes)
    if label_smoothing:
        kw["label_smoothing"] = label_smoothing
    if z_loss:
        kw["z_loss"] = z_loss
    if sample_weight:
        sw = rng.uniform(0.0, 2.0, lead)
        if sw.size > 2:
            sw.reshape(-1)[1] = 0.0
        kw["sample_weight"] = sw
    return hidden, weight, target, kw


# absolute floor for results that underflow in the compute dtype (as _reference)
FLOOR = {np.dtype(np.float32): 1e-35, np.dtype(np.float64): 1e-300}


def expected_dtype(hidden, weight, bias):
    """The documented result dtype: NumPy's promotion, integers as float64."""
    dtypes = [np.asarray(a).dtype for a in (hidden, weight, bias) if a is not None]
    return np.result_type(*[d if d.kind == "f" else np.float64 for d in dtypes])


def linear_reference(hidden, weight, target, kw):
    """Loss, gradients and tolerances of the materialised computation (float64).

    Returns ``(values, tolerances)``, two lists ``[loss, grad_hidden,
    grad_weight(, grad_bias)]``. A tolerance is ``rt * scale`` where ``rt = 8 (D
    + 2) u`` (``u`` the unit roundoff of the compute dtype, D the number of input
    features: a matmul's error bound) and the scale is what the rounding errors
    are proportional to: ``|hidden| @ |weight|.T + |bias|`` for the logits, the
    twin's error scales for the loss and ``G``, widened by the logits' error
    times ``G`` (a relative error of the logits moves the softmax by as much).
    """
    kw = dict(kw)
    bias = kw.pop("bias", None)
    class_weight = kw.pop("class_weight", None)
    kw.pop("chunk_size", None)
    res = expected_dtype(hidden, weight, bias)
    u = np.finfo(np.float64 if res == np.float64 else np.float32).eps / 2
    n_in = np.shape(weight)[1]
    rt = 8 * (n_in + 2) * u

    lead = np.shape(hidden)[:-1]
    h = np.asarray(hidden, np.float64).reshape(int(np.prod(lead)), n_in)
    w = np.asarray(weight, np.float64)
    b = None if bias is None else np.asarray(bias, np.float64)
    x = h @ w.T + (0.0 if b is None else b)
    x_scale = np.abs(h) @ np.abs(w).T + (0.0 if b is None else np.abs(b))
    kw_ref = dict(kw)
    if "sample_weight" in kw_ref:
        kw_ref["sample_weight"] = np.asarray(kw_ref["sample_weight"]).reshape(-1)
    ref = reference(
        x, np.asarray(target).reshape(-1), class_weight=class_weight, **kw_ref
    )
    g = ref.grad
    # G's error: the twin's scale, plus q times the logits' error (x_scale is
    # relative to rt, like everything else here)
    g_scale = ref.grad_scale * (1.0 + x_scale.max(axis=1, keepdims=True))
    loss_terms = np.abs(g) * x_scale
    if kw.get("reduction", "mean") == "none":
        loss = ref.loss.reshape(lead)
        loss_tol = rt * (ref.loss_scale + loss_terms.sum(axis=1)).reshape(lead)
    else:
        loss = ref.loss
        loss_tol = rt * (ref.loss_scale + loss_terms.sum())
    values = [loss, (g @ w).reshape(np.shape(hidden)), g.T @ h]
    tols = [
        loss_tol,
        rt * (g_scale @ np.abs(w)).reshape(np.shape(hidden)),
        rt * (g_scale.T @ np.abs(h)),
    ]
    if b is not None:
        values.append(g.sum(axis=0))
        tols.append(rt * g_scale.sum(axis=0))
    return values, tols


def assert_matches(got, hidden, weight, target, kw):
    """Results of ``_and_grad`` (a tuple) match the materialised reference."""
    want, tols = linear_reference(hidden, weight, target, kw)
    names = ["loss", "grad_hidden", "grad_weight", "grad_bias"]
    assert len(got) == len(want), f"{len(got)} results, want {len(want)}"
    res = expected_dtype(hidden, weight, kw.get("bias"))
    for name, g, w, tol in zip(names, got, want, tols):
        if name == "loss" and kw.get("reduction", "mean") != "none":
            assert isinstance(g, float), f"loss is {type(g)}, want a float"
        else:
            assert isinstance(g, np.ndarray), name
            assert g.dtype == res, f"{name} dtype {g.dtype}, want {res}"
            assert g.shape == np.shape(w), f"{name} shape {g.shape} != {np.shape(w)}"
        err = np.abs(np.asarray(g, np.float64) - w)
        tol = tol + (tol > 0) * FLOOR[res]  # exact where the scale is 0
        assert np.all(np.isfinite(g)), name
        bad = err > tol
        if np.any(bad):
            worst = np.unravel_index(np.argmax(err - tol), np.shape(err))
            raise AssertionError(
                f"{name}: {int(np.sum(bad))} of {err.size} entries off; worst at "
                f"{worst}: got {np.asarray(g)[worst]!r} want {np.asarray(w)[worst]!r}"
                f" (tol {np.broadcast_to(tol, np.shape(err))[worst]:.3g})"
            )


def call(hidden, weight, target, kw):
    """Both entry points; the loss-only one must give exactly the fused loss and
    neither may modify an input."""
    before = snapshot(
        hidden,
        weight,
        target,
        kw.get("bias"),
        kw.get("class_weight"),
        kw.get("sample_weight"),
    )
    forward = fastloss.linear_cross_entropy(hidden, weight, target, **kw)
    assert_unchanged(before)
    got = fastloss.linear_cross_entropy_and_grad(hidden, weight, target, **kw)
    assert_unchanged(before)
    assert_same_bits(forward, got[0])
    return got


# ---------------------------------------------------------------------------
# values


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_materialised_reference(rng, dtype, reduction, option, chunk_size):
    hidden, weight, target, kw = make_linear_case(
        rng, (N,), D, V, dtype, **OPTIONS[option]
    )
    kw.update(reduction=reduction, chunk_size=chunk_size)
    got = call(hidden, weight, target, kw)
    assert len(got) == (4 if "bias" in kw else 3)
    assert_matches(got, hidden, weight, target, kw)
    assert np.any(got[2] != 0) and np.any(np.asarray(got[0]) != 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_fastloss_on_materialised_logits(rng, dtype, reduction):
    """The same numbers as softmax_cross_entropy_and_grad of the logits, to the
    rounding of the two matmul orders."""
    hidden, weight, target, kw = make_linear_case(
        rng, (40,), 16, 50, dtype, **OPTIONS["all"]
    )
    bias, cw = kw.pop("bias"), kw.pop("class_weight")
    kw.update(reduction=reduction, class_weight=cw)
    loss, gh, gw, gb = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, bias=bias, chunk_size=7, **kw
    )
    logits = hidden @ weight.T + bias
    want, g = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    atol = rtol * np.max(np.abs(gw))
    np.testing.assert_allclose(loss, want, rtol=rtol)
    np.testing.assert_allclose(gh, g @ weight, rtol=rtol, atol=atol)
    np.testing.assert_allclose(gw, g.T @ hidden, rtol=rtol, atol=atol)
    np.testing.assert_allclose(gb, g.sum(axis=0), rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignored_rows_whole_chunks_and_partial(rng, reduction):
    """Chunks made only of ignored rows, ignored rows between kept ones."""
    hidden, weight, target, kw = make_linear_case(
        rng, (20,), D, V, np.float64, bias=True, class_weight=True
    )
    target[:8] = -100  # the first two chunks of 4 are all padding
    target[11] = target[15] = -100
    hidden[:8] = np.nan  # ignored rows count for nothing, even NaN ones
    kw.update(reduction=reduction, chunk_size=4)
    got = call(hidden, weight, target, kw)
    assert_matches(got, np.where(np.isnan(hidden), 0.0, hidden), weight, target, kw)
    assert np.all(got[1][target == -100] == 0.0)
    if reduction == "none":
        assert np.all(got[0][target == -100] == 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_row_ignored(rng, reduction):
    """D == 0: "mean" is 0 with zero gradients (PyTorch gives NaN), as in
    softmax_cross_entropy."""
    hidden, weight, target, kw = make_linear_case(
        rng, (6,), D, V, np.float32, bias=True
    )
    target[:] = -100
    loss, gh, gw, gb = call(hidden, weight, target, dict(kw, reduction=reduction))
    zero = np.zeros(6, np.float32) if reduction == "none" else np.asarray(0.0)
    assert_same_bits(np.asarray(loss), zero)
    for g, ref in zip((gh, gw, gb), (hidden, weight, kw["bias"])):
        assert g.shape == ref.shape and g.dtype == np.float32
        assert not np.any(g)
    logits = hidden @ weight.T + kw["bias"]
    want = fastloss.softmax_cross_entropy(logits, target, reduction=reduction)
    assert_same_bits(np.asarray(loss), np.asarray(want))


def test_zero_class_weights_give_zero_normaliser(rng):
    hidden, weight, target, _ = make_linear_case(rng, (5,), D, V, np.float64)
    cw = np.ones(V)
    cw[np.unique(target)] = 0.0
    loss, gh, gw = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, class_weight=cw, z_loss=0.1
    )
    assert loss == 0.0 and not gh.any() and not gw.any()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_leading_axes_like_a_language_model(rng, reduction):
    """hidden (batch, seq, features) with target (batch, seq), as F.linear."""
    hidden, weight, target, kw = make_linear_case(
        rng, (2, 5), D, V, np.float64, **OPTIONS["all"]
    )
    kw.update(reduction=reduction, chunk_size=3)
    got = call(hidden, weight, target, kw)
    assert got[1].shape == (2, 5, D)
    if reduction == "none":
        assert got[0].shape == (2, 5)
    assert_matches(got, hidden, weight, target, kw)


def test_one_row_and_zero_rows(rng):
    hidden, weight, target, kw = make_linear_case(rng, (), D, V, np.float64, bias=True)
    assert target.shape == ()
    for reduction in REDUCTIONS:
        got = call(hidden, weight, target, dict(kw, reduction=reduction))
        assert got[1].shape == (D,)
        assert_matches(got, hidden, weight, target, dict(kw, reduction=reduction))
    got = call(hidden, weight, int(target), kw)  # a Python int target
    assert_matches(got, hidden, weight, target, kw)

    empty = np.zeros((0, D))
    for reduction, want in [("mean", 0.0), ("sum", 0.0)]:
        loss, gh, gw, gb = fastloss.linear_cross_entropy_and_grad(
            empty, weight, np.zeros(0, int), bias=kw["bias"], reduction=reduction
        )
        assert loss == want and gh.shape == (0, D) and not gw.any() and not gb.any()
    rows = fastloss.linear_cross_entropy(
        empty, weight, np.zeros(0, int), reduction="none"
    )
    assert rows.shape == (0,) and rows.dtype == np.float64


@settings(
    deadline=None,
    max_examples=int(os.environ.get("FASTLOSS_HYPOTHESIS_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_property_any_sizes_and_chunks(data):
    """Random sizes (including no features, one class, no rows), chunk sizes and
    padding patterns."""
    dtype = data.draw(st.sampled_from(DTYPES))
    n = data.draw(st.integers(0, 12))
    n_in = data.draw(st.integers(0, 5))
    n_classes = data.draw(st.integers(1, 7))
    elements = st.floats(-3.0, 3.0, width=32)
    hidden = data.draw(hnp.arrays(dtype, (n, n_in), elements=elements))
    weight = data.draw(hnp.arrays(dtype, (n_classes, n_in), elements=elements))
    target = data.draw(
        hnp.arrays(np.int64, (n,), elements=st.integers(-1, n_classes - 1))
    )
    kw = {
        "ignore_index": -1,
        "reduction": data.draw(st.sampled_from(REDUCTIONS)),
        "chunk_size": data.draw(st.one_of(st.none(), st.integers(1, 14))),
        "label_smoothing": data.draw(st.sampled_from([0.0, 0.3])),
        "z_loss": data.draw(st.sampled_from([0.0, 0.05])),
    }
    if data.draw(st.booleans()):
        kw["bias"] = data.draw(hnp.arrays(dtype, (n_classes,), elements=elements))
    if data.draw(st.booleans()):
        kw["class_weight"] = data.draw(
            hnp.arrays(
                np.float64,
                (n_classes,),
                elements=st.just(0.0) | st.floats(2.0**-32, 2.0, width=32),
            )
        )
    got = call(hidden, weight, target, kw)
    assert_matches(got, hidden, weight, target, kw)


# ---------------------------------------------------------------------------
# dtypes, layouts, threads


@pytest.mark.parametrize(
    "h_dtype,w_dtype,b_dtype,want",
    [
        (np.float32, np.float32, np.float32, np.float32),
        (np.float32, np.float64, None, np.float64),
        (np.float64, np.float32, np.float32, np.float64),
        (np.float32, np.float32, np.float64, np.float64),
        (np.float16, np.float32, None, np.float32),
        (np.int64, np.float32, None, np.float64),
        (np.float16, np.float16, np.float16, np.float16),
    ],
)
def test_mixed_dtypes_promote(rng, h_dtype, w_dtype, b_dtype, want):
    hidden, weight, target, kw = make_linear_case(rng, (N,), D, V, np.float64)
    hidden = (hidden * 2).astype(h_dtype)
    weight = weight.astype(w_dtype)
    if b_dtype is not None:
        kw["bias"] = rng.standard_normal(V).astype(b_dtype)
    kw["class_weight"] = rng.uniform(0.5, 2.0, V)  # float64: does not promote
    for reduction in REDUCTIONS:
        kw["reduction"] = reduction
        got = call(hidden, weight, target, kw)
        for g in got[1:]:
            assert g.dtype == want
        if reduction == "none":
            assert got[0].dtype == want
        if want != np.float16:
            assert_matches(got, hidden, weight, target, kw)
    if want == np.float16:  # computed in float32, the results cast back
        kw32 = dict(kw, bias=kw["bias"].astype(np.float32))
        got32 = fastloss.linear_cross_entropy_and_grad(
            hidden.astype(np.float32), weight.astype(np.float32), target, **kw32
        )
        for g, g32 in zip(got[1:], got32[1:]):
            assert_same_bits(g, g32.astype(np.float16))


@pytest.mark.parametrize("layout", ["fortran_weight", "strided", "readonly", "lists"])
def test_layouts_and_array_likes(rng, layout):
    hidden, weight, target, kw = make_linear_case(
        rng, (N,), D, V, np.float32, **OPTIONS["all"]
    )
    kw["chunk_size"] = 4
    args = [hidden, weight, target]
    if layout == "fortran_weight":  # W.T of a stored (in_features, classes) matrix
        args[1] = np.ascontiguousarray(weight.T).T
        assert args[1].flags.f_contiguous and not args[1].flags.c_contiguous
    elif layout == "strided":
        args = [non_contiguous(a) for a in args]
        kw["bias"] = non_contiguous(kw["bias"])
        assert not args[0].flags.c_contiguous and not args[1].flags.c_contiguous
    elif layout == "readonly":
        args = [read_only(a) for a in args]
        kw = {
            k: read_only(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()
        }
    else:
        args = [a.tolist() for a in args]
        kw["bias"] = kw["bias"].tolist()
        hidden, weight = hidden.astype(np.float64), weight.astype(np.float64)
        kw_ref = dict(kw, bias=np.asarray(kw["bias"]))
        got = call(*args, kw)
        assert got[1].dtype == np.float64  # Python floats are float64
        assert_matches(got, hidden, weight, target, kw_ref)
        return
    got = call(*args, kw)
    assert got[1].dtype == np.float32
    assert_matches(got, hidden, weight, target, kw)


def test_thread_count_does_not_change_bits(rng):
    hidden, weight, target, kw = make_linear_case(
        rng, (64,), 8, 300, np.float32, **OPTIONS["all"]
    )
    one = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, n_threads=1, chunk_size=16, **kw
    )
    two = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, n_threads=2, chunk_size=16, **kw
    )
    for a, b in zip(one, two):
        assert_same_bits(a, b)


def test_default_chunk_size_is_the_documented_formula():
    f = fastloss._linear_ce.default_chunk_size
    mib = 2**20
    # at least in_features rows, clipped to [256, 1024]
    assert f(10**6, 128256, 4, 1024) == 1024  # 64 MiB would hold 130 rows
    assert f(10**6, 128256, 4, 4096) == 1024
    assert f(10**6, 128256, 4, 64) == 256
    assert f(10**6, 128256, 4, 300) == 300
    # ... unless 64 MiB of logits hold more
    assert f(10**6, 32000, 4, 256) == 64 * mib // (32000 * 4) == 524
    assert f(10**6, 32000, 4, 1024) == 1024
    assert f(10**6, 1000, 8, 1024) == 64 * mib // 8000
    assert f(100, 1000, 4, 1024) == 100  # never more than the rows
    assert f(0, 1000, 4, 1024) == 1


def test_default_chunk_size_is_what_runs(rng, monkeypatch):
    # the loop uses the documented default: count the CE kernel calls
    hidden, weight, target, kw = make_linear_case(rng, (700,), 300, 5, np.float32)
    calls = []
    kernel = fastloss._linear_ce._kernels.softmax_cross_entropy

    def spy(*args):
        calls.append(args[7])  # rows in the chunk
        return kernel(*args)

    monkeypatch.setattr(fastloss._linear_ce._kernels, "softmax_cross_entropy", spy)
    monkeypatch.setattr(fastloss._linear_ce, "CHUNK_BYTES", 5 * 4 * 50)  # 50 rows
    fastloss.linear_cross_entropy_and_grad(hidden, weight, target)
    assert calls == [300, 300, 100]  # in_features=300 rows per chunk
    calls.clear()
    monkeypatch.setattr(fastloss._linear_ce, "CHUNK_BYTES", 5 * 4 * 400)  # 400 rows
    fastloss.linear_cross_entropy_and_grad(hidden, weight, target)
    assert calls == [400, 300]


def test_result_does_not_depend_on_chunk_size_beyond_rounding(rng):
    hidden, weight, target, kw = make_linear_case(
        rng, (50,), 8, 40, np.float64, **OPTIONS["all"]
    )
    base = fastloss.linear_cross_entropy_and_grad(hidden, weight, target, **kw)
    for cs in (1, 3, 7, 49, 50, 51):
        got = fastloss.linear_cross_entropy_and_grad(
            hidden, weight, target, chunk_size=cs, **kw
        )
        for a, b in zip(got, base):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------
# gradients against finite differences (float64, tiny)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", ["plain", "ignore", "all"])
def test_gradients_match_finite_differences(rng, option, reduction):
    hidden, weight, target, kw = make_linear_case(
        rng, (5,), 3, 4, np.float64, **dict(OPTIONS[option], bias=True)
    )
    kw.update(reduction=reduction, chunk_size=2)
    bias = kw.pop("bias")

    def loss(h, w, b):
        out = fastloss.linear_cross_entropy(
            hidden=h, weight=w, target=target, bias=b, **kw
        )
        return np.sum(out)

    _, gh, gw, gb = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, bias=bias, **kw
    )
    fd = [
        numerical_gradient(lambda h: loss(h, weight, bias), hidden),
        numerical_gradient(lambda w: loss(hidden, w, bias), weight),
        numerical_gradient(lambda b: loss(hidden, weight, b), bias),
    ]
    for got, want in zip((gh, gw, gb), fd):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
        assert np.max(np.abs(want)) > 1e-2, "finite differences are trivially zero"


# ---------------------------------------------------------------------------
# PyTorch


TORCH_OPTIONS = [
    "plain",
    "bias",
    "class_weight",
    "ignore",
    "ignore_in_range",
    "smoothing",
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", TORCH_OPTIONS + ["torch_all"])
def test_matches_torch_linear_and_cross_entropy(rng, option, reduction, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    spec = (
        {"bias": True, "class_weight": True, "ignore": 3, "label_smoothing": 0.2}
        if option == "torch_all"
        else OPTIONS[option]
    )
    hidden, weight, target, kw = make_linear_case(rng, (N,), D, V, dtype, **spec)
    got = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, reduction=reduction, chunk_size=4, **kw
    )

    h = torch.tensor(hidden, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(weight, dtype=torch.float64, requires_grad=True)
    b = None
    if "bias" in kw:
        b = torch.tensor(kw["bias"], dtype=torch.float64, requires_grad=True)
    cw = kw.get("class_weight")
    loss = F.cross_entropy(
        F.linear(h, w, b),
        torch.from_numpy(target),
        weight=None if cw is None else torch.from_numpy(cw),
        ignore_index=kw.get("ignore_index", -100),
        label_smoothing=kw.get("label_smoothing", 0.0),
        reduction=reduction,
    )
    loss.sum().backward()
    want = [loss.detach().numpy(), h.grad.numpy(), w.grad.numpy()]
    if b is not None:
        want.append(b.grad.numpy())
    assert len(got) == len(want)
    rtol = 1e-11 if dtype == np.float64 else 1e-4
    for g, t in zip(got, want):
        np.testing.assert_allclose(g, t, rtol=rtol, atol=rtol * np.max(np.abs(t)))


# ---------------------------------------------------------------------------
# memory


def _peak_above_start(fn):
    """Peak traced bytes during ``fn()`` above what was allocated before, and the
    bytes of what it returned (still alive at the peak)."""
    fn()  # warm up: first-call allocations do not count
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    kept = result if isinstance(result, tuple) else (result,)
    return peak, sum(np.asarray(r).nbytes for r in kept)


@pytest.fixture(scope="module")
def big_case():
    rng = np.random.default_rng(0)
    n, n_in, n_classes = 2048, 64, 8192
    hidden = rng.standard_normal((n, n_in), dtype=np.float32)
    weight = rng.standard_normal((n_classes, n_in), dtype=np.float32) * 0.1
    bias = rng.standard_normal(n_classes, dtype=np.float32)
    target = rng.integers(0, n_classes, n)
    return hidden, weight, bias, target


def test_tracemalloc_sees_numpy_matmul_buffers(big_case):
    """The memory tests below mean something only if tracemalloc traces NumPy's
    data buffers (NumPy reports them through PyTraceMalloc_Track)."""
    hidden, weight, _, _ = big_case
    peak, _ = _peak_above_start(lambda: hidden @ weight.T)
    assert peak >= hidden.shape[0] * weight.shape[0] * 4


@pytest.mark.parametrize("padding", [False, True])
def test_peak_memory_is_a_chunk_not_n_by_v(big_case, padding):
    hidden, weight, bias, target = big_case
    if padding:  # the gathered path
        target = np.where(np.arange(target.size) % 3 == 0, -100, target)
    n, n_classes = hidden.shape[0], weight.shape[0]
    materialised = n * n_classes * 4  # 64 MiB
    chunk = 128 * n_classes * 4  # 4 MiB

    peak, out = _peak_above_start(
        lambda: fastloss.linear_cross_entropy_and_grad(
            hidden, weight, target, bias=bias, chunk_size=128
        )
    )
    extra = peak - out
    # the chunk of logits, the grad_weight scratch (as large as a chunk here)
    # and small change; the materialised logits would be 16 chunks
    assert extra < 2 * chunk + materialised // 50, (extra, chunk)
    assert extra < materialised // 6

    peak, out = _peak_above_start(
        lambda: fastloss.linear_cross_entropy(
            hidden, weight, target, bias=bias, chunk_size=128
        )
    )
    assert peak < chunk + materialised // 50, (peak, chunk)


# ---------------------------------------------------------------------------
# errors


def _base():
    rng = np.random.default_rng(1)
    return {
        "hidden": rng.standard_normal((3, 4)),
        "weight": rng.standard_normal((5, 4)),
        "target": np.array([0, 4, -100]),
        "bias": np.zeros(5),
        "class_weight": np.ones(5),
        "sample_weight": np.ones(3),
        "reduction": "mean",
    }


BAD_ARGS = {
    "hidden_0d": ({"hidden": np.float64(1.0)}, ValueError, "hidden"),
    "hidden_none": ({"hidden": None}, TypeError, "hidden"),
    "hidden_complex": ({"hidden": np.ones((3, 4), complex)}, TypeError, "hidden"),
    "hidden_strings": ({"hidden": np.full((3, 4), "a")}, TypeError, "hidden"),
    "features_differ": ({"hidden": np.ones((3, 5))}, ValueError, "hidden"),
    "weight_1d": ({"weight": np.ones(4)}, ValueError, "weight"),
    "weight_3d": ({"weight": np.ones((5, 4, 1))}, ValueError, "weight"),
    "weight_no_classes": ({"weight": np.ones((0, 4))}, ValueError, "weight"),
    "weight_ragged": ({"weight": [[1.0, 2.0], [3.0]]}, TypeError, "weight"),
    "bias_length": ({"bias": np.zeros(4)}, ValueError, "bias"),
    "bias_2d": ({"bias": np.zeros((1, 5))}, ValueError, "bias"),
    "target_short": ({"target": np.array([0, 1])}, ValueError, "target"),
    "target_2d": ({"target": np.zeros((3, 1), int)}, ValueError, "target"),
    "target_float": ({"target": np.array([0.0, 1.0, 2.0])}, TypeError, "target"),
    "target_probabilities": ({"target": np.full((3, 5), 0.2)}, TypeError, "target"),
    "target_bool": ({"target": np.array([True, False, True])}, TypeError, "target"),
    "target_equals_classes": ({"target": np.array([0, 5, 1])}, ValueError, "target"),
    "target_negative": ({"target": np.array([0, -1, 1])}, ValueError, "target"),
    "target_huge": ({"target": np.array([0, 2**40, 1])}, ValueError, "target"),
    "class_weight_length": ({"class_weight": np.ones(4)}, ValueError, "class_weight"),
    "class_weight_nan": (
        {"class_weight": np.array([1.0, np.nan, 1, 1, 1])},
        ValueError,
        "class_weight",
    ),
    "sample_weight_shape": ({"sample_weight": np.ones(4)}, ValueError, "sample_weight"),
    "ignore_index_float": ({"ignore_index": 1.5}, TypeError, "ignore_index"),
    "smoothing_high": ({"label_smoothing": 1.5}, ValueError, "label_smoothing"),
    "z_loss_negative": ({"z_loss": -1.0}, ValueError, "z_loss"),
    "reduction_unknown": ({"reduction": "avg"}, ValueError, "reduction"),
    "chunk_size_zero": ({"chunk_size": 0}, ValueError, "chunk_size"),
    "chunk_size_float": ({"chunk_size": 2.5}, TypeError, "chunk_size"),
    "chunk_size_bool": ({"chunk_size": True}, TypeError, "chunk_size"),
    "n_threads_zero": ({"n_threads": 0}, ValueError, "n_threads"),
}


@pytest.mark.parametrize("with_grad", [False, True])
@pytest.mark.parametrize("case", list(BAD_ARGS))
def test_bad_arguments_raise_naming_them(case, with_grad):
    change, exc, name = BAD_ARGS[case]
    args = _base()
    fastloss.linear_cross_entropy_and_grad(**args)  # the base case is valid
    args.update(change)
    before = snapshot(*[v for v in args.values() if isinstance(v, np.ndarray)])
    fn = (
        fastloss.linear_cross_entropy_and_grad
        if with_grad
        else fastloss.linear_cross_entropy
    )
    with pytest.raises(exc, match=rf"\b{re.escape(name)}\b"):
        fn(**args)
    assert_unchanged(before)


def test_out_of_range_target_message_gives_position_and_value():
    args = _base()
    args["target"] = np.array([[0, 1], [7, 2]])
    args["hidden"] = np.ones((2, 2, 4))
    args["sample_weight"] = None
    with pytest.raises(ValueError, match=r"target\[1, 0\] \(flat position 2\) = 7"):
        fastloss.linear_cross_entropy(**args)


# ---------------------------------------------------------------------------
# docstrings


def test_docstring_examples_run():
    result = doctest.testmod(
        fastloss._linear_ce, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted >= 10
    assert result.failed == 0


def test_documentation_python_blocks_run():
    path = pathlib.Path(__file__).resolve().parents[1] / "docs/linear_cross_entropy.md"
    if not path.exists():  # tests run against an installed package elsewhere
        pytest.skip("docs/linear_cross_entropy.md not next to the tests")
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
    assert len(blocks) >= 1
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
