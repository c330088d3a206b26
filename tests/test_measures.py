"""The loop's one extension point: measures, the loop's eight parameters, the old keywords' shim, the protocols at the
door."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from selfloop.simulators import (
    KDE,
    Execution,
    GaussianMLE,
    Measure,
    OneStep,
    Probes,
    Scenario,
    TotalVariation,
    run_loop,
    standard_truth,
)
from selfloop.simulators.measures import GenerationStep, LoopSpec, register_measure

TRUTH, SCENARIO = standard_truth("bimodal_1d"), Scenario.mixed(200, 0.5)


def test_run_loop_has_eight_parameters_and_keyword_only_options():
    parameters = inspect.signature(run_loop).parameters
    assert list(parameters) == [
        "truth",
        "model",
        "scenario",
        "generations",
        "seed",
        "replicates",
        "measures",
        "execution",
    ]
    assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in list(parameters)[4:])


def test_the_old_keywords_are_read_with_a_warning_and_give_the_same_numbers():
    options = dict(generations=2, seed=3, replicates=3)
    new = run_loop(
        TRUTH, KDE(0.3), SCENARIO, measures=["one_step", "sampling_error", Probes([[0.0], [1.0]])], **options
    )
    with pytest.warns(DeprecationWarning, match="one_step= is now measures=\\['one_step'\\]"):
        old = run_loop(TRUTH, KDE(0.3), SCENARIO, one_step=True, sampling_error=True, probes=[[0.0], [1.0]], **options)
    assert sorted(old.measured) == sorted(new.measured)
    for name in new.measured:
        np.testing.assert_array_equal(old.measured[name], new.measured[name])
    with pytest.warns(DeprecationWarning, match="measure_tv= is now execution=Execution\\(measure_tv=False\\)"):
        skipped = run_loop(TRUTH, GaussianMLE(), SCENARIO, measure_tv=False, chunk_replicates=1, **options)
    assert skipped.tv is None and skipped.parameters["mean"].shape == (3, 3)
    # control: a keyword that never existed is still an error
    with pytest.raises(TypeError, match="bandwidth"):
        run_loop(TRUTH, KDE(0.3), SCENARIO, bandwidth=0.3, **options)


@pytest.mark.parametrize(
    "truth, model, message",
    [
        (None, KDE(0.3), "truth: NoneType is not a Truth .* it lacks dim, key, pdf, sample"),
        (TRUTH, "kde", "model: str is not a Model .* it lacks fit"),
        (np.zeros((3, 1)), KDE(0.3), "truth: ndarray is not a Truth"),
    ],
)
def test_the_protocols_are_checked_at_the_door(truth, model, message):
    with pytest.raises(TypeError, match=message):
        run_loop(truth, model, SCENARIO, 1)


def test_bad_measures_and_executions_are_named():
    with pytest.raises(ValueError, match="measures: each must be a Measure .*it lacks fields, name, start, take"):
        run_loop(TRUTH, KDE(0.3), SCENARIO, 1, measures=[object()])
    with pytest.raises(ValueError, match="loop measure name must be one of"):
        run_loop(TRUTH, KDE(0.3), SCENARIO, 1, measures=["no_such_measure"])
    with pytest.raises(ValueError, match="sampling_error"):  # started before anything runs
        run_loop(TRUTH, KDE(0.3), Scenario.accumulating(100, 50), 1, measures=["sampling_error"])
    with pytest.raises(ValueError, match="chunk_replicates"):
        Execution(chunk_replicates=0)
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        Execution(memory_budget_bytes=-1.0)
    with pytest.raises(ValueError, match="execution"):
        run_loop(TRUTH, KDE(0.3), SCENARIO, 1, execution={"chunk_replicates": 1})
    with pytest.raises(ValueError, match="samples"):
        TotalVariation(samples=0)


def test_a_measured_field_is_an_attribute_and_an_unmeasured_one_says_what_there_is():
    result = run_loop(TRUTH, KDE(0.3), SCENARIO, 1, replicates=2, measures=["one_step"])
    assert result.one_step is result.measured["one_step"]
    assert result.tv is result.measured["tv"] and result.tv_stderr.shape == (2, 2)
    with pytest.raises(AttributeError, match="'certificate': this loop measured no such field .*one_step"):
        _ = result.certificate


class _Counting:
    """A stateless measure: the number of distinct points of each fit's data, and a draw from its own stream."""

    name, fields = "counting", ("points", "own_draw")

    def start(self, loop: LoopSpec) -> None:
        if loop.truth.dim != 1:
            raise ValueError("counting: one dimension only")

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        step.memory.setdefault("generations", []).append(step.generation)
        assert step.memory["generations"] == list(range(step.generation + 1))  # kept within the chunk
        draws = [rng.random() for rng in step.stream("counting")]
        return {"points": np.array([fit.data.shape[0] for fit in step.fits], float), "own_draw": np.array(draws)}


def test_one_measure_instance_serves_two_loops_and_its_own_streams_change_no_other_number():
    measure = _Counting()
    assert isinstance(measure, Measure)
    first = run_loop(TRUTH, KDE(0.3), SCENARIO, 2, seed=1, replicates=3, measures=[measure])
    second = run_loop(TRUTH, KDE(0.3), Scenario.accumulating(100, 50), 2, seed=1, replicates=2, measures=[measure])
    np.testing.assert_array_equal(first.points, 200)
    np.testing.assert_array_equal(second.points, [[100, 150, 200]] * 2)
    plain = run_loop(TRUTH, KDE(0.3), SCENARIO, 2, seed=1, replicates=3)
    np.testing.assert_array_equal(first.tv, plain.tv)  # its own stream: no other number moves
    # the same replicate draws the same whatever its chunk; replicates draw differently
    chunked = run_loop(
        TRUTH, KDE(0.3), SCENARIO, 2, seed=1, replicates=3, measures=[measure], execution=Execution(chunk_replicates=1)
    )
    np.testing.assert_array_equal(chunked.own_draw, first.own_draw)
    assert len(np.unique(first.own_draw[:, 0])) == 3
    with pytest.raises(ValueError, match="counting: one dimension only"):
        run_loop(standard_truth("ring_2d"), KDE(0.3), SCENARIO, 1, measures=[measure])


def test_a_registered_measure_is_found_by_name_and_a_one_step_default_follows_the_tv_samples():
    from selfloop.simulators.measures import MEASURES

    with MEASURES.scoped():
        register_measure("counting", _Counting)
        result = run_loop(TRUTH, KDE(0.3), SCENARIO, 1, replicates=2, measures=["counting"])
        assert result.points.shape == (2, 2)
        with pytest.raises(ValueError, match="already a registered loop measure"):
            register_measure("counting", lambda: _Counting())
    assert OneStep().samples is None  # as many as the loop's TotalVariation


def test_an_old_style_measure_is_adapted_with_a_warning():
    class Old:
        name, fields = "old", ("old",)

        def check(self, truth, model, scenario, measure_tv):
            self.seen = scenario

        def take(self, step):
            return {"old": np.zeros(len(step.fits))}

    old = Old()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_loop(TRUTH, KDE(0.3), SCENARIO, 1, replicates=2, measures=[old])
    assert any("start(loop)" in str(w.message) for w in caught) and old.seen is SCENARIO
    assert result.old.shape == (2, 2)
