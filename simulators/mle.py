r"""Gaussian maximum-likelihood model: the classic model-collapse toy.

Fitting returns the single Gaussian :math:`\mathcal N(\hat\mu, \hat\Sigma)`
with :math:`\hat\mu = \bar X` and :math:`\hat\Sigma = \frac1{N - \delta}\sum (X_j-\bar X)(X_j-\bar X)^T`:
``ddof`` :math:`\delta = 0` is the MLE, biased by the factor (N-1)/N, which drives the variance to zero under fully
synthetic retraining; :math:`\delta = 1` the unbiased estimator, which still collapses (its square root is biased
down, and the log of its determinant drifts down: Bertrand et al., Suresh et al.).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .degenerate import DegenerateFit
from .truth import GaussianMixture
from .validation import check_data

__all__ = ["GaussianMLE"]

#: Smallest eigenvalue of the fitted covariance, relative to its largest, below which the sample is collapsed.
COLLAPSE_TOLERANCE = 1e-12


class GaussianMLE:
    """Fits a single Gaussian by maximum likelihood (``ddof=0``) or with the unbiased covariance (``ddof=1``); the fit
    is a :class:`GaussianMixture`. A sample of n <= d points, or one whose covariance is numerically singular, raises
    :class:`DegenerateFit` (singular: inside a loop the replicate is recorded as collapsed, at TV 1)."""

    def __init__(self, ddof: int = 0) -> None:
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 (the MLE) or 1 (the unbiased covariance), got {ddof!r}")
        self.ddof = int(ddof)

    def __repr__(self) -> str:
        return "GaussianMLE()" if self.ddof == 0 else f"GaussianMLE(ddof={self.ddof})"

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
        if n < dim + 1:
            raise DegenerateFit(
                f"data: {n} points cannot fit a {dim}-dimensional covariance (need >= {dim + 1}): it is singular",
                singular=True,
            )
        means = stacked.mean(axis=1)
        centred = stacked - means[:, None, :]
        covariances = np.swapaxes(centred, 1, 2) @ centred / (n - self.ddof)
        eigenvalues = np.linalg.eigvalsh(covariances)
        if not np.all(eigenvalues[:, 0] > COLLAPSE_TOLERANCE * np.maximum(eigenvalues[:, -1], np.finfo(float).tiny)):
            raise DegenerateFit("data: collapsed sample, the fitted covariance is singular", singular=True)
        # finite, symmetric and positive definite: the constructor's checks hold
        covariances = covariances[:, None]
        return GaussianMixture._valid(
            np.ones((len(sets), 1)), means[:, None], covariances, np.linalg.cholesky(covariances)
        )

    def parameters(self, fitted: GaussianMixture) -> dict[str, np.ndarray]:
        """The fit's parameters: in 1-D ``mean`` and ``variance`` (scalars); else ``mean`` (d,) and ``covariance`` (d, d)."""
        if fitted.dim == 1:
            return {"mean": fitted.means[0, 0], "variance": fitted.covariances[0, 0, 0]}
        return {"mean": fitted.means[0], "covariance": fitted.covariances[0]}
