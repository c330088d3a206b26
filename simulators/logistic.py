r"""Logistic regression as a generative model of labelled points, and its maximum-likelihood fit by Newton's method.

The law (:class:`LogisticLaw`): covariates :math:`x \sim N(0, I_d)`, a label :math:`y \in \{0, 1\}` with
:math:`P(y = 1 \mid x) = \sigma(\beta^T x)`; a point is the row :math:`(x, y)` of width d + 1. A fit keeps the
covariates' law and replaces :math:`\beta` by the MLE :math:`\hat\beta` (:class:`LogisticMLE`), so a loop's synthetic
points relabel fresh covariates by the fitted :math:`\hat\beta`. Dey and Donoho (arXiv:2410.22812) show that for such
exponential-family fits, accumulating data keeps :math:`E\|\hat\beta_i - \beta\|^2_{I}` within :math:`\pi^2/6` of the
first generation's as n grows, while replacing data makes it grow like i + 1 (docs/theory.md, section 16).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from .degenerate import DegenerateFit
from .keys import content_key
from .protocol import OneAtATime
from .validation import check_data, check_size

__all__ = ["LogisticLaw", "LogisticMLE", "logistic_tv"]

#: Newton's method stops when the step's largest coordinate is below this, or fails after NEWTON_STEPS steps.
NEWTON_TOLERANCE, NEWTON_STEPS = 1e-10, 60
#: A coefficient beyond this means the labels are (nearly) separable: no finite MLE.
SEPARATED = 1e3
#: Gauss-Legendre nodes per axis for TV, on [0, 12] across the kink and [-12, 12] along it (Gaussian mass beyond 12
#: standard deviations: 2e-33).
TV_NODES, TV_REACH = 96, 12.0


def logistic_tv(coefficients, others) -> np.ndarray:
    r"""TV between the law of ``coefficients`` :math:`\beta` and that of each row of ``others`` :math:`\hat\beta` (one
    covariate law N(0, I)): :math:`E_x|\sigma(\beta^T x) - \sigma(\hat\beta^T x)|`.

    In the plane of :math:`\beta, \hat\beta`, with u along :math:`\beta - \hat\beta` (the difference changes sign
    exactly at u = 0) and v across it, the half u < 0 mirrors u > 0 (:math:`\sigma(-z) = 1 - \sigma(z)`), so
    TV = :math:`2\int_{u>0}\int_v [\sigma(a) - \sigma(b)]\varphi(u)\varphi(v)`, a smooth integrand on each side:
    Gauss-Legendre in both (:data:`TV_NODES`).
    """
    beta = np.asarray(coefficients, dtype=float)
    fitted = np.atleast_2d(np.asarray(others, dtype=float))
    difference = beta - fitted
    size = np.linalg.norm(difference, axis=1)
    out = np.zeros(len(fitted))
    moved = np.flatnonzero(size > 0)
    nodes, weights = np.polynomial.legendre.leggauss(TV_NODES)
    u, wu = (nodes + 1) * TV_REACH / 2, weights * TV_REACH / 2
    v, wv = nodes * TV_REACH, weights * TV_REACH
    density = np.exp(-0.5 * (u[:, None] ** 2 + v[None, :] ** 2)) / (2 * np.pi) * wu[:, None] * wv[None, :]
    for row in moved:
        across = difference[row] / size[row]
        along = beta - (across @ beta) * across  # beta's part orthogonal to u (beta - fit is in the plane)
        if np.linalg.norm(along) > 0:
            along = along / np.linalg.norm(along)
        a = (beta @ across) * u[:, None] + (beta @ along) * v[None, :]
        b = (fitted[row] @ across) * u[:, None] + (fitted[row] @ along) * v[None, :]
        out[row] = 2 * np.sum((special.expit(a) - special.expit(b)) * density)
    return np.clip(out, 0.0, 1.0)


class LogisticLaw:
    """Covariates N(0, I_d) and labels with :math:`P(y = 1 | x) = \\sigma(\\beta^T x)`; points (n, d + 1), the label
    last.

    Examples
    --------
    >>> law = LogisticLaw([1.0, -0.5])
    >>> law.dim, law.sample(3, np.random.default_rng(0)).shape
    (3, (3, 3))
    """

    def __init__(self, coefficients) -> None:
        beta = np.asarray(coefficients, dtype=float)
        if beta.ndim != 1 or beta.size < 1 or not np.all(np.isfinite(beta)):
            raise ValueError(f"coefficients must be a finite vector, got {coefficients!r}")
        self.coefficients = beta

    @property
    def dim(self) -> int:
        return self.coefficients.size + 1

    @property
    def key(self) -> str:
        """A content key of the law (:class:`selfloop.simulators.protocol.Truth`)."""
        return content_key("logistic", self.coefficients)

    def __repr__(self) -> str:
        return f"LogisticLaw({np.round(self.coefficients, 4).tolist()})"

    def logpdf(self, points) -> np.ndarray:
        """:math:`\\log \\varphi(x) + \\log \\sigma(\\pm \\beta^T x)`; -inf for a label that is not 0 or 1."""
        array = check_data("points", points, self.dim)
        x, y = array[:, :-1], array[:, -1]
        score = x @ self.coefficients
        label = np.where(y == 1, 1.0, -1.0)
        out = -0.5 * np.sum(x * x, axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi) + special.log_expit(label * score)
        return np.where((y == 0) | (y == 1), out, -np.inf)

    def pdf(self, points) -> np.ndarray:
        """The density (Lebesgue in x, counting in y)."""
        return np.exp(self.logpdf(points))

    def tv_to(self, fits: Sequence) -> np.ndarray | None:
        """The TV to each of ``fits`` if they are logistic laws of one dimension (:func:`logistic_tv`), else None."""
        if not all(isinstance(fit, LogisticLaw) and fit.dim == self.dim for fit in fits):
            return None
        return logistic_tv(self.coefficients, np.stack([fit.coefficients for fit in fits]))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` labelled points: covariates first, then their labels."""
        x = rng.standard_normal((check_size("n", n), self.coefficients.size))
        y = rng.random(n) < special.expit(x @ self.coefficients)
        return np.column_stack([x, y.astype(float)])


