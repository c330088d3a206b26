"""What a model must provide to run in the loop, and what it may provide to run faster, as typing Protocols.

Protocols are structural: no base class is needed, and ``isinstance(obj, GridDensity)`` checks the attributes at
run time. Shapes: points are always 2-D arrays ``(n, d)``, densities return ``(n,)``.

Required:

- :class:`Truth`: the real distribution :math:`p_0`: ``dim``, ``pdf(x)``, ``sample(n, rng)`` and a content ``key``
  (a Gaussian mixture, a categorical law, a Markov chain of tokens).
- :class:`Model`: ``fit(data, rng) -> FittedDensity``; ``data`` is ``(N, d)``.
- :class:`FittedDensity`: ``pdf(x)`` and ``sample(n, rng)``. That is enough for
  :func:`selfloop.simulators.run_loop`: TV is then the unbiased Monte Carlo estimate with its standard error (and,
  in d <= 2, an :class:`AccuracyWarning` that exact quadrature was not possible).

Optional, each with a default:

- :class:`GridDensity`: a fit with ``bounding_box(mass) -> Box`` and ``grid_spacing``: TV is then exact quadrature
  in d <= 2.
- :class:`FiniteSupport`: a law on a finite set it lists (``support``, ``support_probabilities()``): TV to another law
  on the same set is then exact, half the L1 distance of the two lists (categorical laws, short Markov chains).
- :class:`GridValued`: a fit with ``grid_pdf(grid)``, its values at a grid's nodes computed at once (default:
  ``pdf`` at every node).
- :class:`LogDensity`: a fit with an exact ``logpdf(x)``: Monte Carlo ratios are taken in log space, and a fit
  that is a LogDensity but not a GridDensity (the ODE diffusion model, whose density is exact pointwise but too
  spiky for a grid) gets Monte Carlo TV without a warning.
- :class:`EscapedMass`: a fit that reports mass it lost (``escaped_mass``); its density integrates to one minus it.
- :class:`KernelSmoothed`: a fit that is a Gaussian kernel smoothing (``bandwidth``, ``smoothed(variance)``): the loop
  can measure Theorem K's sampling error for it.
- :class:`ParametricModel`: a model with ``parameters(fitted) -> dict`` of arrays; the loop records them per
  replicate and generation (``LoopResult.parameters``).
- :class:`BatchFitting`: a model that fits many replicates' training sets at once (``fit_batch``); the loop fits a
  chunk's sets, one generation at a time, through :func:`fit_all` (the Gaussian MLE: one stacked mean, covariance and
  Cholesky factor for the whole chunk; the linear regression: its joint Gaussians built together).
- :class:`ReplicateBatching`: a model that samples, prepares and evaluates many replicates' fits at once
  (``sample_batch``, ``prepare_batch``, ``grid_densities``). The loop runs a chunk of replicates a generation at a
  time and calls these hooks; :func:`replicate_hooks` gives a model's own hooks or the defaults of
  :class:`OneAtATime`. The KDE (one binning and one FFT for a batch of fits) and the diffusion model (the SDE
  samplers and their grid densities stacked) are two implementations of the same three hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # grid.py evaluates GridValued densities: import its types only for the annotations
    from .grid import Box, Grid

__all__ = [
    "BatchFitting",
    "EscapedMass",
    "FiniteSupport",
    "FittedDensity",
    "GridDensity",
    "GridValued",
    "KernelSmoothed",
    "LogDensity",
    "Model",
    "OneAtATime",
    "ParametricModel",
    "ReplicateBatching",
    "WeightedFitting",
    "Truth",
    "fit_all",
    "protocol_gaps",
    "replicate_hooks",
]


@runtime_checkable
class FittedDensity(Protocol):
    """A fitted model: a density with a sampler."""

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x`` of shape (n, d); returns shape (n,)."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws, shape (n, d)."""


@runtime_checkable
class Truth(FittedDensity, Protocol):
    """The real distribution :math:`p_0` of a loop: its dimension (a point is ``(d,)``), density (w.r.t. Lebesgue
    measure, or counting measure for a discrete law), sampler and ``key``, a string that identifies its law (equal
    keys, equal laws), which keys every cache of a value computed from it."""

    @property
    def dim(self) -> int:
        """The dimension d of a point."""

    @property
    def key(self) -> str:
        """A content key: a hash of the parameters that define the law."""


@runtime_checkable
class FiniteSupport(Protocol):
    """A law on a finite set that it can list: ``support`` names the set (two laws with equal ``support`` list the same
    points in the same order) and ``support_probabilities()`` gives each point's probability in that order, so
    :math:`\\mathrm{TV} = \tfrac12\\sum_x |p(x) - q(x)|` exactly."""

    @property
    def support(self) -> tuple:
        """What the set is, e.g. ``("symbols", K)`` or ``("sequences", K, L)``."""

    @property
    def support_size(self) -> int:
        """How many points the set has."""

    def support_probabilities(self) -> np.ndarray:
        """Every point's probability, in the order of the support, shape (size of the support,)."""


@runtime_checkable
class GridDensity(FittedDensity, Protocol):
    """A fitted model whose TV can be computed exactly by quadrature in d <= 2."""

    grid_spacing: float

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the density has probability at most ``mass``."""


@runtime_checkable
class GridValued(Protocol):
    """A density that computes its values at a grid's nodes itself (the FFT-binned KDE, the SDE sampler's density)."""

    def grid_pdf(self, grid: Grid) -> np.ndarray:
        """Values at the nodes, shaped like the grid."""


@runtime_checkable
class LogDensity(Protocol):
    """A density with an exact log density (the truth, the ODE diffusion model)."""

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x`` of shape (n, d); returns shape (n,)."""


