r"""One chunk of replicate loops, run a generation at a time: the training data of every scenario, the fits, and
every measurement, in one place.

For each replicate, with its own random streams:

1. fit generation 0 on ``scenario.initial`` real points;
2. for i = 1..generations, draw ``scenario.real`` real points (fresh, or the first of a fixed pool) and
   ``scenario.synthetic`` points from generation i-1, and fit generation i on them (on everything so far when
   accumulating);
3. measure TV to the truth (:class:`selfloop.simulators.measurement.Measurement`), then hand the generation to every
   measure asked for (:mod:`selfloop.simulators.measures`).

Replicate k draws from its own generators in the order it would alone (its real data, its synthetic data, its
fit), so its numbers do not depend on the others. What the replicates share is the work: the model's replicate
hooks (:class:`selfloop.simulators.protocol.ReplicateBatching`) sample, prepare and evaluate their fits together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .measurement import Measurement
from .measures import GenerationStep, LoopSpec, Measure
from .protocol import fit_all, replicate_hooks
from .scenario import Scenario

__all__ = ["ChunkResult", "TrainingData", "run_chunk"]


class TrainingData:
    """The training sets of a chunk of replicates under one scenario, each replicate drawing from its own generator."""

    def __init__(self, truth, scenario: Scenario, rngs: Sequence[np.random.Generator]) -> None:
        self.truth, self.scenario, self.rngs = truth, scenario, list(rngs)
        self.pools = [
            truth.sample(max(scenario.initial, scenario.real), rng) if scenario.reuse_real else None for rng in rngs
        ]

    def initial(self) -> list[np.ndarray]:
        """Generation 0's sets: ``initial`` real points (the start of the pool when the real data are reused)."""
        return [
            pool[: self.scenario.initial] if pool is not None else self.truth.sample(self.scenario.initial, rng)
            for pool, rng in zip(self.pools, self.rngs)
        ]

    def following(self, data: Sequence[np.ndarray], fits: Sequence, sample_batch: Callable) -> list[np.ndarray]:
        """Generation i's sets from generation i-1's ``data`` and ``fits``: each replicate's real, then synthetic draws
        (``sample_batch(fits, n, rngs)``), appended to ``data`` when accumulating."""
        scenario, truth = self.scenario, self.truth
        real = [
            (pool[: scenario.real] if pool is not None else truth.sample(scenario.real, rng)) if scenario.real else None
            for pool, rng in zip(self.pools, self.rngs)
        ]
        synthetic = sample_batch(fits, scenario.synthetic, self.rngs) if scenario.synthetic else [None] * len(fits)
        sets = []
        for before, *parts in zip(data, real, synthetic):
            parts = [part for part in parts if part is not None]
            new = np.concatenate(parts) if len(parts) > 1 else parts[0]
            sets.append(np.concatenate([before, new]) if scenario.accumulate else new)
        return sets


@dataclass
class ChunkResult:
    """What one chunk measured: every measure's fields, (replicates, generations + 1, ...) each, and the fits of its
    last replicate."""

    measured: dict[str, np.ndarray] = field(default_factory=dict)
    models: list = field(default_factory=list)  # every generation's fit of the chunk's last replicate


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
    out = ChunkResult()
    memories: list[dict] = [{} for _ in measures]
    training = TrainingData(truth, scenario, rngs)
    data, fits, previous = training.initial(), None, None
    for generation in range(width):
        if generation:
            data = training.following(data, fits, hooks.sample_batch)
            previous = fits
        fits = fit_all(model, data, rngs)
        out.models.append(fits[-1])
        taken: dict[str, np.ndarray] = {}
        fraction = 1.0 if generation == 0 else scenario.real_fraction
        for measure, memory in zip(measures, memories):
            step = GenerationStep(
                loop, generation, fits, previous, fraction, measurement, metric_rngs, streams, taken, memory
            )
            for name, values in measure.take(step).items():
                values = np.asarray(values, dtype=float)
                if name not in out.measured:
                    out.measured[name] = np.full((count, width, *values.shape[1:]), np.nan)
                out.measured[name][:, generation] = values
                taken[name] = values
    return out
