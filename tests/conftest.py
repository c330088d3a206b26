"""Shared pytest configuration: Hypothesis profiles.

Profiles
--------
ci        derandomized, no deadline, a bounded number of examples (loaded when CI=true)
dev       the default for local runs: random, a moderate number of examples
thorough  many more examples, for nightly runs (HYPOTHESIS_PROFILE=thorough)
"""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", derandomize=True, max_examples=15, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=25, **_COMMON)
settings.register_profile("thorough", max_examples=300, **_COMMON)

_default = "ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))

# Every test run starts from a cold persistent cache of its own (selfloop.simulators.persistent), never the user's:
# the tests measure what they compute, and leave the user's cache alone. Subprocesses inherit it.
os.environ["SCLOOP_CACHE"] = tempfile.mkdtemp(prefix="scloop-test-cache-")


# Under pytest-xdist (-n auto: one worker per core) each worker's numpy computes on one thread, so the workers do not
# oversubscribe the cores; every number is the same either way (tests compare to a relative tolerance where BLAS may
# reorder a sum).
if os.environ.get("PYTEST_XDIST_WORKER"):
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)

# The bound verification summary comes from the selfloop pytest plugin (selfloop.testing.plugin, a pytest11 entry point).


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny suite (tests/reporting.py) run once: (cell results, stats, cache folder)."""
    from reporting import tiny  # noqa: F401  (registers the suite)

    from selfloop.reports import get_suite, run_suite

    cache = tmp_path_factory.mktemp("cells")
    cells, stats = run_suite(get_suite("tiny"), 0, cache, workers=1)
    return cells, stats, cache
