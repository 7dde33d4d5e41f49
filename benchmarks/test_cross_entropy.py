"""pytest-benchmark suite: every ``IMPLS`` entry on every shape, float32,
integer targets, reduction="mean", 2 threads each.

    pytest benchmarks/                          # all of it (a few minutes)
    pytest benchmarks/ -k "32x10 or 8192x1000"  # some shapes
    pytest benchmarks/ --benchmark-disable      # run each case once, no timing

One ``benchmark.group`` per shape, so pytest-benchmark's table compares the
implementations side by side. Inputs, compilation and reused buffers are made by
the entry's ``prepare`` outside the timed call; entries whose module does not
import are skipped. For ratios against the memory floor, see ``summary.py``.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from _impls import IMPLS, SHAPES, Shape, check_result, is_available, make_inputs

pytest.importorskip(
    "pytest_benchmark",
    reason='the benchmarks need pytest-benchmark: pip install -e ".[bench]"',
)


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: s.name)
def case(request):
    # Module scope: pytest orders the tests so each shape's (up to 500 MB)
    # inputs are built once and freed before the next shape's.
    shape = request.param
    logits, target = make_inputs(shape)
    yield shape, logits, target
    del logits, target
    gc.collect()


def _rounds(nbytes: int) -> int:
    # For pedantic runs (in place), which take an explicit round count.
    if nbytes >= 100e6:
        return 5
    if nbytes >= 1e6:
        return 50
    return 2000


@pytest.mark.parametrize("impl", IMPLS, ids=lambda impl: impl.name)
def test_cross_entropy(benchmark, case, impl):
    if not is_available(impl):
        pytest.skip(f"{impl.module} does not import")
    shape, logits, target = case
    benchmark.group = f"softmax_cross_entropy float32 {shape.name}"
    benchmark.extra_info.update(impl=impl.note, shape=shape.name, threads=2)
    runner = impl.prepare(logits, target)
    if runner.setup is None:
        result = benchmark(runner.call)
    else:
        benchmark.pedantic(
            runner.call, setup=runner.setup, rounds=_rounds(shape.nbytes)
        )
        runner.setup()
        result = runner.call()
    # Checked after timing, on the first rows: a cheap guard, not the tests.
    problem = check_result(result, logits, target)
    assert not problem, f"{impl.name} on {shape.name}: {problem}"


def test_impls_agree_on_small_case():
    """Every available entry matches float64 on a small problem, all rows."""
    logits, target = make_inputs(Shape(64, 1000), seed=1)
    for impl in IMPLS:
        if not is_available(impl):
            continue
        runner = impl.prepare(logits, target)
        if runner.setup is not None:
            runner.setup()
        loss, grad = runner.call()
        problem = check_result((loss, grad), logits, target, k=64)
        assert not problem, f"{impl.name}: {problem}"
        assert np.all(np.isfinite(np.asarray(grad)))
