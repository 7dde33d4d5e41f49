"""Type stubs for the compiled bindings (fastloss/_kernels.pyx).

Every array argument is a 1-D C-contiguous buffer (the Python layer flattens and
converts); the float ones are all float32 or all float64 within one call. Each must
have exactly the length its kernel uses (n * c, n, c, ...): ValueError otherwise.
`fast_call` is the exception: it takes the public function's arguments as given,
and returns its result or None (not taken).
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating[Any]]

SIMD_NAMES: tuple[str, str, str]

def softmax_cross_entropy(
    logits: _Floats,
    target: npt.NDArray[np.int64] | None,
    prob: _Floats | None,
    weight: _Floats | None,
    sample_weight: _Floats | None,
    grad: _Floats | None,
    loss_rows: _Floats | None,
    n: int,
    c: int,
    ignore_index: int,
    label_smoothing: float,
    z_loss: float,
    mean: bool,
    n_threads: int,
) -> float: ...

FAST_ELEMENTWISE: int
FAST_ROWWISE: int
FAST_SOFTMAX_CE: int

def fast_call(
    family: int,
    kind: int,
    x: object,
    x2: object,
    x3: object,
    target: object,
    check: Callable[..., tuple[float, float, float, float, int]] | None,
    check_args: tuple[Any, ...],
    reduction: object,
    n_threads: object,
    out: object,
    want_grad: bool,
) -> Any | None: ...
def elementwise(
    kind: int,
    x: _Floats,
    y: _Floats,
    weight: _Floats | None,
    sample_weight: _Floats | None,
    pos_weight: _Floats | None,
    grad: _Floats | None,
    loss_elems: _Floats | None,
    c: int,
    t: int,
    p0: float,
    p1: float,
    p2: float,
    p3: float,
    grad_scale: float,
    n_threads: int,
) -> float: ...

EW_KINDS: dict[str, int]
RW_FOCAL: int
RW_KL_LOGITS: int
RW_KL_PROBS: int
RW_TRIPLET: int
RW_COSINE: int
RW_DICE: int
RW_TVERSKY: int
RW_CIRCLE: int
RW_CAT_HINGE: int
RW_GCE: int

def rowwise(
    kind: int,
    x: _Floats,
    x2: _Floats | None,
    x3: _Floats | None,
    target: npt.NDArray[np.int64] | None,
    class_weight: _Floats | None,
    sample_weight: _Floats | None,
    grad: _Floats | None,
    grad2: _Floats | None,
    grad3: _Floats | None,
    loss_rows: _Floats | None,
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
def vexp(x: _Floats, out: _Floats) -> _Floats: ...
def simd_supported(path: int) -> bool: ...
def simd_get() -> int: ...
def simd_set(path: int) -> None: ...
def simd_best() -> int: ...
def have_openmp() -> bool: ...
def compiler() -> str: ...
def max_threads() -> int: ...
def adam_step(
    p: _Floats,
    g: _Floats,
    m: _Floats,
    v: _Floats,
    decay: float,
    b1: float,
    b2: float,
    sqrt_bc2: float,
    eps: float,
    step: float,
    n_threads: int,
) -> None: ...
def sgd_step(
    p: _Floats,
    g: _Floats,
    buf: _Floats | None,
    lr: float,
    momentum: float,
    nesterov: bool,
    n_threads: int,
) -> None: ...

CTC_REDUCTIONS: dict[str, int]

def ctc(
    x: _Floats,
    targets: npt.NDArray[np.int64],
    target_offsets: npt.NDArray[np.int64],
    input_lengths: npt.NDArray[np.int64],
    target_lengths: npt.NDArray[np.int64],
    sample_weight: _Floats | None,
    grad: _Floats | None,
    loss_rows: _Floats | None,
    t: int,
    n: int,
    c: int,
    blank: int,
    batch_first: bool,
    from_logits: bool,
    zero_infinity: bool,
    reduction: int,
    n_threads: int,
) -> float: ...
def objective(
    kind: int,
    x: _Floats,
    y: Any,
    sample_weight: _Floats | None,
    class_weight: _Floats | None,
    grad: _Floats | None,
    hess: _Floats | None,
    k: int,
    p0: float,
    p1: float,
    hess_scale: float,
    min_hess: float,
    n_threads: int,
) -> float: ...

OBJ_KINDS: dict[str, int]
