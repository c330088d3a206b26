"""The named truths that cells and users refer to by name: a registry of factories, one name a law.

Gaussian mixtures for the KDE and diffusion loops, single Gaussians for the maximum-likelihood laws; users add their own
with :func:`register_truth` (in a plugin, so that worker processes see it too).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .categorical import Categorical, zipf
from .curves import NoisyArcs, NoisySwissRoll, circles, moons, swiss_roll
from .logistic import LogisticLaw
from .poisson import Poisson
from .protocol import Truth
from .registry import Registry
from .sequences import MarkovChain
from .truth import GaussianMixture

__all__ = ["BLOB_CENTRES", "STANDARD_TRUTHS", "register_truth", "standard_truth"]


def _bimodal_1d() -> GaussianMixture:
    return GaussianMixture.isotropic([0.5, 0.5], [[-2.0], [2.0]], [0.36, 0.36])


def _skewed_1d() -> GaussianMixture:
    return GaussianMixture.isotropic([0.5, 0.3, 0.2], [[0.0], [1.5], [3.5]], [0.49, 0.25, 0.16])


def _ring_2d() -> GaussianMixture:
    angles = 2 * np.pi * np.arange(6) / 6
    means = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixture.isotropic(np.full(6, 1 / 6), means, np.full(6, 0.35**2))


def _square_2d() -> GaussianMixture:
    means = 1.5 * np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    return GaussianMixture.isotropic([0.4, 0.3, 0.2, 0.1], means, np.full(4, 0.5**2))


def _mixture5_10d() -> GaussianMixture:
    means = np.zeros((5, 10))
    means[np.arange(5), np.arange(5)] = 3.0
    return GaussianMixture.isotropic([0.3, 0.25, 0.2, 0.15, 0.1], means, np.full(5, 0.6**2))


def _mixture3_10d() -> GaussianMixture:
    means = np.zeros((3, 10))
    means[np.arange(3), np.arange(5, 8)] = 3.0
    return GaussianMixture.isotropic(np.full(3, 1 / 3), means, np.full(3, 0.6**2))


def _gaussian_1d() -> GaussianMixture:
    return GaussianMixture([1.0], [[1.0]], [[[1.5**2]]])


def _standard_normal_10d() -> GaussianMixture:
    return GaussianMixture([1.0], np.zeros((1, 10)), np.eye(10)[None])


def _gaussian_3d() -> GaussianMixture:
    covariance = np.array([[1.0, 0.6, 0.2], [0.6, 1.5, -0.4], [0.2, -0.4, 0.8]])
    return GaussianMixture([1.0], [[1.0, -0.5, 0.0]], covariance[None])


#: The blobs' centres: fixed, three points of the peer's box (-10, 10)^2 (scikit-learn's make_blobs draws new ones
#: every call, so each of the peer's runs, and its held-out set, had centres of their own: docs/peers.md).
BLOB_CENTRES = np.array([[-6.0, 3.2], [2.5, 7.1], [4.8, -5.3]])


def _blobs() -> GaussianMixture:
    return GaussianMixture.isotropic(np.full(3, 1 / 3), BLOB_CENTRES, np.ones(3))


def _moons() -> NoisyArcs:
    return moons(0.05)


def _circles() -> NoisyArcs:
    return circles(0.05)


def _swiss_roll() -> NoisySwissRoll:
    return swiss_roll(0.05)


def _die() -> Categorical:
    return Categorical([0.3, 0.2, 0.15, 0.15, 0.1, 0.1])


def _three_symbols() -> Categorical:
    return Categorical([0.5, 0.3, 0.2])


def _uniform_10() -> Categorical:
    return Categorical(np.full(10, 0.1))


def _bernoulli() -> Categorical:
    return Categorical([0.7, 0.3])


def _poisson_3() -> Poisson:
    return Poisson(3.0)


def _logistic_2d() -> LogisticLaw:
    return LogisticLaw([1.0, -0.5])


def _zipf_1000() -> Categorical:
    return zipf(1000, 1.1)


def _markov_4x6() -> MarkovChain:
    transition = [
        [0.70, 0.20, 0.08, 0.02],
        [0.10, 0.60, 0.25, 0.05],
        [0.05, 0.15, 0.70, 0.10],
        [0.30, 0.05, 0.05, 0.60],
    ]
    return MarkovChain([0.4, 0.3, 0.2, 0.1], transition, 6)


#: The named truths that cell specifications refer to, by name: a factory ``() -> Truth`` each (a
#: :class:`selfloop.simulators.protocol.Truth`). Extend with :func:`register_truth` (in a plugin, so that worker
#: processes see it too).
STANDARD_TRUTHS: Registry[Callable[[], Truth]] = Registry("truth")
_NAMED = (
    _bimodal_1d,
    _skewed_1d,
    _ring_2d,
    _square_2d,
    _mixture5_10d,
    _mixture3_10d,
    _gaussian_1d,
    _gaussian_3d,
    _standard_normal_10d,
    _die,
    _three_symbols,
    _uniform_10,
    _bernoulli,
    _poisson_3,
    _logistic_2d,
    _zipf_1000,
    _markov_4x6,
    _blobs,
    _moons,
    _circles,
    _swiss_roll,
)
for _factory in _NAMED:
    STANDARD_TRUTHS.register(_factory.__name__.lstrip("_"), _factory)  # the name is the factory's, e.g. bimodal_1d


def register_truth(name: str, factory: Callable[[], Truth], *, replace: bool = False) -> None:
    """Make ``name`` usable as a cell's truth: ``factory()`` returns the law, a
    :class:`selfloop.simulators.protocol.Truth` (a taken name needs ``replace=True``)."""
    if not callable(factory):
        raise ValueError(
            f"factory must be a callable returning a truth (a GaussianMixture, a Categorical, ...), got {factory!r}"
        )
    STANDARD_TRUTHS.register(name, factory, replace=replace)


def standard_truth(name: str) -> Truth:
    """One of the named truths (:data:`STANDARD_TRUTHS`): mixtures for the KDE and diffusion loops, Gaussians for the MLE loop.

    - ``bimodal_1d``: ½N(−2, 0.6²) + ½N(2, 0.6²).
    - ``skewed_1d``: 0.5N(0, 0.7²) + 0.3N(1.5, 0.5²) + 0.2N(3.5, 0.4²).
    - ``ring_2d``: six equal modes N(2(cos θ, sin θ), 0.35² I) on a circle of radius 2.
    - ``square_2d``: four modes N(1.5(±1, ±1), 0.5² I), weights 0.4, 0.3, 0.2, 0.1 (the 2-D diffusion calibration truth).
    - ``mixture5_10d``: five modes N(3 e_k, 0.6² I) in R^10 (k = 1..5), weights 0.3, 0.25, 0.2, 0.15, 0.1.
    - ``mixture3_10d``: three equal modes N(3 e_k, 0.6² I) in R^10 (k = 6..8), the 10-D diffusion calibration truth.
    - ``gaussian_1d``: N(1, 1.5²), for the Gaussian MLE loop's exact laws.
    - ``standard_normal_10d``: N(0, I) in R^10 (the peers' Gaussian collapse at d = 10).
    - ``gaussian_3d``: a correlated Gaussian in R³ (mean (1, −0.5, 0); covariance with correlations 0.49, 0.22, −0.36).
    - ``die``: a loaded die, the categorical law (0.3, 0.2, 0.15, 0.15, 0.1, 0.1) on six symbols (the exact chains).
    - ``three_symbols``: the categorical law (0.5, 0.3, 0.2), small enough for the curated loop's exact chain.
    - ``uniform_10``: the uniform law on 10 symbols (the peers' total-collapse experiment at K = N = 10).
    - ``bernoulli``: the Bernoulli law P(1) = 0.3, a categorical law on two symbols.
    - ``poisson_3``: the Poisson law of rate 3.
    - ``logistic_2d``: covariates N(0, I₂) labelled by a logistic regression with β = (1, −0.5).
    - ``zipf_1000``: the Zipf law p_k ∝ (k + 1)^−1.1 on 1 000 symbols, a vocabulary's long tail.
    - ``markov_4x6``: a Markov chain of 6 tokens over 4 symbols with rare transitions (2% and 5%), 4 096 sequences.
    - ``blobs``: three equal modes N(c_k, I) in R² at fixed centres (:data:`BLOB_CENTRES`), the peers' blobs.
    - ``moons``: scikit-learn's two moons blurred by N(0, 0.05² I) (:func:`selfloop.simulators.curves.moons`).
    - ``circles``: two circles of radius 1 and 0.8 blurred by N(0, 0.05² I).
    - ``swiss_roll``: scikit-learn's swiss roll in R³ blurred by N(0, 0.05² I) (its TV by Monte Carlo).
    """
    return STANDARD_TRUTHS.get(name)()
