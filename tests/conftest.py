"""Shared fixtures: a per-test random generator, the SIMD path, thread reset.

SIMD paths this CPU lacks are not collected (rather than collected and skipped): a
test that takes the ``simd_path`` fixture runs once per path in
``fastloss.config()["simd_available"]``, and pytest's header names the paths left
out. On an AVX-512 machine every path runs.

The comparisons against Keras on TensorFlow (``@pytest.mark.tensorflow``) are opt-in:
without TensorFlow installed they could only skip, so they are deselected unless
asked for with ``--run-tensorflow`` or ``-m tensorflow`` (then they run where
TensorFlow and Keras import, and skip elsewhere). The Keras formulas' float64 twins
in test_keras.py need neither and always run.
"""

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

from _matrix import SIMD_ABSENT, SIMD_AVAILABLE  # noqa: E402

_TF_DESELECTED = pytest.StashKey[int]()


@pytest.fixture
def rng(request):
    """A generator seeded from the test id: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def pytest_addoption(parser):
    parser.addoption(
        "--run-tensorflow",
        action="store_true",
        help="also run the tests marked 'tensorflow' (against Keras on TensorFlow)",
    )


def pytest_collection_modifyitems(config, items):
    """Deselect the TensorFlow comparisons unless opted in (module docstring)."""
    if config.getoption("--run-tensorflow") or "tensorflow" in config.option.markexpr:
        return
    dropped = [item for item in items if item.get_closest_marker("tensorflow")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("tensorflow")]
        config.stash[_TF_DESELECTED] = len(dropped)


def pytest_report_collectionfinish(config):
    n = config.stash.get(_TF_DESELECTED, 0)
    if n:
        return f"TensorFlow comparisons: {n} deselected (opt in: --run-tensorflow)"
    return []


def pytest_report_header(config):
    absent = f" ({', '.join(SIMD_ABSENT)} not on this CPU)" if SIMD_ABSENT else ""
    return f"SIMD paths collected: {', '.join(SIMD_AVAILABLE)}{absent}"


@pytest.fixture(params=SIMD_AVAILABLE)
def simd_path(request):
    """Run the test on each SIMD path this CPU has, then return to auto."""
    name = request.param
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
