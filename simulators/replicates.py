r"""One chunk of replicate loops, run a generation at a time: the training data of every scenario, the fits, and
every measurement, in one place.

For each replicate, with its own random streams:

1. fit generation 0 on ``scenario.initial`` real points;
2. for i = 1..generations, draw ``scenario.real`` real points (fresh, or the first of a fixed pool) and
   ``scenario.synthetic`` points from generation i-1, and fit generation i on them (on everything so far when
   accumulating);
3. measure TV to the truth (:class:`selfloop.simulators.measurement.Measurement`), then hand the generation to every
   measure asked for (:mod:`selfloop.simulators.measures`).

A replicate whose fit degenerates (:class:`selfloop.simulators.DegenerateFit`) has collapsed: it stops at that
generation, which is recorded (``collapsed_at``), and its fields from there on are what each measure records for a
collapsed fit (TV exactly 1 for a fit singular to the truth); the other replicates go on.

Replicate k draws from its own generators in the order it would alone (its real data, its synthetic data, its
fit), so its numbers do not depend on the others. What the replicates share is the work: the model's replicate
hooks (:class:`selfloop.simulators.protocol.ReplicateBatching`) sample, prepare and evaluate their fits together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .degenerate import DegenerateFit
from .measurement import Measurement
from .measures import GenerationStep, LoopSpec, Measure, collapsed_values
from .protocol import Model, Truth, fit_all, replicate_hooks
from .scenario import Scenario

__all__ = ["ChunkResult", "TrainingData", "fit_or_collapse", "prepare_or_collapse", "run_chunk"]


class TrainingData:
    """The training sets of a chunk of replicates under one scenario, each replicate drawing from its own generator."""

    def __init__(self, truth: Truth, scenario: Scenario, rngs: Sequence[np.random.Generator]) -> None:
        self.truth, self.scenario, self.rngs = truth, scenario, list(rngs)
        self.pools = [
            truth.sample(max(scenario.initial, scenario.real), rng) if scenario.reuse_real else None for rng in rngs
        ]
        self.accumulated: list[np.ndarray | None] = [None] * len(self.rngs)  # accumulate-subsample: every point so far

    def initial(self) -> list[np.ndarray]:
        """Generation 0's sets: ``initial`` real points (the start of the pool when the real data are reused; a
        subsample of ``fit_size`` of them when the scenario subsamples its pool)."""
        sets = [
            pool[: self.scenario.initial] if pool is not None else self.truth.sample(self.scenario.initial, rng)
            for pool, rng in zip(self.pools, self.rngs)
        ]
        if self.scenario.fit_size is None:
            return sets
        self.accumulated = list[np.ndarray | None](sets)
        return [self._subsample(r) for r in range(len(sets))]

    def _subsample(self, replicate: int) -> np.ndarray:
        """``fit_size`` points of the replicate's pool, drawn without replacement by its generator (the whole pool,
        without a draw, when it has exactly that many)."""
        pool, size = self.accumulated[replicate], self.scenario.fit_size
        assert pool is not None and size is not None  # a subsampling scenario, after initial()
        if len(pool) == size:
            return pool
        return pool[np.sort(self.rngs[replicate].choice(len(pool), size, replace=False))]

    def following(
        self, data: Sequence[np.ndarray], fits: Sequence, sample_batch: Callable, replicates: Sequence[int]
    ) -> list[np.ndarray]:
        """Generation i's sets from generation i-1's ``data`` and ``fits`` of the chunk's ``replicates``: each one's
        real, then synthetic draws (``sample_batch(fits, n, rngs)``), appended to ``data`` when accumulating."""
        scenario, truth = self.scenario, self.truth
        pools, rngs = [self.pools[r] for r in replicates], [self.rngs[r] for r in replicates]
        real = [
            (pool[: scenario.real] if pool is not None else truth.sample(scenario.real, rng)) if scenario.real else None
            for pool, rng in zip(pools, rngs)
        ]
        synthetic = sample_batch(fits, scenario.synthetic, rngs) if scenario.synthetic else [None] * len(fits)
        sets = []
        for replicate, before, *parts in zip(replicates, data, real, synthetic):
            parts = [part for part in parts if part is not None]
            new = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if scenario.fit_size is not None:  # the pool grows; the fit sees a subsample of it
                self.accumulated[replicate] = np.concatenate([self.accumulated[replicate], new])
                sets.append(self._subsample(replicate))
            else:
                sets.append(np.concatenate([before, new]) if scenario.accumulate else new)
        return sets


@dataclass
class ChunkResult:
    """What one chunk measured: every measure's fields, (replicates, generations + 1, ...) each, the generation at
    which each replicate's fit collapsed (-1: never), and the fits of its last replicate."""

    measured: dict[str, np.ndarray] = field(default_factory=dict)
    models: list = field(default_factory=list)  # every generation's fit of the chunk's last replicate, until collapse
    collapsed_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def fit_or_collapse(
    model: Model, data: Sequence, rngs: Sequence[np.random.Generator], weights: np.ndarray | None = None
) -> tuple[list, dict[int, bool]]:
    """Every set's fit (with point ``weights`` when the scenario weighs its parts), together where the model can; a
    set whose fit degenerates (:class:`DegenerateFit`) gets None and its position in the returned
    ``{position: singular}``. After a failed batch each set is refitted alone from its generator's state before the
    batch, so a fit does not depend on whether another one collapsed."""
    states = [rng.bit_generator.state for rng in rngs]
    try:
        return fit_all(model, data, rngs, weights), {}
    except DegenerateFit:
        pass
    fits: list = []
    collapsed: dict[int, bool] = {}
    for position, (points, rng, state) in enumerate(zip(data, rngs, states)):
        rng.bit_generator.state = state
        try:
            fits.extend(fit_all(model, [points], [rng], weights))
        except DegenerateFit as error:
            fits.append(None)
            collapsed[position] = error.singular
    return fits, collapsed


