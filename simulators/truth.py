r"""Gaussian mixtures: the analytic real distribution :math:`p_0`.

A mixture :math:`p(x) = \sum_k w_k\, \mathcal N(x; \mu_k, \Sigma_k)` has an
exact density, sampler, moments and Laplacian, and is closed under
convolution with :math:`G_s = \mathcal N(0, sI)`:
:math:`p * G_s = \sum_k w_k\, \mathcal N(\mu_k, \Sigma_k + sI)`. That closure is
what makes the expected KDE density and the Theorem K functionals exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np
from scipy import special

from .estimate import MonteCarloEstimate
from .grid import Box, Grid, tail_quantile
from .keys import content_key
from .logspace import log_sum_exp
from .validation import check_data, check_size

__all__ = ["GaussianMixture"]

#: Number of nodes per axis for the quadrature of truth functionals.
_QUADRATURE_NODES = {1: 1 << 16, 2: 768}


_Mixture = TypeVar("_Mixture", bound="GaussianMixture")


class GaussianMixture:
    r"""Finite mixture of Gaussians in :math:`\mathbb R^d`.

    .. math:: p(x) = \sum_{k=1}^K w_k\, \mathcal N(x; \mu_k, \Sigma_k)

    Parameters
    ----------
    weights : array_like (K,)
        Non-negative, summing to one (to 1e-9; they are then renormalised).
    means : array_like (K, d)
    covariances : array_like (K, d, d)
        Symmetric positive definite.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    _cholesky: np.ndarray
    _whitening: np.ndarray
    _log_det: np.ndarray
    _cumulative: np.ndarray
    _diagonal_scale: np.ndarray | None

    def __init__(self, weights, means, covariances) -> None:
        weights = np.atleast_1d(np.asarray(weights, dtype=float))
        means = np.asarray(means, dtype=float)
        covariances = np.asarray(covariances, dtype=float)
        if weights.ndim != 1 or weights.size < 1:
            raise ValueError(f"weights must have shape (K,), got {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("weights must be finite and non-negative")
        if abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1, got {weights.sum()!r}")
        components = weights.size
        if means.ndim == 1 and components == 1:
            means = means[None, :]
        if means.ndim != 2 or means.shape[0] != components:
            raise ValueError(f"means must have shape (K, d) with K={components}, got {means.shape}")
        dim = means.shape[1]
        if covariances.shape != (components, dim, dim):
            raise ValueError(f"covariances must have shape ({components}, {dim}, {dim}), got {covariances.shape}")
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(covariances))):
            raise ValueError("means and covariances must be finite")
        transposed = np.swapaxes(covariances, 1, 2)  # np.allclose's test, without its overhead (all finite here)
        if np.any(np.abs(covariances - transposed) > 1e-12 + 1e-10 * np.abs(transposed)):
            raise ValueError("covariances must be symmetric")
        try:
            cholesky = np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise ValueError("covariances must be positive definite") from None
        (checked,) = self._valid((weights / weights.sum())[None], means[None], covariances[None], cholesky[None])
        self.__dict__.update(vars(checked))  # one path that stores a mixture, checked here or a fit's

    @classmethod
    def _valid(cls: type[_Mixture], weights, means, covariances, cholesky) -> list[_Mixture]:
        """Mixtures from stacked parameters already valid (R of them: weights (R, K) summing to one, means (R, K, d),
        covariances and their Cholesky factors (R, K, d, d)), the constructor's checks skipped and the factors' derived
        terms computed for all R at once (a maximum-likelihood fit paid twice its own arithmetic in checks)."""
        whitening = np.linalg.inv(cholesky).swapaxes(-1, -2)  # x @ L^-T whitens
        diagonal = np.diagonal(cholesky, axis1=-2, axis2=-1)
        log_det = 2.0 * np.log(diagonal).sum(axis=-1)
        cumulative = np.cumsum(weights, axis=-1) / np.sum(weights, axis=-1, keepdims=True)  # as Generator.choice does
        dim = cholesky.shape[-1]
        scaled = [True] * len(weights)  # whether a mixture's factors are diagonal: always in 1-D
        if dim > 1:
            off_diagonal = (cholesky - diagonal[..., None] * np.eye(dim)).reshape(len(weights), -1)
            scaled = (np.count_nonzero(off_diagonal, axis=1) == 0).tolist()
        mixtures = []
        for r, weight in enumerate(weights):
            mixture = cls.__new__(cls)
            mixture.weights, mixture.means, mixture.covariances = weight, means[r], covariances[r]
            mixture._cholesky, mixture._whitening, mixture._log_det = cholesky[r], whitening[r], log_det[r]
            mixture._cumulative, mixture._diagonal_scale = cumulative[r], diagonal[r] if scaled[r] else None
            mixtures.append(mixture)
        return mixtures

    # ------------------------------------------------------------------ basics
    @classmethod
    def isotropic(cls, weights, means, variances) -> GaussianMixture:
        """Mixture with covariances ``variances[k] * I``."""
        means = np.asarray(means, dtype=float)
        if means.ndim == 1:
            means = means[:, None]
        variances = np.atleast_1d(np.asarray(variances, dtype=float))
        dim = means.shape[1]
        return cls(weights, means, variances[:, None, None] * np.eye(dim))

    @classmethod
    def combine(cls, parts: Iterable[tuple[float, GaussianMixture]]) -> GaussianMixture:
        r"""The mixture :math:`\sum_j c_j p_j` of mixtures, flattened; zero weights are dropped."""
        parts = [(float(c), p) for c, p in parts if c > 0]
        weights = np.concatenate([c * p.weights for c, p in parts])
        means = np.concatenate([p.means for _, p in parts])
        covariances = np.concatenate([p.covariances for _, p in parts])
        return cls(weights / weights.sum(), means, covariances)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def components(self) -> int:
        return self.weights.size

    @property
    def key(self) -> str:
        """A content key of the law (SHA-256 of its weights, means and covariances; :class:`selfloop.simulators.protocol.Truth`)."""
        return content_key("gaussian-mixture", self.weights, self.means, self.covariances)

    def __repr__(self) -> str:
        return f"GaussianMixture(components={self.components}, dim={self.dim})"

    def logpdf(self, x) -> np.ndarray:
        """Log density at ``x`` (n, d), by log-sum-exp over components (stable in the tails)."""
        return log_sum_exp(self._component_logs(check_data("x", x, self.dim))[0])

    def _component_logs(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each component's log weight plus log density at ``x`` (K, n), and the whitened points."""
        logs, points = np.empty((self.components, x.shape[0])), []
        for k in range(self.components):
            points.append((x - self.means[k]) @ self._whitening[k])
            logs[k] = -0.5 * (np.sum(points[k] ** 2, axis=1) + self._log_det[k] + self.dim * np.log(2 * np.pi))
        with np.errstate(divide="ignore"):
            return logs + np.log(self.weights)[:, None], points

    def pdf(self, x) -> np.ndarray:
        """Density at ``x`` (n, d) -> (n,)."""
        return np.exp(self.logpdf(x))

    def score(self, x) -> np.ndarray:
        r"""The score :math:`\nabla\log p(x) = -\sum_k r_k(x)\,\Sigma_k^{-1}(x - \mu_k)` at ``x`` (n, d) -> (n, d), with
        the responsibilities :math:`r_k = w_k \varphi_k/p` by log-sum-exp; of a diffusion's forward marginal
        :math:`q_t` (again a mixture), it is the exact score (an oracle :class:`selfloop.simulators.ScoreDiffusion`)."""
        logs, whitened = self._component_logs(check_data("x", x, self.dim))
        responsibilities = np.exp(logs - log_sum_exp(logs))
        # Sigma^-1 (x - mu) = L^-T L^-1 (x - mu): each whitened point mapped back by L^-T
        return -sum(r[:, None] * (z @ w.T) for r, z, w in zip(responsibilities, whitened, self._whitening))

    def grid_pdf(self, grid: Grid) -> np.ndarray:
        r"""Density at the nodes of a regular ``grid``, shaped like it.

        A component with a diagonal covariance factorises over the axes,
        :math:`\mathcal N(x; \mu, \operatorname{diag}(\sigma^2)) = \prod_a \mathcal N(x_a; \mu_a, \sigma_a^2)`,
        so the diagonal components together are one matrix product of their 1-D factors,
        :math:`\sum_k w_k f_k(x) g_k(y) = (F\,\mathrm{diag}(w))\,G^\top` in 2-D (:math:`F w` in 1-D),
        instead of a d-dimensional evaluation at every node (timings: docs/performance.md); other
        components are evaluated at the nodes.
        """
        if grid.dim != self.dim:
            raise ValueError(f"grid has dimension {grid.dim}, the mixture has dimension {self.dim}")
        variances = np.diagonal(self.covariances, axis1=1, axis2=2)
        diagonal = np.array([np.count_nonzero(c - np.diag(v)) == 0 for c, v in zip(self.covariances, variances)])
        out = np.zeros(grid.shape)
        if np.any(diagonal):
            factors = [
                np.exp(-0.5 * (axis[:, None] - self.means[diagonal, a]) ** 2 / variances[diagonal, a])
                / np.sqrt(2 * np.pi * variances[diagonal, a])
                for a, axis in enumerate(grid.axes)
            ]  # per axis, (nodes, diagonal components)
            weighted = factors[0] * self.weights[diagonal]
            out += weighted.sum(axis=1) if grid.dim == 1 else weighted @ factors[1].T
        if not np.all(diagonal):
            points = grid.points()
            for weight, mean, covariance in zip(
                self.weights[~diagonal], self.means[~diagonal], self.covariances[~diagonal]
            ):
                out += weight * GaussianMixture(np.ones(1), mean[None], covariance[None]).pdf(points).reshape(
                    grid.shape
                )
        return out

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. draws, shape (n, d)."""
        n = check_size("n", n)
        # the draws of rng.choice(K, size=n, p=weights), without its per-call validation
        labels = self._cumulative.searchsorted(rng.random(n), side="right")
        noise = rng.standard_normal((n, self.dim))
        if self._diagonal_scale is not None:  # diagonal covariances: one gather, no per-component masks
            return self.means[labels] + noise * self._diagonal_scale[labels]
        out = np.empty((n, self.dim))
        for k in range(self.components):
            chosen = labels == k
            out[chosen] = self.means[k] + noise[chosen] @ self._cholesky[k].T
        return out

    def smoothed(self, s2: float) -> GaussianMixture:
        r"""The exact convolution :math:`p * \mathcal N(0, s_2 I)`; ``s2 = 0`` returns ``self``."""
        s2 = float(s2)
        if np.isnan(s2) or s2 < 0:
            raise ValueError(f"s2 must be a non-negative variance, got {s2!r}")
        if s2 == 0:
            return self
        return GaussianMixture(self.weights, self.means, self.covariances + s2 * np.eye(self.dim))

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the mixture has probability at most ``mass``."""
        z = tail_quantile(mass / (self.components * self.dim))
        spread = z * np.sqrt(np.diagonal(self.covariances, axis1=1, axis2=2))
        return Box((self.means - spread).min(axis=0), (self.means + spread).max(axis=0))

    @property
    def grid_spacing(self) -> float:
        """A quadrature step that resolves the narrowest component: 1/40 (1-D) or 1/20 (2-D) of its smallest std.

        The trapezoidal rule is spectrally accurate on Gaussians and the kinks
        of |p - q| are corrected to third order, so 1/20 gives ~3e-7 in 2-D
        (1/10 would give about 3e-6 where a kink is parallel to an axis).
        """
        return float(np.sqrt(np.linalg.eigvalsh(self.covariances).min()) / (40.0 if self.dim == 1 else 20.0))

    # ------------------------------------------------------------- moments
    def mean(self) -> np.ndarray:
        """Exact mean (d,)."""
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        """Exact covariance (d, d) (law of total covariance)."""
        mu = self.mean()
        centred = self.means - mu
        within = np.einsum("k,kij->ij", self.weights, self.covariances)
        between = np.einsum("k,ki,kj->ij", self.weights, centred, centred)
        return within + between

    def squared_norm_moment(self, order: int) -> float:
        r"""Exact :math:`E|X|^{2\,\text{order}}`.

        For one Gaussian, :math:`Q = |X|^2` has cumulants
        :math:`\kappa_r = 2^{r-1}(r-1)!\,[\operatorname{tr}\Sigma^r + r\,\mu^T\Sigma^{r-1}\mu]`,
        and raw moments follow from :math:`m_n = \sum_{k=1}^n \binom{n-1}{k-1}\kappa_k m_{n-k}`.
        """
        order = int(order)
        if order < 0:
            raise ValueError(f"order must be >= 0, got {order}")
        if order == 0:
            return 1.0
        if order == 1:  # kappa_1 = tr Sigma + |mu|^2, every component at once
            return float(self.weights @ (np.trace(self.covariances, axis1=1, axis2=2) + np.sum(self.means**2, axis=1)))
        total = 0.0
        for weight, mu, sigma in zip(self.weights, self.means, self.covariances):
            cumulants = [0.0]
            power = np.eye(self.dim)  # Sigma^(r-1)
            for r in range(1, order + 1):
                trace_term = np.trace(power @ sigma)
                mean_term = r * mu @ power @ mu
                cumulants.append(2 ** (r - 1) * special.factorial(r - 1) * (trace_term + mean_term))
                power = power @ sigma
            moments = [1.0]
            for n in range(1, order + 1):
                moments.append(sum(special.comb(n - 1, k - 1) * cumulants[k] * moments[n - k] for k in range(1, n + 1)))
            total += weight * moments[order]
        return float(total)

    def weight_moment(self, s: int) -> float:
        r"""Exact :math:`E(1 + |X|^2)^s` for integer ``s`` (binomial expansion)."""
        s = int(s)
        return float(sum(special.comb(s, j) * self.squared_norm_moment(j) for j in range(s + 1)))

    # ------------------------------------------------------------- functionals
    def quadrature_grid(self, extra_variance: float = 0.0, mass: float = 1e-12) -> Grid:
        """A grid covering the mass of ``self.smoothed(extra_variance)`` for quadrature (d <= 2)."""
        box = self.smoothed(extra_variance).bounding_box(mass)
        width = float(np.max(box.upper - box.lower))
        return Grid.covering(box, width / (_QUADRATURE_NODES[self.dim] - 1))

    def laplacian(self, x) -> np.ndarray:
        r"""Exact Laplacian :math:`\Delta p(x)`.

        For one Gaussian, :math:`\Delta \varphi = \varphi\,(|\Sigma^{-1}(x-\mu)|^2 - \operatorname{tr}\Sigma^{-1})`.
        """
        x = check_data("x", x, self.dim)
        out = np.zeros(x.shape[0])
        for weight, mu, sigma, log_det in zip(self.weights, self.means, self.covariances, self._log_det):
            precision = np.linalg.inv(sigma)
            centred = x - mu
            score = centred @ precision
            quad = np.sum(score * centred, axis=1)
            density = np.exp(-0.5 * (quad + log_det + self.dim * np.log(2 * np.pi)))
            out += weight * density * (np.sum(score**2, axis=1) - np.trace(precision))
        return out

    def laplacian_l1(self, *, samples: int = 200_000, rng: np.random.Generator | None = None) -> MonteCarloEstimate:
        r""":math:`\|\Delta p\|_1 = \int |\Delta p(x)|\,dx`.

        Quadrature on a fine grid in d <= 2 (``stderr`` is 0 there: the error
        is below 1e-8). Above, unbiased Monte Carlo
        :math:`E_{x\sim p}[|\Delta p(x)|/p(x)]` with its standard error.
        """
        if self.dim <= 2:
            grid = self.quadrature_grid()
            value = grid.integrate_abs(self.laplacian(grid.points()).reshape(grid.shape))
            return MonteCarloEstimate(value, 0.0, 0)
        rng = np.random.default_rng(0) if rng is None else rng
        x = self.sample(samples, rng)
        ratio = np.abs(self.laplacian(x)) / self.pdf(x)
        return MonteCarloEstimate(float(ratio.mean()), float(ratio.std(ddof=1) / np.sqrt(samples)), samples)

    def sqrt_integral(self, *, samples: int = 200_000, rng: np.random.Generator | None = None) -> MonteCarloEstimate:
        r""":math:`\int \sqrt{p(x)}\,dx`.

        Quadrature in d <= 2. Above, importance sampling from the proposal
        :math:`g` = this mixture with doubled covariances, for which
        :math:`\int p/g < \infty` so the estimator has finite variance.
        """
        proposal = GaussianMixture(self.weights, self.means, 2.0 * self.covariances)
        if self.dim <= 2:
            grid = proposal.quadrature_grid()  # sqrt(p) decays like the doubled-covariance mixture
            return MonteCarloEstimate(grid.integrate(np.sqrt(grid.evaluate(self))), 0.0, 0)
        rng = np.random.default_rng(0) if rng is None else rng
        x = proposal.sample(samples, rng)
        ratio = np.exp(0.5 * self.logpdf(x) - proposal.logpdf(x))
        return MonteCarloEstimate(float(ratio.mean()), float(ratio.std(ddof=1) / np.sqrt(samples)), samples)
