"""Type aliases of the public signatures (for type checkers and readers; nothing
here is used at run time).

Written with `Union`, not ``X | Y``: these aliases are evaluated at import, and
the package supports Python 3.9.
"""

from typing import Any, Union

import numpy as np
import numpy.typing as npt

# Any float dtype: float32 and float64, and float16 when the input was float16.
FloatArray = npt.NDArray[np.floating[Any]]

# A loss: a Python float for reduction "mean" and "sum", and for "none" an array of
# the per-row (or per-element) losses.
LossValue = Union[float, FloatArray]

# What every ``*_and_grad`` returns: the loss and d(loss)/d(input).
LossAndGrad = tuple[LossValue, FloatArray]
