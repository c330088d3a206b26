"""Running a suite's cells: in parallel (a local process pool or a Dask cluster), longest first, with progress,
resumable.

Each finished cell is written atomically to ``CACHE/seed<seed>-<code>-<libraries>/<key>.json`` as soon as it
completes (``CACHE``: the persistent cache's ``cells`` folder, :mod:`selfloop.simulators.persistent`, or the folder the
caller names); a rerun with the same cache skips it. Results depend only on the cell specification, the suite seed
(:func:`selfloop.reports.cells.cell_seed`), the code and the numeric libraries, so the cache is keyed by all of them:
``<code>`` is :func:`selfloop.reports.fingerprint.code_fingerprint`, a hash of every source file of the packages that
compute a cell, and ``<libraries>`` a hash of numpy's and scipy's versions; a change to any of them (or another seed)
starts a fresh cache entry instead of reusing stale numbers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from selfloop.simulators import TotalVariation, run_loop, standard_truth
from selfloop.simulators.atomic import write_atomic
from selfloop.simulators.measures import PARAMETER

from .cells import CellSpec, cell_key, cell_seed
from .claims import CLAIMS, Cell, record_claims
from .fingerprint import code_fingerprint, library_fingerprint
from .models import build_model
from .plugins import load_plugins
from .records import CellResult

__all__ = [
    "SweepStats",
    "estimated_cost",
    "run_cell",
    "run_suite",
]


def run_cell(spec: dict, suite_seed: int) -> CellResult:
    """Run one cell: its replicate TV trajectories, every loop measure that the claims applying to it ask for, and the
    records (values and verdicts) of those claims that need nothing but the cell; the claims that need the whole suite
    are evaluated when it is assembled (:func:`selfloop.reports.assemble.assemble`)."""
    load_plugins()  # a worker process (pool or Dask) sees the same plugin registrations as the CLI
    start = time.perf_counter()
    typed = CellSpec.from_dict(spec)
    claims = [claim for claim in CLAIMS.values() if claim.decided_in(typed)]
    # a model known only by its samples offers nothing but the witness to measure
    asked = [n for claim in claims for n in claim.measures(typed)] + list(typed.measures)
    measures = [] if typed.sample_only else list(dict.fromkeys(asked))
    truth = standard_truth(typed.truth)
    result = run_loop(
        truth,
        build_model(typed.model),
        typed.scenario,
        typed.generations,
        seed=cell_seed(suite_seed, typed.key),
        replicates=typed.replicates,
        measures=[TotalVariation(samples=typed.model.get("tv_samples", 100_000)), *measures],
    )
    measured = dict(result.measured)
    if result.collapsed:  # the replicates whose fits collapsed, and when (the report counts them)
        measured["collapsed_at"] = result.collapsed_at.astype(float)
    cell = Cell(typed, result.tv, result.real_fraction, result.training_size, measured)
    cell.truth = truth
    records = record_claims(cell, claims)  # here, in parallel; the claims that need the suite wait for it
    return CellResult(
        typed,
        result.tv,
        result.real_fraction,
        result.training_size,
        {
            name: v
            for name, v in measured.items()
            if not name.startswith(PARAMETER) and name not in TotalVariation.fields
        },
        records,
        time.perf_counter() - start,
    )


def estimated_cost(spec: dict) -> float:
    """A rough relative estimate of a cell's cost, so that a sweep starts the longest cells first (longest processing time
    first: the last cell to finish is then a short one). The order changes no number: every cell has its own seed.

    Per fit: a diffusion model's sampler and certificate grow with steps x width (and a 2-D quadrature's nodes), and
    after generation 0 its certificate against the training distribution costs about four times more; a KDE's binning
    grows with its training size; every fit adds its share of the verdicts' power bootstrap.
    """
    typed = CellSpec.from_dict(spec)
    replicates, generations = typed.replicates, typed.generations
    dim, model = standard_truth(typed.truth).dim, typed.model
    if model["name"] == "diffusion":
        per_fit = 6e-6 * model.get("steps", 100) * model.get("width", 100) * (40.0 if dim == 2 else 1.0)
        return replicates * per_fit * (1 + 5 * generations)
    if model["name"] == "score_mlp":  # training, then a network evaluation per step at every density-grid node
        per_fit = 0.01 * model.get("steps", 100) * (10.0 if dim == 2 else 1.0)
        return replicates * (generations + 1) * per_fit
    if model["name"] == "kde":
        per_fit = 5e-8 * float(typed.scenario.training_sizes(generations).max()) * (10.0 if dim == 2 else 1.0)
    else:
        per_fit = 2e-4 * dim
    return replicates * (generations + 1) * (per_fit + 5e-4)


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


def _pool_results(pending: list[dict], suite_seed: int, workers: int) -> Generator[CellResult, None, None]:
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


def _dask_results(
    pending: list[dict], suite_seed: int, scheduler: str, workers: int
) -> Generator[CellResult, None, None]:
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
    folder = Path(cache) / f"seed{suite_seed}-{code_fingerprint()}-{library_fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    keys = [cell_key(spec) for spec in cells]
    unique = dict(zip(keys, cells))  # identical cells run once
    results: dict[str, CellResult] = {}
    for key in unique:
        cached = _load_cached(folder / f"{key}.json")
        if cached is not None:
            results[key] = cached
    pending = sorted(
        (spec for key, spec in unique.items() if key not in results), key=estimated_cost, reverse=True
    )  # the longest first: no number depends on the order
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
