r"""Models known only by their samples, in the loop: :class:`SampleOnly` hides a model's density, and
:class:`SklearnDensity` runs a scikit-learn density estimator (with its density where it has one).

A fit that offers only ``sample(n, rng)`` runs in :func:`selfloop.simulators.run_loop` in every scenario: the loop then
measures the TV witness (:class:`selfloop.simulators.witness.Witness`: ``tv_lower``, whose mean is at most the TV) in
place of TV, which needs a density.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .protocol import Model, OneAtATime, fit_all, protocol_gaps, replicate_hooks
from .validation import check_data

__all__ = ["SampleOnly", "SampledFit", "SklearnDensity", "SklearnFit"]


class SampledFit:
    """A fit seen through its sampler alone: ``sample(n, rng)`` and ``dim``, nothing of its density."""

    __slots__ = ("_fit", "dim")

    def __init__(self, fit) -> None:
        self._fit, self.dim = fit, getattr(fit, "dim", None)

    def __repr__(self) -> str:
        return f"SampledFit({type(self._fit).__name__})"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._fit.sample(n, rng)


class SampleOnly(OneAtATime):
    """A model whose fits are known only by their samples: ``model``'s fits (the same, for the same seed) with their
    density hidden, for comparisons of what a sample-only evaluation can see, and for tests of it. The synthetic data
    are drawn as the wrapped model draws them (its replicate hooks), so every number but the distance is the same."""

    def __init__(self, model: Model) -> None:
        if not isinstance(model, Model):
            raise TypeError(
                f"model: {type(model).__name__} is not a Model: it lacks {', '.join(protocol_gaps(model, Model))}"
            )
        self.model = model

    def __repr__(self) -> str:
        return f"SampleOnly({self.model!r})"

    def fit(self, data, rng: np.random.Generator) -> SampledFit:
        return SampledFit(self.model.fit(data, rng))

    def fit_batch(self, data: Sequence[np.ndarray], rngs: Sequence[np.random.Generator]) -> list[SampledFit]:
        """The wrapped model's fits of every set, at once where it can (:func:`fit_all`)."""
        return [SampledFit(fit) for fit in fit_all(self.model, data, rngs)]

    def sample_batch(self, fits: Sequence[SampledFit], n: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """The wrapped model's draws of its own fits (its replicate hooks): the same synthetic data."""
        return replicate_hooks(self.model).sample_batch([fit._fit for fit in fits], n, rngs)


class SklearnFit:
    """A fitted scikit-learn density estimator: ``logpdf``/``pdf`` from ``score_samples`` (where it has it) and
    ``sample`` through its own ``sample``, seeded from the loop's generator."""

    def __init__(self, estimator, dim: int) -> None:
        self.estimator, self.dim = estimator, dim

    def __repr__(self) -> str:
        return f"SklearnFit({type(self.estimator).__name__})"

    def logpdf(self, x) -> np.ndarray:
        return np.asarray(self.estimator.score_samples(check_data("x", x, self.dim)), dtype=float)

    def pdf(self, x) -> np.ndarray:
        return np.exp(self.logpdf(x))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(2**31 - 1))
        try:
            draws = self.estimator.sample(n, random_state=seed)
        except TypeError:  # an estimator whose sample takes no random_state draws from its own (GaussianMixture)
            self.estimator.random_state = seed
            draws = self.estimator.sample(n)
        draws = draws[0] if isinstance(draws, tuple) else draws  # GaussianMixture.sample returns (points, labels)
        return np.asarray(draws, dtype=float).reshape(n, self.dim)


class SklearnDensity:
    """Any scikit-learn density estimator in the loop (``GaussianMixture``, ``BayesianGaussianMixture``,
    ``KernelDensity``, ...): each generation fits a clone, seeded from the loop's generator where it takes a
    ``random_state``. A fit with ``score_samples`` has a density (TV by Monte Carlo on it, exact in expectation); one
    without is known by its samples, and the loop measures its TV witness."""

    def __init__(self, estimator) -> None:
        if not (hasattr(estimator, "fit") and hasattr(estimator, "sample")):
            raise TypeError(
                f"estimator: {type(estimator).__name__} needs fit(X) and sample(n) (a scikit-learn density estimator)"
            )
        self.estimator = estimator

    def __repr__(self) -> str:
        return f"SklearnDensity({self.estimator!r})"

    def fit(self, data, rng: np.random.Generator):
        from sklearn.base import clone

        points = check_data("data", data)
        estimator = clone(self.estimator)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=int(rng.integers(2**31 - 1)))
        estimator.fit(points)
        fit = SklearnFit(estimator, points.shape[1])
        return fit if hasattr(estimator, "score_samples") else SampledFit(fit)
