"""Regular grids in d <= 2: boxes, grids on a lattice, and quadrature (Gaussian smoothing is in :mod:`.smoothing`).

These are the numerical primitives behind every exact TV in the project:
densities are evaluated (or, for the KDE and the diffusion sampler, computed)
on a regular grid that covers the probability mass of every density involved,
and integrals are taken with a rule that is exact for the piecewise-linear
interpolant of the values, including across sign changes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from .protocol import GridValued

__all__ = [
    "AccuracyWarning",
    "Box",
    "Grid",
    "tail_quantile",
]

#: Largest number of nodes per axis that :meth:`Grid.covering` builds, by dimension.
MAX_NODES_PER_AXIS = {1: 1 << 20, 2: 2048}


class AccuracyWarning(UserWarning):
    """A grid had to be coarser than the accuracy target asked for."""


def tail_quantile(mass: float) -> float:
    r"""The z with :math:`P(|Z| > z) = \text{mass}` for a standard normal Z."""
    return float(-special.ndtri(mass / 2.0))


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``[lower, upper]`` in R^d."""

    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "lower", np.atleast_1d(np.asarray(self.lower, dtype=float)))
        object.__setattr__(self, "upper", np.atleast_1d(np.asarray(self.upper, dtype=float)))

    @property
    def dim(self) -> int:
        return self.lower.shape[0]

    @staticmethod
    def union(boxes: Sequence[Box]) -> Box:
        """The smallest box containing every box in ``boxes``."""
        lower = np.min([b.lower for b in boxes], axis=0)
        upper = np.max([b.upper for b in boxes], axis=0)
        return Box(lower, upper)

    @staticmethod
    def around(points: np.ndarray, margin: float) -> Box:
        """The bounding box of ``points`` (n, d) widened by ``margin`` on every side."""
        return Box(points.min(axis=0) - margin, points.max(axis=0) + margin)


