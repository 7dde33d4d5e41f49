"""The examples in the public docstrings run and print what they say."""

import doctest

import fastloss.losses


def test_losses_docstring_examples():
    result = doctest.testmod(fastloss.losses, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6
    assert result.failed == 0
