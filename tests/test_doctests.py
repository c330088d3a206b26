"""Every numpydoc Example in the four packages runs as a doctest (the modules are found by walking the packages)."""

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["selfloop.bounds", "selfloop.simulators", "selfloop.reports", "selfloop.testing"]
MODULES = sorted(
    name
    for package in PACKAGES
    for name in [package]
    + [info.name for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
    if not name.endswith("__main__")  # importing a __main__ runs its command
)
#: Modules whose examples the harness relies on most: each must have at least one.
DOCUMENTED = [
    "selfloop.simulators.scenario",
    "selfloop.simulators.registry",
    "selfloop.bounds.second_moment",
    "selfloop.reports.suites",
    "selfloop.reports.cells",
    "selfloop.reports.claims.base",
    "selfloop.bounds.certificate",
    "selfloop.bounds.mle",
    "selfloop.bounds.rate",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name in DOCUMENTED:
        assert result.attempted > 0, f"{name} has no examples"
