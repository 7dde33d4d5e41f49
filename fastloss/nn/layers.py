"""The layers: `Dense` and `Dropout`, forward and backward side by side, into reused
buffers; `Input` / `InputLayer`, which only declare the input width."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import positive_int
from ._common import FloatArray, Workspace
from .activations import get_activation
from .initializers import get_initializer

__all__ = ["Dense", "Dropout", "Input", "InputLayer"]


def _width(shape: Any, name: str) -> int:
    """The width of a Keras input shape ``(n_features,)`` (an int is taken too)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return positive_int(shape, name)
    if isinstance(shape, (tuple, list)) and len(shape) == 1:
        return positive_int(shape[0], name)
    raise ValueError(
        f"{name} must be (n_features,): fastloss.nn models take flat feature "
        f"vectors, got {shape!r}"
    )


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
    input_shape : tuple of one int, optional
        ``(input_dim,)``, Keras's spelling of the same (a model's inputs are
        flat: one axis of features).
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
        input_shape: tuple[int] | None = None,
        name: str | None = None,
    ) -> None:
        self.units = positive_int(units, "units")
        if input_shape is not None:
            width = _width(input_shape, "input_shape")
            if input_dim is not None and input_dim != width:
                raise ValueError(
                    f"input_dim={input_dim!r} and input_shape={input_shape!r} differ"
                )
            input_dim = width
        self._act = get_activation(activation)
        get_initializer(kernel_initializer)  # fail now, not at build
        self.kernel_initializer = kernel_initializer
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be a bool, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.input_dim = (
            None if input_dim is None else positive_int(input_dim, "input_dim")
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
        # Set by the model: the activation is left to the loss kernel (a softmax
        # or sigmoid output followed by the matching cross-entropy).
        self.fused_output = False

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

    def output_width(self, input_dim: int) -> int:
        return self.units

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

    def forward(self, x: FloatArray, training: bool = False) -> FloatArray:
        """``activation(x @ kernel + bias)`` for a batch ``x`` of shape ``(b,
        input_dim)``, in a reused buffer (valid until the next call); with
        `fused_output`, the pre-activation ``x @ kernel + bias``."""
        assert self.kernel is not None, "the layer is not built"
        b = x.shape[0]
        z = self._ws.get("z", b, (self.units,), self.kernel.dtype)
        np.matmul(x, self.kernel, out=z)
        if self.bias is not None:
            z += self.bias
        if self._act.forward is None or self.fused_output:
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
        if self.fused_output:
            pass  # delta is already d loss / d z: the loss kernel took z
        elif act.backward is not None:
            act.backward(delta, self._a)
        elif act.derivative is not None:
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


class Dropout:
    """Keras's ``Dropout``: while training, each input is zeroed with probability
    `rate` and the others scaled by ``1 / (1 - rate)``; at inference
    (`Sequential.evaluate`, `Sequential.predict`) it passes its input through.

    Parameters
    ----------
    rate : float in [0, 1)
        The fraction of the inputs dropped.
    noise_shape : None
        Only None (a fresh mask for every input) is supported.
    seed : int, optional
        Seeds this layer's masks. Without it they come from ``fit(seed=...)``
        (a stream of its own, so the seed still makes training reproducible).
    name : str, optional
        Defaults to "dropout", "dropout_1", ... in model order.
    """

    use_bias = False

    def __init__(
        self,
        rate: float,
        noise_shape: None = None,
        seed: int | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if isinstance(rate, (bool, np.bool_)) or not isinstance(
            rate, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"rate must be a float in [0, 1), got {rate!r}")
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError("Dropout(noise_shape=...) is not supported: use None")
        if seed is not None:
            seed = operator.index(seed)
            if seed < 0:
                raise ValueError(f"seed must be None or an int >= 0, got {seed}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self.rate = float(rate)
        self.seed = seed
        self.name = name
        self.input_dim: int | None = None
        self._rng: np.random.Generator | None = None
        self._ws = Workspace()
        self._keep: npt.NDArray[np.bool_] | None = None

    @property
    def built(self) -> bool:
        return self.input_dim is not None

    @property
    def units(self) -> int | None:
        """Its output width: its input's (known once built)."""
        return self.input_dim

    @property
    def activation(self) -> str:
        return "linear"

    def __repr__(self) -> str:
        return f"Dropout({self.rate!r}, seed={self.seed!r})"

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "Dropout",
            "rate": self.rate,
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Dropout:
        config = {k: v for k, v in config.items() if k != "class"}
        return cls(**config)

    def count_params(self, input_dim: int) -> int:
        return 0

    def output_width(self, input_dim: int) -> int:
        return input_dim

    def build(
        self, input_dim: int, dtype: npt.DTypeLike, rng: np.random.Generator
    ) -> None:
        """`rng`: the model's dropout stream, used when the layer has no seed."""
        self.input_dim = input_dim
        self._rng = rng if self.seed is None else np.random.default_rng(self.seed)
        self._ws.clear()

    def params(self) -> list[FloatArray]:
        return []

    def grads(self) -> list[FloatArray]:
        return []

    def forward(self, x: FloatArray, training: bool = False) -> FloatArray:
        if not training or self.rate == 0.0:
            self._keep = None
            return x
        assert self._rng is not None, "the layer is not built"
        b, d = x.shape
        u = self._ws.get("u", b, (d,), x.dtype)
        self._rng.random(out=u, dtype=x.dtype)
        keep = self._ws.get("keep", b, (d,), np.bool_)
        np.greater_equal(u, self.rate, out=keep)
        np.multiply(x, keep, out=u)
        u *= 1.0 / (1.0 - self.rate)
        self._keep = keep
        return u

    def backward(self, delta: FloatArray, need_input_grad: bool) -> FloatArray | None:
        if not need_input_grad:
            return None
        if self._keep is not None:
            delta *= self._keep
            delta *= 1.0 / (1.0 - self.rate)
        return delta


class InputLayer:
    """Keras's ``InputLayer``: declares the width of a model's inputs, as the
    first element of `Sequential` (it has no weights and computes nothing).

    Parameters
    ----------
    shape : tuple of one int
        ``(n_features,)``.
    batch_size, dtype, sparse, batch_shape, name
        Accepted for Keras's signature; ``batch_shape`` ``(None, n_features)``
        may replace `shape`; `dtype` must be None (the model's dtype is used) and
        `sparse` None or False.
    input_shape : tuple of one int, optional
        Keras 2's name for `shape`.
    """

    def __init__(
        self,
        shape: tuple[int] | None = None,
        batch_size: int | None = None,
        dtype: None = None,
        sparse: bool | None = None,
        batch_shape: tuple[Any, ...] | None = None,
        name: str | None = None,
        *,
        input_shape: tuple[int] | None = None,
    ) -> None:
        if shape is None:
            shape = input_shape
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is None:
            raise ValueError("InputLayer needs shape=(n_features,)")
        if dtype is not None or sparse:
            raise ValueError(
                "InputLayer(dtype=..., sparse=True) is not supported: the model's "
                "dtype is set with Sequential(dtype=...)"
            )
        self.width = _width(shape, "shape")
        self.batch_size = batch_size
        self.name = name

    def __repr__(self) -> str:
        return f"InputLayer(shape=({self.width},))"


def Input(
    shape: tuple[int] | None = None,
    batch_size: int | None = None,
    dtype: None = None,
    sparse: bool | None = None,
    batch_shape: tuple[Any, ...] | None = None,
    name: str | None = None,
) -> InputLayer:
    """Keras's ``Input(shape=(n_features,))``, for the first element of a
    `Sequential`: an `InputLayer` (fastloss.nn has no functional models)."""
    return InputLayer(shape, batch_size, dtype, sparse, batch_shape, name)
