"""fastloss: fused, numerically stable loss-and-gradient kernels for NumPy."""

from ._config import (
    config,
    get_num_threads,
    get_simd,
    set_num_threads,
    set_simd,
    show_config,
)
from ._version import __version__
from .losses import softmax_cross_entropy, softmax_cross_entropy_and_grad

__all__ = [
    "__version__",
    "config",
    "get_num_threads",
    "get_simd",
    "set_num_threads",
    "set_simd",
    "show_config",
    "softmax_cross_entropy",
    "softmax_cross_entropy_and_grad",
]
