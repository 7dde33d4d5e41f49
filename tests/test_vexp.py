"""Accuracy of the kernels' vectorised exp, where the extension exposes it."""

import numpy as np
import pytest

import fastloss  # noqa: F401  (sets up the package before its extension)

_kernels = pytest.importorskip("fastloss._kernels")


def _vexp(x):
    """The kernel exp applied to ``x``: ``_vexp(x)`` or ``vexp(x, out)``."""
    if hasattr(_kernels, "_vexp"):
        return _kernels._vexp(x)
    if hasattr(_kernels, "vexp"):
        out = np.empty_like(x)
        got = _kernels.vexp(x, out)
        return out if got is None else got
    pytest.skip("fastloss._kernels exposes no vectorised exp")


def _exact_exp(x):
    """exp in extended precision where the platform has it (x87 long double)."""
    if np.finfo(np.longdouble).nmant > 52:
        return np.exp(x.astype(np.longdouble))
    return np.exp(x.astype(np.float64))


def _ulp_error(got, x, dtype):
    exact = _exact_exp(x)
    ulp = np.spacing(exact.astype(dtype)).astype(exact.dtype)
    return np.abs(got.astype(exact.dtype) - exact) / ulp


@pytest.mark.parametrize(
    "dtype,low",
    [(np.float32, -87.0), (np.float64, -700.0)],
)
def test_vexp_is_within_a_few_ulp(simd_path, dtype, low):
    # a dense sweep plus the awkward points: 0, range reduction boundaries
    sweep = np.linspace(low, 0.0, 2_000_003).astype(dtype)
    ln2 = np.log(2.0)
    special = np.array(
        [0.0, -0.0, low, -ln2, -ln2 / 2, -1e-30, -1e-7, -(2**-24)], dtype=dtype
    )
    for x in (sweep, special, sweep[::-1].copy(), sweep[1:-1:3].copy()):
        got = _vexp(x)
        assert got.dtype == dtype and got.shape == x.shape
        err = _ulp_error(got, x, dtype)
        worst = int(np.argmax(err))
        assert err[worst] <= 3.0, (
            f"exp({x[worst]!r}) = {got[worst]!r}, {float(err[worst]):.2f} ulp off"
        )
    assert _vexp(np.zeros(5, dtype=dtype)).tolist() == [1.0] * 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vexp_of_very_negative_and_neg_inf_is_tiny_or_zero(simd_path, dtype):
    x = np.array([-np.inf, -1e30, -1e4, -2000.0], dtype=dtype)
    got = _vexp(x)
    got = got.astype(np.float64)
    assert got[0] == 0.0 and np.all(got >= 0.0) and np.all(got < 1e-300)


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 15, 17, 33])
def test_vexp_lengths_not_multiple_of_vector_width(simd_path, n):
    for dtype in (np.float32, np.float64):
        x = -np.linspace(0.0, 20.0, n).astype(dtype)
        got = _vexp(x)
        np.testing.assert_allclose(
            got, np.exp(x.astype(np.float64)), rtol=4 * np.finfo(dtype).eps
        )
