r"""The linear-regression loop (Gerstgrasser et al. 2024, arXiv:2404.01413; Dohmatob, Feng and Kempe 2024,
arXiv:2402.07712) as a conditional generative model in the loop.

Covariates :math:`x \sim N(0, I_d)`, labels :math:`y = x\cdot w^* + N(0, \sigma^2)`. A point of the loop is the pair
:math:`(x, y) \in \mathbb R^{d+1}`, so the truth is the joint Gaussian
:math:`N\big(0, \begin{pmatrix} I & w^* \\ w^{*T} & |w^*|^2 + \sigma^2\end{pmatrix}\big)`
(:func:`regression_truth`). :class:`LinearRegression` fits ordinary least squares on the pairs it is given and, as a
generative model, samples fresh covariates and labels them with its fit and the known noise: its law is the same joint
Gaussian with :math:`\hat w` in place of :math:`w^*`. So ``run_loop`` runs the field's loops unchanged: fully
synthetic (generation i fits on T fresh covariates labelled by model i - 1: *replace*) and accumulating (on all the
(i + 1) T pairs so far).

The loop's TV is that of the joint laws, which share the covariates' law, so it is the covariates' mean of the labels'
TV: :math:`E_x\,\mathrm{TV}(N(x\cdot\hat w, \sigma^2), N(x\cdot w^*, \sigma^2)) = E\,[2\Phi(|g|\,r) - 1] =
\tfrac2\pi\arctan r` with :math:`g \sim N(0, 1)` and :math:`r = |\hat w - w^*|/(2\sigma)` (:func:`regression_tv`):
the fits and the truth are :class:`RegressionLaw`, so the loop measures it in closed form.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .degenerate import DegenerateFit
from .standard_truths import register_truth
from .truth import GaussianMixture
from .validation import check_data, check_positive

__all__ = ["LinearRegression", "RegressionLaw", "regression_truth", "regression_tv", "shared_covariates_tv"]


class RegressionLaw(GaussianMixture):
    r"""The joint Gaussian of :math:`(x, y)`, :math:`x \sim N(0, I_d)`, :math:`y = x\cdot w + N(0, \sigma^2)`, that
    remembers its label ``noise`` :math:`\sigma`: two of one noise have the closed-form TV :func:`regression_tv`
    (:meth:`tv_to`), which the loop and :func:`selfloop.simulators.tv` use in place of the general Gaussian integral."""

    noise: float

    @property
    def coefficients(self) -> np.ndarray:
        """The regression weights w, (d,): the labels' covariance with the covariates."""
        return self.covariances[0, :-1, -1]

    def __repr__(self) -> str:
        return f"RegressionLaw(dim={self.dim}, noise={self.noise})"

    def tv_to(self, fits: Sequence) -> np.ndarray | None:
        """The closed-form TV to each of ``fits`` when they are regression laws of this noise
        (:func:`shared_covariates_tv`), else None."""
        return shared_covariates_tv(self, fits)


def regression_truth(weights, noise: float) -> RegressionLaw:
    r"""The joint law of :math:`(x, y)`, :math:`x \sim N(0, I_d)`, :math:`y = x\cdot w + N(0, \sigma^2)`, in :math:`\mathbb R^{d+1}`."""
    weights = np.atleast_1d(np.asarray(weights, dtype=float))
    if weights.ndim != 1 or not np.all(np.isfinite(weights)):
        raise ValueError(f"weights must be a finite vector, got {weights!r}")
    noise = check_positive("noise", noise)
    return _laws(weights[None], noise)[0]


def _laws(weights: np.ndarray, noise: float) -> list[RegressionLaw]:
    """The joint laws of the rows of ``weights`` (R, d) and one noise, built together (positive definite by
    construction, so the mixture constructor's checks are skipped and the Cholesky factors taken at once)."""
    covariances = _joint_covariances(weights, noise)[:, None]
    count, dim = len(weights), covariances.shape[-1]
    laws = RegressionLaw._valid(
        np.ones((count, 1)), np.zeros((count, 1, dim)), covariances, np.linalg.cholesky(covariances)
    )
    for law in laws:
        law.noise = noise
    return laws


