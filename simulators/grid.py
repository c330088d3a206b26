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
from scipy import fft, special

__all__ = [
    "AccuracyWarning",
    "Box",
    "Grid",
    "gaussian_blur",
    "gaussian_smooth",
    "linear_bin",
    "tail_quantile",
]

#: Largest number of nodes per axis that :meth:`Grid.covering` builds, by dimension.
MAX_NODES_PER_AXIS = {1: 1 << 20, 2: 2048}


#: Largest (span x kernel length) that :func:`gaussian_blur` convolves directly in 1-D rather than by FFT.
_DIRECT_CONVOLUTION_PRODUCTS = 1 << 21


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

    def window(self, other: "Grid") -> tuple[slice, ...]:
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
        grid_pdf = getattr(density, "grid_pdf", None)
        if grid_pdf is not None:
            return grid_pdf(self)
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
            before = (slice(None),) * along
            candidates = np.nonzero(negative[(*before, slice(0, n - 1))] != negative[(*before, slice(1, n))])
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
                (flat[(*before, slice(1, n - 1))] == 0)
                & (flat[(*before, slice(0, n - 2))] * flat[(*before, slice(2, n))] < 0)
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


def linear_bin(points: np.ndarray, grid: Grid, weights: np.ndarray | None = None) -> np.ndarray:
    """Deposit point masses on the grid by linear (cloud-in-cell) binning.

    Each point's weight (default ``1/n``) is split between the 2^d nodes of
    its cell in proportion to the multilinear interpolation weights, so the
    total mass and the first moment are preserved exactly.

    Parameters
    ----------
    points : ndarray (..., n, d)
        Locations; they must lie inside the grid. Leading axes are a batch
        (one point set per replicate), binned in one ``bincount``.
    grid : Grid
    weights : ndarray (n,), optional

    Returns
    -------
    ndarray of shape ``(..., *grid.shape)``
        Mass per node; each point set's sums to ``weights.sum()``.
    """
    batch = points.shape[:-2]
    n = points.shape[-2]
    copies = int(np.prod(batch))
    size = copies * grid.size
    strides = [int(np.prod(grid.shape[axis + 1 :])) for axis in range(grid.dim)]
    # the flat index of each point's lower corner, one block of nodes per batch entry
    flat = (np.arange(copies, dtype=np.int64) * grid.size).reshape(*batch, 1) if batch else np.zeros(1, dtype=np.int64)
    fractions = []
    for axis in range(grid.dim):
        position = points[..., axis] - grid.lower[axis]
        position *= 1.0 / grid.spacing[axis]
        index = np.floor(position)
        np.clip(index, 0, grid.shape[axis] - 2, out=index)
        position -= index
        fractions.append(np.clip(position, 0.0, 1.0, out=position))
        flat = flat + index.astype(np.int64) * strides[axis]
    flat = np.broadcast_to(flat, points.shape[:-1]).ravel()
    weight = None if weights is None else np.broadcast_to(weights, points.shape[:-1]).ravel()
    corners = list(np.ndindex(*(2,) * grid.dim))
    shifts = [int(np.dot(corner, strides)) for corner in corners]  # a cell's corners stay inside its block
    if size > flat.size:
        # more nodes than points: one bincount over every corner's index and share
        shares = []
        for corner in corners:
            share = weight
            for axis, upper in enumerate(corner):
                factor = fractions[axis].ravel() if upper else 1.0 - fractions[axis].ravel()
                share = factor if share is None else share * factor
            shares.append(share)
        out = np.bincount(
            np.concatenate([flat + shift for shift in shifts]), weights=np.concatenate(shares), minlength=size
        )
    else:
        # more points than nodes: bin the moments sum w * prod_{a in S} f_a over the subsets S of the axes,
        # then each corner's share prod_{c_a=1} f_a prod_{c_a=0} (1 - f_a) by inclusion-exclusion on the grid
        moments = {}
        for subset in corners:
            product = weight
            for axis, used in enumerate(subset):
                if used:
                    product = fractions[axis].ravel() if product is None else product * fractions[axis].ravel()
            moments[subset] = np.bincount(flat, weights=product, minlength=size)
        out = np.zeros(size)
        for corner, shift in zip(corners, shifts):
            mass = sum(
                (-1.0) ** (sum(subset) - sum(corner)) * moment
                for subset, moment in moments.items()
                if all(s >= c for s, c in zip(subset, corner))
            )
            out[shift:] += mass[: size - shift]
    if weights is None:
        out *= 1.0 / n
    return out.reshape(*batch, *grid.shape)


