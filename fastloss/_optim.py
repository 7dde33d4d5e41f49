"""Fused optimizer steps (``src_c/fl_optim.c``): the API layer between
`fastloss.nn`'s optimizers and the kernels.

Each step updates its arrays in place and returns True, or returns False and
touches nothing when the kernel does not take the arrays (a dtype other than
float32/float64, mixed dtypes or shapes, non-contiguous, read-only or overlapping
arrays); the caller then runs its NumPy reference. The update rules and the
arithmetic order are documented in `fastloss.nn.optimizers`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _kernels

__all__ = ["adam_step", "sgd_step"]

_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fusable(p: npt.NDArray[Any], *others: npt.NDArray[Any]) -> bool:
    """Whether the fused kernel takes `p` (written) with `others` (the gradient,
    then the state arrays, the latter written too): one float dtype, one shape,
    C-contiguous (so ``reshape(-1)`` is a view), writable, no overlap."""
    dt, shape = p.dtype, p.shape
    if dt not in _FUSED_DTYPES or not (p.flags.writeable and p.flags.c_contiguous):
        return False
    for a in others:  # plain loops: 1 us a call less than generator expressions
        if a.dtype != dt or a.shape != shape or not a.flags.c_contiguous:
            return False
    arrays = (p, *others)
    for j in range(1, len(arrays)):
        for b in arrays[:j]:
            if np.may_share_memory(arrays[j], b):
                return False
    return True


def sgd_step(
    p: npt.NDArray[Any],
    g: npt.NDArray[Any],
    buf: npt.NDArray[Any] | None,
    lr: float,
    momentum: float,
    nesterov: bool,
    n_threads: int,
) -> bool:
    """One SGD step on `p` (and the momentum buffer `buf`, None without
    momentum); False when the kernel does not take the arrays."""
    if not (_fusable(p, g) if buf is None else _fusable(p, g, buf)):
        return False
    _kernels.sgd_step(
        p.reshape(-1),
        g.reshape(-1),
        None if buf is None else buf.reshape(-1),
        lr,
        momentum,
        nesterov,
        n_threads,
    )
    return True


def adam_step(
    p: npt.NDArray[Any],
    g: npt.NDArray[Any],
    m: npt.NDArray[Any],
    v: npt.NDArray[Any],
    decay: float,
    b1: float,
    b2: float,
    sqrt_bc2: float,
    eps: float,
    step: float,
    n_threads: int,
) -> bool:
    """One Adam(W) step on `p` and its moments `m`, `v`: ``p *= decay``, then the
    Adam update with ``sqrt_bc2 = sqrt(1 - b2**t)`` and ``step = lr / (1 -
    b1**t)``; False when the kernel does not take the arrays."""
    if not _fusable(p, g, m, v):
        return False
    _kernels.adam_step(
        p.reshape(-1),
        g.reshape(-1),
        m.reshape(-1),
        v.reshape(-1),
        decay,
        b1,
        b2,
        sqrt_bc2,
        eps,
        step,
        n_threads,
    )
    return True
