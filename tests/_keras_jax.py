"""Keras 3 on its JAX backend (CPU) as a reference, for the tests that compare with
it: `keras_jax()` returns the keras module or skips the test when keras or jax does
not import (an optional test dependency, pinned in .ci/constraints.txt)."""

import os

import pytest


def keras_jax():
    """The keras module on the JAX backend; skips the test when it is unavailable
    (no keras, no jax, or keras already imported with another backend)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"keras is on the {keras.backend.backend()} backend, not jax")
    return keras
