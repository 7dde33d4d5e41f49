"""Type stubs for the compiled bindings (fastloss/_kernels.pyx)."""

from typing import Optional

import numpy as np
import numpy.typing as npt

SIMD_NAMES: tuple[str, str]

def softmax_cross_entropy(
    logits: npt.NDArray[np.floating],
    target: Optional[npt.NDArray[np.int64]],
    prob: Optional[npt.NDArray[np.floating]],
    weight: Optional[npt.NDArray[np.floating]],
    sample_weight: Optional[npt.NDArray[np.floating]],
    grad: Optional[npt.NDArray[np.floating]],
    loss_rows: Optional[npt.NDArray[np.floating]],
    n: int,
    c: int,
    ignore_index: int,
    label_smoothing: float,
    z_loss: float,
    mean: bool,
    n_threads: int,
) -> float: ...
def vexp(
    x: npt.NDArray[np.floating], out: npt.NDArray[np.floating]
) -> npt.NDArray[np.floating]: ...
def simd_supported(path: int) -> bool: ...
def simd_get() -> int: ...
def simd_set(path: int) -> None: ...
def simd_best() -> int: ...
def have_openmp() -> bool: ...
def max_threads() -> int: ...
