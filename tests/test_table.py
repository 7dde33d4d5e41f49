"""The loss table (fastloss/_table.py) and what is derived from it agree with the
package: every row's functions exist with the inputs it names, every public loss
has a row, and every layer that lists losses lists the table's."""

import importlib
import inspect
import sys
from pathlib import Path

import pytest

import fastloss
import fastloss.losses as keras_losses
import fastloss.nn.losses as nn_losses
from fastloss import _elementwise, _kernels, _table

ROOT = Path(__file__).resolve().parents[1]
ROWS = {row.name: row for row in _table.LOSSES}
NOT_LOSSES = {
    "__version__",
    "config",
    "cross_entropy_normalizer",  # a helper of the cross-entropy "mean"
    "get_loss",
    "get_num_threads",
    "get_simd",
    "losses",
    "set_num_threads",
    "set_simd",
    "show_config",
}


def test_rows_are_unique_and_well_formed():
    assert len(ROWS) == len(_table.LOSSES)
    families = {"softmax_ce", "rowwise", "elementwise", "linear_ce", "ctc"}
    for row in _table.LOSSES:
        assert row.family in families, row
        assert row.output in ("softmax", "sigmoid", "identity"), row
        # a row trains a model (target) or says why it cannot
        assert bool(row.target) != bool(row.why_not), row
        assert row.target in (None, "index", "prob", "auto", "binary", "real"), row
    fuzz = [row.fuzz for row in _table.LOSSES if row.fuzz]
    bench = [row.bench.id for row in _table.LOSSES if row.bench]
    assert len(set(fuzz)) == len(fuzz) and len(set(bench)) == len(bench)


@pytest.mark.parametrize("row", _table.LOSSES, ids=lambda row: row.name)
def test_row_functions_exist_with_their_inputs(row):
    module = importlib.import_module(f"fastloss.{row.module}")
    for name in row.names:
        fn = getattr(module, name)
        assert getattr(fastloss, name) is fn
        assert name in fastloss.__all__
        params = inspect.signature(fn).parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert tuple(positional) == row.inputs, name
    assert (row.name + "_and_grad" in dir(module)) == row.grad


def test_every_public_loss_has_a_row():
    listed = {name for row in _table.LOSSES for name in row.names}
    assert set(fastloss.__all__) == listed | NOT_LOSSES
    assert len(fastloss.__all__) == len(set(fastloss.__all__))
    for module in (
        "_binary",
        "_regression",
        "_rowwise",
        "_similarity",
        "_margin",
        "_categorical",
    ):
        exported = set(importlib.import_module(f"fastloss.{module}").__all__)
        assert exported == {
            name for row in _table.LOSSES if row.module == module for name in row.names
        }


@pytest.mark.parametrize("row", _table.LOSSES, ids=lambda row: row.name)
def test_kernel_kind_exists(row):
    if row.family == "elementwise":
        assert isinstance(getattr(_elementwise, row.kind), int)
    elif row.family == "rowwise":
        assert isinstance(getattr(_kernels, "RW_" + row.kind), int)
    else:
        assert row.kind is None


def test_get_loss_names():
    for row in _table.LOSSES:
        if row.grad:
            pair = fastloss.get_loss(row.name)
            assert pair.loss is getattr(fastloss, row.name)
            assert pair.loss_and_grad is getattr(fastloss, row.name + "_and_grad")
        else:  # no gradient twin: not a loss get_loss gives
            with pytest.raises(ValueError, match="unknown loss"):
                fastloss.get_loss(row.name)
    for row in _table.KERAS:
        cls = getattr(keras_losses, row.cls)
        assert cls in keras_losses._CLASSES
        for name in (*row.names, row.cls):
            assert type(fastloss.get_loss(name)) is cls


def test_keras_classes_are_all_in_the_table():
    classes = {
        name
        for name, obj in vars(keras_losses).items()
        if inspect.isclass(obj)
        and issubclass(obj, keras_losses.Loss)
        and obj is not keras_losses.Loss
        and not name.startswith("_")
    }
    assert classes == {row.cls for row in _table.KERAS}


