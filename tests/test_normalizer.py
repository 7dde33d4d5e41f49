"""fastloss.cross_entropy_normalizer: the D of "mean", and the data-parallel
recipe of docs/distributed.md (shard sums and Ds add up to the batch mean)."""

import doctest
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from _reference import OPTIONS, assert_unchanged, make_case, reference, snapshot

import fastloss
import fastloss._normalizer

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def plain_normalizer(target, weight=None, ignore_index=-100, sample_weight=None):
    """The contract's formula, one row at a time."""
    t = np.asarray(target)
    if t.dtype.kind == "f":
        rows = int(np.prod(t.shape[:-1]))
        s = np.ones(rows) if sample_weight is None else np.ravel(sample_weight)
        return float(sum(s))
    y = t.reshape(-1)
    s = np.ones(y.size) if sample_weight is None else np.ravel(sample_weight)
    total = 0.0
    for i, c in enumerate(y):
        if c != ignore_index:
            total += s[i] * (1.0 if weight is None else weight[c])
    return total


# ---------------------------------------------------------------------------
# values


def test_counts_rows_not_ignored():
    t = np.array([3, -100, 0, 2, -100])
    d = fastloss.cross_entropy_normalizer(t)
    assert d == 3.0 and type(d) is float
    assert fastloss.cross_entropy_normalizer([3, 1, 0, 3], ignore_index=3) == 2.0
    assert fastloss.cross_entropy_normalizer(np.full(4, -100)) == 0.0
    assert fastloss.cross_entropy_normalizer(np.zeros(0, int)) == 0.0
    assert fastloss.cross_entropy_normalizer(2) == 1.0  # one row, a Python int
    assert fastloss.cross_entropy_normalizer([[1, 2], [-100, 0]]) == 3.0


def test_weights_enter_as_the_contract_says():
    t = np.array([[2, 0], [-100, 1]])
    w = np.array([0.5, 2.0, 4.0])
    s = np.array([[1.0, 3.0], [7.0, 0.25]])
    assert fastloss.cross_entropy_normalizer(t, class_weight=w) == 4.0 + 0.5 + 2.0
    assert fastloss.cross_entropy_normalizer(t, sample_weight=s) == 1.0 + 3.0 + 0.25
    got = fastloss.cross_entropy_normalizer(t, class_weight=w, sample_weight=s)
    assert got == 4.0 * 1.0 + 0.5 * 3.0 + 2.0 * 0.25


def test_probability_targets_count_rows():
    p = np.full((2, 3, 4), 0.25)
    assert fastloss.cross_entropy_normalizer(p) == 6.0
    s = np.arange(6.0).reshape(2, 3)
    assert fastloss.cross_entropy_normalizer(p, sample_weight=s) == 15.0
    # class weights and ignore_index do not enter
    got = fastloss.cross_entropy_normalizer(
        p, class_weight=np.ones(4) * 3, ignore_index=0
    )
    assert got == 6.0


@pytest.mark.parametrize(
    "target_dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint64, np.int64]
)
def test_any_integer_dtype(rng, target_dtype):
    t = rng.integers(0, 5, 40).astype(target_dtype)
    w = rng.uniform(0.5, 2.0, 5)
    want = plain_normalizer(t.astype(np.int64), w)
    assert fastloss.cross_entropy_normalizer(t, class_weight=w) == pytest.approx(
        want, rel=1e-14
    )


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_mean_is_sum_divided_by_it(rng, kind, option):
    """For every option of softmax_cross_entropy: mean == sum / D, gradients too."""
    logits, target, kw = make_case(rng, (3, 7, 5), np.float64, kind, **OPTIONS[option])
    before = snapshot(target, kw.get("class_weight"), kw.get("sample_weight"))
    d = fastloss.cross_entropy_normalizer(
        target,
        class_weight=kw.get("class_weight"),
        ignore_index=kw.get("ignore_index", -100),
        sample_weight=kw.get("sample_weight"),
    )
    assert_unchanged(before)
    assert d == pytest.approx(
        plain_normalizer(
            target,
            kw.get("class_weight"),
            kw.get("ignore_index", -100),
            kw.get("sample_weight"),
        ),
        rel=1e-14,
    )
    mean, g_mean = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    total, g_sum = fastloss.softmax_cross_entropy_and_grad(
        logits, target, reduction="sum", **kw
    )
    assert d > 0
    assert mean == pytest.approx(total / d, rel=1e-13)
    np.testing.assert_allclose(g_mean, g_sum / d, rtol=1e-13, atol=1e-16)
    # and the twin, which knows nothing of this function, agrees
    ref = reference(logits, target, **kw)
    assert mean == pytest.approx(ref.loss, rel=1e-12)


