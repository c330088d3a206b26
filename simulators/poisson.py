r"""The Poisson law and its maximum-likelihood fit: an exponential family whose collapse law is exact (Suresh et al.
2024, arXiv:2412.17646; Dey and Donoho 2024, arXiv:2410.22812).

:class:`PoissonMLE` fits :math:`\hat\lambda = \bar X`. Since a Poisson count's variance is its mean, the loop's
:math:`E(\hat\lambda_i - \lambda)^2` is exact: :math:`(\lambda/n)(i + 1)` when each generation replaces its data,
:math:`(\lambda/n)\sum_{j=1}^{i+1} 1/j^2 < (\pi^2/6)\,\lambda/n` when it accumulates them (docs/theory.md, section 16).
TV between two Poisson laws is in closed form: for :math:`\lambda < \mu` the first puts more mass exactly on
:math:`k \le k^\ast = (\mu - \lambda)/\log(\mu/\lambda)`, so
:math:`\mathrm{TV} = F_\lambda(\lfloor k^\ast \rfloor) - F_\mu(\lfloor k^\ast \rfloor)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from .keys import content_key
from .protocol import OneAtATime
from .validation import check_data, check_nonnegative, check_size

__all__ = ["Poisson", "PoissonMLE", "poisson_tv"]


def poisson_tv(rate: float, others) -> np.ndarray:
    r"""TV between Poisson(``rate``) and Poisson(:math:`\mu`) for each :math:`\mu` of ``others``, in closed form (a rate
    of 0 is the point mass at 0: TV :math:`1 - e^{-\mu}`)."""
    lam = np.full(np.shape(others), float(rate))
    mu = np.asarray(others, dtype=float)
    low, high = np.minimum(lam, mu), np.maximum(lam, mu)
    out = np.zeros(mu.shape)
    point = (low == 0) & (high > 0)
    out[point] = -np.expm1(-high[point])
    both = (low > 0) & (high > low)
    crossing = np.floor((high[both] - low[both]) / np.log(high[both] / low[both]))
    out[both] = special.pdtr(crossing, low[both]) - special.pdtr(crossing, high[both])
    return np.clip(out, 0.0, 1.0)


class Poisson:
    r"""The Poisson law :math:`P(X = k) = e^{-\lambda}\lambda^k/k!` on the counts 0, 1, 2, ...: a truth and a fit alike
    (points are integers of shape (n, 1)).

    Examples
    --------
    >>> law = Poisson(2.0)
    >>> round(float(law.pmf([[0]])[0]), 6), round(float(Poisson(0.0).tv_to([law])[0]), 6)
    (0.135335, 0.864665)
    """

    dim = 1

    def __init__(self, rate: float) -> None:
        self.rate = check_nonnegative("rate", rate)

    def __repr__(self) -> str:
        return f"Poisson({self.rate:g})"

    @property
    def key(self) -> str:
        """A content key of the law (:class:`selfloop.simulators.protocol.Truth`)."""
        return content_key("poisson", [self.rate])

    def logpdf(self, x) -> np.ndarray:
        """:math:`\\log P(X = x)`; -inf off the counts."""
        points = check_data("x", x, 1)[:, 0]
        count = (points >= 0) & (np.rint(points) == points)
        out = np.full(points.size, -np.inf)
        k = points[count]
        out[count] = special.xlogy(k, self.rate) - self.rate - special.gammaln(k + 1)
        return out

    def pmf(self, x) -> np.ndarray:
        """:math:`P(X = x)`."""
        return np.exp(self.logpdf(x))

    def pdf(self, x) -> np.ndarray:
        """The density with respect to counting measure: :meth:`pmf`."""
        return self.pmf(x)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. counts, integers (n, 1)."""
        return rng.poisson(self.rate, check_size("n", n))[:, None].astype(np.int64)

    def tv_to(self, fits: Sequence) -> np.ndarray | None:
        """The exact TV to each of ``fits`` if they are all Poisson laws (:func:`poisson_tv`), else None."""
        if not all(isinstance(fit, Poisson) for fit in fits):
            return None
        return poisson_tv(self.rate, [fit.rate for fit in fits])


class PoissonMLE(OneAtATime):
    r"""The maximum-likelihood Poisson fit, :math:`\hat\lambda = \bar X` (a weighted mean under point weights). A
    sample of zeros fits the point mass at 0, which the loop keeps for ever (total collapse)."""

    def __repr__(self) -> str:
        return "PoissonMLE()"

    def fit(self, data, rng: np.random.Generator | None = None) -> Poisson:
        """Fit on counts ``data`` (n, 1)."""
        return self.fit_batch([data])[0]

    def fit_batch(self, data: Sequence, rngs: Sequence[np.random.Generator] | None = None) -> list[Poisson]:
        """Each of ``data`` fitted (:class:`selfloop.simulators.protocol.BatchFitting`)."""
        return [Poisson(_counts(points).mean()) for points in data]

    def fit_weighted_batch(
        self, data: Sequence, weights: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> list[Poisson]:
        """Each of ``data`` fitted with point weights summing to 1: the weighted mean."""
        weights = np.asarray(weights, dtype=float)
        return [Poisson(float(weights @ _counts(points))) for points in data]

    def parameters(self, fitted: Poisson) -> dict[str, np.ndarray]:
        """The fitted rate (:class:`selfloop.simulators.protocol.ParametricModel`)."""
        return {"rate": np.asarray(fitted.rate)}


def _counts(points) -> np.ndarray:
    array = check_data("data", points, 1)[:, 0]
    if np.any(array < 0) or np.any(np.rint(array) != array):
        raise ValueError("data must hold non-negative integer counts")
    return array