@pytest.mark.parametrize(
    "name",
    [row.name for row in _table.LOSSES]
    + [name for row in _table.KERAS for name in (*row.names, row.cls)],
)
def test_training_losses(name):
    row = ROWS.get(name)
    keras = next((k for k in _table.KERAS if name in (*k.names, k.cls)), None)
    function = row.name if row is not None else keras.function
    why_not = row.why_not if row is not None else keras.why_not
    if why_not:
        with pytest.raises(ValueError, match="cannot train this model") as info:
            nn_losses.resolve_loss(name)
        assert why_not in str(info.value)
        return
    resolved = nn_losses.resolve_loss(name)
    assert resolved.function == function
    assert resolved.output == ROWS[function].output
    if keras is not None:
        assert resolved.target == keras.target
        assert resolved.options == keras.options
    else:
        assert resolved.target == row.target and resolved.options == {}


def test_torch_names():
    pytest.importorskip("torch")
    torch_adapter = importlib.import_module("fastloss.torch")
    names = [name for row in _table.LOSSES for name in row.torch]
    assert sorted(torch_adapter.__all__) == sorted(names)
    for name in names:
        assert callable(getattr(torch_adapter, name))


def test_fuzz_harness_functions():
    pytest.importorskip("hypothesis")
    sys.path.insert(0, str(ROOT / "fuzz"))
    try:
        harness = importlib.import_module("_harness")
    except ImportError as exc:  # an installed package tested without the tree
        pytest.skip(f"fuzz/ not importable: {exc}")
    finally:
        sys.path.remove(str(ROOT / "fuzz"))
    fuzzed = [row for row in _table.LOSSES if row.fuzz]
    assert list(harness.FUNCTIONS) == [name for row in fuzzed for name in row.names]
    for row in fuzzed:
        for name in row.names:
            assert harness.FUNCTIONS[name] == (row.fuzz, name.endswith("_and_grad"))


def _benchmarks_module(name):
    """benchmarks/<name>.py imported (skip when benchmarks/ is not next to the
    tests: a test run from an installed wheel)."""
    if not (ROOT / "benchmarks" / f"{name}.py").exists():
        pytest.skip("benchmarks/ not next to the tests")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_benchmark_cases():
    impls = _benchmarks_module("_loss_impls")
    cases = {case.name: case for case in impls.LOSSES}
    benched = [row for row in _table.LOSSES if row.bench]
    assert set(cases) == {row.bench.id for row in benched}
    for row in benched:
        case = cases[row.bench.id]
        assert case.func == row.name + "_and_grad"
        assert case.options == row.bench.options
        assert case.rowwise == (row.family != "elementwise")
        assert case.name in impls.NUMPY_LOSSES  # the NumPy peer every case has


def test_cycles_measures_every_kernel_family():
    """benchmarks/cycles.py's rows: softmax cross-entropy (summary.py's own case,
    no bench entry) at each width, and a row per benchmarked loss otherwise."""
    cycles = _benchmarks_module("cycles")
    rows = list(cycles._cases(()))
    ce = [width for row, width in rows if row.name == "softmax_cross_entropy"]
    assert ce == list(cycles.SOFTMAX_WIDTHS)
    want = {r.name for r in _table.LOSSES if r.grad and r.bench}
    want -= {r.name for r in _table.LOSSES if r.family == "linear_ce"}
    assert {row.name for row, _ in rows} == want | {"softmax_cross_entropy"}


def test_nn_calls_the_api_layer_not_the_kernels():
    """fastloss.nn reaches the C kernels only through the API modules (losses
    through the functional pairs, optimizer steps through fastloss._optim), so
    every validation rule lives in one place."""
    import pathlib

    import fastloss.nn

    root = pathlib.Path(fastloss.nn.__file__).parent
    for path in sorted(root.glob("*.py")):
        source = path.read_text()
        assert "_kernels" not in source, f"{path.name} uses fastloss._kernels"