def _sampled_kernel(step: float, n: int, variance: float, z: float) -> tuple[int, np.ndarray]:
    """The Gaussian kernel of :func:`gaussian_blur` on one axis: its half-width in nodes (at most ``n - 1``) and its
    values at the nodes, normalised to unit mass on the grid (the identity ``[1/step]`` for a variance <= 0)."""
    if variance <= 0:
        return 0, np.array([1.0 / step])
    std = np.sqrt(variance)
    half_width = int(min(np.ceil(z * std / step), n - 1))
    values = np.exp(-0.5 * (step * np.arange(-half_width, half_width + 1) / std) ** 2)
    # normalised on the grid: equal to the analytic 1/(sqrt(2 pi) std) to machine precision
    # when std spans a few steps, and an exact identity when it is far below one step
    return half_width, values / (values.sum() * step)


def _placement(first: int, last: int, half_width: int, n: int) -> tuple[slice, slice]:
    """Where the full convolution of nodes ``first:last`` with a kernel of that half-width lands on an axis of n nodes
    (it covers nodes first - half_width .. last + half_width - 1; what falls off the grid is dropped): the target
    nodes, and the matching window of the full convolution."""
    low, high = max(first - half_width, 0), min(last + half_width, n)
    return slice(low, high), slice(low - (first - half_width), high - (first - half_width))


def gaussian_blur(masses: np.ndarray, grid: Grid, variance, *, tail_mass: float = 1e-12) -> np.ndarray:
    r"""Density of :math:`\sum_j m_j\, \mathcal N(x_j, \operatorname{diag}(\text{variance}))` at the nodes.

    ``masses`` are point masses sitting on the nodes (from :func:`linear_bin`), with leading
    axes a batch (one set per replicate, blurred together); the result is their convolution
    with the Gaussian density, evaluated at the nodes. The kernel is sampled at the nodes,
    truncated where its tail mass is below ``tail_mass`` and normalised to unit mass on the
    grid, so mass is conserved and a variance far below the grid step leaves the masses in
    place (where the exact transfer function :math:`e^{-v\omega^2/2}` of
    :func:`gaussian_smooth` would ring). Mass convolved past the grid's edge is dropped.
    ``variance`` is one number or one per axis.

    Only the box around the nonzero masses (of any batch entry), widened by the kernel's reach,
    is transformed: one real FFT forward and one back, with the kernel's transform the outer
    product of its 1-D transforms (it is separable), in :math:`O(G' \log G')` for the
    :math:`G'` nodes of that box.
    """
    variances = np.broadcast_to(np.asarray(variance, dtype=float), (grid.dim,))
    if np.all(variances <= 0):
        return masses / grid.cell_volume
    z = tail_quantile(tail_mass)
    if grid.dim == 1:
        return _gaussian_blur_line(masses, grid, float(variances[0]), z)
    axes = tuple(range(masses.ndim - grid.dim, masses.ndim))
    occupied = [
        np.flatnonzero(np.any(masses != 0, axis=tuple(other for other in range(masses.ndim) if other != axis)))
        for axis in axes
    ]
    out = np.zeros(masses.shape)
    if any(indices.size == 0 for indices in occupied):
        return out
    lengths, spectra, source, target, window = [], [], [], [], []
    for axis, (step, n, axis_variance, indices) in enumerate(zip(grid.spacing, grid.shape, variances, occupied)):
        first, last = int(indices[0]), int(indices[-1]) + 1
        half_width, kernel = _sampled_kernel(step, n, axis_variance, z)
        length = fft.next_fast_len(last - first + 2 * half_width, real=True)
        transform = fft.rfft if axis == grid.dim - 1 else fft.fft
        spectrum = transform(kernel, length)
        shape = [1] * grid.dim
        shape[axis] = spectrum.size
        lengths.append(length)
        spectra.append(spectrum.reshape(shape))
        source.append(slice(first, last))
        nodes, part = _placement(first, last, half_width, n)
        target.append(nodes)
        window.append(part)
    spectrum = fft.rfftn(masses[(Ellipsis, *source)], s=lengths, axes=axes)
    for factor in spectra:
        spectrum *= factor
    out[(Ellipsis, *target)] = fft.irfftn(spectrum, s=lengths, axes=axes)[(Ellipsis, *window)]
    return np.maximum(out, 0.0)


