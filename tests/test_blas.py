"""fastloss._blas: ``c = beta * c + a.T @ b`` through NumPy's own BLAS.

The reference is the product written plainly in float64 NumPy. Where the call
is refused (layout, dtype, shape) the function must return False and leave
``c`` as it was, so that the caller's fallback starts from the right values.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from _matrix import DTYPES

from fastloss import _blas


def _numpy_bundles_openblas() -> bool:
    cfg = getattr(np, "__config__", None)
    try:
        name = cfg.CONFIG["Build Dependencies"]["blas"]["name"]  # type: ignore[union-attr]
    except (AttributeError, KeyError, TypeError):
        return False
    return "openblas" in str(name).lower()


needs_blas = pytest.mark.skipif(
    not _blas.available(np.float64), reason="NumPy's BLAS was not found"
)


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and _numpy_bundles_openblas()),
    reason="only asserted where NumPy says it uses OpenBLAS, on Linux",
)
def test_found_where_numpy_uses_openblas():
    # on the platform CI runs, the fast path must really be taken
    assert _blas.available(np.float32)
    assert _blas.available(np.float64)


def _tol(dtype):
    return (2e-5, 2e-5) if dtype == np.float32 else (1e-12, 1e-12)


@needs_blas
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 5, 3), (64, 33, 17), (3, 200, 1)])
def test_matches_plain_product(dtype, beta, shape):
    k, m, n = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = beta * c.astype(np.float64) + a.T.astype(np.float64) @ b
    a0, b0 = a.copy(), b.copy()
    assert _blas.gemm_tn_accumulate(a, b, c, beta)
    rtol, atol = _tol(dtype)
    np.testing.assert_allclose(c, want, rtol=rtol, atol=atol * np.sqrt(k))
    np.testing.assert_array_equal(a, a0)  # inputs untouched
    np.testing.assert_array_equal(b, b0)


@needs_blas
@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_zero_ignores_nan_in_c(dtype):
    # BLAS does not read C when beta == 0: fresh np.empty buffers are fine
    a = np.ones((4, 3), dtype)
    b = np.ones((4, 2), dtype)
    c = np.full((3, 2), np.nan, dtype)
    assert _blas.gemm_tn_accumulate(a, b, c, 0.0)
    np.testing.assert_array_equal(c, np.full((3, 2), 4.0))


@needs_blas
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_strided_views(dtype):
    # rows contiguous, leading dimension larger than the width: taken as is
    rng = np.random.default_rng(3)
    big_a = rng.standard_normal((9, 20)).astype(dtype)
    big_b = rng.standard_normal((9, 11)).astype(dtype)
    big_c = rng.standard_normal((12, 7)).astype(dtype)
    a, b, c = big_a[:, 2:10], big_b[:, 1:6], big_c[3:11, 1:6]
    want_c = big_c.astype(np.float64)
    want_c[3:11, 1:6] += a.T.astype(np.float64) @ b
    assert _blas.gemm_tn_accumulate(a, b, c, 1.0)
    rtol, atol = _tol(dtype)
    np.testing.assert_allclose(big_c, want_c, rtol=rtol, atol=atol)


def _refused(a, b, c):
    before = c.copy()
    assert _blas.gemm_tn_accumulate(a, b, c, 1.0) is False
    np.testing.assert_array_equal(c, before)


@pytest.mark.parametrize(
    "case",
    [
        "column_strided_a",
        "fortran_c",
        "mixed_dtype",
        "float16",
        "wrong_shape",
        "inner_mismatch",
        "zero_size",
        "negative_stride",
        "read_only_c",
    ],
)
def test_refuses_what_it_cannot_do_and_leaves_c(case):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 4))
    b = rng.standard_normal((6, 3))
    c = rng.standard_normal((4, 3))
    if case == "column_strided_a":
        a = rng.standard_normal((6, 8))[:, ::2]
    elif case == "fortran_c":
        c = np.asfortranarray(c)
    elif case == "mixed_dtype":
        a = a.astype(np.float32)
    elif case == "float16":
        a, b, c = (x.astype(np.float16) for x in (a, b, c))
    elif case == "wrong_shape":
        c = rng.standard_normal((3, 4))
    elif case == "inner_mismatch":
        b = rng.standard_normal((5, 3))
    elif case == "zero_size":
        a, b, c = np.zeros((0, 4)), np.zeros((0, 3)), rng.standard_normal((4, 3))
    elif case == "negative_stride":
        a = a[::-1]
    elif case == "read_only_c":
        c.flags.writeable = False
    _refused(a, b, c)


def test_environment_variable_turns_it_off():
    code = (
        "import numpy as np; from fastloss import _blas; "
        "print(_blas.available(np.float32), _blas.available(np.float64))"
    )
    env = dict(os.environ, FASTLOSS_NUMPY_BLAS="0")
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
