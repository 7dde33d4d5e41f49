"""Shared fixtures: a per-test random generator, the SIMD path, thread reset."""

import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

import fastloss

# CI gives the same verdict on every run of one commit: hypothesis draws each test's
# examples from a seed fixed by that test (derandomize) and keeps no database of
# earlier runs' failures. FASTLOSS_HYPOTHESIS=explore restores the random search and
# the example database (.hypothesis/), for hunting; a failure it finds prints a
# reproduce_failure blob, and becomes a fixed test case (@example) once fixed.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", print_blob=True)
settings.load_profile(
    "explore" if os.environ.get("FASTLOSS_HYPOTHESIS") == "explore" else "deterministic"
)

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
