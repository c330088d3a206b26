r"""One chunk of replicate loops, run a generation at a time: the training data of every scenario, the fits, and
every measurement, in one place.

For each replicate, with its own random streams:

1. fit generation 0 on ``scenario.initial`` real points;
2. for i = 1..generations, draw ``scenario.real`` real points (fresh, or the first of a fixed pool) and
   ``scenario.synthetic`` points from generation i-1, and fit generation i on them (on everything so far when
   accumulating);
3. measure what was asked (:class:`selfloop.simulators.measurement.Measurement`).

Replicate k draws from its own generators in the order it would alone (its real data, its synthetic data, its
fit), so its numbers do not depend on the others. What the replicates share is the work: the model's replicate
hooks (:class:`selfloop.simulators.protocol.ReplicateBatching`) sample, prepare and evaluate their fits together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .measurement import Measurement
from .protocol import ParametricModel, replicate_hooks
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
    """What one chunk measured, (replicates, generations + 1) each unless said."""

    tv: np.ndarray
    tv_stderr: np.ndarray
    one_step: np.ndarray
    one_step_stderr: np.ndarray
    sampling_error: np.ndarray
    certified: np.ndarray  # (replicates, 3, generations + 1): certificate, certified eps_i, score error
    probes: np.ndarray  # (replicates, generations + 1, n)
    models: list = field(default_factory=list)  # every generation's fit of the chunk's last replicate
    parameters: dict[str, np.ndarray] = field(default_factory=dict)


def run_chunk(
    truth,
    model,
    scenario: Scenario,
    generations: int,
    streams: Sequence[np.random.SeedSequence],
    *,
    measure_tv: bool,
    one_step: bool,
    sampling_error: bool,
    probes: np.ndarray | None,
    tv_samples: int,
    certify: Callable | None = None,
) -> ChunkResult:
    """Run the replicates whose seed sequences are ``streams``, a generation at a time, all together.

    ``certify(fit, previous) -> (certificate against p0, certified eps_i, integrated score error)``, if given,
    certifies every fit (Theorem G).
    """
    count, width = len(streams), generations + 1
    rngs, metric_rngs = [], []
    for stream in streams:
        loop_stream, metric_stream = stream.spawn(2)
        rngs.append(np.random.default_rng(loop_stream))
        metric_rngs.append(np.random.default_rng(metric_stream))
    hooks = replicate_hooks(model)
    measurement = Measurement(truth, hooks, tv_samples)
    parametric = isinstance(model, ParametricModel)  # once: a runtime Protocol check is slow
    out = ChunkResult(
        tv=np.zeros((count, width)),
        tv_stderr=np.zeros((count, width)),
        one_step=np.zeros((count, width)),
        one_step_stderr=np.zeros((count, width)),
        sampling_error=np.zeros((count, width)),
        certified=np.full((count, 3, width), np.nan),
        probes=np.zeros((count, width, 0 if probes is None else probes.shape[0])),
    )
    parameters: dict[str, list] = {}
    training = TrainingData(truth, scenario, rngs)
    data, fits, previous = training.initial(), None, None
    for generation in range(width):
        if generation:
            data = training.following(data, fits, hooks.sample_batch)
            previous = fits
        fits = [model.fit(points, rng) for points, rng in zip(data, rngs)]
        out.models.append(fits[-1])
        real_fraction = 1.0 if generation == 0 else scenario.real_fraction
        if probes is not None:  # the densities at the probes: prepared together (the TVs prepare their own)
            hooks.prepare_batch(fits)
        for k, fitted in enumerate(fits):
            if parametric:
                for name, value in model.parameters(fitted).items():
                    if name not in parameters:
                        parameters[name] = [[None] * width for _ in range(count)]
                    parameters[name][k][generation] = np.asarray(value, dtype=float)
            if certify is not None:
                out.certified[k, :, generation] = certify(fitted, None if generation == 0 else previous[k])
            if probes is not None:
                out.probes[k, generation] = fitted.pdf(probes)
        if measure_tv:
            out.tv[:, generation], out.tv_stderr[:, generation] = measurement.tv_to_truth(fits, metric_rngs)
            if generation == 0:
                out.one_step[:, 0], out.one_step_stderr[:, 0] = out.tv[:, 0], out.tv_stderr[:, 0]
            elif one_step:
                out.one_step[:, generation], out.one_step_stderr[:, generation] = measurement.one_step(
                    fits, previous, real_fraction, metric_rngs
                )
        if sampling_error:
            out.sampling_error[:, generation] = measurement.sampling_error(fits, previous, real_fraction)
    out.parameters = {name: np.array([np.stack(row) for row in rows]) for name, rows in parameters.items()}
    return out
