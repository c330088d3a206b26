r"""Gaussian maximum-likelihood model: the classic model-collapse toy.

Fitting returns the single Gaussian :math:`\mathcal N(\hat\mu, \hat\Sigma)`
with :math:`\hat\mu = \bar X` and :math:`\hat\Sigma = \frac1N\sum (X_j-\bar X)(X_j-\bar X)^T`
(the MLE, biased by the factor (N-1)/N, which drives the variance to zero
under fully synthetic retraining).
"""

from __future__ import annotations

import numpy as np

from .truth import GaussianMixture
from .validation import check_data

__all__ = ["GaussianMLE"]

#: Smallest eigenvalue of the fitted covariance, relative to its largest, below which the sample is collapsed.
COLLAPSE_TOLERANCE = 1e-12


class GaussianMLE:
    """Fits a single Gaussian by maximum likelihood; the fit is a :class:`GaussianMixture`."""

    def __repr__(self) -> str:
        return "GaussianMLE()"

    def fit(self, data, rng: np.random.Generator | None = None) -> GaussianMixture:
        """Fit on ``data`` (n, d); raises ValueError on a collapsed sample."""
        data = check_data("data", data)
        n, dim = data.shape
        if n < dim + 1:
            raise ValueError(f"data: {n} points cannot fit a {dim}-dimensional covariance (need >= {dim + 1})")
        mean = data.mean(axis=0)
        centred = data - mean
        covariance = centred.T @ centred / n
        eigenvalues = np.linalg.eigvalsh(covariance)
        if not eigenvalues[0] > COLLAPSE_TOLERANCE * max(eigenvalues[-1], np.finfo(float).tiny):
            raise ValueError("data: collapsed sample, the fitted covariance is singular")
        covariance = covariance[None, :, :]  # finite, symmetric and positive definite: the constructor's checks hold
        return GaussianMixture._valid(np.ones(1), mean[None, :], covariance, np.linalg.cholesky(covariance))

    def parameters(self, fitted: GaussianMixture) -> dict[str, np.ndarray]:
        """The fit's parameters: in 1-D ``mean`` and ``variance`` (scalars); else ``mean`` (d,) and ``covariance`` (d, d)."""
        if fitted.dim == 1:
            return {"mean": fitted.means[0, 0], "variance": fitted.covariances[0, 0, 0]}
        return {"mean": fitted.means[0], "covariance": fitted.covariances[0]}
