r"""Curation by a reward (Ferbach et al. 2024, arXiv:2407.09499): a model whose synthetic data are chosen, one of K
candidates at a time, by Bradley–Terry preference.

:class:`Curated` wraps any model. Its fits are the wrapped model's fits, unchanged (their density is what the loop
measures); what changes is how the loop draws the next generation's synthetic data from them: each point is one of
K candidates drawn from the fit, kept with probability :math:`e^{r(X_j)} / \sum_{i \le K} e^{r(X_i)}`. Retrained on
such data, a model drifts towards high reward: the face of self-consuming training that preference feedback gives
language models. The law of a curated draw on a finite alphabet is ``curated_probabilities`` (bounds/curated.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .protocol import Model, fit_all, protocol_gaps, replicate_hooks
from .validation import check_data, check_size

__all__ = ["Curated"]


class Curated:
    r"""``model`` with its synthetic draws curated by K-wise Bradley–Terry choice on ``reward``.

    Parameters
    ----------
    model : Model
        Any model; its fits (and their parameters, and its batched fitting) are used as they are.
    reward : callable or array_like (S,)
        :math:`r(x)`: a function of points (n, d) returning (n,) finite numbers, or a table of one number per symbol
        for a model on the symbols 0..S-1 (the categorical and bigram models), :math:`r(x) = \text{reward}[x]`.
    choices : int
        K >= 1 candidates per kept point (K = 1: no curation).

    Examples
    --------
    >>> from selfloop.simulators import CategoricalMLE, Categorical
    >>> curated = Curated(CategoricalMLE(3), reward=[0.0, 0.0, 2.0], choices=4)
    >>> fit = curated.fit(Categorical([0.6, 0.3, 0.1]).sample(1000, np.random.default_rng(0)))
    >>> drawn = curated.sample_batch([fit], 1000, [np.random.default_rng(1)])[0]
    >>> round(float(np.mean(drawn == 2)), 2)  # the curated law gives it 0.25, the fit 0.1
    0.27
    """

    def __init__(self, model: Model, reward: Callable[[np.ndarray], np.ndarray] | Sequence[float], choices: int = 2):
        if not isinstance(model, Model):
            raise TypeError(
                f"model: {type(model).__name__} is not a Model: it lacks {', '.join(protocol_gaps(model, Model))}"
            )
        self.model, self.choices = model, check_size("choices", choices)
        self.reward_table: np.ndarray | None = None
        if callable(reward):
            self._reward = reward
        else:
            table = np.asarray(reward, dtype=float)
            if table.ndim != 1 or table.size < 1 or not np.all(np.isfinite(table)):
                raise ValueError(
                    f"reward must be a function of points or finite numbers, one per symbol, got {reward!r}"
                )
            self.reward_table = table
            self._reward = self._tabulated
        hooks = replicate_hooks(model)
        self.shared_grid = hooks.shared_grid
        self.prepare_batch, self.grid_densities = hooks.prepare_batch, hooks.grid_densities
        for optional in ("parameters", "fit_weighted_batch"):  # what the loop looks for, where the model has it
            if hasattr(model, optional):
                setattr(self, optional, getattr(model, optional))

    def __repr__(self) -> str:
        reward = "table" if self.reward_table is not None else getattr(self._reward, "__name__", "function")
        return f"Curated({self.model!r}, reward={reward}, choices={self.choices})"

    def _tabulated(self, points: np.ndarray) -> np.ndarray:
        table, symbols = np.asarray(self.reward_table), np.asarray(points)[:, 0]
        if np.any(symbols < 0) or np.any(symbols >= table.size) or np.any(symbols != np.rint(symbols)):
            raise ValueError(f"reward: a table of {table.size} values rewards the symbols 0..S-1 only")
        return table[symbols.astype(np.int64)]

    def reward(self, points) -> np.ndarray:
        """:math:`r(x)` at ``points`` (n, d): (n,) finite numbers, else a ``ValueError`` naming ``reward``."""
        points = check_data("points", points)
        values = np.asarray(self._reward(points), dtype=float)
        if values.shape != (points.shape[0],) or not np.all(np.isfinite(values)):
            raise ValueError(
                f"reward must return one finite number per point, shape ({points.shape[0]},); got shape {values.shape}"
                + ("" if values.shape != (points.shape[0],) else " with a non-finite value")
            )
        return values

    def fit(self, data, rng: np.random.Generator | None = None):
        """The wrapped model's fit of ``data`` (``rng`` default: a generator seeded 0)."""
        return self.model.fit(data, np.random.default_rng(0) if rng is None else rng)

    def fit_batch(self, data: Sequence[np.ndarray], rngs: Sequence[np.random.Generator]) -> list:
        """The wrapped model's fits, at once where it can (:func:`fit_all`)."""
        return fit_all(self.model, data, rngs)

    def sample_batch(self, fits: Sequence, n: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """``n`` curated draws from each fit: K n candidates from the fit (the wrapped model's own draws), then, with
        one uniform per kept point from the same generator, candidate j of each group of K with probability
        :math:`\\mathrm{softmax}(r)_j`."""
        candidates = replicate_hooks(self.model).sample_batch(fits, n * self.choices, rngs)
        if self.choices == 1:
            return candidates
        kept = []
        for points, rng in zip(candidates, rngs):
            points = np.asarray(points)
            rewards = self.reward(points).reshape(n, self.choices)
            weights = np.exp(rewards - rewards.max(axis=1, keepdims=True))
            cumulative = np.cumsum(weights, axis=1)
            chosen = (rng.random(n)[:, None] * cumulative[:, -1:] >= cumulative).sum(axis=1)
            chosen = np.minimum(chosen, self.choices - 1)  # a uniform at the top of its interval, by rounding
            kept.append(points.reshape(n, self.choices, -1)[np.arange(n), chosen])
        return kept
