"""Replays the fuzz target's findings and seeds (no atheris needed).

fuzz/regressions/cases.py holds a minimal reproducer of every finding of the API
fuzzer (fuzz/fuzz_api.py) in fastloss, as a call, with what it must do now; the
*.bin files beside it are raw fuzz inputs that once tripped the checker itself
(fuzz/regressions/README.md); fuzz/seeds/ is the seed corpus (a valid and a refused
call of every public loss). Each is judged by the fuzz target's own checker
(fuzz/_harness.py): a clean ValueError/TypeError leaving every argument untouched,
or the float64 twins' values with every argument but out= untouched.
"""

import random
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss import _table

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))
sys.path.insert(0, str(FUZZ / "regressions"))

import _harness  # noqa: E402
from cases import CASES  # noqa: E402

RAW = sorted((FUZZ / "regressions").glob("*.bin"))
SEEDS = sorted((FUZZ / "seeds").glob("*"))


def _check(case, what):
    with warnings.catch_warnings():
        # the harness records warnings itself; keep pytest's filters out of it
        warnings.simplefilter("default")
        try:
            return _harness.check(case)
        except _harness.Finding as finding:
            pytest.fail(f"{what}: {finding}", pytrace=False)


def test_there_are_regressions_and_seeds():
    assert len(CASES) >= 15 and len(RAW) >= 4
    assert len(SEEDS) >= 2 * len(_harness.FUNCTIONS) - 5


@pytest.mark.parametrize("name", list(CASES))
def test_finding_stays_fixed(name):
    build, outcome = CASES[name]
    assert _check(build(), name) == outcome


# Raw inputs whose call the numeric contract refuses since 2026-12-07 (a weight,
# z_loss or parameter outside its range: docs/RELIABILITY.md, "Accepted ranges");
# every other raw input must be accepted and right.
RAW_REFUSED = {
    "ce-subnormal-sample-weights-nan-grad.bin",  # sample weights 5e-324
    "twin-ce-float32-huge-z-loss-softmax-underflow.bin",  # float32, z_loss 1e300
    "twin-ce-subnormal-sample-weight-huge-z-loss.bin",  # 5e-324, z_loss 1e300
    "twin-ce-tiny-mean-normaliser-huge-z-loss.bin",  # z_loss 1e300
    "twin-kl-subnormal-sample-weights-precision.bin",  # 3.8e-317
    "twin-mse-float32-residual-square-underflow.bin",  # weight 1.8e20 (float32)
    "twin-mse-float32-weight-product-underflow.bin",  # float32 weights of 1e-35
    "twin-mse-sample-weight-overflow.bin",  # 1e307
    "twin-mse-weight-over-normaliser-underflow.bin",  # 1e-257 to 9e267
    "twin-sigmoid-focal-huge-gamma.bin",  # float32, gamma 1e300
    "twin-sigmoid-focal-inf-weight-zero-weights.bin",  # an inf element weight
    "twin-z-loss-overflow-zero-weights.bin",  # z_loss 1e300
    "twin-z-loss-underflow.bin",  # z_loss 1e300
}


@pytest.mark.parametrize("path", RAW, ids=lambda p: p.name)
def test_raw_fuzz_input(path):
    want = "error" if path.name in RAW_REFUSED else "ok"
    assert _check(_harness.decode(path.read_bytes()), path.name) == want


def test_raw_refused_names_exist():
    assert {p.name for p in RAW} >= RAW_REFUSED


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed(path):
    status = _check(_harness.decode(path.read_bytes()), path.name)
    assert f"-{status}-" in path.name or status == "known"


def test_every_public_loss_is_fuzzed():
    """A loss added to the loss table needs a place in the fuzz target."""
    # added after the fuzz target; no model of their rules in it yet
    # (docs/RELIABILITY.md, docs/adding_a_loss.md)
    not_yet = {
        "linear_cross_entropy",
        "poisson_loss",
        "cosine_similarity_loss",
        "dice_loss",
        "tversky_loss",
        "circle_loss",
    }
    not_yet |= {"hinge_loss", "squared_hinge_loss", "msle_loss", "mape_loss"}
    not_yet |= {"ctc_loss"}
    not_yet |= {
        "categorical_hinge_loss",
        "categorical_generalized_cross_entropy_loss",
    }
    rows = [row for row in _table.LOSSES if row.name not in not_yet]
    assert all(row.fuzz for row in rows)
    assert set(_harness.FUNCTIONS) == {name for row in rows for name in row.names}


def test_byte_reader_is_atherises_provider():
    """Stored inputs decode to the same call with and without atheris."""
    atheris = pytest.importorskip("atheris")
    rnd = random.Random(0)
    for _ in range(2000):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40)))
        a, b = atheris.FuzzedDataProvider(data), _harness.ByteReader(data)
        for _ in range(12):
            if rnd.random() < 0.3:
                n = rnd.randrange(0, 10)
                assert a.ConsumeBytes(n) == b.ConsumeBytes(n)
            else:
                lo = rnd.randrange(-(2**40), 2**40)
                hi = lo + rnd.choice(
                    [0, 1, 255, 256, 65536, 2**31, rnd.randrange(2**62)]
                )
                assert a.ConsumeIntInRange(lo, hi) == b.ConsumeIntInRange(lo, hi)
            assert a.remaining_bytes() == b.remaining_bytes()


def test_harness_catches_a_wrong_value(monkeypatch):
    """The checker is not vacuous: a loss off by one ulp-scale factor fails."""
    data = next(p for p in SEEDS if p.name.startswith("mse_loss-ok-")).read_bytes()
    real = fastloss.mse_loss

    def off(*args, **kwargs):
        loss = real(*args, **kwargs)
        return loss * (1 + 1e-3) + 1e-3 if isinstance(loss, float) else loss + 1e-3

    monkeypatch.setattr(fastloss, "mse_loss", off)
    with pytest.raises(_harness.Finding, match="loss"):
        _harness.check(_harness.decode(data))


def test_harness_catches_a_modified_input(monkeypatch):
    data = next(
        p for p in SEEDS if p.name.startswith("softmax_cross_entropy-ok-")
    ).read_bytes()
    real = fastloss.softmax_cross_entropy

    def scribble(logits, *args, **kwargs):
        loss = real(logits, *args, **kwargs)
        if isinstance(logits, np.ndarray) and logits.size and logits.flags.writeable:
            logits.reshape(-1)[0] = 12345.0  # also in the views of copies
        return loss

    monkeypatch.setattr(fastloss, "softmax_cross_entropy", scribble)
    case = _harness.decode(data)
    x = case.args[0]
    if not (isinstance(x, np.ndarray) and x.size and x.flags.writeable):
        pytest.skip("the seed's logits are not a writeable array")
    with pytest.raises(_harness.Finding, match="modified"):
        _harness.check(case)
