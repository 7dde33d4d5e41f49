"""pytest-benchmark: a short training run of the same MLP by each trainer in
``trainer_bench.IMPLS`` (fastloss.nn, scikit-learn's MLPClassifier, a PyTorch
loop, Keras 3 on JAX in a child process), 2 threads each.

    pytest benchmarks/test_trainer.py                        # digits, 3 epochs
    pytest benchmarks/test_trainer.py --benchmark-disable    # each run once, untimed

One ``benchmark.group`` per problem; a round is a whole training run from
scratch (building the model included), so the per-epoch medians of
``trainer_bench.py`` are the better comparison. Test accuracy goes into
``extra_info``.
"""

from __future__ import annotations

import dataclasses

import pytest
from trainer_bench import IMPLS, N_THREADS, is_available, problems

pytest.importorskip(
    "pytest_benchmark",
    reason='the benchmarks need pytest-benchmark: pip install -e ".[bench]"',
)

EPOCHS = 3


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    problem = dataclasses.replace(problems(quick=True)["digits"], epochs=EPOCHS)
    return problem, problem.load()


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=N_THREADS):
        yield


@pytest.mark.parametrize("impl", IMPLS, ids=lambda impl: impl.name)
def test_train_digits(benchmark, digits, impl):
    if not is_available(impl):
        pytest.skip(f"{impl.module} does not import")
    problem, data = digits
    benchmark.group = f"train {problem.name} ({problem.description}), {EPOCHS} epochs"
    benchmark.extra_info.update(impl=impl.note, threads=N_THREADS)
    result = benchmark.pedantic(
        impl.train, args=(data, problem, 0), rounds=3, iterations=1, warmup_rounds=1
    )
    assert len(result.epoch_seconds) == EPOCHS
    benchmark.extra_info["test_accuracy"] = result.accuracy
    # a trainer that does not learn is not worth timing: 3 epochs reach ~0.95
    assert result.accuracy > 0.8
