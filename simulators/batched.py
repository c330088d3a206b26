r"""All replicates of a KDE loop through one vectorised loop over generations.

:func:`selfloop.simulators.run_loop` sends a KDE in d <= 2 here. Replicate k keeps its own random
stream (spawned from the seed) and draws exactly what it would draw alone, in the same order,
so its training sets are bit-for-bit those of a one-at-a-time run. What is shared is the work
on the grid: at each generation the replicates of a chunk are

- binned onto one grid (a window of the lattice :math:`\Delta\mathbb Z^d`, so every node sits
  where it would sit on the replicate's own grid) in one ``bincount``;
- smoothed by one batched real FFT (:func:`selfloop.simulators.grid.gaussian_smooth`);
- compared with the truth, evaluated once on that grid, by one batched kink-corrected
  quadrature (:meth:`selfloop.simulators.grid.Grid.integrate_abs`).

A replicate's TV therefore differs from its one-at-a-time value only by floating-point rounding
(FFT lengths differ with the window), which tests/test_loop.py checks. Chunks of replicates are
sized from the memory budget, so memory stays bounded whatever the replicate count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import Box, Grid, tail_quantile
from .kde import FittedKDE, kde_grid_densities
from .metrics import GRID_MASS, tv_on_grid
from .scenario import Scenario

__all__ = ["BatchedKDELoop", "replicates_per_chunk"]

#: Bytes per grid node and replicate held at once: masses, the padded complex spectrum, densities and differences.
_BYTES_PER_NODE = 8 * 12


def replicates_per_chunk(nodes: int, points: int, dim: int, budget_bytes: float, replicates: int) -> int:
    """How many replicates fit in ``budget_bytes`` at once, given grid nodes and training points per replicate."""
    per_replicate = _BYTES_PER_NODE * nodes + 8 * 6 * points * dim
    return int(max(1, min(replicates, budget_bytes // per_replicate)))


@dataclass
class _Measured:
    """Per-chunk outputs, (chunk, generations + 1) each."""

    tv: np.ndarray
    one_step: np.ndarray
    sampling_error: np.ndarray
    probes: np.ndarray | None


class BatchedKDELoop:
    """The loop of :func:`selfloop.simulators.run_loop` for a :class:`selfloop.simulators.KDE` in d <= 2, replicates batched.

    Parameters
    ----------
    truth : GaussianMixture
    model : KDE
    scenario : Scenario
    generations : int
    one_step, sampling_error : bool
        Also measure Lemma R's :math:`\\varepsilon_i` and Theorem K's :math:`S_i` (on the same grid).
    probes : ndarray (n, d) or None
        Points at which every replicate's density is recorded (exact kernel sums).
    """

    def __init__(
        self, truth, model, scenario: Scenario, generations: int, *, one_step: bool, sampling_error: bool, probes
    ) -> None:
        self.truth, self.model, self.scenario, self.generations = truth, model, scenario, generations
        self.one_step, self.sampling_error, self.probes = one_step, sampling_error, probes
        self._truth_on: dict[tuple, np.ndarray] = {}
        self.last_models: list[FittedKDE] = []

    # ------------------------------------------------------------ sampling (per replicate stream)
    def _initial(self, rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray | None]:
        scenario, truth = self.scenario, self.truth
        if scenario.reuse_real:
            pool = np.stack([truth.sample(max(scenario.initial, scenario.real), rng) for rng in rngs])
            return pool[:, : scenario.initial], pool
        return np.stack([truth.sample(scenario.initial, rng) for rng in rngs]), None

    def _next(self, rngs, data: np.ndarray, bandwidths: np.ndarray, pool: np.ndarray | None) -> np.ndarray:
        """Generation i's training sets: each replicate's real then synthetic draws, exactly as alone."""
        scenario, truth = self.scenario, self.truth
        sets = []
        for k, rng in enumerate(rngs):
            parts = []
            if scenario.real:
                parts.append(pool[k, : scenario.real] if pool is not None else truth.sample(scenario.real, rng))
            if scenario.synthetic:
                parts.append(FittedKDE(data[k], bandwidths[k]).sample(scenario.synthetic, rng))
            sets.append(np.concatenate(parts) if len(parts) > 1 else parts[0])
        new = np.stack(sets)
        return np.concatenate([data, new], axis=1) if scenario.accumulate else new

    # ------------------------------------------------------------ the grid work
    def _truth_values(self, grid: Grid, smoothing: float = 0.0) -> np.ndarray:
        """The truth (smoothed by ``N(0, smoothing I)``) at the nodes, computed once per grid."""
        key = (smoothing, tuple(grid.lower), tuple(grid.spacing), grid.shape)
        if key not in self._truth_on:
            if len(self._truth_on) > 8:
                self._truth_on.clear()
            self._truth_on[key] = self.truth.smoothed(smoothing).grid_pdf(grid)
        return self._truth_on[key]

    def _kde_box(self, data: np.ndarray, bandwidths: np.ndarray) -> Box:
        """The union of the KDEs' :meth:`FittedKDE.bounding_box` over a batch (one shared reach, the widest)."""
        reach = tail_quantile(GRID_MASS / self.truth.dim) * float(np.max(bandwidths))
        return Box(data.min(axis=(0, 1)) - reach, data.max(axis=(0, 1)) + reach)

    def _by_spacing(self, spacings: np.ndarray, measure) -> np.ndarray:
        """Run ``measure(members, spacing)`` on each group of replicates whose grids share a step; collect the results."""
        out = np.zeros(spacings.shape[0])
        for spacing in np.unique(spacings):
            members = np.flatnonzero(spacings == spacing)
            out[members] = measure(members, float(spacing))
        return out

    def _measure(
        self, generation: int, data, bandwidths, previous, previous_bandwidths, tv, one_step, sampling
    ) -> None:
        """Generation i's TV, and its one-step and sampling errors, each on the grid the generic path would choose.

        That grid covers the densities involved to GRID_MASS at the finest step any of them asks for
        (:func:`selfloop.simulators.metrics.common_grid`), so a batch differs from one replicate alone only in
        the window of the lattice.
        """
        dim, truth = self.truth.dim, self.truth
        steps = np.array([FittedKDE.spacing_for(h, dim) for h in bandwidths])

        def distance_to_truth(members, spacing):
            grid = Grid.covering(
                Box.union([truth.bounding_box(GRID_MASS), self._kde_box(data[members], bandwidths[members])]), spacing
            )
            return tv_on_grid(
                grid, kde_grid_densities(data[members], bandwidths[members], grid), self._truth_values(grid)
            )

        tv[:, generation] = self._by_spacing(np.minimum(truth.grid_spacing, steps), distance_to_truth)
        if generation == 0:
            one_step[:, 0] = tv[:, 0]
        real_fraction = 1.0 if generation == 0 else self.scenario.real_fraction
        if self.one_step and generation:
            before_steps = np.array([FittedKDE.spacing_for(h, dim) for h in previous_bandwidths])

            def one_step_error(members, spacing):
                boxes = [
                    truth.bounding_box(GRID_MASS),
                    self._kde_box(previous[members], previous_bandwidths[members]),
                    self._kde_box(data[members], bandwidths[members]),
                ]
                grid = Grid.covering(Box.union(boxes), spacing)
                before = kde_grid_densities(previous[members], previous_bandwidths[members], grid)
                target = real_fraction * self._truth_values(grid) + (1 - real_fraction) * before
                return tv_on_grid(grid, kde_grid_densities(data[members], bandwidths[members], grid), target)

            one_step[:, generation] = self._by_spacing(
                np.minimum(truth.grid_spacing, np.minimum(steps, before_steps)), one_step_error
            )
        if self.sampling_error:
            # S_i = TV(p_i, K_h * q_i): the truth and the previous KDE, each smoothed by the current kernel
            smoothed_steps = np.array([truth.smoothed(h**2).grid_spacing for h in bandwidths])
            widened = None if previous is None else np.sqrt(previous_bandwidths**2 + bandwidths**2)
            spacings = np.minimum(smoothed_steps, steps)
            if widened is not None:
                spacings = np.minimum(spacings, [FittedKDE.spacing_for(h, dim) for h in widened])

            def sampling_error(members, spacing):
                h = bandwidths[members]
                boxes = [truth.smoothed(float(np.max(h)) ** 2).bounding_box(GRID_MASS), self._kde_box(data[members], h)]
                if widened is not None:
                    boxes.append(self._kde_box(previous[members], widened[members]))
                grid = Grid.covering(Box.union(boxes), spacing)
                target = np.stack([self._truth_values(grid, float(b) ** 2) for b in h])
                if widened is not None:
                    target = real_fraction * target + (1 - real_fraction) * kde_grid_densities(
                        previous[members], widened[members], grid
                    )
                return tv_on_grid(grid, kde_grid_densities(data[members], h, grid), target)

            sampling[:, generation] = self._by_spacing(spacings, sampling_error)

    def run(self, streams: list[np.random.SeedSequence]) -> _Measured:
        """Run the loop for the replicates whose seed sequences are ``streams`` (one chunk)."""
        rngs = [np.random.default_rng(stream.spawn(2)[0]) for stream in streams]
        chunk, width = len(streams), self.generations + 1
        tv = np.zeros((chunk, width))
        one_step = np.zeros((chunk, width))
        sampling = np.zeros((chunk, width))
        probed = None if self.probes is None else np.zeros((chunk, width, self.probes.shape[0]))
        data, pool = self._initial(rngs)
        previous = previous_bandwidths = None
        self.last_models = []
        for generation in range(width):
            if generation:
                data = self._next(rngs, previous, previous_bandwidths, pool)
            # fit through the model, so a subclass or a patched fit is honoured; its points and bandwidth are what is batched
            fits = [self.model.fit(d, rng) for d, rng in zip(data, rngs)]
            data = np.stack([fit.data for fit in fits])
            bandwidths = np.array([fit.bandwidth for fit in fits])
            self.last_models.append(fits[-1])
            if probed is not None:
                probed[:, generation] = [FittedKDE(d, h).pdf(self.probes) for d, h in zip(data, bandwidths)]
            self._measure(generation, data, bandwidths, previous, previous_bandwidths, tv, one_step, sampling)
            previous, previous_bandwidths = data, bandwidths
        return _Measured(tv, one_step, sampling, probed)