def run_chunk(
    loop: LoopSpec,
    streams: Sequence[np.random.SeedSequence],
    measures: Sequence[Measure],
    *,
    samples: int,
) -> ChunkResult:
    """Run the replicates whose seed sequences are ``streams``, a generation at a time, all together, and hand every
    generation to each of ``measures`` in order (:mod:`selfloop.simulators.measures`); ``samples`` is the default draw
    count of the chunk's Monte Carlo distances (:class:`selfloop.simulators.measurement.Measurement`)."""
    truth, model, scenario = loop.truth, loop.model, loop.scenario
    count, width = len(streams), loop.generations + 1
    rngs, metric_rngs = [], []
    for stream in streams:
        loop_stream, metric_stream = stream.spawn(2)
        rngs.append(np.random.default_rng(loop_stream))
        metric_rngs.append(np.random.default_rng(metric_stream))
    hooks = replicate_hooks(model)
    measurement = Measurement(truth, hooks, samples)
    out = ChunkResult(collapsed_at=np.full(count, -1))
    singular = np.zeros(count, dtype=bool)
    memories: list[dict] = [{} for _ in measures]
    training = TrainingData(truth, scenario, rngs)
    alive = list(range(count))  # the replicates not collapsed
    data, fits = training.initial(), list[Any]()
    previous: list | None = None
    for generation in range(width):
        if generation:
            data = training.following(data, fits, hooks.sample_batch, alive)
            previous = fits
        weights = scenario.point_weights() if generation else None
        fits, collapsed = fit_or_collapse(model, data, [rngs[r] for r in alive], weights)
        while True:  # a fit may also degenerate when its density is first computed (measured): it collapses too
            if collapsed:  # these replicates stop here: recorded from this generation on, the others go on
                for position, is_singular in collapsed.items():
                    out.collapsed_at[alive[position]], singular[alive[position]] = generation, is_singular
                kept = [position for position in range(len(alive)) if position not in collapsed]
                alive, data, fits = [alive[p] for p in kept], [data[p] for p in kept], [fits[p] for p in kept]
                previous = [previous[p] for p in kept] if previous is not None else None
            if not alive:
                break
            states = [metric_rngs[r].bit_generator.state for r in alive]
            try:
                taken = _measure(
                    loop, generation, measures, memories, fits, previous, measurement, metric_rngs, streams, alive
                )
                break
            except DegenerateFit:
                collapsed = prepare_or_collapse(hooks, fits)
                if not collapsed:
                    raise
                for r, state in zip(alive, states):  # as if the measures had first run on the survivors alone
                    metric_rngs[r].bit_generator.state = state
        if not alive:
            break
        if alive[-1] == count - 1:
            out.models.append(fits[-1])
        for name, values in taken.items():
            if name not in out.measured:
                out.measured[name] = np.full((count, width, *values.shape[1:]), np.nan)
            out.measured[name][alive, generation] = values
    _record_collapse(out, measures, singular, width)
    return out


def _measure(
    loop, generation, measures, memories, fits, previous, measurement, metric_rngs, streams, alive
) -> dict[str, np.ndarray]:
    """Every measure's fields for one generation's fits, in order (each sees the fields taken before it)."""
    taken: dict[str, np.ndarray] = {}
    fraction = 1.0 if generation == 0 else loop.scenario.real_fraction
    for measure, memory in zip(measures, memories):
        step = GenerationStep(
            loop,
            generation,
            fits,
            previous,
            fraction,
            measurement,
            [metric_rngs[r] for r in alive],
            [streams[r] for r in alive],
            taken,
            memory,
            tuple(alive),
        )
        for name, values in measure.take(step).items():
            taken[name] = np.asarray(values, dtype=float)
    return taken


def prepare_or_collapse(hooks, fits: Sequence) -> dict[int, bool]:
    """The fits whose densities degenerate when computed (the SDE sampler's mass leaving its grid), found by preparing
    each alone (:meth:`ReplicateBatching.prepare_batch`, equal to the batch's beyond rounding): ``{position:
    singular}``."""
    collapsed: dict[int, bool] = {}
    for position, fit in enumerate(fits):
        try:
            hooks.prepare_batch([fit])
        except DegenerateFit as error:
            collapsed[position] = error.singular
    return collapsed


def _record_collapse(out: ChunkResult, measures: Sequence[Measure], singular: np.ndarray, width: int) -> None:
    """Each collapsed replicate's fields from its collapse on: what each measure records for a collapsed fit
    (:func:`selfloop.simulators.measures.collapsed_values`; TV exactly 1 for a singular fit), else not measured."""
    collapsed = np.flatnonzero(out.collapsed_at >= 0)
    for measure in measures:
        for is_singular in (False, True):
            chosen = collapsed[singular[collapsed] == is_singular]
            if not chosen.size:
                continue
            for name, value in collapsed_values(measure, is_singular).items():
                if name not in out.measured:  # every replicate collapsed before this measure took anything
                    out.measured[name] = np.full((len(out.collapsed_at), width), np.nan)
                for replicate in chosen:
                    out.measured[name][replicate, out.collapsed_at[replicate] :] = value
