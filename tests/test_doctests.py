"""The numpydoc Examples of the public entry points run as doctests."""

import doctest
import importlib

import pytest

MODULES = ["selfloop.simulators.scenario", "selfloop.bounds.registry", "selfloop.bounds.second_moment", "selfloop.reports.suites"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
