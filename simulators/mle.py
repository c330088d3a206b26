r"""Gaussian maximum-likelihood model: the classic model-collapse toy.

Fitting returns the single Gaussian :math:`\mathcal N(\hat\mu, \hat\Sigma)`
with :math:`\hat\mu = \bar X` and :math:`\hat\Sigma = \frac1{N - \delta}\sum (X_j-\bar X)(X_j-\bar X)^T`:
``ddof`` :math:`\delta = 0` is the MLE, biased by the factor (N-1)/N, which drives the variance to zero under fully
synthetic retraining; :math:`\delta = 1` the unbiased estimator, which still collapses (its square root is biased
down, and the log of its determinant drifts down: Bertrand et al., Suresh et al.).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .degenerate import DegenerateFit
from .truth import GaussianMixture
from .validation import check_data

__all__ = ["GaussianMLE"]


def _known_covariance(covariance) -> np.ndarray:
    """A known covariance: a positive number (times the identity) or a symmetric positive-definite (d, d) matrix."""
    array = np.asarray(covariance, dtype=float)
    if array.ndim == 0:
        if not np.isfinite(array) or array <= 0:
            raise ValueError(f"covariance must be a positive number or a positive-definite matrix, got {covariance!r}")
        return array
    if array.ndim != 2 or array.shape[0] != array.shape[1] or not np.all(np.isfinite(array)):
        raise ValueError(f"covariance must be a positive number or a square matrix, got shape {array.shape}")
    if not np.allclose(array, array.T) or np.linalg.eigvalsh(array)[0] <= 0:
        raise ValueError("covariance must be symmetric positive definite")
    return array


#: Smallest eigenvalue of the fitted covariance, relative to its largest, below which the sample is collapsed.
COLLAPSE_TOLERANCE = 1e-12


class GaussianMLE:
    r"""Fits a single Gaussian by maximum likelihood (``ddof=0``) or with the unbiased covariance (``ddof=1``); the fit
    is a :class:`GaussianMixture`. A sample of n <= d points, or one whose covariance is numerically singular, raises
    :class:`DegenerateFit` (singular: inside a loop the replicate is recorded as collapsed, at TV 1).

    With ``covariance`` given (a number c for c I, or a (d, d) matrix) only the mean is fitted, the covariance known:
    the setting of He, Xu and Cheng's weighted mean (arXiv:2502.18049). With point weights
    (:meth:`fit_weighted_batch`, a scenario's ``real_weight``) the fit is the weighted mean and, unless known, the
    weighted covariance :math:`\sum_j \omega_j (x_j - \hat\mu)(x_j - \hat\mu)^T` (the MLE: ``ddof=0`` only)."""

    def __init__(self, ddof: int = 0, *, covariance=None) -> None:
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 (the MLE) or 1 (the unbiased covariance), got {ddof!r}")
        self.ddof = int(ddof)
        self.covariance = None if covariance is None else _known_covariance(covariance)

    def __repr__(self) -> str:
        arguments = [f"ddof={self.ddof}"] if self.ddof else []
        if self.covariance is not None:
            arguments.append("covariance=known")
        return f"GaussianMLE({', '.join(arguments)})"

    def fit(self, data, rng: np.random.Generator | None = None) -> GaussianMixture:
        """Fit on ``data`` (n, d); raises ValueError on a collapsed sample."""
        return self.fit_batch([data])[0]

    def fit_batch(self, data: Sequence, rngs: Sequence[np.random.Generator] | None = None) -> list[GaussianMixture]:
        """Fit on each of ``data``, sets of one shape stacked and fitted at once
        (:class:`selfloop.simulators.protocol.BatchFitting`); a fit is the same whichever sets share its batch, since
        every reduction runs along the same axis of each set."""
        sets = [check_data("data", points) for points in data]
        if len({points.shape for points in sets}) > 1:
            return [fitted for points in sets for fitted in self.fit_batch([points])]
        stacked = np.stack(sets)  # (R, n, d)
        _, n, dim = stacked.shape
        if self.covariance is not None:
            return self._with_known_covariance(stacked.mean(axis=1), self.covariance)
        if n < dim + 1:
            raise DegenerateFit(
                f"data: {n} points cannot fit a {dim}-dimensional covariance (need >= {dim + 1}): it is singular",
                singular=True,
            )
        means = stacked.mean(axis=1)
        centred = stacked - means[:, None, :]
        return self._from_moments(means, np.swapaxes(centred, 1, 2) @ centred / (n - self.ddof))

    def fit_weighted_batch(
        self, data: Sequence, weights: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> list[GaussianMixture]:
        """Each of ``data`` (n, d) fitted with point weights ``weights`` (n,), non-negative and summing to 1
        (:class:`selfloop.simulators.protocol.WeightedFitting`): the weighted mean, and the weighted covariance unless
        it is known."""
        if self.ddof:
            raise ValueError(
                "real_weight: the weighted fit is the MLE (ddof=0); GaussianMLE(ddof=1) cannot weigh points"
            )
        stacked = np.stack([check_data("data", points) for points in data])
        weights = np.asarray(weights, dtype=float)
        if weights.shape != stacked.shape[1:2] or np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be {stacked.shape[1]} non-negative numbers summing to 1")
        means = np.einsum("j,rjd->rd", weights, stacked)
        if self.covariance is not None:
            return self._with_known_covariance(means, self.covariance)
        centred = stacked - means[:, None, :]
        return self._from_moments(means, np.einsum("j,rji,rjk->rik", weights, centred, centred))

    @staticmethod
    def _with_known_covariance(means: np.ndarray, known: np.ndarray) -> list[GaussianMixture]:
        """The fits N(mean, ``known``) for the stacked ``means`` (R, d) (a number c is c I)."""
        dim = means.shape[1]
        covariance = known if known.ndim == 2 else known * np.eye(dim)
        if covariance.shape != (dim, dim):
            raise ValueError(f"covariance must be ({dim}, {dim}) for {dim}-dimensional data, got {covariance.shape}")
        covariances = np.broadcast_to(covariance, (len(means), 1, dim, dim))
        factor = np.broadcast_to(np.linalg.cholesky(covariance), covariances.shape)
        return GaussianMixture._valid(np.ones((len(means), 1)), means[:, None], covariances, factor)

    def _from_moments(self, means: np.ndarray, covariances: np.ndarray) -> list[GaussianMixture]:
        """The fits N(mean, covariance) of stacked moments; a numerically singular covariance has collapsed."""
        eigenvalues = np.linalg.eigvalsh(covariances)
        if not np.all(eigenvalues[:, 0] > COLLAPSE_TOLERANCE * np.maximum(eigenvalues[:, -1], np.finfo(float).tiny)):
            raise DegenerateFit("data: collapsed sample, the fitted covariance is singular", singular=True)
        # finite, symmetric and positive definite: the constructor's checks hold
        covariances = covariances[:, None]
        return GaussianMixture._valid(
            np.ones((len(means), 1)), means[:, None], covariances, np.linalg.cholesky(covariances)
        )

    def parameters(self, fitted: GaussianMixture) -> dict[str, np.ndarray]:
        """The fit's parameters: in 1-D ``mean`` and ``variance`` (scalars); else ``mean`` (d,) and ``covariance`` (d, d)."""
        if fitted.dim == 1:
            return {"mean": fitted.means[0, 0], "variance": fitted.covariances[0, 0, 0]}
        return {"mean": fitted.means[0], "covariance": fitted.covariances[0]}
