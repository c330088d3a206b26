"""The ``scloop`` command line (also ``selfloop`` and ``python -m selfloop.reports``).

::

    scloop report [--suite quick|standard|extended|full] [--out DIR] [--seed N] [--workers N] [--from DIR/results.json]
                  [--scheduler tcp://HOST:PORT | --dask local]
    scloop check --baseline PATH [--workers N] [--statistical] [--scheduler ... | --dask local]
    scloop baseline [--suite quick] --out PATH [--force] [--scheduler ... | --dask local]

Bad input (unknown suite, unwritable output, missing or corrupt JSON) gets a
one-line error on stderr and exit code 2, never a traceback. ``check`` exits
1 and prints a markdown diff when the results moved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from selfloop.simulators.atomic import write_atomic
from selfloop.simulators.persistent import CACHE_VARIABLE, cache_folder

from .assemble import assemble, package_version
from .check import compare
from .legacy import upgrade
from .plugins import load_plugins
from .render import render, write_results
from .suites import get_suite, suite_names
from .sweep import run_suite

__all__ = ["main", "renamed_main"]


class UsageError(Exception):
    """Bad input: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    suites = ", ".join(suite_names())
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(
        prog="scloop",
        description="Tightness reports and CI regression for the self-consuming-loop TV bounds.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"scloop (selfloop) {package_version()}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="{report,check,baseline}"
    )
    report = commands.add_parser(
        "report", help="run a suite and write tightness.md, results.json and figures", formatter_class=formatter
    )
    report.add_argument("--suite", default="quick", help=f"the suite to run ({suites}, or a .toml suite file)")
    report.add_argument(
        "--out",
        default="out",
        help="output folder (finished cells are cached in the persistent cache, or OUT/.cells with --no-cache; a rerun "
        "resumes)",
    )
    report.add_argument("--seed", type=int, default=0, help="suite seed (every cell's seed derives from it)")
    report.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    report.add_argument(
        "--from",
        dest="source",
        default=None,
        help="rebuild the report from an existing results.json or the folder holding it",
    )
    check = commands.add_parser(
        "check", help="rerun the baseline's suite and compare cell by cell", formatter_class=formatter
    )
    check.add_argument("--baseline", required=True, help="a results.json written by scloop baseline")
    check.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    check.add_argument(
        "--statistical",
        action="store_true",
        help="compare mean TVs within 4 combined standard errors (for a baseline made with other seeds or on another platform); "
        "default: every number must reproduce to 1e-9 relative",
    )
    baseline = commands.add_parser(
        "baseline", help="run a suite and write its results as a baseline", formatter_class=formatter
    )
    baseline.add_argument("--suite", default="quick", help=f"the suite to run ({suites})")
    baseline.add_argument("--out", required=True, help="where to write the baseline JSON")
    baseline.add_argument("--seed", type=int, default=0, help="suite seed")
    baseline.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    baseline.add_argument("--force", action="store_true", help="overwrite an existing baseline")
    for command in (report, check, baseline):
        _add_cluster_options(command)
        command.add_argument(
            "--no-cache",
            action="store_true",
            help=f"compute everything: no persistent cache (default: ${CACHE_VARIABLE}, else the user cache directory)",
        )
    return parser


def _add_cluster_options(command: argparse.ArgumentParser) -> None:
    cluster = command.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        default=None,
        help="run the cells on the Dask scheduler at this address, e.g. tcp://HOST:8786 (extra [dask])",
    )
    cluster.add_argument(
        "--dask",
        choices=["local"],
        default=None,
        help="run the cells on a Dask LocalCluster of --workers processes (extra [dask])",
    )


def _scheduler(arguments) -> str | None:
    return arguments.scheduler or arguments.dask


def _check_suite(name: str) -> None:
    """A suite that exists and whose every cell is well formed and its model buildable (:func:`get_suite`), before
    anything runs: else a one-line usage error naming the suite and the cell."""
    if not name.endswith(".toml") and name not in suite_names():
        raise UsageError(f"unknown suite {name!r}; choose one of {', '.join(suite_names())}, or a .toml suite file")
    try:
        get_suite(name)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")


