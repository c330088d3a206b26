"""Running a suite's cells: in parallel (a local process pool or a Dask cluster), with progress, resumable.

Each finished cell is written atomically to ``CACHE/seed<seed>-<code>/<key>.json`` as soon as it
completes; a rerun with the same cache skips it. Results depend only on the cell specification,
the suite seed (:func:`selfloop.reports.suites.cell_seed`) and the code, so the cache is keyed by all three:
``<code>`` is :func:`code_fingerprint`, a hash of every source file of the packages that compute a
cell, and a change to any of them (or another seed) starts a fresh cache entry instead of reusing
stale numbers.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import os
import signal
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from selfloop.simulators import run_loop, standard_truth
from selfloop.simulators.measures import PARAMETER

from .atomic import write_atomic
from .cells import CellSpec, cell_key, cell_seed
from .claims import CLAIMS, Cell
from .models import build_model
from .plugins import load_plugins
from .records import CellResult

__all__ = [
    "SweepStats",
    "code_fingerprint",
    "run_cell",
    "run_suite",
]

#: The packages whose source decides a cell's numbers.
COMPUTING_PACKAGES = ("selfloop.bounds", "selfloop.simulators", "selfloop.reports", "selfloop.testing")


def _package_folders() -> dict[str, Path]:
    """Where each computing package's source lives (the repository folders, or site-packages when installed)."""
    return {name: Path(importlib.import_module(name).__file__).resolve().parent for name in COMPUTING_PACKAGES}


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 (12 hex digits) of every ``.py`` file of the packages that compute a cell, by package, relative path and content."""
    digest = hashlib.sha256()
    for name, folder in sorted(_package_folders().items()):
        for path in sorted(folder.rglob("*.py")):
            digest.update(f"{name}/{path.relative_to(folder)}".encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def run_cell(spec: dict, suite_seed: int) -> CellResult:
    """Run one cell: its replicate TV trajectories, every loop measure that the claims applying to it ask for, and the
    values of those claims that need nothing but the cell (the verdicts, and the claims that need the whole suite, are
    made when the suite is assembled: :func:`selfloop.reports.assemble.assemble`)."""
    load_plugins()  # a worker process (pool or Dask) sees the same plugin registrations as the CLI
    start = time.perf_counter()
    typed = CellSpec.from_dict(spec)
    claims = [claim for claim in CLAIMS.values() if claim.applies(typed)]
    measures = list(dict.fromkeys(name for claim in claims for name in claim.measures(typed)))
    truth = standard_truth(typed.truth)
    result = run_loop(
        truth,
        build_model(typed.model),
        typed.scenario,
        typed.generations,
        seed=cell_seed(suite_seed, typed.key),
        replicates=typed.replicates,
        tv_samples=typed.model.get("tv_samples", 100_000),
        measures=measures,
    )
    cell = Cell(typed, result.tv, result.real_fraction, result.training_size, result.measured)
    cell.truth = truth
    values = {}
    for claim in claims:
        if not claim.needs_suite:
            evaluated = claim.evaluate(cell)
            if evaluated:
                values[claim.id] = {name: np.asarray(v, dtype=float) for name, v in evaluated.items()}
    return CellResult(
        typed,
        result.tv,
        result.real_fraction,
        result.training_size,
        {name: v for name, v in result.measured.items() if not name.startswith(PARAMETER)},
        values,
        time.perf_counter() - start,
    )


def _start_worker(blas_threads: int) -> None:
    """A pool worker ignores SIGINT (the parent handles Ctrl-C) and runs BLAS on its share of the cores.

    Each worker's BLAS would otherwise start a thread per core: with as many workers as cores the
    threads oversubscribe the machine, and the small matrix products of a cell spend their time
    waiting for each other (the quick suite took 61 s instead of 21 s on 2 cores). Results are
    unchanged but for rounding (1e-14 relative, within what ``scloop check`` calls exact).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(limits=blas_threads)


def _run_cell_star(arguments: tuple[dict, int]) -> CellResult:
    return run_cell(*arguments)


@dataclass
class SweepStats:
    """What a sweep did: cells computed, cells taken from the cache, wall time, and the cache folder used."""

    computed: int
    skipped: int
    seconds: float
    cache: Path | None = None


