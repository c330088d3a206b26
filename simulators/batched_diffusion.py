r"""The random-feature score network, its reverse-SDE sampler and the sampler's grid density, for many fits at once.

A loop's replicates each train their own network (their own features W, U and weights A), but
they share the sampler's time grid, the density grid's step and the Gaussian kernel of each
Euler-Maruyama step. Taken together, one sampler step of R fits is one stacked matrix product,
one ``bincount`` and one batched FFT, where R fits one at a time pay the per-call overhead of
Python and numpy R times (in 1-D, most of a step's cost).

A fit's result does not depend on the others in its batch, beyond floating-point rounding:

- **sampling** (:func:`sample_sde`): fit r draws its start and its noise from its own generator,
  in the order in which it draws them alone;
- **density** (:func:`sde_densities`): the fits share one window of the lattice
  :math:`\delta\mathbb Z^d` (:meth:`Grid.covering` snaps to it) that covers every fit's own
  window. Mass that the drift moves outside a fit's own window is dropped and counted as escaped,
  and mass blurred past it is cut, exactly as on the fit's own grid; a node holding less than
  ``NEGLIGIBLE_NODE_MASS`` of a fit's mass is not moved for that fit (weight 0), wherever the
  others hold mass.

One fit alone goes through the same code with R = 1 (:class:`selfloop.simulators.FittedDiffusion`),
so there is one implementation of the network, the sampler and the density.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .grid import Box, Grid, gaussian_blur, linear_bin

__all__ = ["MAX_ESCAPED_MASS", "NEGLIGIBLE_NODE_MASS", "Networks", "sample_sde", "sde_densities"]

#: Hidden activations (fits x rows x width) formed at once when the networks are evaluated (cache-sized blocks).
_BLOCK_ENTRIES = 1 << 16
#: Points moved through the sampler at once, per fit (each step's cost is then one network evaluation).
_SAMPLE_ROWS = 1 << 16
#: Times whose stacked network terms are kept (a sampler's grid with RK4's half steps needs 2 steps + 1).
_CACHED_TIMES = 4096
#: Largest fraction of the sampler's mass that may leave the density grid before it is an error.
MAX_ESCAPED_MASS = 1e-3
#: A density-grid node holding less mass than this is not moved; its mass is dropped (at most
#: this times nodes times steps in all, below 1e-7 at the default grids) and counted as escaped.
NEGLIGIBLE_NODE_MASS = 1e-14


def _sigma(times: np.ndarray) -> np.ndarray:
    r""":math:`\sigma_t = \sqrt{1 - e^{-2t}}`."""
    return np.sqrt(-np.expm1(-2 * times))


def _embedding(times: np.ndarray) -> np.ndarray:
    r"""Time embedding :math:`e(t) = (1, \alpha_t, \sigma_t)`, with :math:`\alpha_t = e^{-t}`."""
    return np.stack([np.ones_like(times), np.exp(-times), _sigma(times)], axis=-1)


class Networks:
    r"""The score networks of R fits of one model, stacked.

    :math:`s_r(x, t) = c_{\text{out}}(t) A_r\,\mathrm{ReLU}(W_r x + U_r e(t))/m + c_{\text{skip}}(t)\,x`.

    Computed as :math:`A\,\mathrm{ReLU}(h) = \tfrac12 (A W x + A U e(t) + A|h|)`: the linear part is a
    (d, d) map per fit, and :math:`|h|` is one fast pass where a ReLU is a slow one (on the
    development machine ``np.maximum(h, 0.0)`` costs 1.6 ns an element, ``np.abs`` 0.25 ns). The
    hidden layer :math:`h = [x, 1]\,[W^\top; (U e(t))^\top]` is one stacked matrix product per
    cache-sized block of rows.

    Parameters
    ----------
    fits : sequence of FittedDiffusion
        Fits of one model (the same width, parameterization and sampler time grid).
    """

    def __init__(self, fits: Sequence) -> None:
        if not fits:
            raise ValueError("fits: need at least one fitted model")
        self.model = fits[0].model
        self.dim = fits[0].dim
        if any(fit.model is not self.model and vars(fit.model) != vars(self.model) for fit in fits) or any(
            fit.dim != self.dim for fit in fits
        ):
            raise ValueError("fits: every fit must come from the same model, in the same dimension")
        self.width = self.model.width
        self.size = len(fits)
        self._amplitudes = np.stack([fit.weights.T for fit in fits])  # A^T, (R, m, d)
        self._input_weights = np.stack([fit.features[0].T for fit in fits])  # W^T, (R, d, m)
        self._time_weights = np.stack([fit.features[1] for fit in fits])  # U, (R, m, 3)
        self._linear = self._input_weights @ self._amplitudes  # W^T A^T, (R, d, d)
        self._terms: dict[float, tuple] = {}

    def time_terms(self, t: float) -> tuple[float, float, np.ndarray, np.ndarray]:
        """c_out(t), c_skip(t), the stacked [W^T; (U e(t))^T] (R, d + 1, m) and A U e(t) (R, d): once per time."""
        terms = self._terms.get(t)
        if terms is None:
            if len(self._terms) >= _CACHED_TIMES:  # a caller at ever new times: keep the cache bounded
                self._terms.clear()
            output, skip = (float(value[0]) for value in self.model.output_scales(np.array([t])))
            bias = self._time_weights @ _embedding(np.array(t))  # U e(t), (R, m)
            augmented = np.concatenate([self._input_weights, bias[:, None, :]], axis=1)
            offset = (bias[:, None, :] @ self._amplitudes)[:, 0]
            terms = self._terms[t] = (output, skip, augmented, offset)
        return terms

    def score(self, x: np.ndarray, t: float) -> np.ndarray:
        """Every fit's score at ``x``: (n, d) shared by the fits, or (R, n, d) one set per fit; returns (R, n, d)."""
        output, skip, augmented, offset = self.time_terms(float(t))
        n = x.shape[-2]
        result = x @ self._linear + offset[:, None, :]  # A (W x + U e(t))
        rows = max(1, min(n, _BLOCK_ENTRIES // (self.size * self.width)))
        shared = x.ndim == 2
        points = np.ones(((1 if shared else self.size), rows, self.dim + 1))
        hidden = np.empty((self.size, rows, self.width))
        folded = np.empty((self.size, rows, self.dim))
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            block, part, inputs = hidden[:, : stop - start], folded[:, : stop - start], points[:, : stop - start]
            inputs[..., : self.dim] = x[..., start:stop, :]
            np.matmul(inputs, augmented, out=block)
            np.abs(block, out=block)
            np.matmul(block, self._amplitudes, out=part)
            result[:, start:stop] += part
        return (0.5 * output / self.width) * result + skip * x

    def drift(self, y: np.ndarray, t: float) -> np.ndarray:
        r"""Reverse-SDE drift :math:`b_r(y, t) = y + 2 s_r(y, t)`, shape (R, n, d)."""
        return y + 2.0 * self.score(y, t)


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


def sample_sde(networks: Networks, times: np.ndarray, n: int, rngs: Sequence[np.random.Generator]) -> np.ndarray:
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
    networks: Networks, times: np.ndarray, boxes: Sequence[Box], spacing: float
) -> list[tuple[Grid, np.ndarray, float, float]]:
    r"""Each fit's reverse-SDE density on its own grid (``boxes[r]`` at step ``spacing``): (grid, density, mass moved off
    the grid, mass dropped at negligible nodes).

    Every Euler-Maruyama step moves the mass at each node y to :math:`y + \Delta\, b_r(y, t)` (linear
    binning), then convolves with :math:`N(0, 2\Delta - \delta^2/6)` (:func:`gaussian_blur`), where
    :math:`\delta^2/6` is the mean variance linear binning adds. Mass moved off a fit's grid is
    dropped and counted as escaped, and the mass at nodes below ``NEGLIGIBLE_NODE_MASS`` is dropped;
    the density then integrates to one minus the two.

    All fits move together on one lattice window covering every box (module docstring). The
    dropped masses are returned, not checked: the caller decides what is too much.
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
        inside[(r, *window)] = 1.0
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
        outside = np.any(moved < lower, axis=2) | np.any(moved > upper, axis=2)
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
