r"""Conformance checks for models, in the style of scipy.stats' ``check_*`` helpers.

A model plugged into the harness (``fit(data, rng) -> fitted`` with ``pdf`` and ``sample``) must
satisfy three things for its TVs to mean anything; :func:`check_model` runs them all on one fit:

- :func:`check_density_integrates_to_one`: :math:`\int \hat p = 1` (quadrature in d <= 2);
- :func:`check_samples_match_pdf`: ``sample`` draws from ``pdf``: a chi-square test of the
  samples' counts in cells against the pdf's masses there (d <= 2);
- :func:`check_fit_is_deterministic`: fitting the same data with the same seed gives the same model.

Each raises ``AssertionError`` with a message that says what failed and by how much.
"""

from __future__ import annotations

import numpy as np

from selfloop.simulators import Grid
from selfloop.simulators.metrics import common_grid
from selfloop.simulators.protocol import EscapedMass, GridDensity, Model, Truth

__all__ = ["check_density_integrates_to_one", "check_fit_is_deterministic", "check_model", "check_samples_match_pdf"]


def _grid_for(fitted) -> Grid:
    if not isinstance(fitted, GridDensity) or fitted.bounding_box().dim > 2:
        raise ValueError(
            "fitted: the conformance checks need a density in dimension 1 or 2 with bounding_box and grid_spacing"
        )
    return common_grid([fitted])


def check_density_integrates_to_one(fitted, *, tolerance: float = 1e-4) -> float:
    """Assert that the fitted density integrates to 1 within ``tolerance`` (less any mass it reports as escaped); return the integral."""
    grid = _grid_for(fitted)
    integral = grid.integrate(grid.evaluate(fitted))
    expected = 1.0 - (float(fitted.escaped_mass) if isinstance(fitted, EscapedMass) else 0.0)
    assert abs(integral - expected) <= tolerance, (
        f"the fitted density integrates to {integral:.6g}, not {expected:.6g} (tolerance {tolerance:g})"
    )
    return integral


def check_samples_match_pdf(
    fitted, rng: np.random.Generator, *, samples: int = 20_000, cells: int = 24, alpha: float = 1e-3
) -> float:
    r"""Assert that ``fitted.sample`` draws from ``fitted.pdf``: chi-square of cell counts at level ``alpha``; return the p-value.

    The central box holding 99.9% of the samples is cut into ``cells`` per axis (cells with an
    expected count below 5 are pooled with the outside); the pdf's mass in each cell comes from
    quadrature on the model's own grid.
    """
    dim = _grid_for(fitted).dim
    draws = fitted.sample(samples, rng)
    lower, upper = np.quantile(draws, 0.0005, axis=0), np.quantile(draws, 0.9995, axis=0)
    edges = [np.linspace(lo, hi, cells + 1) for lo, hi in zip(lower, upper)]
    counts = np.histogramdd(draws, bins=edges)[0].ravel()
    # each cell's mass by the midpoint rule on a sub-grid of it (64 points per cell in 1-D, 12 x 12 in 2-D)
    per_axis = 64 if dim == 1 else 12
    fractions = (np.arange(per_axis) + 0.5) / per_axis
    axes = [(edge[:-1, None] + fractions * np.diff(edge)[:, None]).ravel() for edge in edges]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    values = fitted.pdf(points).reshape((cells, per_axis) * dim)
    volume = np.prod([np.diff(edge)[0] for edge in edges])
    masses = values.mean(axis=tuple(range(1, 2 * dim, 2))).ravel() * volume
    expected = masses * samples
    keep = expected >= 5
    observed, predicted = counts[keep], expected[keep]
    rest_observed, rest_predicted = samples - observed.sum(), samples - predicted.sum()
    if rest_predicted >= 5:  # everything else, pooled into one cell
        observed, predicted = np.append(observed, rest_observed), np.append(predicted, rest_predicted)
    from scipy import stats  # here: scipy.stats costs half a second to import, for this one test

    p_value = float(stats.chisquare(observed, predicted * observed.sum() / predicted.sum()).pvalue)
    assert p_value >= alpha, (
        f"the samples do not match the pdf: chi-square p = {p_value:.3g} over {keep.sum()} cells (alpha {alpha:g})"
    )
    return p_value


def check_fit_is_deterministic(model: Model, data: np.ndarray, *, seed: int = 0, points: int = 64) -> None:
    """Assert that two fits on ``data`` with ``default_rng(seed)`` give the same pdf and the same samples."""
    first, second = model.fit(data, np.random.default_rng(seed)), model.fit(data, np.random.default_rng(seed))
    x = data[np.linspace(0, data.shape[0] - 1, points).astype(int)]
    np.testing.assert_array_equal(
        first.pdf(x), second.pdf(x), err_msg="two fits with the same data and seed have different pdfs"
    )
    np.testing.assert_array_equal(
        first.sample(points, np.random.default_rng(1)),
        second.sample(points, np.random.default_rng(1)),
        err_msg="two fits with the same data and seed sample differently",
    )


def check_model(model: Model, truth: Truth, *, size: int = 500, seed: int = 0) -> None:
    """Run every conformance check on ``model`` fitted to ``size`` draws from ``truth`` (d <= 2)."""
    data = truth.sample(size, np.random.default_rng(seed))
    check_fit_is_deterministic(model, data, seed=seed)
    fitted = model.fit(data, np.random.default_rng(seed))
    check_density_integrates_to_one(fitted)
    check_samples_match_pdf(fitted, np.random.default_rng(seed + 1))
