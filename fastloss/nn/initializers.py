"""Weight initialisers, by Keras name (biases always start at zero).

Each takes ``(fan_in, fan_out, rng)`` and returns a float64 ``(fan_in, fan_out)``
array (the layer casts it to the model's dtype, so float32 and float64 models
built from the same seed start from the same numbers, rounded).

- ``glorot_uniform`` (Keras's default): ``U(-l, l)``, ``l = sqrt(6 / (fan_in +
  fan_out))``; ``glorot_normal``: truncated normal, variance ``2 / (fan_in +
  fan_out)``.
- ``he_normal``: truncated normal, variance ``2 / fan_in`` (for relu layers);
  ``he_uniform``: ``U(-l, l)``, ``l = sqrt(6 / fan_in)``.

The truncated normals are Keras's: drawn from a normal of standard deviation
``sqrt(variance) / 0.8796...`` and redrawn beyond two standard deviations, so the
result has the stated variance. (PyTorch's ``kaiming_normal_`` is not truncated.)
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

__all__ = ["INITIALIZERS", "get_initializer"]

Initializer = Callable[[int, int, np.random.Generator], npt.NDArray[np.float64]]

# Standard deviation of a standard normal truncated to [-2, 2].
_TRUNC_STD = 0.87962566103423978


def _truncated_normal(
    rng: np.random.Generator, std: float, shape: tuple[int, int]
) -> npt.NDArray[np.float64]:
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2.0
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2.0
    return x * (std / _TRUNC_STD)


def glorot_uniform(
    fan_in: int, fan_out: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


def glorot_normal(
    fan_in: int, fan_out: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    return _truncated_normal(
        rng, math.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out)
    )


def he_normal(
    fan_in: int, fan_out: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    return _truncated_normal(rng, math.sqrt(2.0 / fan_in), (fan_in, fan_out))


def he_uniform(
    fan_in: int, fan_out: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, (fan_in, fan_out))


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}


def get_initializer(name: Any) -> Initializer:
    """The initialiser called `name`.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"kernel_initializer must be a name (one of {', '.join(INITIALIZERS)}), "
            f"got {type(name).__name__}"
        )
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown kernel_initializer {name!r}; known: {', '.join(INITIALIZERS)}"
        ) from None
