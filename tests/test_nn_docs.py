"""fastloss.nn: the docstring examples run and print what they say; every public
name is exported and documented."""

import doctest
import importlib

import pytest

import fastloss.nn as nn

MODULES = ["model", "optimizers", "activations", "losses", "metrics", "callbacks"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"fastloss.nn.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name in ("model", "optimizers"):
        assert result.attempted >= 3


def test_public_api_is_exported_and_documented():
    expected = {
        "Sequential",
        "Dense",
        "SGD",
        "Adam",
        "AdamW",
        "EarlyStopping",
        "History",
        "load",
        "Callback",
        "ProgressBar",
        "Optimizer",
    }
    assert expected <= set(nn.__all__)
    for name in expected:
        assert getattr(nn, name).__doc__, name
    for method in (
        "compile",
        "fit",
        "evaluate",
        "predict",
        "predict_logits",
        "summary",
    ):
        assert getattr(nn.Sequential, method).__doc__, method
