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
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from selfloop.bounds import Registry
from selfloop.simulators import KDE, GaussianMLE, PowerRule, RandomFeatureDiffusion, Scenario, run_loop, standard_truth

from .measures import kde_predictors, kde_slack, mle_law_record
from .plugins import load_plugins
from .suites import cell_key, cell_seed
from .theorems import CellContext, bound_records

__all__ = [
    "MODELS",
    "ModelEntry",
    "SweepStats",
    "build_model",
    "build_scenario",
    "code_fingerprint",
    "describe_model_spec",
    "register_model",
    "run_cell",
    "run_suite",
    "write_atomic",
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


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` via a temporary file and ``os.replace`` (never a half-written file)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if isinstance(content, bytes) else "w") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _kde(spec: dict):
    return KDE(PowerRule(spec["power_rule"])) if "power_rule" in spec else KDE(spec["bandwidth"])


#: What a diffusion model spec leaves out means these (the model's own defaults, except 16 noise draws).
DIFFUSION_DEFAULTS = {"noise_draws": 16, "parameterization": "li", "sampler": "sde"}


def diffusion_spec(spec: dict) -> dict:
    """A diffusion model spec with :data:`DIFFUSION_DEFAULTS` filled in where it is silent."""
    return {**DIFFUSION_DEFAULTS, **spec}


def _diffusion(spec: dict):
    spec = diffusion_spec(spec)
    return RandomFeatureDiffusion(
        width=spec["width"],
        steps=spec["steps"],
        noise_draws=spec["noise_draws"],
        parameterization=spec["parameterization"],
        sampler=spec["sampler"],
    )


def _describe_diffusion(spec: dict) -> str:
    spec = diffusion_spec(spec)
    extras = [spec["parameterization"]] + ([spec["sampler"]] if spec["sampler"] != "sde" else [])
    return f"diffusion(m={spec['width']}, steps={spec['steps']}, {', '.join(extras)})"


def _generic_label(spec: dict) -> str:
    return spec["name"] + "(" + ", ".join(f"{key}={value}" for key, value in spec.items() if key != "name") + ")"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``factory(spec) -> model`` and ``describe(spec) -> label`` for reports."""

    factory: Callable[[dict], object]
    describe: Callable[[dict], str] = _generic_label


#: Models by name; extend with :func:`register_model`.
MODELS: Registry[ModelEntry] = Registry("model")
MODELS.register(
    "kde",
    ModelEntry(
        _kde,
        lambda spec: f"kde(h={spec['bandwidth']})" if "bandwidth" in spec else f"kde(h={spec['power_rule']}·N^-1/5)",
    ),
)
MODELS.register("mle", ModelEntry(lambda spec: GaussianMLE(), lambda spec: "gaussian_mle"))
MODELS.register("diffusion", ModelEntry(_diffusion, _describe_diffusion))


def register_model(
    name: str,
    factory: Callable[[dict], object],
    *,
    describe: Callable[[dict], str] | None = None,
    replace: bool = False,
) -> None:
    """Make ``{"name": name, ...}`` usable in suite cells; ``factory(spec)`` returns a model with ``fit(data, rng)``,
    and ``describe(spec)`` its label in reports (default ``name(key=value, ...)``).

    Register in a plugin (entry point ``scloop.plugins``) so the worker processes see it too. A name
    already taken (a built-in model included) raises ``ValueError`` unless ``replace=True``.
    """
    MODELS.register(name, ModelEntry(factory, describe or _generic_label), replace=replace)


def _model_entry(spec: dict) -> ModelEntry:
    try:
        return MODELS.get(spec["name"])
    except (KeyError, TypeError):
        raise ValueError(f"model spec must be a dict with a 'name', got {spec!r}") from None


def build_model(spec: dict):
    """A model from its specification ``{"name": ..., ...}`` (see :data:`MODELS`)."""
    return _model_entry(spec).factory(spec)


def describe_model_spec(spec: dict) -> str:
    """The label the model's registration gives it, e.g. ``kde(h=0.3)`` (an unregistered name gets the generic form)."""
    return (
        _model_entry(spec).describe(spec)
        if isinstance(spec, dict) and spec.get("name") in MODELS
        else _generic_label(spec)
    )


def build_scenario(spec: dict) -> Scenario:
    """A :class:`selfloop.simulators.Scenario` from its specification (:meth:`Scenario.from_dict`)."""
    return Scenario.from_dict(spec)


def run_cell(spec: dict, suite_seed: int) -> dict:
    """Run one cell: replicate TV trajectories, and the values of every registered theorem that applies and needs no
    calibration (their verdicts are made when the suite is assembled, :func:`selfloop.reports.verdicts.decide`)."""
    load_plugins()  # a worker process (pool or Dask) sees the same plugin registrations as the CLI
    key = cell_key(spec)
    start = time.perf_counter()
    truth, scenario = standard_truth(spec["truth"]), build_scenario(spec["scenario"])
    # Theorem K's parts are measured where they are defined: a fixed-bandwidth KDE, fresh real data, no accumulation
    decompose = (
        spec["model"]["name"] == "kde"
        and "bandwidth" in spec["model"]
        and not (scenario.accumulate or scenario.reuse_real)
        and truth.dim <= 2
    )
    # Lemma R's one-step error eps_i = TV(p_i, q_i), for the diffusion loops: it separates the learner's rate from the propagation
    one_step = spec["model"]["name"] == "diffusion" and spec["kind"] == "loop"
    # Theorem G's per-fit certificate and Li et al.'s score error, wherever they apply: the SDE sampler in d <= 2
    certify = (
        spec["model"]["name"] == "diffusion"
        and spec["kind"] in ("loop", "calibration", "rate")
        and diffusion_spec(spec["model"])["sampler"] == "sde"
        and truth.dim <= 2
    )
    result = run_loop(
        truth,
        build_model(spec["model"]),
        scenario,
        spec["generations"],
        seed=cell_seed(suite_seed, key),
        replicates=spec["replicates"],
        sampling_error=decompose,
        one_step=one_step,
        tv_samples=spec["model"].get("tv_samples", 100_000),
        certify=certify,
    )
    context = CellContext(spec, truth, scenario, spec["generations"])
    slack = (
        kde_slack(result.sampling_error, result.tv, truth, spec["model"]["bandwidth"], scenario, spec["generations"])
        if decompose
        else None
    )
    return {
        "key": key,
        "spec": spec,
        "tv": result.tv.tolist(),
        "real_fraction": result.real_fraction.tolist(),
        "training_size": result.training_size.tolist(),
        "checks": bound_records(context, calibrated=False),
        "predictors": kde_predictors(context),
        "slack": slack,
        "one_step": result.one_step.tolist() if one_step else None,
        "certificate": result.certificate.tolist() if certify else None,
        "certified_one_step": result.certified_one_step.tolist() if certify else None,
        "score_error": result.score_error.tolist() if certify else None,
        "mle_law": mle_law_record(result.parameters, context),
        "seconds": time.perf_counter() - start,
    }


def _start_worker(blas_threads: int) -> None:
    """A pool worker ignores SIGINT (the parent handles Ctrl-C) and runs BLAS on its share of the cores.

    Each worker's BLAS would otherwise start a thread per core: with as many workers as cores the
    threads oversubscribe the machine, and the small matrix products of a cell spend their time
    waiting for each other (the quick suite took 61 s instead of 21 s on 2 cores). Results are
    unchanged but for rounding (1e-14 relative, within what ``scloop check`` calls exact).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(limits=blas_threads)


def _run_cell_star(arguments: tuple[dict, int]) -> dict:
    return run_cell(*arguments)


@dataclass
class SweepStats:
    """What a sweep did: cells computed, cells taken from the cache, wall time, and the cache folder used."""

    computed: int
    skipped: int
    seconds: float
    cache: Path | None = None


def _load_cached(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:
        path.unlink()  # a damaged cache entry is recomputed
        return None


def _pool_results(pending: list[dict], suite_seed: int, workers: int) -> Iterator[dict]:
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


def _dask_results(pending: list[dict], suite_seed: int, scheduler: str, workers: int) -> Iterator[dict]:
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
) -> tuple[list[dict], SweepStats]:
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
    results: dict[str, dict] = {}
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
            write_atomic(folder / f"{result['key']}.json", json.dumps(result))
            results[result["key"]] = result
            progress.update(1)
    stats = SweepStats(computed=len(pending), skipped=skipped, seconds=time.perf_counter() - started, cache=folder)
    return [results[key] for key in keys], stats
