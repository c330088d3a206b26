"""Where a suite's time goes: per kind of cell its share of the work, the critical path over the workers, and the
stages around the sweep (import, assembly, rendering); with ``--tests``, per test module its share of the test run.

Run by hand (not in CI), from a cold start: a fresh, empty cell cache and persistent cache (``SCLOOP_CACHE`` pointed
at an empty folder for the run, which its workers then share, as on a fresh machine); ``--no-cache`` computes every
value instead (``SCLOOP_CACHE=off``, nothing shared between cells)::

    python -m benchmarks.suite_profile --suite quick --suite standard --workers 2
    python -m benchmarks.suite_profile --tests          # pytest -m "not slow" -n auto, per module

A *kind* of cell is its cell kind, model, sampler and dimension (``loop diffusion sde 1-D``). The work of a kind is
the sum of its cells' own wall times (measured in the workers); the critical path is the longest cell, against
which no schedule can finish sooner, next to the work divided over the workers. Figures go to docs/performance.md
with the date, the machine and this command.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def kind_of(spec: dict) -> str:
    """The kind of a cell: cell kind, model name (diffusion: and sampler), the truth's dimension."""
    from selfloop.reports.models import diffusion_spec
    from selfloop.simulators import standard_truth

    model = spec["model"]["name"]
    if model == "diffusion":
        model += " " + diffusion_spec(spec["model"])["sampler"]
    return f"{spec['kind']} {model} {standard_truth(spec['truth']).dim}-D"


def profile_suite(name: str, workers: int, cache: bool = True) -> list[str]:
    """Run suite ``name`` cold, and its table of kinds, stages and critical path as markdown lines."""
    start = time.perf_counter()
    from selfloop.reports import assemble, get_suite, render, run_suite

    imported = time.perf_counter() - start
    from selfloop.simulators.persistent import CACHE_VARIABLE

    cells = get_suite(name)
    with tempfile.TemporaryDirectory() as folder:
        os.environ[CACHE_VARIABLE] = str(Path(folder) / "cache") if cache else "off"  # the workers inherit it
        started = time.perf_counter()
        results, _ = run_suite(cells, 0, Path(folder) / "cells", workers)
        sweep = time.perf_counter() - started
        started = time.perf_counter()
        document = assemble(results, suite=name, seed=0)
        assembled = time.perf_counter() - started
        started = time.perf_counter()
        render(document, Path(folder) / "out", workers)
        rendered = time.perf_counter() - started
    work: dict[str, list[float]] = defaultdict(list)
    for result in results:
        work[kind_of(result.spec.to_dict())].append(result.seconds)
    total = sum(sum(seconds) for seconds in work.values())
    longest = max(result.seconds for result in results)
    lines = [
        f"### Suite `{name}`, {len(cells)} cells, {workers} workers, "
        + ("an empty cache at the start" if cache else "no cache (`SCLOOP_CACHE=off`)"),
        "",
        f"End to end {imported + sweep + assembled + rendered:.1f} s: import {imported:.1f} s, sweep {sweep:.1f} s, "
        f"assembly {assembled:.1f} s, rendering {rendered:.1f} s. Work in the cells {total:.1f} s; the critical path "
        f"is max(work / workers, longest cell) = max({total / workers:.1f}, {longest:.1f}) s.",
        "",
        "| kind of cell | cells | work (s) | share | longest cell (s) |",
        "|---|---|---|---|---|",
    ]
    for kind, seconds in sorted(work.items(), key=lambda item: -sum(item[1])):
        lines.append(
            f"| {kind} | {len(seconds)} | {sum(seconds):.1f} | {sum(seconds) / total:.0%} | {max(seconds):.1f} |"
        )
    return lines + [""]


def profile_tests() -> list[str]:
    """Run the README's ``pytest -m "not slow" -n auto`` with every duration, and each test module's share of the
    tests' summed time (over the workers, so it adds up to more than the wall time)."""
    started = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "not slow",
            "-n",
            "auto",
            "-p",
            "no:cacheprovider",
            "--durations=0",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    modules: dict[str, float] = defaultdict(float)
    for match in re.finditer(r"^([\d.]+)s (?:call|setup|teardown)\s+(tests/[\w/]+\.py)", run.stdout, re.MULTILINE):
        modules[match.group(2)] += float(match.group(1))
    total = sum(modules.values())
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr.strip()
    lines = [
        f'### Tests, `pytest -m "not slow" -n auto`: {wall:.0f} s wall ({summary}), {total:.0f} s summed',
        "",
        "| module | seconds | share |",
        "|---|---|---|",
    ]
    for module, seconds in sorted(modules.items(), key=lambda item: -item[1]):
        lines.append(f"| {module} | {seconds:.1f} | {seconds / total:.0%} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", default=[], help="a suite to profile (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tests", action="store_true", help="profile the test run per module")
    parser.add_argument("--no-cache", action="store_true", help="compute every value (SCLOOP_CACHE=off)")
    arguments = parser.parse_args()
    lines = []
    for name in arguments.suite:
        lines += profile_suite(name, arguments.workers, cache=not arguments.no_cache)
    if arguments.tests:
        lines += profile_tests()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
