"""Type stubs for the compiled bindings (fastloss/_kernels.pyx)."""

import numpy as np
import numpy.typing as npt

SIMD_NAMES: tuple[str, str]

def softmax_cross_entropy(
    logits: npt.NDArray[np.floating],
    target: npt.NDArray[np.int64] | None,
    prob: npt.NDArray[np.floating] | None,
    weight: npt.NDArray[np.floating] | None,
    sample_weight: npt.NDArray[np.floating] | None,
    grad: npt.NDArray[np.floating] | None,
    loss_rows: npt.NDArray[np.floating] | None,
    n: int,
    c: int,
    ignore_index: int,
    label_smoothing: float,
    z_loss: float,
    mean: bool,
    n_threads: int,
) -> float: ...
def elementwise(
    kind: int,
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    weight: npt.NDArray[np.floating] | None,
    sample_weight: npt.NDArray[np.floating] | None,
    pos_weight: npt.NDArray[np.floating] | None,
    grad: npt.NDArray[np.floating] | None,
    loss_elems: npt.NDArray[np.floating] | None,
    c: int,
    t: int,
    p0: float,
    p1: float,
    p2: float,
    p3: float,
    grad_scale: float,
    n_threads: int,
) -> float: ...

RW_FOCAL: int
RW_KL_LOGITS: int
RW_KL_PROBS: int
RW_TRIPLET: int

def rowwise(
    kind: int,
    x: npt.NDArray[np.floating],
    x2: npt.NDArray[np.floating] | None,
    x3: npt.NDArray[np.floating] | None,
    target: npt.NDArray[np.int64] | None,
    class_weight: npt.NDArray[np.floating] | None,
    sample_weight: npt.NDArray[np.floating] | None,
    grad: npt.NDArray[np.floating] | None,
    grad2: npt.NDArray[np.floating] | None,
    grad3: npt.NDArray[np.floating] | None,
    loss_rows: npt.NDArray[np.floating] | None,
    n: int,
    c: int,
    ignore_index: int,
    p0: float,
    p1: float,
    p2: float,
    p3: float,
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