@runtime_checkable
class EscapedMass(Protocol):
    """A density that lost some of its mass, which it reports (the SDE sampler's mass off its grid): it integrates to
    ``1 - escaped_mass``, and TV counts the loss."""

    escaped_mass: float


@runtime_checkable
class KernelSmoothed(Protocol):
    """A fit that is a kernel smoothing with a Gaussian kernel of width ``bandwidth`` (the KDE), and smooths exactly:
    ``smoothed(variance)`` is the fit convolved with :math:`N(0, v I)`. Theorem K's sampling error is measured for it
    (:class:`selfloop.simulators.measures.SamplingError`)."""

    bandwidth: float

    def smoothed(self, variance: float) -> FittedDensity:
        """The fit convolved with :math:`N(0, v I)`."""


@runtime_checkable
class Model(Protocol):
    """A generative model that the loop refits every generation."""

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> FittedDensity:
        """Fit to ``data`` of shape (N, d); ``rng`` for any randomness of the fit."""


@runtime_checkable
class BatchFitting(Model, Protocol):
    """A model that fits many training sets at once; ``fit_batch`` must equal ``[fit(d, r) for d, r]`` beyond
    floating-point rounding, so a replicate's fit does not depend on its batch."""

    def fit_batch(self, data: Sequence[np.ndarray], rngs: Sequence[np.random.Generator]) -> list[FittedDensity]:
        """Each of ``data`` fitted, with ``rngs[r]`` for any randomness of fit r."""


def protocol_gaps(candidate: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``candidate`` lacks (empty when it satisfies the protocol)."""
    members = [name for name in dir(protocol) if not name.startswith("_") and name not in dir(Protocol)]
    annotated = list(getattr(protocol, "__annotations__", {}))
    return sorted(name for name in {*members, *annotated} if not hasattr(candidate, name))


@runtime_checkable
class WeightedFitting(Model, Protocol):
    r"""A model that fits by weighted sufficient statistics, as a scenario's ``real_weight`` needs: the fit maximising
    :math:`\sum_j \omega_j \log q(x_j)` for point weights :math:`\omega_j \ge 0` summing to 1."""

    def fit_weighted_batch(
        self, data: Sequence[np.ndarray], weights: np.ndarray, rngs: Sequence[np.random.Generator]
    ) -> list[FittedDensity]:
        """Each of ``data`` (sets of one size n) fitted with the point weights ``weights`` (n,)."""


def fit_all(
    model: Model,
    data: Sequence[np.ndarray],
    rngs: Sequence[np.random.Generator],
    weights: np.ndarray | None = None,
) -> list:
    """The fits of ``data``: the model's :meth:`BatchFitting.fit_batch` if it has one, else one ``fit`` each; with
    point ``weights``, :meth:`WeightedFitting.fit_weighted_batch`."""
    if weights is not None:
        if not isinstance(model, WeightedFitting):
            raise ValueError(
                f"real_weight: {type(model).__name__} does not fit by weighted sufficient statistics "
                "(no fit_weighted_batch), so it cannot weigh real points against synthetic ones"
            )
        return model.fit_weighted_batch(data, weights, rngs)
    if isinstance(model, BatchFitting):
        return model.fit_batch(data, rngs)
    return [model.fit(points, rng) for points, rng in zip(data, rngs)]


@runtime_checkable
class ParametricModel(Model, Protocol):
    """A model whose fits have named parameters that the loop records."""

    def parameters(self, fitted: FittedDensity) -> dict[str, np.ndarray]:
        """The fit's parameters by name, each an array of a fixed shape."""


@runtime_checkable
class ReplicateBatching(Protocol):
    """A model that works on many replicates' fits at once; each hook must equal its one-fit-at-a-time default
    (:class:`OneAtATime`) beyond floating-point rounding, so a replicate's numbers do not depend on its batch.

    ``shared_grid`` says whether the replicates of a chunk whose densities ask for one grid step are measured on one
    shared grid covering them all (their densities evaluated together by :meth:`grid_densities`: the KDE's one
    binning and one FFT), or each on its own grid. A shared grid is a wider window of the same lattice, so a
    replicate's TV moves by the rounding of a longer FFT and by its density's tail beyond ``GRID_MASS``; a model whose
    batched work is elsewhere (the SDE diffusion model's in :meth:`prepare_batch`) keeps its own grids.
    """

    shared_grid: bool

    def sample_batch(self, fits: Sequence, n: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """``[fits[r].sample(n, rngs[r]) for r]``: each fit draws from its own generator, in its own order."""

    def prepare_batch(self, fits: Sequence) -> None:
        """Compute, together, whatever the fits' densities need before they are evaluated (called once a generation)."""

    def grid_densities(self, fits: Sequence, grid: Grid) -> np.ndarray:
        """The fits' densities at the nodes of ``grid``, shape (R, *grid.shape)."""


class OneAtATime:
    """The default replicate hooks: every fit on its own. A model may subclass it and override any hook."""

    shared_grid = False

    def sample_batch(self, fits: Sequence, n: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """Each fit's own ``sample``."""
        return [fit.sample(n, rng) for fit, rng in zip(fits, rngs)]

    def prepare_batch(self, fits: Sequence) -> None:
        """Nothing to prepare."""

    def grid_densities(self, fits: Sequence, grid: Grid) -> np.ndarray:
        """Each fit evaluated on the grid (:meth:`selfloop.simulators.Grid.evaluate`), stacked."""
        return np.stack([grid.evaluate(fit) for fit in fits])


def replicate_hooks(model: Model) -> ReplicateBatching:
    """The model itself if it implements :class:`ReplicateBatching`, else the defaults of :class:`OneAtATime`."""
    return model if isinstance(model, ReplicateBatching) else OneAtATime()
