r"""Your own diffusion model in the loop: any score the user's code trains, sampled by the reverse SDE.

:class:`ScoreDiffusion` takes a training function ``fit_score(data, rng) -> score``, where ``data`` is the generation's
training set (N, d) and ``score(x, t)`` is the learned :math:`\nabla\log q_t(x)`: vectorised over ``x`` of shape
(n, d) for a float ``t``, returning (n, d). The contract a score must follow:

- the forward process is Ornstein-Uhlenbeck, :math:`X_t = \alpha_t X_0 + \sigma_t Z` with :math:`\alpha_t = e^{-t}`,
  :math:`\sigma_t^2 = 1 - e^{-2t}`, so the exact score of data :math:`X_0 \sim q` is
  :math:`\nabla\log q_t(x) = -E[Z \mid X_t = x]/\sigma_t`;
- the sampler is Euler-Maruyama on :math:`dY = [Y + 2 s(Y, t)]\,ds + \sqrt2\,d\bar W` from :math:`N(0, I)` at the
  horizon T down to the stopping time :math:`t_0`, on the time grid of
  :meth:`selfloop.simulators.FittedDiffusion.times`; the score is evaluated at those times only;
- the score must be a deterministic function once trained (the grid density and the certificate evaluate it many
  times) and finite; every evaluation is checked for its shape and finiteness, and a breach is a ``ValueError``
  naming ``score``.

The fit is then a :class:`selfloop.simulators.FittedSDEDiffusion`: its samples, its grid density in d <= 2, its TV,
Lemma R's one-step error and Theorem G's certificate (``run_loop(..., certify=True)``) are those of the random-feature
model, which is one implementation of the same protocol (:class:`selfloop.simulators.diffusion.DiffusionModel`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..validation import check_data, check_positive
from .base import DiffusionModel
from .sde import FittedSDEDiffusion

__all__ = ["FittedScoreDiffusion", "ScoreDiffusion", "ScoreFunctions"]

#: A trained score: ``score(x, t)`` with x (n, d) and t a float, returning (n, d).
Score = Callable[[np.ndarray, float], np.ndarray]
#: Points the score is probed at when a fit returns it (a wrong shape or a non-finite value fails there, early).
_PROBE_POINTS = 8


def _checked(score: Score, x: np.ndarray, t: float) -> np.ndarray:
    """``score(x, t)`` as a float array of the shape of ``x``, or a ValueError naming ``score``."""
    try:
        value = np.asarray(score(x, t), dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"score: score(x, t) failed for x of shape {x.shape} and t={t!r}: {error}") from error
    if value.shape != x.shape:
        raise ValueError(f"score: score(x, t) must return the shape of x, {x.shape}, got {value.shape} (t={t!r})")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"score: score(x, t) returned non-finite values at t={t!r}")
    return value


class ScoreFunctions:
    """The user's scores of R fits, evaluated one after the other (:class:`~selfloop.simulators.diffusion.ScoreStack`).

    Each evaluation is checked for its shape and finiteness (:func:`_checked`).
    """

    def __init__(self, fits: Sequence[FittedScoreDiffusion]) -> None:
        if not fits:
            raise ValueError("fits: need at least one fitted model")
        self.dim = fits[0].dim
        times = fits[0].times()
        if any(fit.dim != self.dim or not np.array_equal(fit.times(), times) for fit in fits):
            raise ValueError("fits: every fit must have the same dimension and sampler time grid")
        self.size = len(fits)
        self._scores = [fit.score_function for fit in fits]

    def score(self, x: np.ndarray, t: float) -> np.ndarray:
        """Every fit's score at ``x``: (n, d) shared by the fits, or (R, n, d) one set per fit; returns (R, n, d)."""
        t = float(t)
        if x.ndim == 2:
            return np.stack([_checked(score, x, t) for score in self._scores])
        return np.stack([_checked(score, points, t) for score, points in zip(self._scores, x)])

    def drift(self, y: np.ndarray, t: float) -> np.ndarray:
        r"""Reverse-SDE drift :math:`b_r(y, t) = y + 2 s_r(y, t)`, shape (R, n, d)."""
        return y + 2.0 * self.score(y, t)


