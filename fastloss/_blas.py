"""``C += A.T @ B`` in one BLAS call, through the BLAS NumPy itself uses.

NumPy's ``matmul`` cannot accumulate into its output, so ``grad_weight +=
G.T @ h`` (once per chunk in the fused linear cross-entropy) would otherwise
need a scratch product and a separate, single-threaded ``np.add`` pass over
``grad_weight``. BLAS ``?gemm`` does it in the same pass (``beta = 1``).

The BLAS is the OpenBLAS that NumPy's wheels bundle (64-bit integer interface,
symbols ``scipy_cblas_sgemm64_`` / ``cblas_sgemm64_`` and the ``d`` twins),
found among the libraries already loaded by ``import numpy`` (Linux) or in the
wheel's library folder (Windows, macOS x86-64). It is called through ``ctypes``,
which releases the GIL during the call; its threads are NumPy's BLAS threads, so
``threadpoolctl`` limits apply to it as to ``np.matmul``.

Nothing here is trusted blindly: the library is used only after a small product
through it equals NumPy's, and `gemm_tn_accumulate` returns False (the caller
falls back to ``matmul`` + ``add``) whenever no such BLAS was found or the
arrays are not laid out for it. ``FASTLOSS_NUMPY_BLAS=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from typing import Any

import numpy as np

__all__ = ["gemm_tn_accumulate", "available"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# (symbol prefix, suffix) of the ILP64 CBLAS interfaces NumPy wheels have shipped
_NAMES = (("scipy_cblas_", "64_"), ("cblas_", "64_"))

_state: dict[str, object] = {}  # "gemm": {dtype: function} once probed


def _candidate_paths() -> list[str]:
    """Shared libraries that may be NumPy's OpenBLAS, loaded ones first."""
    paths: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps") as maps:
                for line in maps:
                    path = line.rsplit(" ", 1)[-1].strip()
                    name = os.path.basename(path).lower()
                    if "openblas" in name and path not in paths:
                        paths.append(path)
        except OSError:
            pass
    root = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    for folder in (
        os.path.join(root, "numpy.libs"),
        os.path.join(os.path.dirname(np.__file__), ".libs"),
        os.path.join(os.path.dirname(np.__file__), ".dylibs"),
    ):
        for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
            if path not in paths:
                paths.append(path)
    return paths


def _bind(lib, letter: str, ctype):
    for prefix, suffix in _NAMES:
        try:
            fn = getattr(lib, f"{prefix}{letter}gemm{suffix}")
        except AttributeError:
            continue
        i64 = ctypes.c_int64
        ptr = ctypes.c_void_p
        fn.restype = None
        fn.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_int,  # order, transA, transB
            i64, i64, i64,  # M, N, K
            ctype, ptr, i64,  # alpha, A, lda
            ptr, i64,  # B, ldb
            ctype, ptr, i64,  # beta, C, ldc
        ]  # fmt: skip
        return fn
    return None


def _checked(fn, dtype) -> bool:
    """True when ``fn`` computes C = 2 * C + A.T @ B like NumPy does."""
    rng = np.random.default_rng(12345)
    a = rng.standard_normal((5, 7)).astype(dtype)  # K x M
    b = rng.standard_normal((5, 3)).astype(dtype)  # K x N
    c = rng.standard_normal((7, 3)).astype(dtype)  # M x N
    want = 2.0 * c.astype(np.float64) + a.T.astype(np.float64) @ b
    got = c.copy()
    fn(_ROW_MAJOR, _TRANS, _NO_TRANS, 7, 3, 5, 1.0, a.ctypes.data, 7,
       b.ctypes.data, 3, 2.0, got.ctypes.data, 3)  # fmt: skip
    tol = 1e-4 if dtype == np.float32 else 1e-12
    return bool(np.allclose(got, want, rtol=tol, atol=tol))


def _probe() -> dict[np.dtype, Any]:
    found: dict[np.dtype, Any] = {}
    if os.environ.get("FASTLOSS_NUMPY_BLAS", "1").strip() == "0":
        return found
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        fns: dict[np.dtype, Any] = {
            np.dtype(np.float32): _bind(lib, "s", ctypes.c_float),
            np.dtype(np.float64): _bind(lib, "d", ctypes.c_double),
        }
        for dtype, fn in fns.items():
            if fn is None or dtype in found:
                continue
            try:
                if _checked(fn, dtype):
                    found[dtype] = fn
            except Exception:  # a symbol with another signature: not ours
                continue
        if len(found) == 2:
            break
    return found


def _functions() -> dict[np.dtype, Any]:
    fns = _state.get("gemm")
    if fns is None:
        fns = _state["gemm"] = _probe()
    return fns  # type: ignore[return-value]


def available(dtype) -> bool:
    """True when `gemm_tn_accumulate` can run for arrays of ``dtype``."""
    return np.dtype(dtype) in _functions()


def _rows(x: np.ndarray) -> int:
    """The leading dimension of a 2-D array whose rows are contiguous, else 0."""
    if x.ndim != 2 or x.strides[1] != x.itemsize or x.shape[1] == 0:
        return 0
    if x.ctypes.data % x.itemsize:
        return 0
    if x.strides[0] % x.itemsize or x.strides[0] < x.strides[1] * x.shape[1]:
        return 0
    return x.strides[0] // x.itemsize


def gemm_tn_accumulate(a: np.ndarray, b: np.ndarray, c: np.ndarray, beta) -> bool:
    """``c = beta * c + a.T @ b`` in place, for ``a`` (K, M), ``b`` (K, N) and
    ``c`` (M, N) of one float dtype with contiguous rows (``c`` writable and not
    overlapping ``a`` or ``b``: the caller's duty). Returns False, having done
    nothing, when the BLAS or the layout does not allow it."""
    fn = _functions().get(c.dtype)
    if fn is None or a.dtype != c.dtype or b.dtype != c.dtype:
        return False
    (k, m), (k2, n) = a.shape, b.shape
    if c.shape != (m, n) or k2 != k or min(k, m, n) == 0:
        return False
    lda, ldb, ldc = _rows(a), _rows(b), _rows(c)
    if not (lda and ldb and ldc) or not c.flags.writeable:
        return False
    fn(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, 1.0, a.ctypes.data, lda,
       b.ctypes.data, ldb, float(beta), c.ctypes.data, ldc)  # fmt: skip
    return True
