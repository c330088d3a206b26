r"""The distances the loop's measures take at every generation, for a batch of replicates' fits at once:
:math:`\mathrm{TV}(\hat p_i, p_0)` (:meth:`Measurement.tv_to_truth`), the quantity every bound is about, and the TV
from each fit to a mixture of densities (:meth:`Measurement.mixture_tv`), which the one-step error and Theorem K's
sampling error (:mod:`selfloop.simulators.measures`) are.

On a finite support (a categorical law, a short Markov chain of tokens) TV is an exact sum. In d <= 2, when the fits are grid densities, it is exact
quadrature (:func:`selfloop.simulators.metrics.tv_on_grid`), and, for a model whose hooks say ``shared_grid``, the
replicates whose densities ask for the same grid step share one grid: a window of the lattice :math:`\Delta\mathbb Z^d` that covers each density's mass to
``GRID_MASS``, on which the model evaluates its fits together (:meth:`ReplicateBatching.grid_densities`: one binning
and one FFT for a KDE). A replicate's number then differs from the one on its own grid only by the mass beyond
``GRID_MASS`` and rounding. Elsewhere (d > 2, a fit that is no grid density) it is the Gaussian closed form where
one exists, else the unbiased Monte Carlo estimate with its standard error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .gaussian_tv import gaussian_tv
from .grid import Box, Grid
from .metrics import GRID_MASS, resolvable, same_support, single_gaussian, tv, tv_finite, tv_on_grid
from .protocol import FiniteSupport, GridDensity, LogDensity, ReplicateBatching, Truth
from .truth import GaussianMixture
from .validation import check_fraction

__all__ = ["Measurement", "TrainingMixture"]


@dataclass(frozen=True, eq=False)
class TrainingMixture:
    r"""The training distribution of generation i given the past, :math:`q_i = \lambda p_0 + (1-\lambda)\hat p_{i-1}`:
    draws and log density. The one type of it: the reference of the loop's Monte Carlo one-step error
    :math:`E_{x\sim q_i}[(1 - \hat p_i(x)/q_i(x))_+]` and of the certificate of Lemma R's one-step error
    (``diffusion_certificate`` in bounds/certificate.py, for an SDE-sampled previous fit in d <= 2).

    Parameters
    ----------
    truth : Truth
        :math:`p_0`.
    previous : fitted model
        :math:`\hat p_{i-1}`.
    real_fraction : float
        :math:`\lambda \in [0, 1]`.
    """

    truth: Truth
    previous: Any
    real_fraction: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "real_fraction", check_fraction("real_fraction", self.real_fraction))

    @property
    def dim(self) -> int:
        return self.truth.dim

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        real = int(rng.binomial(n, self.real_fraction))
        parts = [self.truth.sample(real, rng)] if real else []
        if n > real:
            parts.append(self.previous.sample(n - real, rng))
        return np.concatenate(parts)

    def logpdf(self, x) -> np.ndarray:
        if not isinstance(self.truth, LogDensity):
            raise TypeError(f"truth: {type(self.truth).__name__} has no logpdf, which the training mixture needs")
        with np.errstate(divide="ignore"):
            real = np.log(self.real_fraction) + self.truth.logpdf(x)
            if self.real_fraction == 1.0:
                return real
            return np.logaddexp(real, np.log1p(-self.real_fraction) + self.previous.logpdf(x))

    def pdf(self, x) -> np.ndarray:
        return np.exp(self.logpdf(x))


def _on_lattice(grid: Grid) -> bool:
    """Whether ``grid``'s nodes lie on the lattice spacing * Z^d (as :meth:`Grid.covering` places them unless capped),
    with one spacing on every axis."""
    index = grid.lower / grid.spacing
    return bool(np.all(grid.spacing == grid.spacing[0]) and np.all(np.abs(index - np.rint(index)) < 1e-6))


def _contains(wide: Grid, grid: Grid) -> bool:
    """Whether ``grid``'s nodes are nodes of ``wide`` (one lattice, inside)."""
    if wide.dim != grid.dim or not np.array_equal(wide.spacing, grid.spacing):
        return False
    if wide is grid:
        return True
    offsets = (grid.lower - wide.lower) / wide.spacing
    if not _on_lattice(grid) or np.any(np.abs(offsets - np.rint(offsets)) > 1e-6):
        return False
    start = np.rint(offsets).astype(int)
    return bool(np.all(start >= 0) and np.all(start + np.asarray(grid.shape) <= np.asarray(wide.shape)))