def _writable_directory(path: Path) -> Path:
    """Create ``path`` if needed and prove it writable by writing and removing a file there, before any computation.

    ``os.access`` is not enough: root passes it on /proc and /sys, where every write then fails.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create output directory {path}: {error.strerror or error}") from None
    try:
        handle, probe = tempfile.mkstemp(dir=path, prefix=".scloop-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"output directory {path} is not writable: {error.strerror or error}") from None
    return path


def _load_results(path: Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not valid JSON (line {error.lineno}: {error.msg})") from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("cells"), list)
        or "suite" not in document
        or "seed" not in document
    ):
        raise UsageError(f"{path} is not a scloop results file (needs 'suite', 'seed' and 'cells')")
    return upgrade(document)


def _cells_folder(fallback: Path) -> Path:
    """Where finished cells are kept: the persistent cache's ``cells`` folder, or ``fallback`` when it is off."""
    folder = cache_folder()
    return fallback if folder is None else folder / "cells"


def _run(suite: str, seed: int, workers: int | None, cache: Path, scheduler: str | None) -> dict:
    try:
        cells, stats = run_suite(get_suite(suite), seed, cache, workers, scheduler=scheduler)
    except (ValueError, OSError) as error:
        if scheduler is None:
            raise
        raise UsageError(f"cannot run on the Dask scheduler {scheduler!r}: {error}") from None
    print(
        f"suite {suite}: {stats.computed} cells computed, {stats.skipped} reused from {stats.cache}, {stats.seconds:.1f}s",
        file=sys.stderr,
    )
    document = assemble(cells, suite=suite, seed=seed)
    document["cells_from_cache"] = stats.skipped
    return document


def _report(arguments) -> int:
    out = _writable_directory(Path(arguments.out))
    _check_workers(arguments.workers)
    if arguments.source:
        document = _load_results(Path(arguments.source))
    else:
        _check_suite(arguments.suite)
        cells = _cells_folder(out / ".cells")
        document = _run(arguments.suite, arguments.seed, arguments.workers, cells, _scheduler(arguments))
    try:
        write_results(document, out / "results.json")
        path = render(document, out, arguments.workers or os.cpu_count() or 1)  # figures drawn in parallel too
    except OSError as error:
        raise UsageError(f"cannot write the report into {out}: {error.strerror or error}") from None
    print(f"wrote {path}, {out / 'results.json'} and figures", file=sys.stderr)
    return 0


def _baseline(arguments) -> int:
    _check_suite(arguments.suite)
    _check_workers(arguments.workers)
    target = Path(arguments.out)
    if target.exists() and not arguments.force:
        raise UsageError(f"{target} exists; pass --force to overwrite the baseline")
    _writable_directory(target.parent if str(target.parent) else Path("."))
    with tempfile.TemporaryDirectory() as cache:
        cells = _cells_folder(Path(cache))
        document = _run(arguments.suite, arguments.seed, arguments.workers, cells, _scheduler(arguments))
    try:
        write_atomic(target, json.dumps(document, indent=1))
    except OSError as error:
        raise UsageError(f"cannot write the baseline {target}: {error.strerror or error}") from None
    print(f"wrote baseline {target}", file=sys.stderr)
    return 0


def _check(arguments) -> int:
    _check_workers(arguments.workers)
    baseline = _load_results(Path(arguments.baseline))
    _check_suite(baseline["suite"])
    with tempfile.TemporaryDirectory() as cache:
        cells = _cells_folder(Path(cache))
        document = _run(baseline["suite"], baseline["seed"], arguments.workers, cells, _scheduler(arguments))
    result = compare(document, baseline, statistical=arguments.statistical)
    print(result.markdown())
    return 0 if result.passed else 1


def renamed_main(argv: list[str] | None = None) -> int:
    """Entry point of the ``selfloop`` command, the old name of ``scloop``: warns, then runs it (for one release)."""
    print("selfloop: this command is now called scloop; the old name goes in the next release", file=sys.stderr)
    return main(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``scloop``; returns the exit code."""
    try:
        load_plugins()  # before the parser, so plugin suites are valid choices
    except RuntimeError as error:
        print(f"scloop: error: {error}", file=sys.stderr)
        return 2
    parser = _parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help(sys.stderr)
        return 2
    try:
        arguments = parser.parse_args(argv)
        command = {"report": _report, "check": _check, "baseline": _baseline}[arguments.command]
        if not arguments.no_cache:
            return command(arguments)
        before = os.environ.get(CACHE_VARIABLE)
        os.environ[CACHE_VARIABLE] = "off"  # for the command alone; the worker processes inherit it
        try:
            return command(arguments)
        finally:
            if before is None:
                del os.environ[CACHE_VARIABLE]
            else:
                os.environ[CACHE_VARIABLE] = before
    except UsageError as error:
        print(f"scloop: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scloop: interrupted; finished cells are saved and a rerun resumes from them", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
