"""The test matrix in one place: what the test files parametrize over.

Every loss is checked across dtype x reduction x input layout x ``n_threads`` x SIMD
path; the lists live here so that every file runs the same matrix. A file that needs
something else (Keras's reductions, torch dtypes, float16) keeps its own list.
"""

import numpy as np

import fastloss
from fastloss import _table

DTYPES = [np.float32, np.float64]
REDUCTIONS = ("none", "mean", "sum")
N_THREADS = [1, 2]

# (input layout, out= mode); in place needs a writeable C-contiguous input, so
# the strided and read-only inputs are checked without out= and with a fresh out=
LAYOUTS = [
    ("contiguous", None),
    ("contiguous", "out"),
    ("contiguous", "inplace"),
    ("strided", None),
    ("strided", "out"),
    ("readonly", None),
    ("readonly", "out"),
]

# Every SIMD path a build may have, and the ones this CPU runs: tests parametrized
# over the path (the ``simd_path`` fixture) are collected for the latter only.
SIMD_PATHS = ("baseline", "avx2", "avx512")
SIMD_AVAILABLE = tuple(fastloss.config()["simd_available"])
SIMD_ABSENT = tuple(p for p in SIMD_PATHS if p not in SIMD_AVAILABLE)


def table_losses(module, data, elsewhere=()):
    """``{test id: (loss, loss_and_grad, *data)}`` for every loss of the loss table
    defined in `module` that has a gradient, in the table's order, but those named
    in `elsewhere` (tested by a file of their own). `data` maps each such loss's
    name to ``(test id, *its test data)``: a loss added to the table without test
    data fails here, at collection."""
    rows = [
        row
        for row in _table.LOSSES
        if row.module == module and row.grad and row.name not in elsewhere
    ]
    missing = [row.name for row in rows if row.name not in data]
    assert not missing, f"losses of {module} with no test data: {missing}"
    assert set(data) == {row.name for row in rows}, "test data for unknown losses"
    return {
        data[row.name][0]: (
            getattr(fastloss, row.name),
            getattr(fastloss, row.name + "_and_grad"),
            *data[row.name][1:],
        )
        for row in rows
    }
