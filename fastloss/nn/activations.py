"""Activation functions, each beside its derivative (a paired registry).

Every entry works in place on preallocated arrays, so a training step makes no
temporaries:

- ``forward(z, out)`` writes ``f(z)`` into `out` (a separate buffer: `z` is kept
  for the backward pass);
- ``derivative(z, a, scratch)`` overwrites `z` with ``f'(z)``, given ``a = f(z)``
  (and a scratch buffer of the same shape for the activations that ask for one).
  The layer then multiplies the incoming gradient by it. `z` is not needed after
  the backward pass, so reusing it costs nothing.

``linear`` has neither: the layer skips both steps (``a`` is ``z``).

``softmax`` is not elementwise: its derivative is a Jacobian per row, so it has a
``backward(delta, a)`` instead, which overwrites the incoming gradient ``delta =
d loss / d a`` with ``d loss / d z = a * (delta - sum(delta * a, axis=1))``. When a
model's last layer has the softmax (or the sigmoid) and its loss is the matching
cross-entropy on probabilities, the model skips this activation altogether and
gives the loss kernel the pre-activation logits, as Keras does (see
`fastloss.nn.Sequential.compile`).

Names follow Keras. Two differences, both deliberate:

- ``leaky_relu`` has Keras's default slope, 0.2 (PyTorch's default is 0.01);
- ``gelu`` is the tanh approximation (Keras ``gelu(approximate=True)``, PyTorch
  ``gelu(approximate="tanh")``): NumPy has no ``erf``, and a hand-written erf
  would make the derivative only approximately that of the forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._common import FloatArray

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]

LEAKY_SLOPE = 0.2
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


@dataclass(frozen=True)
class Activation:
    """One registry entry: an activation and its derivative (see the module doc)."""

    name: str
    forward: Callable[[FloatArray, FloatArray], None] | None
    derivative: Callable[[FloatArray, FloatArray, FloatArray | None], None] | None
    needs_scratch: bool = False
    backward: Callable[[FloatArray, FloatArray], None] | None = None

    @property
    def identity(self) -> bool:
        return self.forward is None


# ---- relu ------------------------------------------------------------------------


def _relu(z: FloatArray, out: FloatArray) -> None:
    np.maximum(z, 0.0, out=out)


def _relu_deriv(z: FloatArray, a: FloatArray, scratch: FloatArray | None) -> None:
    # 1 where z > 0, else 0 (the subgradient 0 at z = 0, and 0 at NaN, as torch's
    # threshold_backward); np.greater is vectorised, np.heaviside is ~7x slower
    # (64x256 float32: 5.5 against 38.5 us, a quarter of a digits training step)
    np.greater(z, 0.0, out=z)


# ---- leaky_relu ------------------------------------------------------------------


def _leaky_relu(z: FloatArray, out: FloatArray) -> None:
    np.multiply(z, LEAKY_SLOPE, out=out)
    np.maximum(z, out, out=out)  # max(z, s z) = leaky relu for 0 < s < 1


def _leaky_relu_deriv(z: FloatArray, a: FloatArray, scratch: FloatArray | None) -> None:
    np.greater(z, 0.0, out=z)  # 1 or 0 (see _relu_deriv)
    z *= 1.0 - LEAKY_SLOPE
    z += LEAKY_SLOPE  # 1 or s


# ---- tanh ------------------------------------------------------------------------


def _tanh(z: FloatArray, out: FloatArray) -> None:
    np.tanh(z, out=out)


def _tanh_deriv(z: FloatArray, a: FloatArray, scratch: FloatArray | None) -> None:
    np.multiply(a, a, out=z)
    np.subtract(1.0, z, out=z)  # 1 - tanh(z)**2


# ---- sigmoid ---------------------------------------------------------------------


def _sigmoid(z: FloatArray, out: FloatArray) -> None:
    # 1 / (1 + exp(-z)) overflows exp for z < -88 in float32; the tanh form cannot.
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5


def _sigmoid_deriv(z: FloatArray, a: FloatArray, scratch: FloatArray | None) -> None:
    np.subtract(1.0, a, out=z)
    z *= a  # s (1 - s)


# ---- gelu (tanh approximation) ---------------------------------------------------


def _gelu_inner(z: FloatArray, out: FloatArray) -> None:
    """out = tanh(k (z + c z**3)), k = sqrt(2 / pi)."""
    np.multiply(z, z, out=out)
    out *= _GELU_C
    out += 1.0
    out *= z
    out *= _GELU_K
    np.tanh(out, out=out)


def _gelu(z: FloatArray, out: FloatArray) -> None:
    _gelu_inner(z, out)
    out += 1.0
    out *= z
    out *= 0.5  # z (1 + t) / 2


def _gelu_deriv(z: FloatArray, a: FloatArray, scratch: FloatArray | None) -> None:
    # With t = tanh(u), u = k (z + c z**3) and a = z (1 + t) / 2:
    #   f'(z) = (1 + t) / 2 + z (1 - t**2) u' / 2 = (1 + t) / 2 + a (1 - t) u'
    #         = (Q + 1/2) - t (Q - 1/2),   Q = a u' = a k (1 + 3 c z**2),
    # which needs only t (in scratch) besides z and a: no division by z or 1 + t.
    assert scratch is not None
    t = scratch
    _gelu_inner(z, t)
    np.multiply(z, z, out=z)
    z *= 3.0 * _GELU_C
    z += 1.0
    z *= _GELU_K
    z *= a  # Q
    z -= 0.5
    t *= z  # t (Q - 1/2)
    z += 1.0  # Q + 1/2
    z -= t


# ---- softmax (over each row) -----------------------------------------------------


def _softmax(z: FloatArray, out: FloatArray) -> None:
    # exp(z - max z): no overflow, and the largest term is exactly 1
    np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)


def _softmax_backward(delta: FloatArray, a: FloatArray) -> None:
    # d/dz_j of sum_i delta_i a_i = a_j (delta_j - sum_i delta_i a_i)
    inner = np.einsum("ij,ij->i", delta, a)[:, None]
    delta -= inner
    delta *= a


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", None, None),
    "relu": Activation("relu", _relu, _relu_deriv),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_relu_deriv),
    "tanh": Activation("tanh", _tanh, _tanh_deriv),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_deriv),
    "gelu": Activation("gelu", _gelu, _gelu_deriv, needs_scratch=True),
    "softmax": Activation("softmax", _softmax, None, backward=_softmax_backward),
}


def get_activation(name: str | None) -> Activation:
    """The registry entry for `name` (None means ``"linear"``).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise TypeError(
            f"activation must be a name (one of {', '.join(ACTIVATIONS)}) or None, "
            f"got {type(name).__name__}"
        )
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}"
        ) from None
