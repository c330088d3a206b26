r"""Grid masses convolved with a sampled Gaussian and with its derivative, by FFT: the grid part of a training
distribution's OU marginals (:class:`selfloop.bounds.ou_marginals.TrainingDistribution`).

The kernel is :math:`\varphi_v` sampled on the grid's step out to 9 standard deviations and times the step (a density
in, a density out); :func:`convolve` applies it one separable axis at a time, :func:`convolve_pairs_1d` applies it and
its derivative to many 1-D rows at once. Reference: docs/theory.md, section 8.5.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft

from selfloop.simulators import Grid

__all__ = ["convolve", "convolve_pairs_1d"]


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


def convolve_pairs_1d(values: np.ndarray, step: float, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``values`` (T, G) convolved with :math:`\\varphi` of its variance and with its derivative, as
    :func:`convolve` does one row at a time (``mode="same"``, the kernel sampled to 9 standard deviations and times the
    step), every row transformed once.

    Every row's kernel is laid on the longest one's support (2G - 1 nodes) and every transform has one length, so a
    row's result does not depend on the other rows beyond rounding (the tests check it, and that it is
    :func:`convolve`'s to rounding).
    """
    size = values.shape[-1]
    length = sp_fft.next_fast_len(3 * size - 2, True)
    transformed = sp_fft.rfft(values, length, axis=-1)
    out = []
    for kernel in _kernel_transforms(step, np.asarray(variances, dtype=float), size, length):
        convolved = sp_fft.irfft(transformed * kernel, length, axis=-1)
        out.append(convolved[:, size - 1 : 2 * size - 1])
    return out[0], out[1]


#: The kernels' transforms by (step, variances, size): a loop certifies every fit on one quadrature at one set of
#: chain times, so every fit's training distribution asks for the same few batches of kernels.
_KERNEL_TRANSFORMS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_KEPT_KERNELS = 32


def _kernel_transforms(step: float, variances: np.ndarray, size: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The transforms (length ``length``) of :math:`\varphi` of each of ``variances`` and of its derivative, sampled on
    the longest support (2 ``size`` - 1 nodes), each cut to 9 standard deviations; computed once per key and kept."""
    key = (float(step), variances.tobytes(), int(size), int(length))
    if key not in _KERNEL_TRANSFORMS:
        if len(_KERNEL_TRANSFORMS) >= _KEPT_KERNELS:
            _KERNEL_TRANSFORMS.clear()
        nodes = np.arange(-(size - 1), size)
        offsets = nodes * step
        column = variances[:, None]
        kernel = _gaussian_taps(offsets, column, step)
        kernel[np.abs(nodes) > _kernel_half_width(step, column, size)] = 0.0
        _KERNEL_TRANSFORMS[key] = tuple(
            sp_fft.rfft(taps, length, axis=-1) for taps in (kernel, kernel * (-offsets / column))
        )
    return _KERNEL_TRANSFORMS[key]


def convolve(values: np.ndarray, grid: Grid, variance: float, derivative_axis: int | None = None) -> np.ndarray:
    r"""``values`` convolved with :math:`\varphi_{\text{variance}}` (or its derivative along one axis) on the grid, by FFT,
    one separable axis at a time (a density in, a density out: the kernel is sampled and times the step)."""
    out = values
    for axis in range(grid.dim):
        kernel, offsets = _gaussian_kernel(float(grid.spacing[axis]), variance, grid.shape[axis])
        if axis == derivative_axis:
            kernel = kernel * (-offsets / variance)
        out = _convolve_same(out, kernel, axis)
    return out


def _convolve_same(values: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """The linear convolution of ``values`` with the odd-length, centred ``kernel`` along ``axis``, cut to the input's
    nodes (``scipy.signal.fftconvolve(..., mode="same")``, without importing scipy.signal's half second)."""
    size = values.shape[axis]
    length = sp_fft.next_fast_len(size + kernel.size - 1, True)
    transformed = sp_fft.rfft(values, length, axis=axis)
    shape = [1] * values.ndim
    shape[axis] = -1
    full = sp_fft.irfft(transformed * sp_fft.rfft(kernel, length).reshape(shape), length, axis=axis)
    start = (kernel.size - 1) // 2
    return np.take(full, np.arange(start, start + size), axis=axis)
