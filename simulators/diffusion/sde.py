r"""The reverse-SDE sampler and its density on a grid (d <= 2), for one fit or many at once.

The sampler is Euler-Maruyama on :math:`dY = [Y + 2 s_A(Y, t)]\,ds + \sqrt2\,d\bar W` from :math:`N(0, I)` at T
down to :math:`t_0`, on the fit's time grid. Its density is the same steps applied to a density on a grid: the
mass at each node moves to :math:`y + \Delta\,b(y)` (linear binning), then is convolved with
:math:`N(0, 2\Delta - \delta^2/6)` by FFT, where :math:`\delta^2/6` is the mean variance linear binning adds
(grid step :math:`\delta`).

A loop's replicates share the time grid, the grid step and each step's Gaussian kernel, so R fits move together:
one sampler step is one stacked matrix product, one ``bincount`` and one batched FFT. A fit's result does not
depend on the others in its batch, beyond floating-point rounding:

- **sampling** (:func:`sample_sde`): fit r draws its start and its noise from its own generator, in the order in
  which it draws them alone;
- **density** (:func:`sde_densities`): the fits share one window of the lattice :math:`\delta\mathbb Z^d`
  (:meth:`Grid.covering` snaps to it) that covers every fit's own window. Mass that the drift moves outside a
  fit's own window is dropped and counted as escaped, and mass blurred past it is cut, exactly as on the fit's
  own grid; a node holding less than ``NEGLIGIBLE_NODE_MASS`` of a fit's mass is not moved for that fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..degenerate import DegenerateFit
from ..grid import Box, Grid
from ..smoothing import gaussian_blur, linear_bin
from ..validation import check_data, check_size
from .base import ScoreStack
from .fitted import FittedDiffusion

__all__ = ["MAX_ESCAPED_MASS", "NEGLIGIBLE_NODE_MASS", "FittedSDEDiffusion", "sample_sde", "sde_densities"]

#: Points moved through the sampler at once, per fit (each step's cost is then one network evaluation).
_SAMPLE_ROWS = 1 << 16
#: Largest fraction of the sampler's mass that may leave the density grid before it is an error.
MAX_ESCAPED_MASS = 1e-3
#: A density-grid node holding less mass than this is not moved; its mass is dropped (at most
#: this times nodes times steps in all, below 1e-7 at the default grids) and counted as escaped.
NEGLIGIBLE_NODE_MASS = 1e-14
#: Density grids with more nodes than this are computed one fit at a time: each sampler step is then already a few
#: large array operations, and a batch's shared window only adds nodes (docs/performance.md).
_BATCHED_GRID_NODES = 1 << 14


def _held_nodes(mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each fit's nodes holding more than ``NEGLIGIBLE_NODE_MASS`` (rows of ``mass``, (R, G)) and their masses, (R, n):
    padded to the largest count with the fit's first such node (any node, for a fit with none) at mass 0, so that the
    fits move together."""
    if mass.shape[0] == 1:  # one fit: nothing to pad
        held = np.flatnonzero(mass[0] > NEGLIGIBLE_NODE_MASS)[None]
        return held, mass[:, held[0]]
    rows, columns = np.nonzero(mass > NEGLIGIBLE_NODE_MASS)
    counts = np.bincount(rows, minlength=mass.shape[0])
    held = np.zeros((mass.shape[0], max(int(counts.max()), 1)), dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    held[:] = columns[np.minimum(starts, max(columns.size - 1, 0))][:, None] if columns.size else 0
    held[rows, np.arange(rows.size) - starts[rows]] = columns
    weights = np.take_along_axis(mass, held, axis=1)
    weights[np.arange(held.shape[1]) >= counts[:, None]] = 0.0
    return held, weights


def _outside(points: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Whether each point (..., n, d) lies outside its box [lower, upper]: one comparison per axis (``np.any`` over the d
    = 1 or 2 coordinates of a point takes ten times longer at a 2-D density grid's nodes)."""
    out = (points[..., 0] < lower[..., 0]) | (points[..., 0] > upper[..., 0])
    for axis in range(1, points.shape[-1]):
        out |= (points[..., axis] < lower[..., axis]) | (points[..., axis] > upper[..., axis])
    return out


def sample_sde(networks: ScoreStack, times: np.ndarray, n: int, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    r"""``n`` draws from each fit's reverse SDE, shape (R, n, d): Euler-Maruyama
    :math:`y \leftarrow y + \Delta\, b_r(y, t) + \sqrt{2\Delta}\,\xi` along ``times`` (from T down to
    :math:`t_0`), from :math:`y \sim N(0, I)`.

    Fit r draws from ``rngs[r]`` alone, in the order of one fit sampled alone: per block of at most
    ``_SAMPLE_ROWS`` points, its start, then each step's noise.
    """
    if len(rngs) != networks.size:
        raise ValueError(f"rngs: need one generator per fit ({networks.size}), got {len(rngs)}")
    out = np.empty((networks.size, n, networks.dim))
    for start in range(0, n, _SAMPLE_ROWS):
        shape = (min(_SAMPLE_ROWS, n - start), networks.dim)
        y = np.stack([rng.standard_normal(shape) for rng in rngs])
        for current, following in zip(times[:-1], times[1:]):
            step = current - following
            drift = networks.drift(y, current)
            y = y + step * drift + np.sqrt(2 * step) * np.stack([rng.standard_normal(shape) for rng in rngs])
        out[:, start : start + shape[0]] = y
    return out


def sde_densities(
    networks: ScoreStack, times: np.ndarray, boxes: Sequence[Box], spacing: float
) -> list[tuple[Grid, np.ndarray, float, float]]:
    r"""Each fit's reverse-SDE density on its own grid (``boxes[r]`` at step ``spacing``): (grid, density, mass moved off
    the grid, mass dropped at negligible nodes).

    Every Euler-Maruyama step moves the mass at each node y to :math:`y + \Delta\, b_r(y, t)` (linear
    binning), then convolves with :math:`N(0, 2\Delta - \delta^2/6)` (:func:`gaussian_blur`). Mass moved off a
    fit's grid is dropped and counted as escaped, and the mass at nodes below ``NEGLIGIBLE_NODE_MASS`` is dropped;
    the density then integrates to one minus the two. All fits move together on one lattice window covering every
    box (module docstring). The dropped masses are returned, not checked: the caller decides what is too much.
    """
    own = [Grid.covering(box, spacing) for box in boxes]
    union = Grid.covering(Box.union(list(boxes)), spacing)
    if any(not np.allclose(grid.spacing, union.spacing) for grid in own):
        raise ValueError(f"grid: the density grids at step {spacing} were capped; use a coarser grid_spacing")
    nodes = union.points()
    dim = union.dim
    # each fit's own window: its first node's index on the union grid, its node counts, and its bounds
    first = [np.rint((grid.lower - union.lower) / spacing).astype(int) for grid in own]
    windows = [tuple(slice(int(f), int(f) + n) for f, n in zip(start, grid.shape)) for start, grid in zip(first, own)]
    lower = np.stack([grid.lower for grid in own])[:, None, :]
    upper = np.stack([grid.lower + grid.spacing * (np.asarray(grid.shape) - 1) for grid in own])[:, None, :]
    inside = np.zeros((networks.size, *union.shape))
    for r, window in enumerate(windows):
        inside[(r,) + tuple(window)] = 1.0
    inside = inside.reshape(networks.size, -1)
    cut = any(grid.shape != union.shape for grid in own)  # some fit's own grid is smaller than the shared window
    mass = inside * (np.exp(-0.5 * np.sum(nodes**2, axis=1)) / (2 * np.pi) ** (dim / 2) * union.cell_volume)
    binning_variance = float(spacing**2 / 6.0)
    escaped, negligible = np.zeros(networks.size), np.zeros(networks.size)
    for current, following in zip(times[:-1], times[1:]):
        step = current - following
        held, weights = _held_nodes(mass)
        negligible += mass.sum(axis=1) - weights.sum(axis=1)
        points = nodes[held]
        moved = points + step * networks.drift(points, current)
        outside = _outside(moved, lower, upper)
        escaped += np.sum(weights, axis=1, where=outside)
        weights[outside] = 0.0
        blurred = gaussian_blur(linear_bin(moved, union, weights), union, max(2 * step - binning_variance, 0.0))
        mass = blurred.reshape(networks.size, -1)
        if cut:
            mass *= inside
        mass *= union.cell_volume
    out = []
    for r, (grid, window) in enumerate(zip(own, windows)):
        density = mass[r].reshape(union.shape)[window] / grid.cell_volume
        out.append((grid, np.ascontiguousarray(density), float(escaped[r]), float(negligible[r])))
    return out


def _interpolate_axis(values: np.ndarray, nodes: np.ndarray, targets: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis`` from the sorted ``nodes`` to ``targets``, zero outside the
    nodes (as ``np.interp`` with ``left=right=0``); one gather of the two neighbours per target."""
    inside = (targets >= nodes[0]) & (targets <= nodes[-1])
    cell = np.clip(np.searchsorted(nodes, targets, side="right") - 1, 0, nodes.size - 2)
    fraction = np.where(inside, (targets - nodes[cell]) / (nodes[cell + 1] - nodes[cell]), 0.0)
    shape = [1] * values.ndim
    shape[axis] = targets.size
    lower, upper = np.take(values, cell, axis=axis), np.take(values, cell + 1, axis=axis)
    return np.where(
        inside.reshape(shape), (1.0 - fraction).reshape(shape) * lower + fraction.reshape(shape) * upper, 0.0
    )


class FittedSDEDiffusion(FittedDiffusion):
    """A trained model sampled by the reverse SDE (Euler-Maruyama); its density is computed on a grid in d <= 2."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._density: tuple[Grid, np.ndarray] | None = None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n points by Euler-Maruyama on the reverse SDE from N(0, I) at T down to t0 (:func:`sample_sde`)."""
        n = check_size("n", n)
        return sample_sde(self._network, self.times(), n, [rng])[0]

    @classmethod
    def sample_batch(cls, fits: Sequence[FittedSDEDiffusion], n: int, rngs) -> list[np.ndarray]:
        """``fits[r].sample(n, rngs[r])`` for every r, the samplers run together (the same draws, batched)."""
        n = check_size("n", n)
        if len(fits) < 2:
            return [fit.sample(n, rng) for fit, rng in zip(fits, rngs)]
        return list(sample_sde(fits[0].model.stack(fits), fits[0].times(), n, rngs))

    @classmethod
    def prepare_batch(cls, fits: Sequence[FittedSDEDiffusion]) -> None:
        """Compute the grid densities of ``fits`` not computed yet, together (:func:`sde_densities`); each equals the
        one it computes alone, beyond rounding. Fits in d > 2 (no grid density) are left alone."""
        pending = [fit for fit in fits if fit.dim <= 2 and fit._density is None]
        if not pending:
            return
        spacing = pending[0].grid_spacing
        if Grid.covering(pending[0].sampler_box(), spacing).size > _BATCHED_GRID_NODES:
            batches = [[fit] for fit in pending]  # large grids: a step is already large array operations
        else:
            batches = [pending]
        for batch in batches:
            networks = batch[0]._network if len(batch) == 1 else batch[0].model.stack(batch)
            densities = sde_densities(networks, batch[0].times(), [fit.sampler_box() for fit in batch], spacing)
            for fit, density in zip(batch, densities):
                fit._store_density(*density)

    # ------------------------------------------------------------ density
    def density_grid(self) -> tuple[Grid, np.ndarray]:
        """The sampler's density on its own grid (:meth:`sampler_box`, :attr:`grid_spacing`), computed once.

        Each Euler-Maruyama step moves the mass at every node to y + step * b(y) (linear binning)
        and convolves with N(0, 2 step - spacing^2/6) (:func:`sde_densities`, which also computes many
        fits' densities together: :meth:`prepare_batch`). The drift is formed in double precision: single
        precision would be faster, but its rounding depends on how BLAS splits the work over threads, and
        reproducible results come first. Mass that the drift moves off the grid, and the mass of nodes below
        ``NEGLIGIBLE_NODE_MASS``, is dropped and recorded in ``escaped_mass``; the density then integrates to
        1 - escaped_mass, and :func:`selfloop.simulators.tv_quadrature` counts it as TV.

        Raises
        ------
        ValueError
            For d > 2 (the grid is exponential in d; use ``sampler="ode"``, whose density is exact in any
            dimension), or if more than ``MAX_ESCAPED_MASS`` of the mass leaves the grid.
        """
        if self.dim > 2:
            raise ValueError(
                f"sampler: the SDE sampler's density is computed on a grid, available in dimension <= 2, not {self.dim}; "
                'use RandomFeatureDiffusion(..., sampler="ode"), whose density is exact in any dimension'
            )
        if self._density is None:
            self.prepare_batch([self])
        assert self._density is not None  # prepare_batch stored it
        return self._density

    def _store_density(self, grid: Grid, density: np.ndarray, escaped: float, negligible: float) -> None:
        if escaped > MAX_ESCAPED_MASS:
            raise DegenerateFit(
                f"grid: {escaped:.2e} of the sampler's mass left the grid (the learned drift points outward far from the data; "
                "Li's network has no inward far field where training never reached: use a larger width or N, "
                'parameterization="preconditioned", or stronger early stopping)'
            )
        self.escaped_mass = escaped + negligible
        self._density = (grid, density)

    def pdf(self, x) -> np.ndarray:
        """Density at ``x`` (n, d), linearly interpolated from :meth:`density_grid` (zero outside it)."""
        x = check_data("x", x, self.dim)
        grid, density = self.density_grid()
        if self.dim == 1:
            return np.interp(x[:, 0], grid.axes[0], density, left=0.0, right=0.0)
        from scipy import interpolate  # here: a fifth of a second to import, for 2-D points off a grid only

        return interpolate.RegularGridInterpolator(grid.axes, density, bounds_error=False, fill_value=0.0)(x)

    def logpdf(self, x) -> np.ndarray:
        """The log of :meth:`pdf` (minus infinity where the grid density is zero)."""
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x))

    @property
    def grid_spacing(self) -> float:
        """Step of the density grid: the model's ``grid_spacing``, default 0.01 (1-D) or 0.08 (2-D)."""
        if self.model.grid_spacing is not None:
            return self.model.grid_spacing
        return 0.01 if self.dim == 1 else 0.08

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the density has at most ``mass``.

        In d <= 2, read off the grid density (:meth:`density_grid`), cutting a tail of ``mass / (2d)`` from each end
        of each axis's marginal and widening by one node, so TV's quadrature grid covers the mass and not the whole
        of :meth:`sampler_box` (mass the sampler moved off its grid is outside either, and TV counts it).
        In d > 2, :meth:`sampler_box`.
        """
        if self.dim > 2:
            return self.sampler_box(mass)
        grid, density = self.density_grid()
        lower, upper = [], []
        for axis, nodes in enumerate(grid.axes):
            marginal = (
                np.cumsum(density.sum(axis=tuple(other for other in range(self.dim) if other != axis)))
                * grid.cell_volume
            )
            tail = mass / (2 * self.dim)
            first = int(np.searchsorted(marginal, tail, side="right"))
            last = int(np.searchsorted(marginal, marginal[-1] - tail, side="left"))
            lower.append(nodes[max(first - 1, 0)])
            upper.append(nodes[min(last + 1, nodes.size - 1)])
        return Box(np.array(lower), np.array(upper))

    def grid_pdf(self, grid: Grid) -> np.ndarray:
        """The density at the nodes of ``grid``: the multilinear interpolation of :meth:`density_grid` that
        :meth:`pdf` does, one axis at a time (a tensor-product grid needs only each axis's cells)."""
        source, density = self.density_grid()
        values = density
        for axis, (nodes, targets) in enumerate(zip(source.axes, grid.axes)):
            values = _interpolate_axis(values, nodes, targets, axis)
        return values
