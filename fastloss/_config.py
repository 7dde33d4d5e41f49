"""Threads, SIMD path and build information."""

from __future__ import annotations

import os
import warnings
from typing import Any

from . import _kernels
from ._validation import whole_number
from ._version import __version__

_SIMD_NAMES = _kernels.SIMD_NAMES  # index = the C enum value
_n_threads: int | None = (
    None  # None: follow OpenMP (OMP_NUM_THREADS, threadpoolctl limits)
)


MAX_THREADS = 1 << 16


def _check_n_threads(n_threads: Any, name: str = "n_threads") -> int:
    n = whole_number(n_threads, name, 1, "None or an int >= 1")
    if n > MAX_THREADS:
        # The kernels take a C int, and no machine runs this many threads usefully.
        raise ValueError(f"{name} must be <= {MAX_THREADS}, got {n}")
    return n


def set_num_threads(n_threads: int | None) -> None:
    """Set the number of threads the kernels use when ``n_threads=None``.

    Parameters
    ----------
    n_threads : int or None
        A count >= 1, or None to follow the OpenMP default again (which honours
        ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits``).
    """
    global _n_threads
    _n_threads = None if n_threads is None else _check_n_threads(n_threads)


def get_num_threads() -> int:
    """The number of threads a call with ``n_threads=None`` uses (1 in a serial
    build)."""
    if not _kernels.have_openmp():
        return 1
    return _n_threads if _n_threads is not None else _kernels.max_threads()


def _resolve_n_threads(n_threads: int | None) -> int:
    if n_threads is None:
        return get_num_threads()
    return _check_n_threads(n_threads)


def set_simd(path: str | None) -> None:
    """Force the SIMD path of the kernels, or return to the automatic choice.

    Parameters
    ----------
    path : {"baseline", "avx2", "avx512"} or None
        "baseline" is the portable x86-64 (SSE2) build of every kernel, "avx2" the
        AVX2+FMA build and "avx512" the AVX-512 (F, VL, BW, DQ) build with 512-bit
        vectors; None picks the best this CPU supports (the default). The
        environment variable ``FASTLOSS_SIMD`` sets the same at import.

    Raises
    ------
    ValueError
        For an unknown name.
    RuntimeError
        When this CPU (or build) cannot run the requested path.
    """
    if path is None or path == "auto":
        _kernels.simd_set(_kernels.simd_best())
        return
    if path not in _SIMD_NAMES:
        raise ValueError(f"path must be one of {_SIMD_NAMES} or None, got {path!r}")
    _kernels.simd_set(_SIMD_NAMES.index(path))


def get_simd() -> str:
    """The SIMD path the kernels use now: "baseline", "avx2" or "avx512"."""
    return _SIMD_NAMES[_kernels.simd_get()]


def config() -> dict[str, Any]:
    """Build and run-time configuration as a dict (see `show_config`)."""
    return {
        "version": __version__,
        "openmp": _kernels.have_openmp(),
        "compiler": _kernels.compiler(),
        "n_threads": get_num_threads(),
        "simd": get_simd(),
        "simd_available": [
            name for i, name in enumerate(_SIMD_NAMES) if _kernels.simd_supported(i)
        ],
    }


def show_config() -> None:
    """Print the version, OpenMP status, thread count and SIMD path in use."""
    c = config()
    print(f"fastloss {c['version']}")
    print(f"  openmp:          {'on' if c['openmp'] else 'off (serial build)'}")
    print(f"  compiler:        {c['compiler']}")
    print(f"  threads in use:  {c['n_threads']}")
    print(f"  simd path:       {c['simd']}")
    print(f"  simd available:  {', '.join(c['simd_available'])}")


def _init_simd_from_env() -> None:
    want = os.environ.get("FASTLOSS_SIMD", "").strip().lower()
    if want in ("", "auto"):
        set_simd(None)
        return
    try:
        set_simd(want)
    except (ValueError, RuntimeError) as exc:
        warnings.warn(
            f"FASTLOSS_SIMD={want!r} ignored ({exc}); using the automatic choice",
            RuntimeWarning,
            stacklevel=3,
        )
        set_simd(None)


_init_simd_from_env()
