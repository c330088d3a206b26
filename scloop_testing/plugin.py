"""The selfloop pytest plugin (entry point ``pytest11``), active wherever selfloop is installed.

It gives any test suite, ours or a user's in another repository:

- the ``property`` marker (statistical property tests; ``pytest -m property`` runs exactly them);
- the ``check_property`` fixture: :func:`selfloop.testing.check_property`, which decides a bound
  against replicate TVs, asserts the negative controls its power can see, and records the outcome;
- the end-of-run "bound verification summary": per property, the examples run, refutations,
  tightness, detectable ratios and how often each control was within power and refuted. Under pytest-xdist
  (``-n 2``) each worker sends its records to the controller, which prints one summary of the whole run.
"""

from __future__ import annotations

import json

import pytest

from .property import check_property as _check_property
from .record import export_records, merge_records, summary_lines

__all__ = ["pytest_configure", "pytest_sessionfinish", "pytest_terminal_summary", "pytest_testnodedown"]

#: The key of a pytest-xdist worker's output under which it sends its records.
_WORKER_OUTPUT = "selfloop_records"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "property: statistical property tests (simulate loops, decide with check_bound)")


@pytest.fixture
def check_property():
    """:func:`selfloop.testing.check_property`, recorded in this run's bound verification summary."""
    return _check_property


def pytest_sessionfinish(session) -> None:
    """In a pytest-xdist worker: send this worker's records, reduced to plain numbers, to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[_WORKER_OUTPUT] = json.dumps(export_records())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """In the pytest-xdist controller: merge a finished worker's records into the run's summary."""
    exported = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT)
    if exported:
        merge_records(json.loads(exported))


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the per-property example counts, tightness ratios and negative-control outcomes."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("bound verification summary")
        for line in lines:
            terminalreporter.write_line(line)