def _gaussian_blur_line(masses: np.ndarray, grid: Grid, variance: float, z: float) -> np.ndarray:
    """:func:`gaussian_blur` in 1-D: the same truncated, grid-normalised kernel, applied to the occupied span by a
    direct convolution (faster than an FFT at the sizes a 1-D grid has) for one line, by one batched FFT for many."""
    step, n = float(grid.spacing[0]), grid.shape[0]
    occupied = np.flatnonzero(np.any(masses.reshape(-1, n) != 0, axis=0))
    out = np.zeros(masses.shape)
    if occupied.size == 0:
        return out
    first, last = int(occupied[0]), int(occupied[-1]) + 1
    half_width, kernel = _sampled_kernel(step, n, variance, z)
    if masses.size == n and (last - first) * kernel.size <= _DIRECT_CONVOLUTION_PRODUCTS:
        full = np.convolve(masses.reshape(n)[first:last], kernel)
    else:
        length = fft.next_fast_len(last - first + 2 * half_width, real=True)
        full = fft.irfft(fft.rfft(masses[..., first:last], length) * fft.rfft(kernel, length), length)
    nodes, part = _placement(first, last, half_width, n)
    out[..., nodes] = full[..., part]
    return np.maximum(out, 0.0)


def gaussian_smooth(masses: np.ndarray, grid: Grid, variance, *, tail_mass: float = 1e-12) -> np.ndarray:
    r"""Density of :math:`\sum_j m_j\, \mathcal N(x_j, v I)` at the nodes, batched, in the Fourier domain.

    The masses (from :func:`linear_bin`, leading axes a batch) are zero-padded
    on every axis by the Gaussian's reach (``tail_mass`` beyond it, so nothing
    wraps around), transformed with a real FFT, multiplied by the Gaussian's
    exact transfer function :math:`e^{-v|\omega|^2/2}` and transformed back:
    :math:`O(G\log G)` per batch entry, and one call for the whole batch.
    The transfer function is 1 at :math:`\omega = 0`, so mass is conserved
    exactly, and it is sampled far below its Nyquist tail when the variance
    spans a few grid steps (at :math:`\sqrt v = 5\Delta` the aliased part is
    :math:`e^{-\pi^2 25/2}`, below 1e-50).

    Parameters
    ----------
    masses : ndarray (..., *grid.shape)
    grid : Grid
    variance : float or ndarray broadcastable to ``(*batch, d)``
        :math:`v \ge 0` per batch entry and axis (``(R, 1)`` for one isotropic variance per replicate).
    """
    batch = masses.shape[: masses.ndim - grid.dim]
    variances = np.broadcast_to(np.asarray(variance, dtype=float), (*batch, grid.dim))
    if np.any(variances < 0) or not np.all(np.isfinite(variances)):
        raise ValueError(f"variance must be finite and non-negative, got {variance!r}")
    axes = tuple(range(len(batch), masses.ndim))
    reach = tail_quantile(tail_mass) * np.sqrt(variances.reshape(-1, grid.dim).max(axis=0, initial=0.0))
    lengths = [
        fft.next_fast_len(n + int(np.ceil(r / step)) + 1, real=True)
        for n, r, step in zip(grid.shape, reach, grid.spacing)
    ]
    spectrum = fft.rfftn(masses, s=lengths, axes=axes)
    # the transfer function factorises over the axes: one 1-D factor per axis, broadcast
    for axis, (length, step) in enumerate(zip(lengths, grid.spacing)):
        frequency = 2 * np.pi * (fft.rfftfreq(length, step) if axis == grid.dim - 1 else fft.fftfreq(length, step))
        shape = [1] * grid.dim
        shape[axis] = frequency.size
        axis_variances = variances[..., axis]
        if np.all(axis_variances == axis_variances.flat[0]):
            factor = np.exp(-0.5 * float(axis_variances.flat[0]) * frequency**2).reshape(shape)
        else:
            factor = np.exp(-0.5 * axis_variances[..., None] * frequency**2).reshape(*batch, *shape)
        spectrum *= factor
    smoothed = fft.irfftn(spectrum, s=lengths, axes=axes)[(Ellipsis, *(slice(0, n) for n in grid.shape))]
    return np.maximum(smoothed, 0.0) / grid.cell_volume
