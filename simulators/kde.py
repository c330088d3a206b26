r"""Gaussian kernel density estimation.

.. math:: \hat p(x) = \frac1N \sum_{j=1}^N G_{h^2}(x - X_j),
          \qquad G_{s}(x) = (2\pi s)^{-d/2} e^{-|x|^2 / (2s)}

The kernel is isotropic with bandwidth :math:`h`, as in Theorem K of
docs/theory.md. Sampling is exact (a uniformly chosen training point plus
:math:`\mathcal N(0, h^2 I)` noise). Densities are exact kernel sums at
arbitrary points (chunked so memory is bounded) and, on regular grids in
d <= 2, linear binning followed by FFT convolution in :math:`O(N + G\log G)`.

Binning error and its compensation: linear binning replaces a point at
fractional position f in its cell by masses 1 - f and f on the two nodes, which
adds a variance :math:`f(1-f)\Delta^2` along that axis, :math:`\Delta^2/6` on
average over f. The FFT blur therefore uses :math:`h^2 - \Delta^2/6` per axis, so
the binned estimate has the right variance on average, and what is left is
:math:`(f(1-f)/2 - 1/12)\Delta^2 K''`, of either sign and averaging out over
many points. Per point and axis it is at most :math:`\tfrac{\Delta^2}{12}\max|K''|`,
so the sup-norm error relative to the peak stays below :math:`d\,\Delta^2/(8h^2)`
(:func:`binning_error_bound`, two thirds of which is the worst case). The Gaussian
smoothing itself is exact: the binned masses are multiplied by the kernel's
transfer function in the Fourier domain (:func:`selfloop.simulators.smoothing.gaussian_smooth`),
batched over replicates. The default grid step is :math:`h/10` in 1-D and
:math:`h/8` in 2-D; tests/test_kde.py checks TV by quadrature on it against exact kernel
sums on much finer grids to the 1e-4 accuracy target (measured errors: docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .degenerate import DegenerateFit
from .grid import Box, Grid, tail_quantile
from .protocol import OneAtATime
from .smoothing import gaussian_smooth, linear_bin
from .validation import check_data, check_positive, check_size

__all__ = ["KDE", "FittedKDE", "PowerRule", "binning_error_bound", "kde_grid_densities"]

#: Grid steps per bandwidth used by the FFT-binned density, by dimension.
STEPS_PER_BANDWIDTH = {1: 10, 2: 8}

#: Largest number of kernel evaluations held in memory at once by exact sums.
_CHUNK_ELEMENTS = 1 << 22


def binning_error_bound(spacing: float, bandwidth: float, dim: int) -> float:
    r"""Bound on ``sup|binned - exact| / K(0)``: :math:`d\,\Delta^2/(8h^2)`."""
    return dim * spacing**2 / (8.0 * bandwidth**2)


@dataclass(frozen=True)
class PowerRule:
    r"""Bandwidth rule :math:`h = c\,N^{-1/(4+d)}` (optimal rate for the phase-transition study)."""

    scale: float

    def __post_init__(self) -> None:
        check_positive("scale", self.scale)

    def __call__(self, data: np.ndarray) -> float:
        n, dim = data.shape
        return self.scale * n ** (-1.0 / (4 + dim))


def _sample_scale(data: np.ndarray) -> float:
    n = data.shape[0]
    if n < 2:
        raise ValueError("data: a bandwidth rule needs at least 2 points")
    scale = float(np.sqrt(np.mean(np.var(data, axis=0, ddof=1))))
    if not scale > 0:
        raise DegenerateFit(
            "data: collapsed sample (all points identical), the bandwidth rule gives h = 0", singular=True
        )
    return scale


def _scott(data: np.ndarray) -> float:
    n, dim = data.shape
    return _sample_scale(data) * n ** (-1.0 / (dim + 4))


def _silverman(data: np.ndarray) -> float:
    n, dim = data.shape
    return _sample_scale(data) * (4.0 / (dim + 2)) ** (1.0 / (dim + 4)) * n ** (-1.0 / (dim + 4))


_RULES: dict[str, Callable[[np.ndarray], float]] = {"scott": _scott, "silverman": _silverman}

Bandwidth = float | str | Callable[[np.ndarray], float]


class KDE(OneAtATime):
    """Gaussian KDE model: ``KDE(bandwidth).fit(data) -> FittedKDE``.

    Its replicate hook :meth:`grid_densities` evaluates a batch of fits on a shared grid in one binning and one FFT.

    Parameters
    ----------
    bandwidth : float, ``"scott"``, ``"silverman"`` or callable
        A fixed positive h, a named rule of thumb (scale = root mean sample
        variance), or a callable ``data -> h`` such as :class:`PowerRule`.
    """

    def __init__(self, bandwidth: Bandwidth = "scott") -> None:
        if isinstance(bandwidth, str):
            if bandwidth not in _RULES:
                raise ValueError(
                    f"bandwidth must be a positive number, {sorted(_RULES)} or a callable, got {bandwidth!r}"
                )
        elif not callable(bandwidth):
            bandwidth = check_positive("bandwidth", bandwidth)
        self.bandwidth = bandwidth

    def __repr__(self) -> str:
        return f"KDE(bandwidth={self.bandwidth!r})"

    def bandwidth_for(self, data: np.ndarray) -> float:
        """The bandwidth this model uses on ``data``."""
        if isinstance(self.bandwidth, float):
            return self.bandwidth
        rule = _RULES[self.bandwidth] if isinstance(self.bandwidth, str) else self.bandwidth
        return check_positive("bandwidth", rule(data))

    def fit(self, data, rng: np.random.Generator | None = None) -> FittedKDE:
        """Fit on ``data`` (n, d); ``rng`` is unused (the fit is deterministic)."""
        data = check_data("data", data)
        return FittedKDE(data, self.bandwidth_for(data))

    #: The replicates are measured on one grid (:class:`selfloop.simulators.protocol.ReplicateBatching`).
    shared_grid = True

    def grid_densities(self, fits, grid: Grid) -> np.ndarray:
        """The fits' densities at the nodes of ``grid``, (R, *grid.shape): one binning and one FFT
        (:func:`kde_grid_densities`) when they hold equally many points, else one fit at a time."""
        if len({fit.data.shape for fit in fits}) > 1:
            return super().grid_densities(fits, grid)
        data = np.stack([fit.data for fit in fits])
        return kde_grid_densities(data, np.array([fit.bandwidth for fit in fits]), grid)


class FittedKDE:
    """A KDE fitted to ``data`` with bandwidth ``bandwidth``."""

    def __init__(self, data: np.ndarray, bandwidth: float) -> None:
        self.data = check_data("data", data)
        self.bandwidth = check_positive("bandwidth", bandwidth)

    def __repr__(self) -> str:
        return f"FittedKDE(n={self.data.shape[0]}, dim={self.dim}, bandwidth={self.bandwidth:.4g})"

    @property
    def dim(self) -> int:
        return self.data.shape[1]

    @property
    def grid_spacing(self) -> float:
        """Grid step for the FFT-binned density (:meth:`spacing_for`)."""
        return self.spacing_for(self.bandwidth, self.dim)

    @staticmethod
    def spacing_for(bandwidth: float, dim: int) -> float:
        """The grid step for bandwidth h in dimension d: ``h / STEPS_PER_BANDWIDTH[d]``."""
        return bandwidth / STEPS_PER_BANDWIDTH.get(dim, 10)

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the KDE has probability at most ``mass``."""
        return Box.around(self.data, tail_quantile(mass / self.dim) * self.bandwidth)

    def smoothed(self, s2: float) -> FittedKDE:
        r"""The exact convolution :math:`\hat p * \mathcal N(0, s_2 I)`: the same points with bandwidth :math:`\sqrt{h^2 + s_2}`."""
        return FittedKDE(self.data, float(np.sqrt(self.bandwidth**2 + check_positive("s2", s2))))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Exact draws: a uniformly chosen training point plus N(0, h² I) noise."""
        n = check_size("n", n)
        picks = rng.integers(0, self.data.shape[0], size=n)
        return self.data[picks] + self.bandwidth * rng.standard_normal((n, self.dim))

    def pdf(self, x) -> np.ndarray:
        """Exact kernel sum at ``x`` (n, d), computed in memory-bounded chunks."""
        x = check_data("x", x, self.dim)
        variance = self.bandwidth**2
        norm = (2 * np.pi * variance) ** (-self.dim / 2) / self.data.shape[0]
        chunk = max(1, _CHUNK_ELEMENTS // (self.data.shape[0] * self.dim))
        out = np.empty(x.shape[0])
        for start in range(0, x.shape[0], chunk):
            block = x[start : start + chunk]
            squared = np.sum((block[:, None, :] - self.data[None, :, :]) ** 2, axis=-1)
            out[start : start + chunk] = np.exp(-0.5 * squared / variance).sum(axis=1) * norm
        return out

    def grid_pdf(self, grid: Grid) -> np.ndarray:
        """Density at the grid nodes by linear binning and FFT convolution (d <= 2).

        The grid must contain every training point. The sup-norm error
        relative to the peak is below :func:`binning_error_bound`.
        """
        if grid.dim != self.dim:
            raise ValueError(f"grid has dimension {grid.dim}, the KDE has dimension {self.dim}")
        upper = grid.lower + grid.spacing * (np.asarray(grid.shape) - 1)
        if np.any(self.data.min(axis=0) < grid.lower) or np.any(self.data.max(axis=0) > upper):
            raise ValueError("grid must contain every training point")
        return kde_grid_densities(self.data, self.bandwidth, grid)


def kde_grid_densities(data: np.ndarray, bandwidth, grid: Grid) -> np.ndarray:
    r"""KDE densities at the nodes of ``grid`` for a batch of point sets, in one binning and one FFT.

    .. math:: \hat p_r(x) = \frac1N \sum_j G_{h_r^2}(x - X_{rj})

    Each set is linearly binned and smoothed by :func:`selfloop.simulators.smoothing.gaussian_smooth`
    with variance :math:`h_r^2 - \Delta^2/6` (linear binning adds :math:`\Delta^2/6` on
    average, see the module docstring).

    Parameters
    ----------
    data : ndarray (..., N, d)
        Training points, leading axes a batch (replicates); inside the grid.
    bandwidth : float or ndarray over the batch
    grid : Grid

    Returns
    -------
    ndarray (..., *grid.shape)
    """
    compensated = np.maximum(np.asarray(bandwidth, dtype=float)[..., None] ** 2 - grid.spacing**2 / 6.0, 0.0)
    return gaussian_smooth(linear_bin(data, grid), grid, compensated)
