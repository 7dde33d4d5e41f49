"""Types and the reusable scratch space shared by the trainer's modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]
"""A float32 or float64 array: parameters, activations, gradients."""

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating[Any]]:
    """`dtype` as a NumPy float32 or float64 dtype; anything else is an error."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be 'float32' or 'float64', got {dtype!r}"
        ) from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt  # type: ignore[return-value]


class Workspace:
    """Named scratch arrays reused from batch to batch.

    ``get(name, rows, tail, dtype)`` returns the first `rows` rows of a cached array
    of shape ``(capacity, *tail)``; a new array is allocated only when none of that
    name exists yet, or it is too short, or its tail shape or dtype differ. A leading
    slice of a C-contiguous array is itself C-contiguous, so the views can be given
    to ``np.matmul(..., out=)`` and the fastloss kernels' ``out=`` as they are. After
    the first (largest) batch, a training step allocates no array memory here.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, npt.NDArray[Any]] = {}

    def get(
        self, name: str, rows: int, tail: tuple[int, ...], dtype: npt.DTypeLike
    ) -> npt.NDArray[Any]:
        a = self._arrays.get(name)
        if a is None or a.shape[0] < rows or a.shape[1:] != tail or a.dtype != dtype:
            a = np.empty((rows, *tail), dtype=dtype)
            self._arrays[name] = a
        return a[:rows]

    def clear(self) -> None:
        self._arrays.clear()
