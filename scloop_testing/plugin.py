"""The selfloop pytest plugin (entry point ``pytest11``), active wherever selfloop is installed.

It gives any test suite, ours or a user's in another repository:

- the ``property`` marker (statistical property tests; ``pytest -m property`` runs exactly them);
- the ``check_property`` fixture: :func:`selfloop.testing.check_property`, which decides a bound
  against replicate TVs, asserts the negative controls its power can see, and records the outcome;
- the end-of-run "bound verification summary": per property, the examples run, refutations,
  tightness, detectable ratios and how often each control was within power and refuted.
"""

from __future__ import annotations

import pytest

from .property import check_property as _check_property
from .record import summary_lines

__all__ = ["pytest_configure", "pytest_terminal_summary"]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "property: statistical property tests (simulate loops, decide with check_bound)")


@pytest.fixture
def check_property():
    """:func:`selfloop.testing.check_property`, recorded in this run's bound verification summary."""
    return _check_property


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the per-property example counts, tightness ratios and negative-control outcomes."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("bound verification summary")
        for line in lines:
            terminalreporter.write_line(line)
