r"""The Gaussian MLE loop's exact :math:`E\,\mathrm{TV}_i`: the Markov chain of its sufficient statistics.

The loop refits :math:`N(\mu_i, \Sigma_i)` by maximum likelihood (mean and scatter over N) on each generation's
training set. Whitened by the truth :math:`p_0 = N(\mu, \Sigma)` (:math:`x \mapsto \Sigma^{-1/2}(x - \mu)`, which maps
every fit and TV along with it), the truth is :math:`N(0, I)` and a fit is its mean :math:`\delta_i` and its scatter
:math:`S_i` over :math:`n_i` points, :math:`\Sigma_i = S_i/n_i`. Given the last fit, a group of k points drawn from
:math:`N(m, C)` has a sample mean and a scatter with exact, independent laws,

.. math:: \bar y \sim N(m, C/k), \qquad S_y = C^{1/2} W C^{1/2}, \quad W \sim W_d(I, k - 1),

and groups pool exactly (the parallel-axis theorem): for groups :math:`(k_g, \bar y_g, S_g)` with :math:`n = \sum k_g`,
:math:`\bar y = \sum k_g\bar y_g/n` and :math:`S = \sum_g S_g + \sum_g k_g(\bar y_g - \bar y)(\bar y_g - \bar y)^T`.
So one generation of the loop is one step of a Markov chain on :math:`(\delta, S)`, whatever N is:

- fresh data with a fixed split: the r real points (a group from :math:`N(0, I)`) and the s synthetic points (a group
  from :math:`N(\delta_i, \Sigma_i)`) pool into generation i + 1's statistics;
- accumulating data: the pool's statistics and the two new groups pool into the next pool's.

Running D independent chains costs O(D d^3) a generation instead of O(D N d) for the loop itself, and
:math:`\mathrm{TV}_i = \mathrm{TV}(N(\delta_i, \Sigma_i), N(0, I))` per chain gives :math:`E\,\mathrm{TV}_i` as an
average with its standard error. In 1-D each chain's TV is exact, in closed form (the densities cross at the two roots
of a quadratic: :func:`gaussian_tv_to_standard`). In d > 1 there are two unbiased estimators (``chain_tv``):

- ``"one_point"`` (the default): one draw :math:`x \sim N(0, I)` per chain gives :math:`(1 - \hat p(x)/p_0(x))_+`,
  whose mean over the chains and x is :math:`E\,\mathrm{TV}_i`;
- ``"exact"``: each chain's TV by the generalized chi-square law of the log density ratio
  (:func:`selfloop.simulators.gaussian_tv`, to :data:`CHAIN_TOLERANCE`), so the only randomness is the chains'.

The chains' own spread dominates both: per second of work the one-point estimator is the more precise in 3-D (about 25
times, docs/performance.md), so it stays the default. A chain whose scatter is singular is a collapsed fit, at TV 1.

Reference: docs/theory.md, section 9.4. A reused real pool makes the generations dependent through the pool and is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from selfloop.simulators import GaussianMixture, Scenario, gaussian_tv, gaussian_tv_1d

__all__ = ["ExpectedTV", "gaussian_tv_to_standard", "mle_expected_tv"]

#: Chains run at once (memory: a few arrays of this many d x d matrices).
_CHAINS_AT_ONCE = 1 << 17
#: The absolute error of each chain's TV in d > 1 (the mean over chains has a standard error of about 1e-3).
CHAIN_TOLERANCE = 1e-7
#: Chains by default, by how each chain's TV is taken in d > 1 (in 1-D always exactly, in closed form).
DEFAULT_DRAWS = {"one_point": 100_000, "exact": 2_000}


@dataclass(frozen=True)
class ExpectedTV:
    r""":math:`E\,\mathrm{TV}_i` per generation, estimated by ``draws`` independent chains.

    Attributes
    ----------
    mean, standard_error : ndarray (generations + 1,)
    draws : int
    exact_tv : bool
        Each chain's TV exact (1-D, or ``chain_tv="exact"``), or one unbiased Monte Carlo point per chain.
    """

    mean: np.ndarray
    standard_error: np.ndarray
    draws: int
    exact_tv: bool


def gaussian_tv_to_standard(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{TV}(N(m, v), N(0, 1))`, elementwise over arrays ``mean`` and ``variance``
    (:func:`selfloop.simulators.gaussian_tv_1d`: where :math:`v \ne 1` the difference of the two laws' masses
    between the crossings of their log densities, at :math:`v = 1` :math:`2\Phi(|m|/2) - 1`)."""
    return gaussian_tv_1d(mean, variance, 0.0, 1.0)


