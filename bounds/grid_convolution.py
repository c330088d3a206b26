r"""Grid masses convolved with a sampled Gaussian and with its derivative, by FFT: the grid part of a training
distribution's OU marginals (:class:`selfloop.bounds.ou_marginals.TrainingDistribution`).

The kernel is :math:`\varphi_v` sampled on the grid's step out to 9 standard deviations and times the step (a density
in, a density out); :func:`_convolve` applies it one separable axis at a time, :func:`_convolve_pairs_1d` applies it and
its derivative to many 1-D rows at once. Reference: docs/theory.md, section 8.5.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

from selfloop.simulators import Grid

__all__: list[str] = []


def _kernel_half_width(step: float, variance, size: int):
    """Nodes on each side of a sampled kernel: 9 standard deviations, at most ``size - 1``."""
    return np.minimum(np.ceil(9 * np.sqrt(variance) / step), size - 1)


def _gaussian_taps(offsets: np.ndarray, variance, step: float) -> np.ndarray:
    """:math:`\\varphi_{\\text{variance}}` at ``offsets``, times the step (a density in, a density out)."""
    return np.exp(-0.5 * offsets**2 / variance) / np.sqrt(2 * np.pi * variance) * step


def _gaussian_kernel(step: float, variance: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The sampled :math:`\\varphi_{\\text{variance}}` times the step on ``size`` nodes' half-width, and its offsets."""
    half = int(_kernel_half_width(step, variance, size))
    offsets = np.arange(-half, half + 1) * step
    return _gaussian_taps(offsets, variance, step), offsets


def _convolve_pairs_1d(values: np.ndarray, step: float, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``values`` (T, G) convolved with :math:`\\varphi` of its variance and with its derivative, as
    :func:`_convolve` does one row at a time (``mode="same"``, the kernel sampled to 9 standard deviations and times the
    step), every row transformed once.

    Every row's kernel is laid on the longest one's support (2G - 1 nodes) and every transform has one length, so a
    row's result does not depend on the other rows beyond rounding (the tests check it, and that it is
    :func:`_convolve`'s to rounding).
    """
    size = values.shape[-1]
    nodes = np.arange(-(size - 1), size)
    offsets = nodes * step
    variances = np.asarray(variances, dtype=float)[:, None]
    kernel = _gaussian_taps(offsets, variances, step)
    kernel[np.abs(nodes) > _kernel_half_width(step, variances, size)] = 0.0
    full = 3 * size - 2
    length = sp_fft.next_fast_len(full, True)
    transformed = sp_fft.rfft(values, length, axis=-1)
    out = []
    for taps in (kernel, kernel * (-offsets / variances)):
        convolved = sp_fft.irfft(transformed * sp_fft.rfft(taps, length, axis=-1), length, axis=-1)
        out.append(convolved[:, size - 1 : 2 * size - 1])
    return out[0], out[1]


def _convolve(values: np.ndarray, grid: Grid, variance: float, derivative_axis: int | None = None) -> np.ndarray:
    r"""``values`` convolved with :math:`\varphi_{\text{variance}}` (or its derivative along one axis) on the grid, by FFT,
    one separable axis at a time (a density in, a density out: the kernel is sampled and times the step)."""
    from scipy import signal  # here: scipy.signal takes half a second to import, and most runs never come here

    out = values
    for axis in range(grid.dim):
        kernel, offsets = _gaussian_kernel(float(grid.spacing[axis]), variance, grid.shape[axis])
        if axis == derivative_axis:
            kernel = kernel * (-offsets / variance)
        shape = [1] * grid.dim
        shape[axis] = kernel.size
        out = signal.fftconvolve(out, kernel.reshape(shape), mode="same", axes=axis)
    return out
