r"""A trained random-feature diffusion model: its score network on the sampler's time grid.

What the two samplers share: the weights, the features, the time grid from T down to :math:`t_0`, the score
:math:`s_A(x, t)`, and where the sampler's mass may lie. The samplers themselves and their densities are the
subclasses :class:`selfloop.simulators.diffusion.FittedSDEDiffusion` and
:class:`selfloop.simulators.diffusion.FittedODEDiffusion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..grid import Box, tail_quantile

if TYPE_CHECKING:  # the model's type for the annotations only (base.py imports this module)
    from .model import RandomFeatureDiffusion

__all__ = ["FittedDiffusion"]


class FittedDiffusion:
    """A trained score network :math:`s_A` and its sampler's time grid (the base of the two samplers' fits).

    Parameters
    ----------
    model : RandomFeatureDiffusion
    weights : ndarray (d, m)
        The trained output weights A.
    data : ndarray (N, d)
        The training points (their box bounds where the sampler's mass may lie).
    stopping_time : float or None
        The gradient-flow time tau the weights were trained for (None: tau = infinity).
    loss : float
        The training loss at A.
    features : tuple (W (m, d), U (m, 3))
    """

    #: Largest fraction of the mass the sampler lost off its density grid (0 unless computed on a grid).
    escaped_mass: float = 0.0

    def __init__(
        self,
        model: RandomFeatureDiffusion,
        weights: np.ndarray,
        data: np.ndarray,
        stopping_time: float | None,
        loss: float,
        features,
    ) -> None:
        self.model = model
        self.weights = weights  # A, shape (d, m)
        self.dim = data.shape[1]
        self.stopping_time = stopping_time
        self.loss = loss
        self.features = features  # (W, U)
        self._network = model.stack([self])  # the one code that evaluates scores, for one fit or a loop's replicates
        self._data_box = Box(data.min(axis=0), data.max(axis=0))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(width={self.model.width}, dim={self.dim}, sampler={self.model.sampler!r}, "
            f"stopping_time={self.stopping_time!r})"
        )

    def times(self) -> np.ndarray:
        r"""The sampler's time grid from T down to t0 (steps + 1 points).

        Uniform in :math:`u(t) = \log t` for :math:`t \le 1` and :math:`t - 1` above
        (:math:`C^1` at t = 1): steps proportional to t where the score changes on
        the time scale t, and constant where the OU dynamics has time scale 1.
        A plain geometric grid would make the first steps from T = 10 so long
        that Euler-Maruyama on the linear drift is unstable.
        """

        def u(t: float) -> float:
            return float(np.log(t)) if t <= 1 else t - 1.0

        grid = np.linspace(u(self.model.horizon), u(self.model.t0), self.model.steps + 1)
        return np.where(grid <= 0, np.exp(np.minimum(grid, 0.0)), 1.0 + grid)

    def score(self, x: np.ndarray, t: float) -> np.ndarray:
        r""":math:`s_A(x, t) = c_{\text{out}}(t) A\,\mathrm{ReLU}(W x + U e(t))/m + c_{\text{skip}}(t) x`, shape (n, d).

        Evaluated by the model's :meth:`~selfloop.simulators.diffusion.DiffusionModel.stack` (for this model
        :class:`selfloop.simulators.diffusion.Networks`), the code that evaluates a loop's replicates together.
        """
        return self._network.score(x, t)[0]

    def drift(self, y: np.ndarray, t: float) -> np.ndarray:
        r"""Reverse-SDE drift :math:`b(y, t) = y + 2 s_A(y, t)`."""
        return self._network.drift(y, t)[0]

    def velocity(self, x: np.ndarray, t: float) -> np.ndarray:
        r"""Probability-flow velocity :math:`f(x, t) = -x - s_A(x, t)` in forward time."""
        return -x - self.score(x, t)

    def sampler_box(self, mass: float = 1e-9) -> Box:
        """Where the sampler's mass may lie, before its density is known: the N(0, I) start and the training data,
        with a margin of 3.

        The margin holds the tail mass that the learned far field (which no training point constrains) moves
        about; the SDE sampler's density grid covers it and checks that less than ``MAX_ESCAPED_MASS`` leaves it.
        """
        z = tail_quantile(mass / self.dim)
        start = Box(np.full(self.dim, -z), np.full(self.dim, z))
        box = Box.union([start, self._data_box])
        return Box(box.lower - 3.0, box.upper + 3.0)

    # ------------------------------------------------------------ many fits at once (the loop's hooks)
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws from the fitted model (each sampler's own)."""
        raise NotImplementedError

    # each class's batch hooks receive fits of that class: Sequence[Any] lets a sampler's hooks name their own type
    @classmethod
    def sample_batch(cls, fits: Sequence[Any], n: int, rngs) -> list[np.ndarray]:
        """``fits[r].sample(n, rngs[r])`` for every r (one at a time unless a sampler batches them)."""
        return [fit.sample(n, rng) for fit, rng in zip(fits, rngs)]

    @classmethod
    def prepare_batch(cls, fits: Sequence[Any]) -> None:
        """Compute what the fits' densities need, together (nothing, unless a sampler's density is on a grid)."""
