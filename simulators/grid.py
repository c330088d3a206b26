"""Regular grids in d <= 2: boxes, linear binning, Gaussian convolution, quadrature.

These are the numerical primitives behind every exact TV in the project:
densities are evaluated (or, for the KDE and the diffusion sampler, computed)
on a regular grid that covers the probability mass of every density involved,
and integrals are taken with a rule that is exact for the piecewise-linear
interpolant of the values, including across sign changes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import signal, special

__all__ = [
    "AccuracyWarning",
    "Box",
    "Grid",
    "gaussian_blur",
    "linear_bin",
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
    def union(boxes: Sequence["Box"]) -> "Box":
        """The smallest box containing every box in ``boxes``."""
        lower = np.min([b.lower for b in boxes], axis=0)
        upper = np.max([b.upper for b in boxes], axis=0)
        return Box(lower, upper)

    @staticmethod
    def around(points: np.ndarray, margin: float) -> "Box":
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
    def covering(cls, box: Box, spacing: float, *, max_nodes: int | None = None) -> "Grid":
        """The grid with step ``spacing`` (or coarser, if capped) covering ``box``.

        If more than ``max_nodes`` nodes per axis would be needed, the spacing
        is widened and an :class:`AccuracyWarning` says so.
        """
        dim = box.dim
        if dim not in MAX_NODES_PER_AXIS:
            raise ValueError(f"grids are supported in dimension 1 or 2, got dimension {dim}")
        cap = MAX_NODES_PER_AXIS[dim] if max_nodes is None else max_nodes
        width = box.upper - box.lower
        counts = np.ceil(width / spacing).astype(int) + 1
        steps = np.full(dim, float(spacing))
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
        grid_pdf = getattr(density, "grid_pdf", None)
        if grid_pdf is not None:
            return grid_pdf(self)
        return density.pdf(self.points()).reshape(self.shape)

    def integrate(self, values: np.ndarray) -> float:
        """Trapezoidal integral of grid values that vanish at the boundary.

        For smooth, rapidly decaying integrands the trapezoidal rule is
        spectrally accurate (Euler-Maclaurin), so the sum times the cell
        volume is used.
        """
        return float(np.sum(values) * self.cell_volume)

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
        """
        total = float(np.sum(np.abs(values)))
        gradient = np.gradient(values) if self.dim > 1 else [values]
        squared_norm = sum(g**2 for g in gradient) if self.dim > 1 else None
        for axis in range(self.dim):
            along = np.moveaxis(values, axis, -1)
            left, right = along[..., :-1], along[..., 1:]
            crossing = (left * right) < 0
            if not crossing.any():
                continue
            absolute_left, absolute_right = np.abs(left), np.abs(right)
            sum_absolute = np.where(crossing, absolute_left + absolute_right, 1.0)
            interpolation = -absolute_left * absolute_right / sum_absolute
            padded = np.concatenate([along[..., :1], along, along[..., -1:]], axis=-1)
            slope = (padded[..., 2:] - padded[..., :-2]) / 2.0  # f' times the step, at each node
            endpoint = np.sign(right) * (slope[..., :-1] + slope[..., 1:]) / 12.0
            correction = interpolation + endpoint
            if squared_norm is not None:
                weight = np.moveaxis(gradient[axis] ** 2 / np.where(squared_norm > 0, squared_norm, 1.0), axis, -1)
                correction = correction * (weight[..., :-1] + weight[..., 1:]) / 2.0
            total += float(np.sum(np.where(crossing, correction, 0.0)))
        return total * self.cell_volume


def linear_bin(points: np.ndarray, grid: Grid, weights: np.ndarray | None = None) -> np.ndarray:
    """Deposit point masses on the grid by linear (cloud-in-cell) binning.

    Each point's weight (default ``1/n``) is split between the 2^d nodes of
    its cell in proportion to the multilinear interpolation weights, so the
    total mass and the first moment are preserved exactly.

    Parameters
    ----------
    points : ndarray (n, d)
        Locations; they must lie inside the grid.
    grid : Grid
    weights : ndarray (n,), optional

    Returns
    -------
    ndarray of shape ``grid.shape``
        Mass per node; it sums to ``weights.sum()``.
    """
    n = points.shape[0]
    if weights is None:
        weights = np.full(n, 1.0 / n)
    position = (points - grid.lower) / grid.spacing
    shape = np.asarray(grid.shape)
    index = np.clip(np.floor(position).astype(np.int64), 0, shape - 2)
    fraction = np.clip(position - index, 0.0, 1.0)
    out = np.zeros(grid.size)
    strides = np.array([int(np.prod(grid.shape[axis + 1 :])) for axis in range(grid.dim)])
    for corner in np.ndindex(*(2,) * grid.dim):
        corner = np.asarray(corner)
        share = np.prod(np.where(corner == 1, fraction, 1.0 - fraction), axis=1) * weights
        flat = (index + corner) @ strides
        out += np.bincount(flat, weights=share, minlength=grid.size)
    return out.reshape(grid.shape)


def gaussian_blur(masses: np.ndarray, grid: Grid, variance, *, tail_mass: float = 1e-12) -> np.ndarray:
    r"""Density of :math:`\sum_j m_j\, \mathcal N(x_j, \operatorname{diag}(\text{variance}))` at the nodes.

    ``masses`` are point masses sitting on the nodes (from :func:`linear_bin`);
    the result is their convolution with the Gaussian density, evaluated at
    the nodes, computed by FFT in :math:`O(G \log G)`. The kernel is truncated
    where its tail mass is below ``tail_mass`` and normalised to unit mass on
    the grid, so mass is conserved and a variance far below the grid step
    leaves the masses in place. ``variance`` is one number or one per axis.
    """
    variances = np.broadcast_to(np.asarray(variance, dtype=float), (grid.dim,))
    if np.all(variances <= 0):
        return masses / grid.cell_volume
    z = tail_quantile(tail_mass)
    kernels = []
    for step, n, axis_variance in zip(grid.spacing, grid.shape, variances):
        if axis_variance <= 0:
            kernels.append(np.array([1.0 / step]))
            continue
        std = np.sqrt(axis_variance)
        half_width = int(min(np.ceil(z * std / step), n - 1))
        offsets = step * np.arange(-half_width, half_width + 1)
        values = np.exp(-0.5 * (offsets / std) ** 2)
        # normalised on the grid: equal to the analytic 1/(sqrt(2 pi) std) to machine precision
        # when std spans a few steps, and an exact identity when it is far below one step
        kernels.append(values / (values.sum() * step))
    kernel = kernels[0]
    for extra in kernels[1:]:
        kernel = np.multiply.outer(kernel, extra)
    blurred = signal.fftconvolve(masses, kernel, mode="same")
    return np.maximum(blurred, 0.0)
