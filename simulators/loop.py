r"""The self-consuming loop runner: :func:`run_loop`.

It checks the request at the door (the truth and the model against their protocols, the scenario, the sizes, every
measure against the loop), refuses a loop whose data would not fit the memory budget, splits the replicates into
chunks that the budget holds, and runs each chunk through the one loop engine
(:func:`selfloop.simulators.replicates.run_chunk`): the training data of every scenario, the fits and every
measurement in one place, the replicates a generation at a time, together. Replicate k uses
``SeedSequence(seed).spawn(replicates)[k]``, so its numbers do not depend on the chunking beyond floating-point
rounding.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np

from .distance import TruthDistance
from .execution import Execution, chunk_size, estimated_bytes
from .measures import LoopSpec, Measure, Parameters, Probes, TotalVariation, measure_named
from .protocol import Model, ParametricModel, Truth, WeightedFitting, protocol_gaps
from .replicates import run_chunk
from .result import LoopResult
from .scenario import Scenario
from .validation import check_nonnegative_size, check_size
from .witness import Witness

__all__ = ["run_loop"]

#: The keywords ``run_loop`` took before measures were its one extension point, and what each became (CHANGELOG.md).
LEGACY_KEYWORDS = {
    "one_step": "measures=['one_step']",
    "sampling_error": "measures=['sampling_error']",
    "certify": "measures=['certificate']",
    "probes": "measures=[Probes(points)]",
    "tv_samples": "measures=[TotalVariation(samples=n)]",
    "measure_tv": "execution=Execution(measure_tv=False)",
    "memory_budget_bytes": "execution=Execution(memory_budget_bytes=...)",
    "chunk_replicates": "execution=Execution(chunk_replicates=...)",
}


def _accepting_legacy_keywords(function):
    """Map the keywords of :data:`LEGACY_KEYWORDS` onto measures and an :class:`Execution`, with a
    ``DeprecationWarning`` that names the new form (for one release); the signature stays the new one."""

    @functools.wraps(function)
    def wrapper(*arguments, **keywords):
        legacy = {name: keywords.pop(name) for name in list(keywords) if name in LEGACY_KEYWORDS}
        if not legacy:
            return function(*arguments, **keywords)
        warnings.warn(
            "run_loop: " + ", ".join(f"{name}= is now {LEGACY_KEYWORDS[name]}" for name in legacy),
            DeprecationWarning,
            stacklevel=2,
        )
        measures = list(keywords.pop("measures", ()))
        samples = legacy.get("tv_samples")
        if samples is not None:
            measures.insert(0, TotalVariation(samples=samples))
        for name in ("certify", "one_step", "sampling_error"):
            if legacy.get(name):
                measures.append("certificate" if name == "certify" else name)
        if legacy.get("probes") is not None:
            measures.append(Probes(legacy["probes"]))
        execution = keywords.pop("execution", None) or Execution()
        execution = Execution(
            legacy.get("memory_budget_bytes", execution.memory_budget_bytes),
            legacy.get("chunk_replicates", execution.chunk_replicates),
            legacy.get("measure_tv", execution.measure_tv),
        )
        return function(*arguments, measures=measures, execution=execution, **keywords)

    return wrapper


def _check_protocol(name: str, candidate: object, protocol: type) -> None:
    if not isinstance(candidate, protocol):
        missing = ", ".join(protocol_gaps(candidate, protocol)) or "its members"
        raise TypeError(
            f"{name}: {type(candidate).__name__} is not a {protocol.__name__} "
            f"(selfloop.simulators.protocol.{protocol.__name__}): it lacks {missing}"
        )


@_accepting_legacy_keywords
def run_loop(
    truth: Truth,
    model: Model,
    scenario: Scenario,
    generations: int,
    *,
    seed: int = 0,
    replicates: int = 1,
    measures: Sequence[Measure | str] = (),
    execution: Execution | None = None,
) -> LoopResult:
    r"""Run the self-consuming loop and measure every generation's fit.

    Parameters
    ----------
    truth : Truth
        The real distribution :math:`p_0` (:class:`selfloop.simulators.protocol.Truth`: a Gaussian mixture, a
        categorical law, a Markov chain of tokens, ...).
    model : Model
        ``fit(data, rng) -> fitted``, where ``fitted`` has ``pdf(x)`` and ``sample(n, rng)``; the optional
        capabilities of :mod:`selfloop.simulators.protocol` (a grid density, a finite support, replicate hooks,
        parameters) make it exact or fast.
    scenario : Scenario
    generations : int
        Number of generations after generation 0.
    seed : int
        Root seed; replicate k uses ``SeedSequence(seed).spawn(replicates)[k]``, so results are reproducible and
        independent of evaluation order.
    replicates : int
    measures : sequence of Measure or str
        What to measure beside TV, as objects (:class:`selfloop.simulators.measures.Measure`) or by name
        (:func:`selfloop.simulators.measures.measure_named`: ``"one_step"``, ``"sampling_error"``,
        ``"certificate"``, ...); their fields land in :attr:`LoopResult.measured`. TV itself is the measure
        :class:`TotalVariation` (100 000 Monte Carlo draws where it is not exact); pass ``TotalVariation(samples=n)``
        to change that. A model with parameters (:class:`selfloop.simulators.protocol.ParametricModel`) has them
        recorded.
    execution : Execution, optional
        How to run (memory budget, chunking, whether to measure TV at all); nothing in it changes a number.

    Returns
    -------
    LoopResult

    A replicate whose fit degenerates (:class:`selfloop.simulators.DegenerateFit`: a singular covariance, coincident
    points) has collapsed: it stops there, :attr:`LoopResult.collapsed_at` records the generation, its TV is exactly 1
    from then on (the fit is singular to the truth) and the fields no measure can give for it are NaN; the other
    replicates go on. Collapse is an outcome, never an error.

    Raises
    ------
    TypeError
        ``truth`` or ``model`` lacks what its protocol requires (the message names what is missing).
    ValueError
        A bad size, a scenario that is not a :class:`Scenario`, a measure that does not apply to this loop, or a loop
        above the memory budget: before anything runs.
    """
    _check_protocol("truth", truth, Truth)
    _check_protocol("model", model, Model)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.real_weight is not None and not isinstance(model, WeightedFitting):
        raise ValueError(
            f"real_weight: {type(model).__name__} does not fit by weighted sufficient statistics (no "
            "fit_weighted_batch), so it cannot weigh real points against synthetic ones"
        )
    generations = check_nonnegative_size("generations", generations)
    replicates = check_size("replicates", replicates)
    seed = check_nonnegative_size("seed", seed)
    execution = Execution() if execution is None else execution
    if not isinstance(execution, Execution):
        raise ValueError(f"execution must be an Execution, got {type(execution).__name__}")
    budget = execution.budget()
    needed = estimated_bytes(truth, scenario, generations)
    if needed > budget:
        raise ValueError(
            f"scenario: this loop needs at least {needed / 2**30:.2f} GiB for its data arrays "
            f"(up to {int(scenario.pool_sizes(generations).max())} points in dimension {truth.dim}), above the memory budget of "
            f"{budget / 2**30:.2f} GiB; use smaller sizes, or raise Execution(memory_budget_bytes=...) / SCLOOP_MEMORY_BUDGET"
        )
    loop = LoopSpec(truth, model, scenario, generations, replicates, seed)
    chosen = chosen_measures(loop, measures, execution.measure_tv)
    samples = next((m.samples for m in chosen if isinstance(m, TruthDistance)), TotalVariation().samples)
    measured: dict[str, np.ndarray] = {}
    models: list = []
    collapsed_at = np.full(replicates, -1)
    streams = np.random.SeedSequence(seed).spawn(replicates)
    chunk = execution.chunk_replicates or chunk_size(truth, model, scenario, generations, budget, replicates)
    for start in range(0, replicates, chunk):
        part = slice(start, min(start + chunk, replicates))
        result = run_chunk(loop, streams[part], chosen, samples=samples)
        models, collapsed_at[part] = result.models, result.collapsed_at
        for name, values in result.measured.items():
            measured.setdefault(name, np.full((replicates, *values.shape[1:]), np.nan))[part] = values
    return LoopResult(
        real_fraction=scenario.real_fractions(generations),
        training_size=scenario.training_sizes(generations),
        scenario=scenario,
        seed=seed,
        replicates=replicates,
        measured=measured,
        models=models,
        collapsed_at=collapsed_at,
    )


class _Started:
    """A measure of the interface before :class:`LoopSpec` (``check(truth, model, scenario, measure_tv)``), adapted."""

    def __init__(self, measure) -> None:
        self.measure, self.name, self.fields = measure, measure.name, tuple(measure.fields)

    def start(self, loop: LoopSpec) -> None:
        self.measure.check(loop.truth, loop.model, loop.scenario, True)

    def take(self, step):
        return self.measure.take(step)


def chosen_measures(loop: LoopSpec, measures: Sequence[Measure | str], measure_tv: bool) -> list[Measure]:
    """The measures of one loop, each started (checked against it) before anything runs: the distance to the truth first
    (:class:`TruthDistance`: TV, or the witness for fits without a density, configured by the caller's
    :class:`TotalVariation` or :class:`Witness` if it passed them; a :class:`Witness` asked for is taken beside TV too),
    a parametric model's parameters, then the others in the order given (a name given twice is taken once)."""
    resolved: list[Measure] = []
    for measure in measures:
        if isinstance(measure, str):
            if measure in {m.name for m in resolved}:
                continue
            measure = measure_named(measure)
        elif not isinstance(measure, Measure) and all(hasattr(measure, a) for a in ("name", "fields", "check", "take")):
            warnings.warn(
                f"measures: {type(measure).__name__} has check(truth, model, scenario, measure_tv); a measure now has "
                "start(loop) (selfloop.simulators.measures.Measure), the old form is adapted for one release",
                DeprecationWarning,
                stacklevel=3,
            )
            measure = _Started(measure)
        elif not isinstance(measure, Measure):
            missing = ", ".join(protocol_gaps(measure, Measure))
            raise ValueError(
                f"measures: each must be a Measure or a measure's name, got {measure!r} (it lacks {missing})"
            )
        resolved.append(measure)
    distances = [m for m in resolved if isinstance(m, (TotalVariation, Witness, TruthDistance))]
    others = [m for m in resolved if m not in distances]
    total_variation = next((m for m in distances if isinstance(m, TotalVariation)), None)
    witness = next((m for m in distances if isinstance(m, Witness)), None)
    chosen: list[Measure] = []
    if measure_tv:  # the distance to the truth first: TV, or the witness for fits known only by their samples
        given = next((m for m in distances if isinstance(m, TruthDistance)), None)
        chosen.append(given or TruthDistance(total_variation, witness, always_witness=witness is not None))
    elif witness is not None:  # asked for, without TV: the witness alone
        chosen.append(witness)
    if isinstance(loop.model, ParametricModel):
        chosen.append(Parameters())
    chosen += others
    for measure in chosen:
        measure.start(loop)
    return chosen
