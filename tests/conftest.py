"""Shared fixtures: a per-test random generator, the SIMD path, thread reset."""

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import fastloss

# Let the test modules import the twin (``_reference``) under any import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

SIMD_PATHS = ("baseline", "avx2", "avx512")


@pytest.fixture
def rng(request):
    """A generator seeded from the test id: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=SIMD_PATHS)
def simd_path(request):
    """Run the test on each SIMD path this CPU has, then return to auto."""
    name = request.param
    if name not in fastloss.config()["simd_available"]:
        pytest.skip(f"SIMD path {name!r} is not available on this CPU")
    fastloss.set_simd(name)
    try:
        assert fastloss.get_simd() == name
        yield name
    finally:
        fastloss.set_simd(None)


@pytest.fixture
def restore_threads():
    """Return to the OpenMP default thread count after the test."""
    yield
    fastloss.set_num_threads(None)


@pytest.fixture
def openmp():
    """Whether the package was built with OpenMP."""
    return bool(fastloss.config()["openmp"])