class LogisticMLE(OneAtATime):
    r"""The maximum-likelihood :math:`\hat\beta` (no intercept) by Newton's method on the log-likelihood, every set of a
    batch at once; separable labels (no finite MLE) raise :class:`DegenerateFit`."""

    def __repr__(self) -> str:
        return "LogisticMLE()"

    def fit(self, data, rng: np.random.Generator | None = None) -> LogisticLaw:
        """Fit on labelled points ``data`` (n, d + 1)."""
        return self.fit_batch([data])[0]

    def fit_batch(self, data: Sequence, rngs: Sequence[np.random.Generator] | None = None) -> list[LogisticLaw]:
        """Each of ``data`` fitted (:class:`selfloop.simulators.protocol.BatchFitting`)."""
        sets = [check_data("data", points) for points in data]
        if len({points.shape for points in sets}) > 1:
            return [fitted for points in sets for fitted in self.fit_batch([points])]
        return self._newton(np.stack(sets), None)

    def fit_weighted_batch(
        self, data: Sequence, weights: np.ndarray, rngs: Sequence[np.random.Generator] | None = None
    ) -> list[LogisticLaw]:
        """Each of ``data`` fitted with point weights summing to 1 (the weighted log-likelihood)."""
        return self._newton(np.stack([check_data("data", points) for points in data]), np.asarray(weights, float))

    def _newton(self, stacked: np.ndarray, weights: np.ndarray | None) -> list[LogisticLaw]:
        x, y = stacked[:, :, :-1], stacked[:, :, -1]
        if np.any((y != 0) & (y != 1)):
            raise ValueError("data: the last column must hold labels 0 or 1")
        weights = np.full(x.shape[1], 1.0 / x.shape[1]) if weights is None else weights
        beta = np.zeros((x.shape[0], x.shape[2]))
        for _ in range(NEWTON_STEPS):
            p = special.expit(np.einsum("rnd,rd->rn", x, beta))
            gradient = np.einsum("n,rnd,rn->rd", weights, x, y - p)
            hessian = np.einsum("n,rnd,rne,rn->rde", weights, x, x, p * (1 - p))
            try:
                step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
            except np.linalg.LinAlgError:  # every fitted probability 0 or 1: the labels are separated
                break
            beta = beta + step
            if np.max(np.abs(beta)) > SEPARATED:
                break
            if np.max(np.abs(step)) < NEWTON_TOLERANCE:
                return [LogisticLaw(row) for row in beta]
        raise DegenerateFit("data: the labels are (nearly) separable, so the logistic MLE is not finite")

    def parameters(self, fitted: LogisticLaw) -> dict[str, np.ndarray]:
        """The fitted coefficients (d,) (:class:`selfloop.simulators.protocol.ParametricModel`)."""
        return {"coefficients": fitted.coefficients}
