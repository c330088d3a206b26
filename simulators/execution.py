"""How a loop runs, as opposed to what it computes: :class:`Execution` (nothing here changes a number), the memory
budget and the size of the chunks of replicates run together."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .protocol import GridDensity, Model, Truth, replicate_hooks
from .scenario import Scenario
from .validation import check_positive, check_size

__all__ = ["CHUNK_BYTES", "UNSHARED_CHUNK", "Execution", "chunk_size", "estimated_bytes", "memory_budget"]


@dataclass(frozen=True)
class Execution:
    """How :func:`selfloop.simulators.run_loop` runs: none of these changes a number it returns.

    Parameters
    ----------
    memory_budget_bytes : float, optional
        Refuse, before allocating anything, a loop whose data arrays alone would exceed this (default
        :func:`memory_budget`: ``SCLOOP_MEMORY_BUDGET`` GiB, or half the RAM).
    chunk_replicates : int, optional
        Replicates run together, a generation at a time, in chunks of this many (default: as many as half the memory
        budget holds, at most :data:`CHUNK_BYTES` of working set, and at most :data:`UNSHARED_CHUNK` unless the
        replicates share a measurement grid). Results do not depend on it beyond floating-point rounding; 1 runs the
        replicates one at a time.
    measure_tv : bool
        Measure TV (the default). ``False`` skips it, for loops that only need other measures, the parameters or the
        models (``LoopResult.tv`` is then None); no other number changes.
    """

    memory_budget_bytes: float | None = None
    chunk_replicates: int | None = None
    measure_tv: bool = True

    def __post_init__(self) -> None:
        if self.memory_budget_bytes is not None:
            object.__setattr__(
                self, "memory_budget_bytes", check_positive("memory_budget_bytes", self.memory_budget_bytes)
            )
        if self.chunk_replicates is not None:
            object.__setattr__(self, "chunk_replicates", check_size("chunk_replicates", self.chunk_replicates))
        if not isinstance(self.measure_tv, bool):
            raise ValueError(f"measure_tv must be True or False, got {self.measure_tv!r}")

    def budget(self) -> float:
        """The memory budget in bytes."""
        return memory_budget() if self.memory_budget_bytes is None else self.memory_budget_bytes


def memory_budget() -> float:
    """The default memory budget of a loop in bytes: ``SCLOOP_MEMORY_BUDGET`` (GiB) if set, else half the machine's RAM."""
    configured = os.environ.get("SCLOOP_MEMORY_BUDGET")
    if configured:
        return check_positive("SCLOOP_MEMORY_BUDGET", configured) * 2**30
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return 8 * 2**30


def estimated_bytes(truth: Truth, scenario: Scenario, generations: int) -> float:
    """A lower estimate of one replicate's peak memory: the training set, the new points and the fit's copy, in float64."""
    largest = float(scenario.pool_sizes(generations).max()) + max(scenario.initial, scenario.real) * scenario.reuse_real
    return 4.0 * 8.0 * truth.dim * largest


#: Largest working set of one chunk of replicates (bytes); beyond it batching gains nothing but cache misses.
CHUNK_BYTES = 256 * 2**20
#: Most replicates in one chunk for a model whose replicates are measured each on its own grid.
UNSHARED_CHUNK = 32
#: Bytes per grid node and replicate held at once: masses, the padded complex spectrum, densities and differences.
_BYTES_PER_NODE = 8 * 12


def replicate_bytes(truth: Truth, model: Model, scenario: Scenario, generations: int) -> int:
    """A replicate's working set while its chunk runs: its training sets and, for a model whose replicates share a
    measurement grid (``shared_grid``), that grid.

    The grid is estimated from the truth's box doubled, at the step that the truth and a generation-0 fit (on a
    sample drawn apart from every replicate's streams) ask for; it holds ``_BYTES_PER_NODE`` a node.
    """
    points = int(scenario.pool_sizes(generations).max()) + max(scenario.initial, scenario.real)
    nodes = 0
    if truth.dim <= 2 and isinstance(truth, GridDensity) and replicate_hooks(model).shared_grid:
        probe = model.fit(truth.sample(scenario.initial, np.random.default_rng(0)), np.random.default_rng(0))
        spacing = min(truth.grid_spacing, probe.grid_spacing) if isinstance(probe, GridDensity) else truth.grid_spacing
        box = truth.bounding_box()
        nodes = int(np.prod(2 * (box.upper - box.lower) / spacing + 1))
    return _BYTES_PER_NODE * nodes + 8 * 6 * points * truth.dim


def chunk_size(truth: Truth, model: Model, scenario: Scenario, generations: int, budget: float, replicates: int) -> int:
    """Replicates per chunk: as many as half the memory budget, capped at :data:`CHUNK_BYTES` (cache locality), holds;
    at most :data:`UNSHARED_CHUNK` where the replicates may be measured each on its own grid (a truth with a grid, a
    model whose replicates do not share one: their grids are held at once, and a larger chunk gains nothing)."""
    if replicates == 1:
        return 1
    per_replicate = replicate_bytes(truth, model, scenario, generations)
    chunk = int(max(1, min(replicates, min(budget / 2, CHUNK_BYTES) // per_replicate)))
    own_grids = isinstance(truth, GridDensity) and not replicate_hooks(model).shared_grid
    return min(chunk, UNSHARED_CHUNK) if own_grids else chunk