def _wishart(rng: np.random.Generator, chains: int, dim: int, degrees: int) -> np.ndarray:
    r""":math:`W \sim W_d(I, k)` for ``chains`` chains, (chains, d, d): the Bartlett decomposition
    :math:`W = BB^T` (:math:`B_{jj}^2 \sim \chi^2_{k - j}`, :math:`B_{jl} \sim N(0, 1)` below the diagonal) for
    :math:`k \ge d`, else the sum of k outer products (a singular W); 0 for k = 0."""
    if degrees <= 0:
        return np.zeros((chains, dim, dim))
    if degrees < dim:
        z = rng.standard_normal((chains, degrees, dim))
        return np.einsum("cki,ckj->cij", z, z)
    factor = np.zeros((chains, dim, dim))
    index = np.arange(dim)
    factor[:, index, index] = np.sqrt(rng.chisquare(degrees - index, size=(chains, dim)))
    lower = np.tril_indices(dim, -1)
    factor[:, lower[0], lower[1]] = rng.standard_normal((chains, lower[0].size))
    return factor @ np.swapaxes(factor, 1, 2)


def _group(rng: np.random.Generator, size: int, mean: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Sample mean and scatter of ``size`` points from :math:`N(\text{mean}, \text{root}\,\text{root}^T)` per chain:
    ((chains, d), (chains, d, d)); in 1-D ``mean`` and ``root`` (the standard deviation) are (chains,), and so are
    the results (the scatter is :math:`\sigma^2\chi^2_{k-1}`)."""
    if mean.ndim == 1:
        average = mean + root * rng.standard_normal(mean.shape) / np.sqrt(size)
        return average, (root**2 * rng.chisquare(size - 1, mean.shape) if size > 1 else np.zeros(mean.shape))
    chains, dim = mean.shape
    average = mean + np.einsum("cij,cj->ci", root, rng.standard_normal((chains, dim))) / np.sqrt(size)
    scatter = root @ _wishart(rng, chains, dim, size - 1) @ np.swapaxes(root, 1, 2)
    return average, scatter


def _pool(groups: list[tuple[int, np.ndarray, np.ndarray]]) -> tuple[int, np.ndarray, np.ndarray]:
    """Groups (count, mean, scatter) pooled exactly (parallel-axis theorem); empty groups are skipped."""
    groups = [group for group in groups if group[0] > 0]
    total = sum(count for count, _, _ in groups)
    mean, scatter = np.zeros_like(groups[0][1]), np.zeros_like(groups[0][2])  # 0 + x is x: Python's sum, typed
    for count, average, group_scatter in groups:
        mean, scatter = mean + count * average, scatter + group_scatter
    mean = mean / total
    for count, average, _ in groups:
        offset = average - mean
        scatter = scatter + count * (offset**2 if offset.ndim == 1 else offset[:, :, None] * offset[:, None, :])
    return total, mean, scatter


def _chains(
    scenario: Scenario, generations: int, dim: int, chains: int, rng: np.random.Generator, exact: bool
) -> np.ndarray:
    """TV of every chain at every generation (in d > 1 its one-point value unless ``exact``), (chains, generations + 1).

    In 1-D a chain's state is scalars (mean, scatter) and a group's root is the standard deviation."""
    shape = (chains,) if dim == 1 else (chains, dim)
    zero = np.zeros(shape)
    identity = np.ones(chains) if dim == 1 else np.broadcast_to(np.eye(dim), (chains, dim, dim))
    count, mean, scatter = _pool([(scenario.initial, *_group(rng, scenario.initial, zero, identity))])
    out = np.empty((chains, generations + 1))
    for generation in range(generations + 1):
        covariance = scatter / count
        if dim == 1:
            out[:, generation] = gaussian_tv_to_standard(mean, covariance)
        else:
            out[:, generation] = _chain_tv(mean, covariance) if exact else _one_point_tv(rng, mean, covariance)
        if generation == generations:
            break
        root = np.sqrt(covariance) if dim == 1 else np.linalg.cholesky(covariance)
        groups = [
            (size, *_group(rng, size, centre, spread))
            for size, centre, spread in ((scenario.real, zero, identity), (scenario.synthetic, mean, root))
            if size
        ]
        if scenario.accumulate:
            groups.append((count, mean, scatter))
        count, mean, scatter = _pool(groups)
    return out


def _one_point_tv(rng: np.random.Generator, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    r""":math:`(1 - \hat p(x)/p_0(x))_+` for one :math:`x \sim N(0, I)` per chain: unbiased for the chain's TV."""
    x = rng.standard_normal(mean.shape)
    root = np.linalg.cholesky(covariance)
    whitened = np.linalg.solve(root, (x - mean)[:, :, None])[:, :, 0]
    log_ratio = (
        -0.5 * np.sum(whitened**2, axis=1)
        - np.log(np.diagonal(root, axis1=1, axis2=2)).sum(axis=1)
        + 0.5 * np.sum(x**2, axis=1)
    )
    return np.maximum(0.0, -np.expm1(log_ratio))


def _chain_tv(mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{TV}(N(\delta, \Sigma), N(0, I))` of every chain (d > 1), exact to :data:`CHAIN_TOLERANCE`; 1 for a
    singular :math:`\Sigma` (a collapsed fit, singular to the truth)."""
    eigenvalues = np.linalg.eigvalsh(covariance)
    regular = eigenvalues[:, 0] > 1e-12 * eigenvalues[:, -1]
    out = np.ones(len(mean))
    if np.any(regular):
        dim = mean.shape[1]
        out[regular] = gaussian_tv(
            np.zeros(dim), np.eye(dim), mean[regular], covariance[regular], tolerance=CHAIN_TOLERANCE
        )
    return out


def mle_expected_tv(
    truth: GaussianMixture,
    scenario: Scenario,
    generations: int,
    *,
    draws: int | None = None,
    seed: int = 0,
    chain_tv: str = "one_point",
) -> ExpectedTV:
    r""":math:`E\,\mathrm{TV}(\hat p_i, p_0)` of the Gaussian MLE loop, i = 0..generations, from ``draws`` exact chains of
    the fitted statistics (module docstring), with its standard error. In d > 1, ``chain_tv`` is how each chain's TV is
    taken: ``"one_point"`` (one unbiased Monte Carlo point) or ``"exact"`` (the generalized chi-square law); ``draws``
    defaults to :data:`DEFAULT_DRAWS` of it.

    Every scenario with fresh or accumulated data, in any dimension: fully synthetic, mixed with fresh real data,
    growing synthetic, accumulating (real and synthetic additions). A reused real pool is refused.

    Examples
    --------
    >>> from selfloop.simulators import Scenario, standard_truth
    >>> law = mle_expected_tv(standard_truth("gaussian_1d"), Scenario.fully_synthetic(50), 5, draws=20_000)
    >>> law.mean.shape, bool(np.all(np.diff(law.mean) > 0)), bool(np.all(law.standard_error < 0.01 * law.mean))
    ((6,), True, True)
    """
    if not isinstance(truth, GaussianMixture) or truth.components != 1:
        raise ValueError("truth: the Gaussian MLE chain is for a single Gaussian truth (one component)")
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario, got {type(scenario).__name__}")
    if scenario.reuse_real:
        raise ValueError("scenario: a reused real pool makes the generations dependent through the pool; not a chain")
    if scenario.fit_size is not None:
        raise ValueError("scenario: a fit on a subsample of the pool depends on more than the pool's statistics")
    if not isinstance(generations, (int, np.integer)) or generations < 0:
        raise ValueError(f"generations must be a non-negative integer, got {generations!r}")
    dim = truth.dim
    if chain_tv not in DEFAULT_DRAWS:
        raise ValueError(f"chain_tv must be one of {sorted(DEFAULT_DRAWS)}, got {chain_tv!r}")
    draws = DEFAULT_DRAWS["one_point" if dim == 1 else chain_tv] if draws is None else draws
    if not isinstance(draws, (int, np.integer)) or draws < 2:
        raise ValueError(f"draws must be an integer >= 2, got {draws!r}")
    if scenario.initial < dim + 1 or (not scenario.accumulate and scenario.size < dim + 1):
        raise ValueError(f"scenario: every fit needs at least {dim + 1} points in dimension {dim}")
    rng = np.random.default_rng(seed)
    total, square = np.zeros(generations + 1), np.zeros(generations + 1)
    for start in range(0, draws, _CHAINS_AT_ONCE):
        values = _chains(scenario, int(generations), dim, min(_CHAINS_AT_ONCE, draws - start), rng, chain_tv == "exact")
        total += values.sum(axis=0)
        square += (values**2).sum(axis=0)
    mean = total / draws
    variance = np.maximum(square / draws - mean**2, 0.0) * draws / (draws - 1)
    return ExpectedTV(mean, np.sqrt(variance / draws), int(draws), dim == 1 or chain_tv == "exact")