def _joint_covariances(weights: np.ndarray, noise: float) -> np.ndarray:
    r"""The joint laws' covariances :math:`\begin{pmatrix} I & w \\ w^T & |w|^2 + \sigma^2\end{pmatrix}`, (R, d + 1, d + 1)
    for the rows w of ``weights`` (R, d); positive definite, the Schur complement of I being :math:`\sigma^2`."""
    count, dim = weights.shape
    covariances = np.broadcast_to(np.eye(dim + 1), (count, dim + 1, dim + 1)).copy()
    covariances[:, :dim, dim] = covariances[:, dim, :dim] = weights
    covariances[:, dim, dim] = [row @ row + noise**2 for row in weights]
    return covariances


def regression_tv(weights, truth_weights, noise: float) -> np.ndarray:
    r""":math:`\tfrac2\pi\arctan(|\hat w - w^*|/(2\sigma))`, the TV between the joint laws; ``weights`` (..., d)."""
    error = np.linalg.norm(np.asarray(weights, dtype=float) - np.asarray(truth_weights, dtype=float), axis=-1)
    return 2 / np.pi * np.arctan(error / (2 * check_positive("noise", noise)))


def shared_covariates_tv(truth: RegressionLaw, fits: Sequence) -> np.ndarray | None:
    """:func:`regression_tv` of each fit to ``truth`` when all are :class:`RegressionLaw` of one noise (they then
    share the covariates' law and the labels' noise), else None (the general Gaussian route applies)."""
    if not isinstance(truth, RegressionLaw):
        return None
    if not all(isinstance(fit, RegressionLaw) and fit.noise == truth.noise for fit in fits):
        return None
    return regression_tv(np.stack([fit.coefficients for fit in fits]), truth.coefficients, truth.noise)


class LinearRegression:
    r"""Ordinary least squares on pairs :math:`(x, y)` (the last column is y), sampled as a conditional generative
    model with the known label noise :math:`\sigma`: fresh :math:`x \sim N(0, I)`, :math:`y = x\cdot\hat w + N(0, \sigma^2)`.

    The fit is the joint law, a :class:`RegressionLaw` (:func:`regression_truth` of :math:`\hat w`);
    :meth:`parameters` gives :math:`\hat w` to the loop (``LoopResult.parameters["weights"]``).
    """

    def __init__(self, noise: float = 1.0) -> None:
        self.noise = check_positive("noise", noise)

    def __repr__(self) -> str:
        return f"LinearRegression(noise={self.noise})"

    def fit(self, data, rng: np.random.Generator | None = None) -> RegressionLaw:
        """OLS of the last column on the others; raises ValueError on too few points or a singular design."""
        return self.fit_batch([data])[0]

    def fit_batch(self, data: Sequence, rngs: Sequence[np.random.Generator] | None = None) -> list[RegressionLaw]:
        """Each set of ``data`` fitted by its own least squares, and the joint laws built together
        (:class:`selfloop.simulators.protocol.BatchFitting`)."""
        sets = [check_data("data", points) for points in data]
        if len({points.shape[1] for points in sets}) > 1:  # sets of several dimensions: one batch each
            return [fit for points in sets for fit in self.fit_batch([points])]
        weights = []
        for points in sets:
            n, columns = points.shape
            if columns < 2:
                raise ValueError("data: need covariates and a label column, (n, d + 1) with d >= 1")
            if n <= columns:
                raise ValueError(
                    f"data: {n} points cannot fit {columns - 1} weights by least squares (need > {columns})"
                )
            fitted, _, rank, _ = np.linalg.lstsq(points[:, :-1], points[:, -1], rcond=None)
            if rank < columns - 1:
                raise DegenerateFit("data: collapsed sample, the design matrix is singular")
            weights.append(fitted)
        return _laws(np.array(weights), self.noise)

    def parameters(self, fitted: RegressionLaw) -> dict[str, np.ndarray]:
        r"""The fit's weights :math:`\hat w`, (d,)."""
        return {"weights": fitted.coefficients.copy()}


#: The standard regression truth: d = 5 features, noise 1.
REGRESSION_WEIGHTS = np.array([1.0, -0.5, 0.25, 0.0, 2.0])
register_truth("regression_5d", lambda: regression_truth(REGRESSION_WEIGHTS, 1.0))
