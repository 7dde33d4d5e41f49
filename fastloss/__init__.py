"""fastloss: fused, numerically stable loss-and-gradient kernels for NumPy.

Every loss ``name(...)`` has a twin ``name_and_grad(...)`` returning ``(loss, grad)``
from one fused kernel call. The Keras-named classes are in `fastloss.losses`.

Layers (docs/DESIGN.md): C kernels (src_c/) under Cython bindings (`_kernels`),
under the validated functional API (`_softmax_ce`, `_rowwise`, `_elementwise`,
`_linear_ce`; rules in `_validation`), under the adapters (`losses`, `nn`,
`torch`). Every loss is described once, in the loss table (`_table`).
"""

try:
    from . import _kernels  # noqa: F401  (the compiled extension, first)
except ImportError as exc:  # not built: a source checkout, or a broken install
    import os as _os
    from importlib.machinery import EXTENSION_SUFFIXES as _SUFFIXES

    _here = _os.path.dirname(_os.path.abspath(__file__))
    _built = [x for x in _SUFFIXES if _os.path.exists(f"{_here}/_kernels{x}")]
    _msg = "fastloss's compiled extension fastloss._kernels could not be imported."
    if _os.path.exists(_os.path.join(_here, "_kernels.pyx")) and not _built:
        raise ImportError(
            f"{_msg} The fastloss being imported is the source tree at "
            f"{_os.path.dirname(_here)}, whose C extension is not built: run "
            '`pip install -e ".[test]"` there (or `python setup.py build_ext '
            "--inplace`), or start Python from another directory to import an "
            "installed fastloss."
        ) from None
    # built but not loadable: a missing OpenMP runtime, another ABI, ...
    raise ImportError(f"{_msg} ({exc}) Rebuild or reinstall fastloss.") from exc

from . import _table, losses
from ._binary import *  # noqa: F403
from ._categorical import *  # noqa: F403
from ._config import (
    config,
    get_num_threads,
    get_simd,
    set_num_threads,
    set_simd,
    show_config,
)
from ._ctc import ctc_loss as ctc_loss
from ._ctc import ctc_loss_and_grad as ctc_loss_and_grad
from ._linear_ce import linear_cross_entropy as linear_cross_entropy
from ._linear_ce import (
    linear_cross_entropy_and_grad as linear_cross_entropy_and_grad,
)
from ._margin import *  # noqa: F403
from ._normalizer import cross_entropy_normalizer
from ._regression import *  # noqa: F403
from ._rowwise import *  # noqa: F403
from ._similarity import *  # noqa: F403
from ._softmax_ce import softmax_cross_entropy as softmax_cross_entropy
from ._softmax_ce import (
    softmax_cross_entropy_and_grad as softmax_cross_entropy_and_grad,
)
from ._version import __version__
from .losses import get_loss

# The losses (and their _and_grad twins) in the loss table's order: fastloss/_table.py.
__all__ = [
    "__version__",
    "config",
    "cross_entropy_normalizer",
    "get_loss",
    "get_num_threads",
    "get_simd",
    "losses",
    "set_num_threads",
    "set_simd",
    "show_config",
    *(name for row in _table.LOSSES for name in row.names),
]


def __getattr__(name: str) -> object:
    # fastloss.objectives (the gradient-boosting objectives) loads on first use:
    # `import fastloss` stays as fast as before for everyone else.
    if name == "objectives":
        import importlib

        return importlib.import_module(".objectives", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
