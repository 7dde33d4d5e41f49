"""The Dense layer: forward and backward side by side, into reused buffers."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from ._common import FloatArray, Workspace
from .activations import get_activation
from .initializers import get_initializer

__all__ = ["Dense"]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be a positive int, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be a positive int, got {n}")
    return n


class Dense:
    """A fully connected layer: ``a = activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Output width.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "gelu", "linear"} or \
None, default=None
        None is "linear". The last layer of a model usually has none: it emits
        logits, and the softmax or sigmoid lives inside the loss (see
        `fastloss.nn.Sequential.compile`).
    kernel_initializer : {"glorot_uniform", "glorot_normal", "he_normal", \
"he_uniform"}, default="glorot_uniform"
        See `fastloss.nn.initializers`. Biases start at zero.
    use_bias : bool, default=True
    input_dim : int, optional
        The input width, for the first layer (as Keras 2's ``input_dim``), so that
        `Sequential.summary` can count parameters before the model is built.
        Otherwise it is taken from the data on the first `fit`.
    name : str, optional
        Defaults to "dense", "dense_1", ... in model order.

    Notes
    -----
    ``kernel`` has shape ``(input_dim, units)`` and ``bias`` ``(units,)``, both None
    until the layer is built. The forward pass keeps a reference to its input and
    writes its pre-activation and activation into buffers that are reused from
    batch to batch; the backward pass writes the parameter gradients into
    ``kernel_grad`` and ``bias_grad`` and the input gradient into another reused
    buffer.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        *,
        kernel_initializer: str = "glorot_uniform",
        use_bias: bool = True,
        input_dim: int | None = None,
        name: str | None = None,
    ) -> None:
        self.units = _positive_int(units, "units")
        self._act = get_activation(activation)
        get_initializer(kernel_initializer)  # fail now, not at build
        self.kernel_initializer = kernel_initializer
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be a bool, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.input_dim = (
            None if input_dim is None else _positive_int(input_dim, "input_dim")
        )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self.name = name
        self.kernel: FloatArray | None = None
        self.bias: FloatArray | None = None
        self.kernel_grad: FloatArray | None = None
        self.bias_grad: FloatArray | None = None
        self._ws = Workspace()
        self._x: FloatArray | None = None
        self._a: FloatArray | None = None

    @property
    def activation(self) -> str:
        """The activation's name."""
        return self._act.name

    @property
    def built(self) -> bool:
        return self.kernel is not None

    def __repr__(self) -> str:
        return (
            f"Dense({self.units}, activation={self.activation!r}, "
            f"kernel_initializer={self.kernel_initializer!r}, "
            f"use_bias={self.use_bias})"
        )

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as a JSON-able dict."""
        return {
            "units": self.units,
            "activation": self.activation,
            "kernel_initializer": self.kernel_initializer,
            "use_bias": self.use_bias,
            "input_dim": self.input_dim,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dense:
        return cls(**config)

    def count_params(self, input_dim: int) -> int:
        return input_dim * self.units + (self.units if self.use_bias else 0)

    # ---- building -----------------------------------------------------------------

    def build(
        self, input_dim: int, dtype: npt.DTypeLike, rng: np.random.Generator
    ) -> None:
        """Create the weights (the initialiser's draw from `rng`, cast to `dtype`)."""
        init = get_initializer(self.kernel_initializer)
        self.input_dim = input_dim
        self.kernel = np.ascontiguousarray(
            init(input_dim, self.units, rng), dtype=dtype
        )
        self.kernel_grad = np.zeros_like(self.kernel)
        if self.use_bias:
            self.bias = np.zeros(self.units, dtype=dtype)
            self.bias_grad = np.zeros_like(self.bias)
        self._ws.clear()

    def params(self) -> list[FloatArray]:
        """The weights, in Keras order (kernel, then bias); the arrays themselves."""
        assert self.kernel is not None, "the layer is not built"
        return [self.kernel] if self.bias is None else [self.kernel, self.bias]

    def grads(self) -> list[FloatArray]:
        """The gradients of `params`, as the last `backward` left them."""
        assert self.kernel_grad is not None, "the layer is not built"
        if self.bias_grad is None:
            return [self.kernel_grad]
        return [self.kernel_grad, self.bias_grad]

    # ---- forward and backward -------------------------------------------------------

    def forward(self, x: FloatArray) -> FloatArray:
        """``activation(x @ kernel + bias)`` for a batch ``x`` of shape ``(b,
        input_dim)``, in a reused buffer (valid until the next call)."""
        assert self.kernel is not None, "the layer is not built"
        b = x.shape[0]
        z = self._ws.get("z", b, (self.units,), self.kernel.dtype)
        np.matmul(x, self.kernel, out=z)
        if self.bias is not None:
            z += self.bias
        if self._act.forward is None:
            a = z
        else:
            a = self._ws.get("a", b, (self.units,), z.dtype)
            self._act.forward(z, a)
        self._x = x
        self._a = a
        return a

    def backward(self, delta: FloatArray, need_input_grad: bool) -> FloatArray | None:
        """Given ``delta = d loss / d a`` for the last forward batch, fill
        ``kernel_grad`` and ``bias_grad`` and return ``d loss / d x`` (None when
        not needed: the first layer). `delta` is overwritten with ``d loss / d z``
        and the pre-activation buffer with the activation's derivative."""
        assert self.kernel is not None and self._x is not None and self._a is not None
        assert self.kernel_grad is not None
        b = delta.shape[0]
        act = self._act
        if act.derivative is not None:
            z = self._ws.get("z", b, (self.units,), delta.dtype)
            scratch = (
                self._ws.get("scratch", b, (self.units,), delta.dtype)
                if act.needs_scratch
                else None
            )
            act.derivative(z, self._a, scratch)  # z <- f'(z)
            delta *= z
        np.matmul(self._x.T, delta, out=self.kernel_grad)
        if self.bias_grad is not None:
            np.sum(delta, axis=0, out=self.bias_grad)
        if not need_input_grad:
            return None
        dx = self._ws.get("dx", b, (self.kernel.shape[0],), delta.dtype)
        np.matmul(delta, self.kernel.T, out=dx)
        return dx
