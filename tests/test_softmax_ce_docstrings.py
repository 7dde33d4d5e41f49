"""The examples in the public docstrings run and print what they say."""

import doctest

import fastloss._softmax_ce


def test_losses_docstring_examples():
    result = doctest.testmod(
        fastloss._softmax_ce, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted >= 6
    assert result.failed == 0
