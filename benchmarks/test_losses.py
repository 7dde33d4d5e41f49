"""pytest-benchmark suite of the loss families: every ``_loss_impls.IMPLS`` entry
on every case (loss x shape), float32, reduction="mean", value and gradient,
2 threads each.

    pytest benchmarks/test_losses.py                        # all of it
    pytest benchmarks/test_losses.py -k "huber or kl_div"   # some losses
    pytest benchmarks/test_losses.py -k 4096x1000           # one shape
    pytest benchmarks/test_losses.py --benchmark-disable    # each case once

One ``benchmark.group`` per case, so pytest-benchmark's table compares the
implementations side by side. Inputs are built once per case by a module-scoped
fixture, and compilation, reused buffers and a warm-up call by the entry's
``prepare``, all outside the timed call. Entries whose module does not import
are skipped, so run it once in the peers' venv and once where TensorFlow is
installed. For ratios, the memory floor and noise checks, see
``losses_summary.py``.
"""

from __future__ import annotations

import gc
import importlib.util

import numpy as np
import pytest
from _loss_impls import (
    CASES,
    IMPLS,
    LOSSES,
    Case,
    as_grads,
    check_result,
    is_available,
    make_inputs,
    reference,
    triplet_active_fraction,
)

pytest.importorskip(
    "pytest_benchmark",
    reason='the benchmarks need pytest-benchmark: pip install -e ".[bench]"',
)

# The TensorFlow venv may lack pytest-benchmark: its agreement test still runs.
HAVE_BENCHMARK = importlib.util.find_spec("pytest_benchmark") is not None


def _case_id(case: Case) -> str:
    return case.id.replace(":", "-")  # "-k" expressions cannot hold ':'


@pytest.fixture(scope="module", params=CASES, ids=_case_id)
def case(request):
    # Module scope: pytest orders the tests so each case's inputs (up to 1 GB
    # for kl_div on 4096x32000) are built once and freed before the next one's.
    c = request.param
    data = {"inputs": make_inputs(c)}

    def ref():  # float64, computed once per case and only when first asked
        if "ref" not in data:
            data["ref"] = reference(c, data["inputs"])
        return data["ref"]

    yield c, data["inputs"], ref
    data.clear()
    gc.collect()


@pytest.mark.skipif(not HAVE_BENCHMARK, reason="needs pytest-benchmark")
@pytest.mark.parametrize("impl", IMPLS, ids=lambda impl: impl.name)
def test_loss(benchmark, case, impl):
    c, inputs, ref = case
    if not is_available(impl, c):
        missing = f"fastloss.{c.loss.func}" if impl.is_fastloss else impl.module
        pytest.skip(f"{missing} does not import")
    benchmark.group = f"{c.id} float32"
    benchmark.extra_info.update(impl=impl.note, case=c.id, threads=2)
    runner = impl.prepare(c, inputs)
    result = benchmark(runner.call)
    # Checked after timing: a cheap guard, not the test suite.
    problem = check_result(c, result, ref())
    assert not problem, f"{impl.name} on {c.id}: {problem}"


def _small_case(loss) -> Case:
    return Case(loss, (64, 100) if loss.rowwise else (6400,))


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_impls_agree_on_small_case(loss):
    """Every available entry matches float64 on a small case, whole gradient."""
    c = _small_case(loss)
    inputs = make_inputs(c, seed=1)
    ref = reference(c, inputs, grad_rows=64)
    ran = []
    for impl in IMPLS:
        if not is_available(impl, c):
            continue
        loss_value, grad = impl.prepare(c, inputs).call()
        problem = check_result(c, (loss_value, grad), ref)
        assert not problem, f"{impl.name}: {problem}"
        assert all(np.all(np.isfinite(g)) for g in as_grads(grad))
        ran.append(impl.name)
    if not ran:
        pytest.skip("no implementation imports")


@pytest.mark.parametrize(
    ("c", "seed"),
    [(c, 0) for c in CASES if c.loss.inputs == "triplet"]
    + [(_small_case(loss), 1) for loss in LOSSES if loss.inputs == "triplet"],
    ids=lambda v: _case_id(v) if isinstance(v, Case) else f"seed{v}",
)
def test_triplet_inputs_hit_both_hinge_branches(c, seed):
    """Between 20 % and 80 % of the triplets have an active hinge (d_ap - d_an
    + margin > 0): the benchmark's inputs and the small agreement case's."""
    fraction = triplet_active_fraction(make_inputs(c, seed=seed))
    assert 0.2 <= fraction <= 0.8, f"{fraction:.1%} of the rows are active"