@dataclass(frozen=True)
class Grid:
    """A regular grid with nodes ``lower + spacing * index`` on each axis.

    Parameters
    ----------
    lower : ndarray (d,)
        First node on each axis.
    spacing : ndarray (d,)
        Distance between neighbouring nodes on each axis.
    shape : tuple of int
        Number of nodes on each axis.
    """

    lower: np.ndarray
    spacing: np.ndarray
    shape: tuple[int, ...]

    @classmethod
    def covering(cls, box: Box, spacing: float, *, max_nodes: int | None = None) -> Grid:
        """The grid with step ``spacing`` (or coarser, if capped) covering ``box``.

        If more than ``max_nodes`` nodes per axis would be needed, the spacing
        is widened and an :class:`AccuracyWarning` says so.
        """
        dim = box.dim
        if dim not in MAX_NODES_PER_AXIS:
            raise ValueError(f"grids are supported in dimension 1 or 2, got dimension {dim}")
        cap = MAX_NODES_PER_AXIS[dim] if max_nodes is None else max_nodes
        # snap to the lattice spacing * Z^d, so that two grids of one step share their nodes exactly
        # (a replicate's density is then the same on its own grid and on a batch's wider one)
        first, last = np.floor(box.lower / spacing), np.ceil(box.upper / spacing)
        counts = (last - first).astype(int) + 1
        steps = np.full(dim, float(spacing))
        if np.all(counts <= cap):
            return cls(first * spacing, steps, tuple(int(c) for c in counts))
        width = box.upper - box.lower
        counts = np.ceil(width / spacing).astype(int) + 1
        if np.any(counts > cap):
            warnings.warn(
                f"grid capped at {cap} nodes per axis: spacing {spacing:.3g} widened to "
                f"{np.max(width / (cap - 1)):.3g}; quadrature and binning errors grow accordingly",
                AccuracyWarning,
                stacklevel=2,
            )
            counts = np.minimum(counts, cap)
            steps = np.maximum(steps, width / (counts - 1))
        return cls(box.lower.copy(), steps, tuple(int(c) for c in counts))

    @staticmethod
    def resolves(box: Box, spacing: float, *, max_nodes: int | None = None) -> bool:
        """Whether :meth:`covering` can cover ``box`` at step ``spacing`` without widening it (within
        :data:`MAX_NODES_PER_AXIS`, or ``max_nodes``, on every axis)."""
        cap = MAX_NODES_PER_AXIS.get(box.dim, 0) if max_nodes is None else max_nodes
        return bool(np.all(np.ceil((box.upper - box.lower) / spacing) + 1 <= cap))

    def window(self, other: Grid) -> tuple[slice, ...]:
        """The index slices of ``other``'s nodes within this grid (both on one lattice, ``other`` inside)."""
        offsets = np.rint((other.lower - self.lower) / self.spacing).astype(int)
        return tuple(slice(int(o), int(o) + n) for o, n in zip(offsets, other.shape))

    @property
    def dim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def axes(self) -> list[np.ndarray]:
        """The node coordinates along each axis."""
        return [lo + step * np.arange(n) for lo, step, n in zip(self.lower, self.spacing, self.shape)]

    def points(self) -> np.ndarray:
        """All nodes as an array of shape (size, d), in C order of ``shape``."""
        mesh = np.meshgrid(*self.axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=-1)

    def evaluate(self, density) -> np.ndarray:
        """Values of ``density`` at the nodes, shaped like the grid.

        A density with its own ``grid_pdf(grid)`` (the FFT-binned KDE, the
        diffusion sampler) computes them itself; otherwise ``pdf(points)``.
        """
        if isinstance(density, GridValued):
            return density.grid_pdf(self)
        return density.pdf(self.points()).reshape(self.shape)

    def _grid_axes(self, values: np.ndarray) -> tuple[int, ...]:
        """The axes of ``values`` that run over the nodes (the last ``dim``); leading axes are a batch."""
        if values.shape[values.ndim - self.dim :] != self.shape:
            raise ValueError(f"values must end with the grid's shape {self.shape}, got {values.shape}")
        return tuple(range(values.ndim - self.dim, values.ndim))

    def integrate(self, values: np.ndarray):
        """Trapezoidal integral of grid values that vanish at the boundary.

        For smooth, rapidly decaying integrands the trapezoidal rule is
        spectrally accurate (Euler-Maclaurin), so the sum times the cell
        volume is used. ``values`` may carry leading batch axes; the result is
        then an array over them, else a float.
        """
        total = np.sum(values, axis=self._grid_axes(values)) * self.cell_volume
        return float(total) if values.ndim == self.dim else total

    def integrate_abs(self, values: np.ndarray) -> float:
        r"""Integral of ``|values|`` with the kinks of :math:`|f|` corrected to third order.

        The plain trapezoidal sum of :math:`|f|` has an :math:`O(\Delta^2)`
        error at the zero set of :math:`f`. Along an axis, a cell
        :math:`[x_j, x_{j+1}]` where :math:`f` changes sign gets two corrections:

        - the integral of the absolute linear interpolant,
          :math:`\Delta (f_j^2 + f_{j+1}^2) / (2(|f_j| + |f_{j+1}|))`, replaces
          the trapezoid (a change of :math:`-\Delta |f_j||f_{j+1}|/(|f_j|+|f_{j+1}|)`);
        - the Euler-Maclaurin endpoint terms of the smooth pieces that now end
          at a node, :math:`\sigma\tfrac{\Delta^2}{12}(f'_j + f'_{j+1})`, are
          added back (:math:`\sigma` the sign on the right, :math:`f'` by
          central differences).

        In 1-D this makes the rule :math:`O(\Delta^3)` per kink. In 2-D the
        correction along axis :math:`a` is weighted by :math:`n_a^2`, the squared
        component of the unit normal :math:`\nabla f/|\nabla f|` of the zero
        set, so a kink parallel to an axis is corrected across it, and an
        oblique one is split between the axes.

        ``values`` may carry leading batch axes (one density difference per
        replicate); the result is then an array over them, else a float.
        """
        self._grid_axes(values)
        batch = values.shape[: values.ndim - self.dim]
        flat = values.reshape(-1, *self.shape)  # one leading batch axis
        total = np.sum(np.abs(flat), axis=tuple(range(1, flat.ndim)))
        # the corrections touch only the cells where the sign changes (a point in 1-D, a curve in 2-D),
        # so they are computed at those cells alone, from gathered neighbours; candidates come from
        # the sign bits (one byte per node), then a strict change f_j f_{j+1} < 0 is required
        negative = np.signbit(flat)
        has_zeros = np.count_nonzero(flat) < flat.size
        for axis in range(self.dim):
            along = 1 + axis
            n = self.shape[axis]
            before: tuple[slice, ...] = (slice(None),) * along
            candidates = np.nonzero(negative[before + (slice(0, n - 1),)] != negative[before + (slice(1, n),)])
            right = list(candidates)
            right[along] = candidates[along] + 1
            strict = flat[candidates] * flat[tuple(right)] < 0
            cells = tuple(index[strict] for index in candidates)
            left = list(cells)
            right = list(cells)
            right[along] = cells[along] + 1
            f_left, f_right = flat[tuple(left)], flat[tuple(right)]
            absolute_left, absolute_right = np.abs(f_left), np.abs(f_right)
            interpolation = -absolute_left * absolute_right / (absolute_left + absolute_right)
            # f' times the step at each end by central differences, the edge value repeated beyond the grid
            slope = _difference(flat, left, along, n, halve_at_edges=True) + _difference(
                flat, right, along, n, halve_at_edges=True
            )
            correction = interpolation + np.sign(f_right) * slope / 12.0
            if self.dim > 1:
                correction = (
                    correction
                    * (_normal_weight(flat, left, along, self.shape) + _normal_weight(flat, right, along, self.shape))
                    / 2.0
                )
            total = total + np.bincount(cells[0], weights=correction, minlength=flat.shape[0])
            # a sign change through a node where f is exactly 0 (a symmetric pair on a lattice through the
            # crossing): the trapezoid is then exact for the absolute linear interpolant, and the kink's
            # Euler-Maclaurin term is 2 |f'| Delta^2 / 12
            if not has_zeros:
                continue
            zeros = np.nonzero(
                (flat[before + (slice(1, n - 1),)] == 0)
                & (flat[before + (slice(0, n - 2),)] * flat[before + (slice(2, n),)] < 0)
            )
            if zeros[0].size:
                node = list(zeros)
                node[along] = zeros[along] + 1
                correction = np.abs(_difference(flat, node, along, n, halve_at_edges=True)) / 6.0
                if self.dim > 1:
                    correction = correction * _normal_weight(flat, node, along, self.shape)
                total = total + np.bincount(zeros[0], weights=correction, minlength=flat.shape[0])
        total = total.reshape(batch) if batch else total[0]
        total = total * self.cell_volume
        return float(total) if values.ndim == self.dim else total


def _difference(values: np.ndarray, index: list, axis: int, n: int, *, halve_at_edges: bool) -> np.ndarray:
    """Central difference ``(f[i+1] - f[i-1]) / 2`` along ``axis`` at the gathered nodes ``index``.

    At the edges the missing neighbour is the node itself: the difference is then halved
    (``halve_at_edges``, the edge value repeated beyond the grid) or one-sided (as ``np.gradient``).
    """
    position = index[axis]
    after, before = list(index), list(index)
    after[axis] = np.minimum(position + 1, n - 1)
    before[axis] = np.maximum(position - 1, 0)
    difference = values[tuple(after)] - values[tuple(before)]
    return difference / 2.0 if halve_at_edges else difference / (after[axis] - before[axis])


def _normal_weight(values: np.ndarray, index: list, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """Squared component along ``axis`` of the unit gradient of ``values`` at the gathered nodes (0 where the gradient is 0)."""
    gradient = [_difference(values, index, 1 + a, shape[a], halve_at_edges=False) for a in range(len(shape))]
    squared_norm = sum(g**2 for g in gradient)
    return gradient[axis - 1] ** 2 / np.where(squared_norm > 0, squared_norm, 1.0)