def _load_cached(path: Path) -> CellResult | None:
    try:
        return CellResult.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        path.unlink(missing_ok=True)  # a damaged entry (or one of another shape) is recomputed
        return None


def _pool_results(pending: list[dict], suite_seed: int, workers: int) -> Iterator[CellResult]:
    """Cell results from a local process pool, as they finish."""
    if workers == 1 or len(pending) <= 1:
        for spec in pending:
            yield run_cell(spec, suite_seed)
        return
    # workers ignore SIGINT, so Ctrl-C reaches only this process, which terminates them at once;
    # every finished cell is already in the cache and a rerun resumes from it
    processes = min(workers, len(pending))
    blas_threads = max(1, (os.cpu_count() or 1) // processes)
    pool = multiprocessing.get_context("fork").Pool(
        processes=processes, initializer=_start_worker, initargs=(blas_threads,)
    )
    try:
        outcomes = pool.imap_unordered(_run_cell_star, [(spec, suite_seed) for spec in pending])
        for _ in pending:
            while True:  # a blocking next() would not see Ctrl-C until a cell finished: poll
                try:
                    result = outcomes.next(timeout=0.2)
                    break
                except multiprocessing.TimeoutError:
                    continue
            yield result
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def _dask_results(pending: list[dict], suite_seed: int, scheduler: str, workers: int) -> Iterator[CellResult]:
    """Cell results from a Dask distributed cluster, as they finish.

    ``scheduler`` is a scheduler address (``tcp://HOST:PORT``) or ``"local"`` for a LocalCluster of
    ``workers`` single-threaded worker processes on this machine. The cells run the same
    :func:`run_cell` with the same seeds as the process pool, so the results are identical.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ValueError("scheduler: running on Dask needs the [dask] extra (pip install -e '.[dask]')") from None
    cluster = (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        if scheduler == "local"
        else None
    )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = [client.submit(run_cell, spec, suite_seed, pure=False) for spec in pending]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_suite(
    cells: list[dict], suite_seed: int, cache: Path, workers: int | None = None, *, scheduler: str | None = None
) -> tuple[list[CellResult], SweepStats]:
    """Run every cell not already in the cache; return all cell results in suite order and counts.

    Parameters
    ----------
    cells : list of dict
        Cell specifications (:mod:`selfloop.reports.suites`).
    suite_seed : int
    cache : Path
        Folder of finished cells; they are kept under ``cache/seed<seed>-<code fingerprint>/``.
    workers : int, optional
        Local worker processes (default: all cores); with ``scheduler="local"``, the LocalCluster's workers.
    scheduler : str, optional
        Run the cells on Dask: ``"local"`` or a scheduler address ``tcp://HOST:PORT`` (extra ``[dask]``).
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    folder = Path(cache) / f"seed{suite_seed}-{code_fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    keys = [cell_key(spec) for spec in cells]
    unique = dict(zip(keys, cells))  # identical cells run once
    results: dict[str, CellResult] = {}
    for key in unique:
        cached = _load_cached(folder / f"{key}.json")
        if cached is not None:
            results[key] = cached
    pending = [spec for key, spec in unique.items() if key not in results]
    started = time.perf_counter()
    skipped = len(unique) - len(pending)
    outcomes = (
        _pool_results(pending, suite_seed, workers)
        if scheduler is None
        else _dask_results(pending, suite_seed, scheduler, workers)
    )
    # closing(): a Ctrl-C that lands here, while the generator waits at its yield, closes it at once, so the pool is
    # terminated now rather than joined (every running cell finished first) when the generator is collected
    with (
        closing(outcomes),
        tqdm(
            total=len(unique),
            initial=skipped,
            unit="cell",
            desc="cells",
            disable=not sys.stderr.isatty(),
            dynamic_ncols=True,
        ) as progress,
    ):
        progress.set_postfix_str(f"{skipped} from cache")
        for result in outcomes:
            write_atomic(folder / f"{result.key}.json", json.dumps(result.to_dict()))
            results[result.key] = result
            progress.update(1)
    stats = SweepStats(computed=len(pending), skipped=skipped, seconds=time.perf_counter() - started, cache=folder)
    return [results[key] for key in keys], stats
