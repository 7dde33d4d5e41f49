"""Optimizers: ``step(params, grads)`` updates the parameter arrays in place.

The update rules are PyTorch's (``torch.optim.SGD``, ``Adam``, ``AdamW``), with
Keras's argument names and defaults:

- `SGD`: ``v = momentum v + g``; ``p -= lr v`` (``p -= lr (g + momentum v)`` with
  Nesterov). Keras writes the velocity as ``momentum v - lr g``; for a constant
  learning rate the two are the same update.
- `Adam`: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``, ``p -= lr
  m_hat / (sqrt(v_hat) + epsilon)`` with the bias corrections ``m_hat = m / (1 -
  b1**t)``, ``v_hat = v / (1 - b2**t)``. Keras's epsilon default, 1e-7, is kept;
  PyTorch's is 1e-8. (Keras adds epsilon to ``sqrt(v)`` before the correction:
  a difference of order epsilon.)
- `AdamW`: ``p -= lr weight_decay p`` (decoupled weight decay, on every
  parameter), then the Adam step. Keras's default decay 0.004 (PyTorch: 0.01).

The state (moments, the step count) is created on the first step, one array per
parameter in the parameters' dtype, and exposed by `get_state` / `set_state` for
saving.

Each parameter is updated by one fused C kernel (``src_c/fl_optim.c``): a single
pass that reads the gradient and reads and writes the parameter and its moments
(on one thread; see `Optimizer._n_threads`). It does each element's operations in
the order of the NumPy reference (``_update_numpy``: several whole-array passes
through one scratch array per parameter), without multiply-add fusion, so the
results are the reference's to the last bit on every SIMD path (a clang build on
FMA hardware, macOS arm64, may fuse: within an ulp per operation). The reference
runs instead for what the kernel does not take: other dtypes, a gradient of
another dtype, non-contiguous or overlapping arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

from .. import _optim
from .._config import get_num_threads
from .._validation import positive_real, real_interval
from ._common import FloatArray

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "get_optimizer"]


class Optimizer:
    """Base class: `step` applies one update to every parameter in place.

    `iterations` counts the steps taken. Subclasses name their per-parameter
    state arrays in `_slots` (e.g. ``("m", "v")``).
    """

    _slots: tuple[str, ...] = ()
    # False: every step takes the NumPy reference (tests and benchmarks set this)
    _fused: bool = True
    # Threads of the fused kernel; None: fastloss.get_num_threads(). One by default:
    # the step sits between the matmuls, and OpenMP's workers spin-waiting after it
    # take the cores from the BLAS threads. Measured (256-1024-1024-100 MLP, Adam,
    # 2 cores, 2 BLAS threads): 1 thread 1.65x faster per epoch than the NumPy
    # step, 2 threads 0.63x (1.62x only with OMP_WAIT_POLICY=passive).
    _n_threads: int | None = 1

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = positive_real(learning_rate, "learning_rate")
        self.iterations = 0
        self._state: dict[str, list[FloatArray]] = {}
        self._scratch: list[FloatArray] = []

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (JSON-able)."""
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # ---- state ----------------------------------------------------------------------

    def _ensure_state(self, params: Sequence[FloatArray]) -> None:
        if len(self._scratch) == len(params) and all(
            s.shape == p.shape and s.dtype == p.dtype
            for s, p in zip(self._scratch, params)
        ):
            return
        self._state = {k: [np.zeros_like(p) for p in params] for k in self._slots}
        self._scratch = [np.empty_like(p) for p in params]

    def get_state(self) -> dict[str, npt.NDArray[Any]]:
        """The state as flat named arrays: ``"iterations"`` and ``"<slot>/<i>"``
        for parameter ``i`` (copies). Empty slots before the first step."""
        out: dict[str, npt.NDArray[Any]] = {
            "iterations": np.asarray(self.iterations, dtype=np.int64)
        }
        for slot, arrays in self._state.items():
            for i, a in enumerate(arrays):
                out[f"{slot}/{i}"] = a.copy()
        return out

    def set_state(
        self, state: Mapping[str, npt.ArrayLike], params: Sequence[FloatArray]
    ) -> None:
        """Restore what `get_state` returned, for these `params` (whose shapes the
        arrays must have).

        Raises
        ------
        ValueError
            For a missing entry or an array of the wrong shape; nothing is changed.
        """
        if "iterations" not in state:
            raise ValueError("optimizer state has no 'iterations' entry")
        iterations = np.asarray(state["iterations"])
        if iterations.shape != () or iterations.dtype.kind not in "iu":
            raise ValueError("optimizer state 'iterations' must be an integer")
        slots: dict[str, list[FloatArray]] = {}
        has_slots = any(k != "iterations" for k in state)
        if has_slots:
            for slot in self._slots:
                arrays = []
                for i, p in enumerate(params):
                    key = f"{slot}/{i}"
                    if key not in state:
                        raise ValueError(f"optimizer state has no {key!r} entry")
                    a = np.asarray(state[key])
                    if a.shape != p.shape:
                        raise ValueError(
                            f"optimizer state {key!r} has shape {a.shape}, but "
                            f"parameter {i} has shape {p.shape}"
                        )
                    arrays.append(np.array(a, dtype=p.dtype))
                slots[slot] = arrays
        self.iterations = int(iterations)
        if has_slots:
            self._state = slots
            self._scratch = [np.empty_like(p) for p in params]
        else:
            self._state = {}
            self._scratch = []

    # ---- the update -----------------------------------------------------------------

    def step(self, params: Sequence[FloatArray], grads: Sequence[FloatArray]) -> None:
        """Update every ``params[i]`` in place from ``grads[i]``."""
        if len(params) != len(grads):
            raise ValueError(f"{len(params)} parameters but {len(grads)} gradients")
        self._ensure_state(params)
        self.iterations += 1
        n_threads = get_num_threads() if self._n_threads is None else self._n_threads
        for i, (p, g) in enumerate(zip(params, grads)):
            if not (self._fused and self._update_fused(i, p, g, n_threads)):
                self._update_numpy(i, p, g, self._scratch[i])

    def _update_fused(
        self, i: int, p: FloatArray, g: FloatArray, n_threads: int
    ) -> bool:
        """The step for parameter `i` by the fused kernel (`fastloss._optim`); False
        when the kernel does not take the arrays (nothing was changed)."""
        raise NotImplementedError

    def _update_numpy(
        self, i: int, p: FloatArray, g: FloatArray, tmp: FloatArray
    ) -> None:
        """The step for parameter `i` in NumPy: the reference."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Parameters
    ----------
    learning_rate : float > 0, default=0.01
    momentum : float in [0, 1), default=0.0
    nesterov : bool, default=False
        Requires ``momentum > 0`` (as in PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> from fastloss.nn import SGD
    >>> p = np.array([1.0, 2.0])
    >>> SGD(learning_rate=0.1).step([p], [np.array([1.0, -1.0])])
    >>> p
    array([0.9, 2.1])
    """

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = real_interval(momentum, "momentum", 0.0, 1.0, False)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self._slots = ("momentum",) if self.momentum else ()

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }

    def _update_fused(
        self, i: int, p: FloatArray, g: FloatArray, n_threads: int
    ) -> bool:
        buf = self._state["momentum"][i] if self.momentum else None
        return _optim.sgd_step(
            p, g, buf, self.learning_rate, self.momentum, self.nesterov, n_threads
        )

    def _update_numpy(
        self, i: int, p: FloatArray, g: FloatArray, tmp: FloatArray
    ) -> None:
        lr, mu = self.learning_rate, self.momentum
        if not mu:
            np.multiply(g, lr, out=tmp)
        else:
            v = self._state["momentum"][i]
            v *= mu
            v += g  # v = mu v + g (PyTorch's first step: v = g, the same)
            if self.nesterov:
                np.multiply(v, mu, out=tmp)
                tmp += g
                tmp *= lr
            else:
                np.multiply(v, lr, out=tmp)
        p -= tmp