class FittedScoreDiffusion(FittedSDEDiffusion):
    """A user-trained score sampled by the reverse SDE: a :class:`selfloop.simulators.FittedSDEDiffusion` whose score
    is the user's function.

    Parameters
    ----------
    model : ScoreDiffusion
    score : callable
        ``score(x, t)``: x (n, d), t a float, returning (n, d).
    data : ndarray (N, d)
        The training points (they bound where the sampler's mass may lie).
    """

    def __init__(self, model: ScoreDiffusion, score: Score, data: np.ndarray) -> None:
        if not callable(score):
            raise ValueError(f"score: fit_score must return a callable score(x, t), got {type(score).__name__}")
        self.score_function = score
        super().__init__(model, weights=None, data=data, stopping_time=None, loss=float("nan"), features=None)
        probe = data[: min(_PROBE_POINTS, data.shape[0])]
        for t in (self.model.horizon, self.model.t0):
            _checked(score, probe, t)

    def __repr__(self) -> str:
        return f"FittedScoreDiffusion(dim={self.dim}, steps={self.model.steps}, score={self.score_function!r})"


class ScoreDiffusion(DiffusionModel):
    r"""A diffusion model whose score the user trains: ``fit(data, rng)`` calls ``fit_score(data, rng)``.

    Parameters
    ----------
    fit_score : callable
        ``fit_score(data, rng) -> score``: the user's training code; ``data`` (N, d), ``rng`` a numpy Generator (draw
        every random number from it, so that a loop is reproducible from its seed), and ``score(x, t)`` the learned
        :math:`\nabla\log q_t(x)` (module docstring: the contract).
    steps : int
        Euler-Maruyama steps of the sampler.
    stopping_time : float
        The time :math:`t_0 > 0` the sampler stops at (early stopping; ``t0`` of
        :class:`selfloop.simulators.RandomFeatureDiffusion`, whose ``stopping_time`` is its own training's).
    horizon : float
        The time T the sampler starts at, from :math:`N(0, I)`.
    grid_spacing : float or None
        Step of the SDE sampler's density grid in d <= 2 (None: 0.01 in 1-D, 0.08 in 2-D).

    Examples
    --------
    The exact score of N(0, I) data is :math:`-x` at every t:

    >>> import numpy as np
    >>> model = ScoreDiffusion(lambda data, rng: (lambda x, t: -x), steps=20)
    >>> fit = model.fit(np.random.default_rng(0).standard_normal((100, 1)), np.random.default_rng(1))
    >>> fit.sample(3, np.random.default_rng(2)).shape
    (3, 1)
    """

    sampler = "sde"

    def __init__(
        self,
        fit_score: Callable[[np.ndarray, np.random.Generator], Score],
        steps: int = 150,
        stopping_time: float = 1e-3,
        horizon: float = 10.0,
        *,
        grid_spacing: float | None = None,
    ) -> None:
        if not callable(fit_score):
            raise ValueError(f"fit_score must be callable, fit_score(data, rng) -> score; got {fit_score!r}")
        self.fit_score = fit_score
        super().__init__(steps, check_positive("stopping_time", stopping_time), horizon, grid_spacing)

    @property
    def stopping_time(self) -> float:
        """The time :math:`t_0` the sampler stops at."""
        return self.t0

    def __repr__(self) -> str:
        name = getattr(self.fit_score, "__qualname__", repr(self.fit_score))
        return f"ScoreDiffusion({name}, steps={self.steps}, stopping_time={self.t0}, horizon={self.horizon})"

    @property
    def fitted_class(self) -> type[FittedScoreDiffusion]:
        return FittedScoreDiffusion

    def fit(self, data, rng: np.random.Generator) -> FittedScoreDiffusion:
        """Train the user's score on ``data`` (n, d) with ``fit_score(data, rng)``; the score is probed at once."""
        data = check_data("data", data)
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy Generator (the user's training draws from it)")
        return FittedScoreDiffusion(self, self.fit_score(data, rng), data)

    def stack(self, fits: Sequence[FittedScoreDiffusion]) -> ScoreFunctions:
        """The fits' scores evaluated together (:class:`ScoreFunctions`)."""
        return ScoreFunctions(fits)