# ---------------------------------------------------------------------------
# shards


def _shards(n):
    """Three uneven shards of n rows."""
    cuts = [0, n // 5, n // 5 + n // 2, n]
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_shards_add_up_to_the_batch_mean(rng, dtype):
    logits, target, kw = make_case(rng, (30, 6), dtype, "hard", **OPTIONS["all"])
    target[:6] = -100  # the first shard is all padding: D = 0 there
    whole, g_whole = fastloss.softmax_cross_entropy_and_grad(logits, target, **kw)
    sums, grads, ds = [], [], []
    for rows in _shards(30):
        shard_kw = dict(kw, sample_weight=kw["sample_weight"][rows])
        loss, grad = fastloss.softmax_cross_entropy_and_grad(
            logits[rows], target[rows], reduction="sum", **shard_kw
        )
        sums.append(loss)
        grads.append(grad)
        ds.append(
            fastloss.cross_entropy_normalizer(
                target[rows],
                class_weight=kw["class_weight"],
                sample_weight=shard_kw["sample_weight"],
            )
        )
    assert ds[0] == 0.0 and sums[0] == 0.0
    d = sum(ds)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert sum(sums) / d == pytest.approx(whole, rel=rtol)
    np.testing.assert_allclose(
        np.concatenate(grads) / d, g_whole, rtol=rtol, atol=rtol * np.abs(g_whole).max()
    )


def test_linear_shards_add_up_to_the_batch_mean(rng):
    n, n_in, n_classes = 25, 4, 8
    hidden = rng.standard_normal((n, n_in))
    weight = rng.standard_normal((n_classes, n_in))
    bias = rng.standard_normal(n_classes)
    target = rng.integers(0, n_classes, n)
    target[::3] = 5  # ignore_index in range
    cw = rng.uniform(0.5, 2.0, n_classes)
    sw = rng.uniform(0.0, 2.0, n)
    kw = {"ignore_index": 5, "label_smoothing": 0.1, "z_loss": 1e-3}
    whole = fastloss.linear_cross_entropy_and_grad(
        hidden, weight, target, bias=bias, class_weight=cw, sample_weight=sw, **kw
    )
    parts = []
    for rows in _shards(n):
        shard_kw = dict(kw, bias=bias, class_weight=cw, sample_weight=sw[rows])
        got = fastloss.linear_cross_entropy_and_grad(
            hidden[rows],
            weight,
            target[rows],
            reduction="sum",
            chunk_size=2,
            **shard_kw,
        )
        d = fastloss.cross_entropy_normalizer(
            target[rows], class_weight=cw, ignore_index=5, sample_weight=sw[rows]
        )
        parts.append((got, d))
    d = sum(p[1] for p in parts)
    loss = sum(p[0][0] for p in parts) / d
    g_hidden = np.concatenate([p[0][1] for p in parts]) / d
    g_weight = sum(p[0][2] for p in parts) / d
    g_bias = sum(p[0][3] for p in parts) / d
    for got, want in zip((loss, g_hidden, g_weight, g_bias), whole):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_mean_of_shard_means_is_not_the_batch_mean(rng):
    """Why the recipe exists (the tests above would pass for a trivial D = n)."""
    logits, target, kw = make_case(rng, (12, 5), np.float64, "hard", weight=True)
    target[:3] = -100
    whole = fastloss.softmax_cross_entropy(logits, target, **kw)
    means = [
        fastloss.softmax_cross_entropy(logits[rows], target[rows], **kw)
        for rows in _shards(12)
    ]
    assert abs(np.mean(means) - whole) > 1e-3


# ---------------------------------------------------------------------------
# errors


BAD = {
    "float_indices_0d": ({"target": np.float64(1.0)}, ValueError, "target"),
    "bool_target": ({"target": np.array([True, False])}, TypeError, "target"),
    "string_target": ({"target": np.array(["a"])}, TypeError, "target"),
    "negative": ({"target": np.array([0, -1])}, ValueError, "target"),
    "beyond_weight": (
        {"target": np.array([0, 3]), "class_weight": np.ones(3)},
        ValueError,
        "target",
    ),
    "weight_2d": ({"class_weight": np.ones((3, 1))}, ValueError, "class_weight"),
    "weight_nan": (
        {"class_weight": np.array([1.0, np.nan, 1.0])},
        ValueError,
        "class_weight",
    ),
    "weight_strings": (
        {"class_weight": np.array(["a", "b", "c"])},
        TypeError,
        "class_weight",
    ),
    "soft_weight_length": (
        {"target": np.full((2, 3), 1 / 3), "class_weight": np.ones(4)},
        ValueError,
        "class_weight",
    ),
    "sample_weight_shape": ({"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
    "soft_sample_weight_shape": (
        {"target": np.full((2, 3), 1 / 3), "sample_weight": np.ones(3)},
        ValueError,
        "sample_weight",
    ),
    "sample_weight_inf": (
        {"sample_weight": np.array([1.0, np.inf])},
        ValueError,
        "sample_weight",
    ),
    "ignore_index_float": ({"ignore_index": 0.5}, TypeError, "ignore_index"),
    "soft_no_class": (
        {"target": np.zeros((2, 0)), "class_weight": None},
        ValueError,
        "target",
    ),
    "weight_empty": ({"class_weight": np.zeros(0)}, ValueError, "class_weight"),
    "weight_empty_all_ignored": (
        {"target": np.full(2, -100), "class_weight": np.zeros(0)},
        ValueError,
        "class_weight",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_arguments_raise_naming_them(case):
    change, exc, name = BAD[case]
    args = {"target": np.array([0, 2]), "class_weight": np.ones(3)}
    fastloss.cross_entropy_normalizer(**args)
    args.update(change)
    with pytest.raises(exc, match=rf"\b{re.escape(name)}\b"):
        fastloss.cross_entropy_normalizer(**args)


@pytest.mark.parametrize("shape", [(2, 0), (0, 0), (0,), (3, 2, 0)])
def test_probabilities_without_a_class_are_refused_like_the_loss(shape):
    """softmax_cross_entropy refuses logits with an empty class axis, with rows or
    without: there is no loss, so no D either (not the row count, not 0)."""
    p = np.zeros(shape)
    with pytest.raises(ValueError, match="at least one class"):
        fastloss.softmax_cross_entropy(np.zeros(shape), p, reduction="sum")
    with pytest.raises(ValueError, match=r"\btarget\b.*at least one class"):
        fastloss.cross_entropy_normalizer(p)
    lead = shape[:-1]
    with pytest.raises(ValueError, match=r"\btarget\b.*at least one class"):
        fastloss.cross_entropy_normalizer(p, sample_weight=np.ones(lead))
    # one class is the smallest problem: D is the row count, as for the loss
    one = np.ones(lead + (1,))
    assert fastloss.cross_entropy_normalizer(one) == float(np.prod(lead))


def test_out_of_range_message_gives_position_and_value():
    with pytest.raises(ValueError, match=r"target\[1, 0\] \(flat position 2\) = 9"):
        fastloss.cross_entropy_normalizer([[0, 1], [9, 2]], class_weight=np.ones(4))


# ---------------------------------------------------------------------------
# documentation


def test_docstring_examples_run():
    result = doctest.testmod(fastloss._normalizer)
    assert result.attempted >= 5
    assert result.failed == 0


def test_distributed_recipe_in_the_docs_runs():
    path = DOCS / "distributed.md"
    if not path.exists():  # tests run against an installed package elsewhere
        pytest.skip("docs/distributed.md not next to the tests")
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
    assert len(blocks) >= 1
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "shards == whole batch" in result.stdout
