r"""Gaussian smoothing on regular grids: linear binning of point masses and their convolution with a Gaussian.

- :func:`linear_bin`: cloud-in-cell deposit of point masses on the nodes (mass and first moment exact);
- :func:`gaussian_blur`: the convolution of node masses with :math:`\mathcal N(0, \operatorname{diag}(v))`,
  sampled on the grid and normalised there (direct in 1-D for short kernels, else FFT), mass falling off the grid
  dropped;
- :func:`gaussian_smooth`: the same convolution by the kernel's exact transfer function in the Fourier domain, on a
  padded grid (the KDE's FFT path).

Leading axes of the masses are a batch (one set per replicate), smoothed together.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from .grid import Grid, tail_quantile

__all__ = ["gaussian_blur", "gaussian_smooth", "linear_bin"]

#: Largest (span x kernel length) that :func:`gaussian_blur` convolves directly in 1-D rather than by FFT.
_DIRECT_CONVOLUTION_PRODUCTS = 1 << 21


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
            shares.append(np.ones(flat.size) if share is None else share)
        out: np.ndarray = np.bincount(
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
    spectrum = fft.rfftn(masses[(Ellipsis,) + tuple(source)], s=lengths, axes=axes)
    for factor in spectra:
        spectrum *= factor
    out[(Ellipsis,) + tuple(target)] = fft.irfftn(spectrum, s=lengths, axes=axes)[(Ellipsis,) + tuple(window)]
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
    smoothed = fft.irfftn(spectrum, s=lengths, axes=axes)[(Ellipsis,) + tuple(slice(0, n) for n in grid.shape)]
    return np.maximum(smoothed, 0.0) / grid.cell_volume