class Adam(Optimizer):
    """Adam with bias correction (Kingma and Ba, 2015).

    Parameters
    ----------
    learning_rate : float > 0, default=0.001
    beta_1 : float in [0, 1), default=0.9
    beta_2 : float in [0, 1), default=0.999
    epsilon : float > 0, default=1e-7
        Added to ``sqrt(v_hat)`` (Keras's default; PyTorch's is 1e-8).
    """

    _slots = ("m", "v")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = real_interval(beta_1, "beta_1", 0.0, 1.0, False)
        self.beta_2 = real_interval(beta_2, "beta_2", 0.0, 1.0, False)
        self.epsilon = positive_real(epsilon, "epsilon")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }

    _decay = 1.0  # AdamW's factor on the parameters before the step

    def _update_fused(
        self, i: int, p: FloatArray, g: FloatArray, n_threads: int
    ) -> bool:
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        # the reference's scalars, in double; the kernel rounds them to p's dtype
        return _optim.adam_step(
            p,
            g,
            self._state["m"][i],
            self._state["v"][i],
            self._decay,
            b1,
            b2,
            math.sqrt(1.0 - b2**t),
            self.epsilon,
            self.learning_rate / (1.0 - b1**t),
            n_threads,
        )

    def _update_numpy(
        self, i: int, p: FloatArray, g: FloatArray, tmp: FloatArray
    ) -> None:
        b1, b2, t = self.beta_1, self.beta_2, self.iterations
        m = self._state["m"][i]
        v = self._state["v"][i]
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # moments below the smallest normal number are stored as 0, as the fused
        # kernel does: subnormals are ~100x slower and move p by under lr * 1e-38
        tiny = np.finfo(m.dtype).tiny
        m[np.abs(m) < tiny] = 0
        v[v < tiny] = 0
        # p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), PyTorch's order of ops
        bc1 = 1.0 - b1**t
        bc2 = 1.0 - b2**t
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(bc2)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= self.learning_rate / bc1
        p -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019):
    ``p -= learning_rate * weight_decay * p`` before each Adam step.

    Parameters
    ----------
    learning_rate : float > 0, default=0.001
    weight_decay : float >= 0, default=0.004
        Keras's default (PyTorch's is 0.01). Applied to every parameter, biases
        included (as both do by default).
    beta_1, beta_2, epsilon
        As in `Adam`.
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        self.weight_decay = real_interval(
            weight_decay, "weight_decay", 0.0, math.inf, False
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}

    @property
    def _decay(self) -> float:  # type: ignore[override]
        return 1.0 - self.learning_rate * self.weight_decay

    def _update_numpy(
        self, i: int, p: FloatArray, g: FloatArray, tmp: FloatArray
    ) -> None:
        if self.weight_decay:
            p *= 1.0 - self.learning_rate * self.weight_decay
        super()._update_numpy(i, p, g, tmp)


_OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
}
_CLASSES: dict[str, Callable[..., Optimizer]] = {
    "SGD": SGD,
    "Adam": Adam,
    "AdamW": AdamW,
}


def get_optimizer(optimizer: Any) -> Optimizer:
    """An `Optimizer` from an instance (returned as is) or a name ("sgd", "adam",
    "adamw", any case: a new one with the defaults).

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything else (a class instead of an instance, say).
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        cls = _OPTIMIZERS.get(optimizer.lower())
        if cls is None:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; known: {', '.join(_OPTIMIZERS)} "
                "(or an instance such as Adam(learning_rate=1e-3))"
            )
        return cls()
    if isinstance(optimizer, type):
        raise TypeError(
            f"optimizer must be an instance or a name, got the class "
            f"{optimizer.__name__}: add () to create one"
        )
    raise TypeError(
        f"optimizer must be an Optimizer or a name, got {type(optimizer).__name__}"
    )


def optimizer_from_config(name: str, config: Mapping[str, Any]) -> Optimizer:
    """Rebuild an optimizer from its class name and `get_config()`."""
    cls = _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r} in the saved configuration")
    return cls(**config)
