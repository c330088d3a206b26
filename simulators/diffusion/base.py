r"""What every diffusion model of the loop shares: the sampler's settings and the loop's replicate hooks.

A diffusion model here is a way to train a score :math:`s(x, t) \approx \nabla\log q_t(x)` for the forward process
:math:`X_t = \alpha_t X_0 + \sigma_t Z`, :math:`\alpha_t = e^{-t}`, :math:`\sigma_t^2 = 1 - e^{-2t}`, and a sampler
that runs the reverse process with it from :math:`N(0, I)` at the horizon T down to the stopping time :math:`t_0`,
on a time grid of ``steps`` steps (:meth:`selfloop.simulators.FittedDiffusion.times`). Everything downstream (the
sampler, its grid density, Theorem G's certificate) reads a fit through its score and its time grid only.

Two implementations: :class:`selfloop.simulators.RandomFeatureDiffusion` (Li et al.'s random-feature network,
trained by its exact gradient flow) and :class:`selfloop.simulators.ScoreDiffusion` (any score the user trains).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..grid import Grid
from ..validation import check_positive, check_size
from .fitted import FittedDiffusion

__all__ = ["DiffusionModel", "ScoreStack"]


class ScoreStack(Protocol):
    """The scores of R fits of one model, evaluated together (what the SDE sampler and its grid density call)."""

    size: int
    dim: int

    def score(self, x: np.ndarray, t: float) -> np.ndarray:
        """Every fit's score at ``x``: (n, d) shared by the fits, or (R, n, d) one set per fit; returns (R, n, d)."""
        ...

    def drift(self, y: np.ndarray, t: float) -> np.ndarray:
        r"""The reverse-SDE drift :math:`y + 2 s_r(y, t)`, (R, n, d)."""
        ...


class DiffusionModel:
    """The sampler's settings and the loop's replicate hooks, shared by every diffusion model.

    Subclasses set :attr:`fitted_class` (through their sampler) and implement ``fit(data, rng)`` and
    :meth:`stack`.

    Parameters
    ----------
    steps : int
        Steps of the sampler.
    t0, horizon : float
        The time interval [t0, T] the sampler runs over, from T down to t0 (the stopping time).
    grid_spacing : float or None
        Step of the grid the SDE sampler's density is computed on in d <= 2 (None: 0.01 in 1-D, 0.08 in 2-D).
    """

    def __init__(self, steps: int, t0: float, horizon: float, grid_spacing: float | None) -> None:
        self.steps = check_size("steps", steps)
        self.t0 = check_positive("t0", t0)
        self.horizon = check_positive("horizon", horizon)
        if self.t0 >= self.horizon:
            raise ValueError(f"t0 must be < horizon (T), got t0={t0}, horizon={horizon}")
        self.grid_spacing = None if grid_spacing is None else check_positive("grid_spacing", grid_spacing)

    @property
    def fitted_class(self) -> type[FittedDiffusion]:
        """The class of this model's fits."""
        raise NotImplementedError

    def stack(self, fits: Sequence[Any]) -> ScoreStack:
        """The scores of ``fits`` (fits of this model, in one dimension) evaluated together (:class:`ScoreStack`)."""
        raise NotImplementedError

    # ------------------------------------------------------------ the loop's replicate hooks
    #: Each fit is measured on its own grid: the batched work is the densities themselves (:meth:`prepare_batch`).
    shared_grid = False

    def sample_batch(self, fits: Sequence[FittedDiffusion], n: int, rngs) -> list[np.ndarray]:
        """``fits[r].sample(n, rngs[r])`` for every r; the SDE samplers run together (the same draws, batched)."""
        return self.fitted_class.sample_batch(fits, n, rngs)

    def prepare_batch(self, fits: Sequence[FittedDiffusion]) -> None:
        """Compute the fits' densities together where they are on a grid (the SDE sampler in d <= 2)."""
        self.fitted_class.prepare_batch(fits)

    def grid_densities(self, fits: Sequence, grid: Grid) -> np.ndarray:
        """The fits' densities at the nodes of ``grid``, (R, *grid.shape)."""
        self.prepare_batch(fits)
        return np.stack([grid.evaluate(fit) for fit in fits])
