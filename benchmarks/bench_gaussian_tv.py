"""The exact Gaussian TV (the generalized chi-square route) against the Monte Carlo route it replaces, side by side.

Run by hand (not in CI): ``python -m benchmarks.bench_gaussian_tv``. One BLAS thread. Prints

- the Gaussian MLE loop in d = 10 (100 replicates, 10 generations, fully synthetic at N = 32): its wall time with the
  exact TV, and with the fits' TV by the Monte Carlo route (100 000 draws a fit, what the loop did before), the same
  fits (a wrapper hides that they are Gaussians), their ratio and the largest difference of the two TVs in standard
  errors;
- the cost of one pair, fits against their truth, in d = 3, 10 and 100, batched (the loop's case) and alone;
- random pairs in d = 2 to 50 against 400 000-draw Monte Carlo.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from selfloop.simulators import (  # noqa: E402
    GaussianMixture,
    GaussianMLE,
    Scenario,
    gaussian_tv,
    run_loop,
    tv_monte_carlo,
)


class _Opaque:
    """A fit seen through its density and sampler only: the loop cannot tell it is a Gaussian, so TV takes the Monte
    Carlo route (the route before the exact one)."""

    def __init__(self, fit: GaussianMixture) -> None:
        self.fit, self.dim = fit, fit.dim

    def pdf(self, x):
        return self.fit.pdf(x)

    def logpdf(self, x):
        return self.fit.logpdf(x)

    def sample(self, n, rng):
        return self.fit.sample(n, rng)


class _OpaqueMLE(GaussianMLE):
    def fit_batch(self, data, rngs=None):
        return [_Opaque(fit) for fit in super().fit_batch(data, rngs)]

    def parameters(self, fitted: _Opaque) -> dict:
        return super().parameters(fitted.fit)


def loop_side_by_side() -> None:
    dim = 10
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(dim, dim)))[0]
    truth = GaussianMixture([1.0], [np.zeros(dim)], [rotation @ np.diag(np.linspace(0.5, 2.0, dim)) @ rotation.T])
    scenario, options = Scenario.fully_synthetic(32), dict(generations=10, seed=0, replicates=100)
    start = time.perf_counter()
    exact = run_loop(truth, GaussianMLE(), scenario, **options)
    exact_seconds = time.perf_counter() - start
    start = time.perf_counter()
    monte_carlo = run_loop(truth, _OpaqueMLE(), scenario, **options)
    monte_carlo_seconds = time.perf_counter() - start
    z = np.abs(exact.tv - monte_carlo.tv) / monte_carlo.tv_stderr
    print(
        f"d = 10 loop, 100 replicates x 11 fits: exact {exact_seconds:.2f} s, Monte Carlo (100 000 draws a fit) "
        f"{monte_carlo_seconds:.2f} s, ratio {monte_carlo_seconds / exact_seconds:.1f}; the same fits' TVs differ by at "
        f"most {z.max():.2f} Monte Carlo standard errors (mean |z| {z.mean():.2f})"
    )


def per_pair() -> None:
    rng = np.random.default_rng(1)
    for dim, points in ((3, 16), (10, 32), (100, 316)):
        pairs = 200 if dim < 100 else 20
        covariances = np.array([np.cov(rng.normal(size=(points, dim)), rowvar=False, bias=True) for _ in range(pairs)])
        means = rng.normal(size=(pairs, dim)) / np.sqrt(points)
        gaussian_tv(np.zeros(dim), np.eye(dim), means[:2], covariances[:2])  # warm up
        start = time.perf_counter()
        _, errors = gaussian_tv(np.zeros(dim), np.eye(dim), means, covariances, return_error=True)
        batched = (time.perf_counter() - start) / pairs
        start = time.perf_counter()
        for mean, covariance in zip(means[:20], covariances[:20]):
            gaussian_tv(np.zeros(dim), np.eye(dim), mean, covariance)
        alone = (time.perf_counter() - start) / 20
        print(
            f"d = {dim:3d} (fits on {points} points): {1e3 * batched:.2f} ms a pair batched, {1e3 * alone:.2f} ms alone; "
            f"largest stated error {errors.max():.1e}"
        )


def against_monte_carlo() -> None:
    """Random pairs in d = 2, 3, 10, 31, 50 (covariances AA^T/d + I/2, means 0.3 N(0, I) apart, seed 11): the exact TV
    with its stated error beside 400 000-draw Monte Carlo and the difference in standard errors."""
    rng = np.random.default_rng(11)
    print("| d | exact TV (stated error) | Monte Carlo, 400 000 draws | z |")
    print("|---|---|---|---|")
    for dim in (2, 3, 10, 31, 50):
        first, second = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
        covariance1 = first @ first.T / dim + 0.5 * np.eye(dim)
        covariance2 = second @ second.T / dim + 0.5 * np.eye(dim)
        mean1, mean2 = np.zeros(dim), 0.3 * rng.normal(size=dim)
        value, error = gaussian_tv(mean1, covariance1, mean2, covariance2, return_error=True)
        estimate = tv_monte_carlo(
            GaussianMixture([1.0], mean1[None], covariance1[None]),
            GaussianMixture([1.0], mean2[None], covariance2[None]),
            400_000,
            np.random.default_rng(dim),
        )
        z = (estimate.value - value) / estimate.stderr
        print(f"| {dim} | {value:.6f} ({error:.0e}) | {estimate.value:.6f} ± {estimate.stderr:.6f} | {z:+.2f} |")


if __name__ == "__main__":
    loop_side_by_side()
    per_pair()
    against_monte_carlo()