class Measurement:
    """Measures a batch of replicates' fits against the truth, on shared grids where it can.

    Parameters
    ----------
    truth : GaussianMixture
    hooks : ReplicateBatching
        The model's replicate hooks (:func:`selfloop.simulators.protocol.replicate_hooks`).
    samples : int
        Draws of each Monte Carlo estimate.
    """

    #: Grids whose truth values are kept (the truth and its smoothings, per grid).
    _CACHED_GRIDS = 8

    def __init__(self, truth: Truth, hooks: ReplicateBatching, samples: int) -> None:
        self.truth, self.hooks, self.samples = truth, hooks, samples
        self._fixed: dict[tuple, tuple[object, Grid, np.ndarray]] = {}
        self._smoothed: dict[float, GaussianMixture] = {}

    # ------------------------------------------------------------ routes
    def on_grid(self, fits: Sequence, *others: Sequence) -> bool:
        """Whether these fits' distances are exact quadrature: d <= 2, the fits are grid densities, and a grid can
        resolve each beside the truth and its replicate's ``others`` (the previous fits of a one-step error:
        :func:`selfloop.simulators.metrics.resolvable`); a fit far narrower than the truth's spread sends the whole
        batch to the Monte Carlo route, with its standard errors."""
        return (
            self.truth.dim <= 2
            and isinstance(fits[0], GridDensity)
            and all(resolvable([self.truth, fit, *(other[r] for other in others)]) for r, fit in enumerate(fits))
        )

    def _fixed_values(self, density, grid: Grid) -> np.ndarray:
        """A density that is not a fit (the truth, a smoothing of it) at the nodes: evaluated once on a grid of the same
        lattice a quarter wider on every side, and read from it (a window) while later grids fit inside, as a loop's
        grids do from one generation to the next (a curve truth's density costs a quadrature a node).

        The cache holds the density itself beside its values, so its ``id`` cannot be reused while it is cached.
        """
        key = (id(density), tuple(grid.spacing))
        cached = self._fixed.get(key)
        if cached is not None and _contains(cached[1], grid):
            _, wide, values = cached
            return values[wide.window(grid)]
        if len(self._fixed) >= self._CACHED_GRIDS:
            self._fixed.clear()
        width = grid.spacing * (np.asarray(grid.shape) - 1)
        box = Box(grid.lower - width / 4, grid.lower + width * 5 / 4)
        spacing = float(grid.spacing[0])
        wide = Grid.covering(box, spacing) if _on_lattice(grid) and Grid.resolves(box, spacing) else grid
        self._fixed[key] = (density, wide, wide.evaluate(density))
        return self._fixed[key][2][wide.window(grid)] if wide is not grid else self._fixed[key][2]

    def _values(self, densities: Sequence, fitted: bool, grid: Grid) -> np.ndarray:
        """The densities at the nodes, (R, *grid.shape): the model's fits through its hooks; fixed densities once
        each, and one shared (*grid.shape) array when the replicates have the same one (the truth)."""
        if fitted:
            return self.hooks.grid_densities(densities, grid)
        if all(density is densities[0] for density in densities):
            return self._fixed_values(densities[0], grid)
        return np.stack([self._fixed_values(density, grid) for density in densities])

    def mixture_tv(self, fits: Sequence, components: Sequence[tuple[float, Sequence, bool]]) -> np.ndarray:
        r"""Quadrature :math:`\mathrm{TV}(\hat p_r, \sum_c w_c f_{c,r})` for every replicate r.

        ``components`` are ``(weight, densities per replicate, fitted)``; ``fitted`` says the densities are the
        model's (evaluated by its hooks) and not fixed ones (the truth, evaluated once per grid). Replicates whose
        densities ask for the same step share one grid covering all of them to ``GRID_MASS`` if the model's hooks say
        so (``shared_grid``); otherwise each has its own.
        """
        involved = [[fit, *(densities[r] for _, densities, _ in components)] for r, fit in enumerate(fits)]
        spacings = np.array([min(density.grid_spacing for density in row) for row in involved])
        out = np.zeros(len(fits))
        if self.hooks.shared_grid:
            groups = [(float(spacing), np.flatnonzero(spacings == spacing)) for spacing in np.unique(spacings)]
        else:
            groups = [(float(spacing), np.array([r])) for r, spacing in enumerate(spacings)]
        for spacing, members in groups:
            boxes, seen = [], set()
            for r in members:
                for density in involved[r]:
                    if id(density) not in seen:
                        seen.add(id(density))
                        boxes.append(density.bounding_box(GRID_MASS))
            if len(members) > 1 and not Grid.resolves(Box.union(boxes), spacing):  # too wide to share: one each
                for r in members.tolist():
                    out[r] = self.mixture_tv([fits[r]], [(w, [d[r]], fitted) for w, d, fitted in components])[0]
                continue
            grid = Grid.covering(Box.union(boxes), spacing)
            current = self.hooks.grid_densities([fits[r] for r in members.tolist()], grid)
            target = np.zeros(())
            for weight, densities, fitted in components:
                target = target + weight * self._values([densities[r] for r in members.tolist()], fitted, grid)
            out[members] = tv_on_grid(grid, current, target)
        return out

    # ------------------------------------------------------------ the distance to the truth
    def tv_to_truth(
        self, fits: Sequence, rngs: Sequence[np.random.Generator], samples: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\mathrm{TV}(\hat p_r, p_0)` and its standard error (zero where exact), per replicate: an exact sum over
        a finite support, a regression's or a Gaussian closed form, quadrature on shared grids in d <= 2, else the unbiased Monte Carlo
        estimate with ``samples`` draws (default :attr:`samples`)."""
        samples = self.samples if samples is None else samples
        self.hooks.prepare_batch(fits)
        support = getattr(self.truth, "support", None)  # one protocol check a batch: the fits are one model's
        truth = self.truth
        if (
            isinstance(truth, FiniteSupport)
            and same_support(truth, fits[0])
            and all(f.support == support for f in fits)
        ):
            tables = np.stack([fit.support_probabilities() for fit in fits])
            return np.asarray(tv_finite(truth.support_probabilities(), tables)), np.zeros(len(fits))
        own = getattr(self.truth, "tv_to", None)  # a truth's own closed form (regression, Poisson, logistic)
        closed = own(fits) if callable(own) else None
        if closed is not None:
            return closed, np.zeros(len(fits))
        if single_gaussian(truth) and all(map(single_gaussian, fits)):  # every fit's exact TV at once, any d
            means = np.stack([fit.means[0] for fit in fits])
            covariances = np.stack([fit.covariances[0] for fit in fits])
            return gaussian_tv(truth.means[0], truth.covariances[0], means, covariances), np.zeros(len(fits))
        if self.on_grid(fits):
            return self.mixture_tv(fits, [(1.0, [self.truth] * len(fits), False)]), np.zeros(len(fits))
        measured = np.array([tv(self.truth, fit, rng=rng, samples=samples) for fit, rng in zip(fits, rngs)])
        return measured[:, 0], measured[:, 1]

    def smoothed_truth(self, variance: float) -> GaussianMixture:
        """:math:`p_0 * N(0, v I)`, one object per variance (so replicates with one bandwidth share its values)."""
        if variance not in self._smoothed:
            if len(self._smoothed) >= self._CACHED_GRIDS:
                self._smoothed.clear()
            if not isinstance(self.truth, GaussianMixture):
                raise TypeError(
                    f"truth: smoothing by a kernel needs a GaussianMixture, not {type(self.truth).__name__}"
                )
            self._smoothed[variance] = self.truth.smoothed(variance)
        return self._smoothed[variance]
