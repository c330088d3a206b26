"""What a model must provide to run in the loop, as typing Protocols (structural: no base class needed).

Shapes: points are always 2-D arrays ``(n, d)``, densities return ``(n,)``.

- :class:`Model`: ``fit(data, rng) -> FittedDensity``; ``data`` is ``(N, d)``.
- :class:`FittedDensity`: ``pdf(x)`` and ``sample(n, rng)``. That is enough for
  :func:`selfloop.simulators.run_loop`: TV is then the unbiased Monte Carlo estimate with its
  standard error (and, in d <= 2, an :class:`AccuracyWarning` that exact quadrature
  was not possible).
- :class:`GridDensity`: also ``bounding_box(mass) -> Box`` (a box outside which the
  density has at most ``mass``) and ``grid_spacing`` (the step that resolves it);
  optionally ``grid_pdf(grid)`` (values at the nodes, shaped like the grid). Then TV
  is exact quadrature in d <= 2.

- :class:`ParametricModel`: also ``parameters(fitted) -> dict`` of arrays (a fit's parameters, e.g. the Gaussian MLE's
  mean and variance); :func:`selfloop.simulators.run_loop` then records them per replicate and generation
  (``LoopResult.parameters``).

``isinstance(obj, GridDensity)`` checks the attributes at run time.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .grid import Box

__all__ = ["FittedDensity", "GridDensity", "Model", "ParametricModel"]


@runtime_checkable
class FittedDensity(Protocol):
    """A fitted model: a density with a sampler."""

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x`` of shape (n, d); returns shape (n,)."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws, shape (n, d)."""


@runtime_checkable
class GridDensity(FittedDensity, Protocol):
    """A fitted model whose TV can be computed exactly by quadrature in d <= 2."""

    grid_spacing: float

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the density has probability at most ``mass``."""


@runtime_checkable
class Model(Protocol):
    """A generative model that the loop refits every generation."""

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> FittedDensity:
        """Fit to ``data`` of shape (N, d); ``rng`` for any randomness of the fit."""


@runtime_checkable
class ParametricModel(Model, Protocol):
    """A model whose fits have named parameters that the loop records."""

    def parameters(self, fitted: FittedDensity) -> dict[str, np.ndarray]:
        """The fit's parameters by name, each an array of a fixed shape."""
