r"""Theorem G's chain bound, its fit-independent part: the reference-time grid and the terms of each chain step.

The chain bound compares the fitted sampler, step by step, with Gaussian reference kernels on a grid of reference
times :math:`t'_0 > \dots > t'_K` (docs/theory.md, section 8). Everything but the score error depends on the
reference distribution and the sampler's times alone, never on a fit: the grid (:func:`reference_times`) and each
step's discretisation term are computed once and kept, and :func:`chain_parts` adds a fit's score terms.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import optimize

import selfloop.simulators.grid as grid_module
import selfloop.simulators.truth as truth_module
from selfloop.simulators import GaussianMixture
from selfloop.simulators.persistent import cached, code_version

from . import ou_marginals
from .ou_marginals import MixtureMarginals, truth_marginals

__all__ = ["chain_key", "chain_parts", "reference_times"]

#: The chain bound's reference grid is searched on a quadrature this many times coarser (its objective has the exact score
#: only, smooth; any deterministic grid is valid).
_SEARCH_COARSENING = 2.0


class _ChainStep:
    """One step of the chain bound against the reference kernels from :math:`t'_k = t'_{k+1} + h` down to :math:`t'_{k+1}`."""

    def __init__(
        self, marginals: MixtureMarginals, lower_time: float, reference_step: float, time: float, step: float
    ) -> None:
        quadrature, dim = marginals.quadrature, marginals.dim
        y = quadrature.points
        self.density, log_density, score = marginals.at(lower_time + reference_step)
        lower_density, lower_log_density, _ = marginals.at(lower_time)
        a, b2 = np.exp(-reference_step), -np.expm1(-2 * reference_step)
        posterior_mean = (y + b2 * score) / a  # E[X_{t'_{k+1}} | X_{t'_k} = y], Tweedie
        self.sampler_density, _, self.exact_score = marginals.at(
            time
        )  # q_{t_k} and grad log q_{t_k}, at the sampler's time
        self.gap = posterior_mean - y - step * (y + 2 * self.exact_score)  # D_k: the exact-score step's error in mean
        entropy_difference = quadrature.expect(lower_density, lower_log_density) - quadrature.expect(
            self.density, log_density
        )
        conditional_variance = marginals.second_moment(lower_time) - quadrature.expect_inner(
            self.density, posterior_mean
        )
        self.step = step
        self.discretisation = (
            entropy_difference
            + 0.5 * dim * np.log(2 * step / (np.e * b2))
            + (conditional_variance + quadrature.expect_inner(self.density, self.gap)) / (4 * step)
        )


_REFERENCE_TIMES: dict[tuple, np.ndarray] = {}
_CHAIN_STEPS: dict[tuple, list] = {}
#: Largest number of node values (nodes x dimension x steps) whose chain steps are kept between fits (about 200 MB).
_KEPT_VALUES = 8_000_000


def chain_key(truth: GaussianMixture, times: np.ndarray, spacing_scale: float) -> tuple:
    return (truth.key, times.tobytes(), float(spacing_scale))


def reference_times(truth: GaussianMixture, times: np.ndarray, spacing_scale: float) -> np.ndarray:
    r"""The chain bound's reference grid :math:`t'_0 > \dots > t'_K = t_{\min}`, anchored at the sampler's last time.

    Built from the anchor up, each step :math:`h_k` minimises that step's term with the exact score of the truth's
    marginals (a bounded scalar search over :math:`[0.3\Delta_k, 4\Delta_k]`). It depends on the truth and the sampler's
    times only, never on a fit, so it is a deterministic choice and the bound stays valid, for the truth and for any
    other reference (a training distribution) alike; it is computed once per (truth, times, quadrature) and kept, in
    memory and in the persistent cache (:mod:`selfloop.simulators.persistent`).
    """
    key = chain_key(truth, times, spacing_scale)
    if key not in _REFERENCE_TIMES:
        if len(_REFERENCE_TIMES) >= 64:
            _REFERENCE_TIMES.clear()
        _REFERENCE_TIMES[key] = cached(
            "chain.reference_times",
            key,
            lambda: _search_reference_times(truth, times, spacing_scale),
            version=code_version(sys.modules[__name__], ou_marginals, truth_module, grid_module),
        )
    return _REFERENCE_TIMES[key]


def _search_reference_times(truth: GaussianMixture, times: np.ndarray, spacing_scale: float) -> np.ndarray:
    """The search behind :func:`reference_times`, from the anchor up."""
    marginals = truth_marginals(truth, spacing_scale * _SEARCH_COARSENING)
    grid = np.empty_like(times)
    grid[-1] = times[-1]
    for k in range(times.size - 2, -1, -1):
        step = times[k] - times[k + 1]
        found = optimize.minimize_scalar(
            lambda log_h: _ChainStep(marginals, grid[k + 1], np.exp(log_h), times[k], step).discretisation,
            bounds=(np.log(0.3 * step), np.log(4.0 * step)),
            method="bounded",
            options={"xatol": 1e-3},
        )
        grid[k] = grid[k + 1] + float(np.exp(found.x))
    return grid


def _chain_steps(
    marginals: MixtureMarginals, grid: np.ndarray, times: np.ndarray, key: tuple | None
) -> list[_ChainStep]:
    """Every step's fit-independent terms on the reference grid; kept between fits (``key``) when they are small enough."""
    if key is not None and key in _CHAIN_STEPS:
        return _CHAIN_STEPS[key]
    marginals.prepare(np.concatenate([grid, times]))  # the steps' 2K + 1 times, together
    steps = [
        _ChainStep(marginals, grid[k + 1], grid[k] - grid[k + 1], times[k], times[k] - times[k + 1])
        for k in range(times.size - 1)
    ]
    if key is not None and marginals.quadrature.points.size * len(steps) <= _KEPT_VALUES:
        _CHAIN_STEPS.clear()  # one reference and time grid at a time: a loop certifies all its fits against p0
        _CHAIN_STEPS[key] = steps
    return steps


def chain_parts(fitted, marginals: MixtureMarginals, times: np.ndarray, grid: np.ndarray, key: tuple | None) -> dict:
    """The chain bound's KL parts (module docstring)."""
    parts = {
        "initialisation": marginals.kl_to_standard_normal(grid[0]),
        "discretisation": 0.0,
        "score": 0.0,
        "cross": 0.0,
        "score_error": 0.0,
    }
    y, quadrature = marginals.quadrature.points, marginals.quadrature
    for k, chain in enumerate(_chain_steps(marginals, grid, times, key)):
        error = chain.exact_score - fitted.score(y, times[k])  # e_k = grad log q_{t_k} - s_A
        parts["discretisation"] += chain.discretisation
        parts["score"] += chain.step * quadrature.expect_inner(chain.density, error)
        parts["cross"] += quadrature.expect_inner(chain.density, chain.gap, error)
        parts["score_error"] += chain.step * quadrature.expect_inner(chain.sampler_density, error)
    return parts
