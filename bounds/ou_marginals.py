r"""The Ornstein-Uhlenbeck marginals of a reference distribution, on a quadrature grid (the ground of Theorem G).

For a reference q and the forward process :math:`X_t = \alpha_t X_0 + \sigma_t Z` (:math:`\alpha_t = e^{-t}`,
:math:`\sigma_t^2 = 1 - e^{-2t}`), :mod:`selfloop.bounds.certificate` needs, at many times t, the density, log density
and score of :math:`q_t` at the nodes of one grid, its second moment and a bound on its KL to N(0, I):

- a Gaussian mixture q: :math:`q_t` is a mixture again (:func:`ou_marginal`), evaluated by log-sum-exp
  responsibilities (:class:`MixtureMarginals`);
- a training distribution :math:`\lambda p_0 + (1-\lambda)\hat p` with :math:`\hat p` a grid density
  (:class:`TrainingDistribution`): the grid part's point masses move exactly to :math:`\alpha_t x_j`, are binned onto
  the quadrature grid and convolved by FFT with the Gaussian and its gradient (:class:`MixedMarginals`).

The quadrature grid (:class:`Quadrature`) covers the reference's and N(0, I)'s mass to 1e-14 and drops the nodes
where none of the truth's marginals puts any mass. Reference: docs/theory.md, sections 8.1, 8.4 and 8.5.
"""

from __future__ import annotations

import numpy as np

from selfloop.simulators import Box, FittedSDEDiffusion, GaussianMixture, Grid, TrainingMixture
from selfloop.simulators.logspace import log_sum_exp
from selfloop.simulators.smoothing import linear_bin

from .grid_convolution import convolve, convolve_pairs_1d

__all__ = [
    "MixedMarginals",
    "MixtureMarginals",
    "Quadrature",
    "TrainingDistribution",
    "certifiable_parts",
    "kl_to_standard_normal",
    "mixture_values",
    "ou_marginal",
    "truth_marginals",
]


#: Quadrature nodes per standard deviation of the narrowest reference component, by dimension (the smooth mixture terms
#: are spectrally accurate far coarser; the network's ReLU kinks set the step: halving it moves a certificate < 1e-3).
_NODES_PER_STD = {1: 40.0, 2: 6.0}


#: Times at which the truth's OU marginals decide which quadrature nodes hold mass (t = 0 and 40 log-spaced up to 30).
_PRUNING_TIMES = np.concatenate([[0.0], np.geomspace(1e-5, 30.0, 40)])


#: A node whose mass is below this under every marginal at ``_PRUNING_TIMES`` is dropped from the quadrature, by
#: dimension. In 2-D the nodes are the certificate's cost (a network evaluation each, per step): 1e-12 keeps 55% of the
#: ring's nodes and moves its certificates by 2e-7 at most, far inside the quadrature's own accuracy (tested). In 1-D
#: nodes cost next to nothing, and the tighter rule stays.
_PRUNED_MASS = {1: 1e-22, 2: 1e-12}


#: Reference mass left outside the quadrature box, per component and axis end.
_BOX_MASS = 1e-14


#: Smoothed grid densities below this fraction of their largest value are floored to 0 (FFT round-off in the tails).
_ROUND_OFF_FLOOR = 1e-13


#: Node values computed at once: times x grid nodes that a training distribution's grid part bins and transforms,
#: times x components x nodes of a 1-D mixture's marginals. 256 KB arrays stay in the processor's cache; batches of
#: 32 MB made a mixed certificate a quarter slower (docs/performance.md).
_BATCHED_VALUES = 1 << 15


#: Distinct times whose OU marginals a reference keeps (a chain bound's 2K + 1, a path bound's (K + 1)(1 + 4)).
_KEPT_TIMES = 2048


#: OU marginals already built, by (reference, t): a loop's certificates ask for the same ones fit after fit.
_MARGINALS: dict[tuple, GaussianMixture] = {}
#: Most OU marginals kept (a few times the reference times of a chain bound, for a few references).
_KEPT_MARGINALS = 8192


def ou_marginal(reference: GaussianMixture, t: float) -> GaussianMixture:
    r""":math:`q_t`, the law of :math:`X_t = \alpha_t X_0 + \sigma_t Z` for :math:`X_0 \sim q`: a Gaussian mixture.

    Kept by the reference's parameters and t, so each is built (and validated) once.
    """
    key = (reference.key, float(t))
    if key not in _MARGINALS:
        if len(_MARGINALS) >= _KEPT_MARGINALS:
            _MARGINALS.clear()
        alpha, variance = np.exp(-t), -np.expm1(-2 * t)
        _MARGINALS[key] = GaussianMixture(
            reference.weights,
            alpha * reference.means,
            alpha**2 * reference.covariances + variance * np.eye(reference.dim),
        )
    return _MARGINALS[key]


def kl_to_standard_normal(mixture: GaussianMixture) -> float:
    r"""An upper bound on :math:`\mathrm{KL}(q \,\|\, N(0, I))`: :math:`\sum_j w_j \mathrm{KL}(N(m_j, S_j) \,\|\, N(0, I))` (joint convexity).

    Each term is :math:`\tfrac12(\operatorname{tr}S - d - \log\det S + |m|^2)`, summed over S's eigenvalues as
    :math:`\lambda - 1 - \log\lambda` (written with ``log1p``, exact near :math:`\lambda = 1`).
    """
    total = 0.0
    for weight, mean, covariance in zip(mixture.weights, mixture.means, mixture.covariances):
        excess = np.linalg.eigvalsh(covariance) - 1.0
        total += weight * 0.5 * (float(np.sum(excess - np.log1p(excess))) + float(mean @ mean))
    return total


#: The training distribution :math:`q_i` of the certificate: :class:`selfloop.simulators.TrainingMixture` itself (one
#: type), under the name this module has always used.
TrainingDistribution = TrainingMixture


def certifiable_parts(reference: TrainingMixture) -> tuple[GaussianMixture, FittedSDEDiffusion]:
    """The truth and previous fit of a training distribution the certificate can take: a Gaussian-mixture truth and
    a previous fit with a grid density (the SDE sampler in d <= 2); else a ``ValueError`` naming what is wrong."""
    truth, previous = reference.truth, reference.previous
    if not isinstance(truth, GaussianMixture):
        raise ValueError(f"reference: its truth must be a GaussianMixture, got {type(truth).__name__}")
    if not (isinstance(previous, FittedSDEDiffusion) and previous.dim <= 2):
        raise ValueError(
            "previous: needs the previous fit's grid density (density_grid()), i.e. the SDE sampler in d <= 2"
        )
    return truth, previous


class Quadrature:
    """A grid of nodes (cell volume ``volume``) on which a reference's OU marginals are integrated."""

    def __init__(self, truth: GaussianMixture, spacing_scale: float, extra: Box | None = None) -> None:
        dim = truth.dim
        if dim > 2:
            raise ValueError(
                f"reference: the certificate is computed by quadrature in dimension 1 or 2, got dimension {dim}"
            )
        standard = GaussianMixture(np.ones(1), np.zeros((1, dim)), np.eye(dim)[None])
        boxes = [truth.bounding_box(_BOX_MASS), standard.bounding_box(_BOX_MASS)] + (
            [extra] if extra is not None else []
        )
        narrowest = float(np.sqrt(np.linalg.eigvalsh(truth.covariances).min()))
        self.grid = Grid.covering(Box.union(boxes), min(narrowest, 1.0) / _NODES_PER_STD[dim] * spacing_scale)
        self.volume = self.grid.cell_volume
        points = self.grid.points()
        if extra is None:  # only the truth's marginals live here: drop nodes where none of them holds any mass
            largest = np.zeros(len(points))
            for density, _, _ in _ou_mixture_values(truth, _PRUNING_TIMES, points):
                largest = np.maximum(largest, density)
            self.kept = np.flatnonzero(largest * self.volume >= _PRUNED_MASS[dim])
        else:  # a grid part is convolved on the whole grid
            self.kept = np.arange(len(points))
        self.points = points[self.kept]

    def full(self, values: np.ndarray) -> np.ndarray:
        """Values at the kept nodes placed on the whole grid (zero elsewhere), shaped like it."""
        out = np.zeros(self.grid.size)
        out[self.kept] = values
        return out.reshape(self.grid.shape)

    def expect(self, density: np.ndarray, values: np.ndarray) -> float:
        """:math:`\\int q\\,f` for values f at the nodes (the trapezoidal sum: the integrands vanish at the box's edge)."""
        return float(np.dot(density, values) * self.volume)

    def expect_inner(self, density: np.ndarray, a: np.ndarray, b: np.ndarray | None = None) -> float:
        """:math:`\\int q\\, a \\cdot b` for vector fields a and b (b = a if None) at the nodes, shape (n, d).

        Summed as ``density @ (a * b)``, one matrix-vector product: the row sums ``np.sum(a * b, axis=1)`` over d = 1
        or 2 columns take ten times longer at the 2-D quadrature's nodes.
        """
        product = a * a if b is None else a * b
        return float(np.sum(density @ product) * self.volume)


class MixtureMarginals:
    r"""The OU marginals :math:`q_t` of a Gaussian-mixture reference at the quadrature nodes: density, log density, score."""

    def __init__(self, mixture: GaussianMixture, quadrature: Quadrature) -> None:
        self.mixture, self.quadrature, self.dim = mixture, quadrature, mixture.dim
        self._kept: dict[float, tuple] = {}

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = float(t)
        if t not in self._kept:
            if len(self._kept) >= _KEPT_TIMES:
                self._kept.clear()
            self._kept[t] = mixture_values(ou_marginal(self.mixture, t), self.quadrature.points)
        return self._kept[t]

    def prepare(self, times) -> None:
        """Compute the marginals at every time of ``times`` not kept yet, together (:func:`_ou_mixture_values`)."""
        pending = self._pending(times)
        for t, values in zip(pending, _ou_mixture_values(self.mixture, np.array(pending), self.quadrature.points)):
            self._kept[t] = values

    def _pending(self, times) -> list[float]:
        """The distinct times of ``times`` not kept yet, in order; the kept ones are forgotten if all would not fit."""
        pending = list(dict.fromkeys(float(t) for t in times if float(t) not in self._kept))
        if len(self._kept) + len(pending) > _KEPT_TIMES:
            self._kept.clear()
        return pending

    def second_moment(self, t: float) -> float:
        return ou_marginal(self.mixture, t).squared_norm_moment(1)

    def kl_to_standard_normal(self, t: float) -> float:
        return kl_to_standard_normal(ou_marginal(self.mixture, t))

    def early_stopping(self, t: float) -> float:
        r""":math:`\mathrm{TV}(q, q_t)` on the quadrature grid."""
        return 0.5 * self.quadrature.grid.integrate_abs(self.quadrature.full(self.at(0.0)[0] - self.at(t)[0]))


_COMPONENT_TERMS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _component_terms(mixture: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """Each component's precision matrix and :math:`\\log\\det(2\\pi\\Sigma_k)`, computed once per mixture."""
    key = mixture.key
    if key not in _COMPONENT_TERMS:
        if len(_COMPONENT_TERMS) >= _KEPT_MARGINALS:
            _COMPONENT_TERMS.clear()
        precisions = np.stack([np.linalg.inv(covariance) for covariance in mixture.covariances])
        log_determinants = np.array(
            [np.linalg.slogdet(2 * np.pi * covariance)[1] for covariance in mixture.covariances]
        )
        _COMPONENT_TERMS[key] = (precisions, log_determinants)
    return _COMPONENT_TERMS[key]


def mixture_values(mixture: GaussianMixture, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Density, log density and score of ``mixture`` at ``x`` (score by component responsibilities, log-sum-exp)."""
    precisions, log_determinants = _component_terms(mixture)
    logs = np.empty((mixture.components, x.shape[0]))
    gradients = np.empty((mixture.components, *x.shape))
    for k in range(mixture.components):
        centred = x - mixture.means[k]
        np.matmul(centred, -precisions[k], out=gradients[k])  # the component's score, -P (x - m)
        logs[k] = 0.5 * (np.einsum("ni,ni->n", gradients[k], centred) - log_determinants[k])
    with np.errstate(divide="ignore"):
        logs += np.log(mixture.weights)[:, None]
    log_density = log_sum_exp(logs)  # over the components
    responsibilities = np.exp(logs - log_density)
    return np.exp(log_density), log_density, np.einsum("kn,kni->ni", responsibilities, gradients)


def _ou_mixture_values(mixture: GaussianMixture, times: np.ndarray, x: np.ndarray):
    """:func:`mixture_values` of :math:`q_t` (:func:`ou_marginal`) at ``x`` for every t of ``times``, yielded in order.

    In 1-D the components of many times are evaluated together, by elementwise products, in batches of
    ``_BATCHED_VALUES`` node values (faster than a Python step per time and component at a 1-D quadrature's
    thousand nodes, and the same values). In 2-D, where the quadrature has tens of thousands of nodes, one time at a
    time is faster: its per-component arrays are contiguous.
    """
    if mixture.dim > 1:
        yield from (mixture_values(ou_marginal(mixture, float(t)), x) for t in times)
        return
    points, means = x[:, 0], mixture.means[:, 0]
    per_time = max(1, _BATCHED_VALUES // (mixture.components * points.size))
    for start in range(0, times.size, per_time):
        batch = times[start : start + per_time]
        alphas, variances = np.exp(-batch)[:, None], -np.expm1(-2 * batch)[:, None]
        covariances = alphas**2 * mixture.covariances[:, 0, 0] + variances  # (T, K)
        centred = points - (alphas * means)[:, :, None]  # (T, K, n)
        gradients = centred * -(1.0 / covariances)[:, :, None]  # each component's score, -(x - m) / s
        logs = 0.5 * (gradients * centred - np.log(2 * np.pi * covariances)[:, :, None])
        with np.errstate(divide="ignore"):
            logs += np.log(mixture.weights)[:, None]
        log_density = log_sum_exp(logs, axis=1)  # over the components
        scores = np.sum(np.exp(logs - log_density[:, None]) * gradients, axis=1)  # responsibilities times scores
        yield from zip(np.exp(log_density), log_density, scores[:, :, None])


_TRUTH_MARGINALS: dict[tuple, MixtureMarginals] = {}


def truth_marginals(truth: GaussianMixture, spacing_scale: float) -> MixtureMarginals:
    """The truth's marginals on its quadrature, kept between calls (a loop certifies all its fits against one truth)."""
    key = (truth.key, float(spacing_scale))
    if key not in _TRUTH_MARGINALS:
        if len(_TRUTH_MARGINALS) >= 4:
            _TRUTH_MARGINALS.clear()
        _TRUTH_MARGINALS[key] = MixtureMarginals(truth, Quadrature(truth, spacing_scale))
    return _TRUTH_MARGINALS[key]


class MixedMarginals(MixtureMarginals):
    r"""The OU marginals of :math:`q = \lambda p_0 + (1-\lambda)\hat p` with :math:`\hat p` a grid density.

    The grid part's point masses :math:`m_j` at nodes :math:`x_j` move to :math:`\alpha_t x_j` (exact rescaling), are
    linearly binned onto the quadrature grid and convolved by FFT with :math:`\varphi_{\sigma_t^2 - \delta^2/6}` and its
    gradient (:math:`\delta^2/6`: the variance linear binning adds), which gives the grid part's density and the
    numerator of its score. Values below ``_ROUND_OFF_FLOOR`` of the largest are FFT round-off and are floored to 0.
    """

    def __init__(self, reference: TrainingDistribution, quadrature: Quadrature) -> None:
        truth, previous = certifiable_parts(reference)
        super().__init__(truth, quadrature)
        grid, values = previous.density_grid()
        masses = np.clip(np.asarray(values, dtype=float).ravel(), 0.0, None) * grid.cell_volume
        held = masses > 0
        self.nodes, self.masses = grid.points()[held], masses[held] / masses[held].sum()
        self._grid, self._values = grid, np.clip(np.asarray(values, dtype=float), 0.0, None) / masses.sum()
        self.fraction = float(reference.real_fraction)
        self._previous_second_moment = float(np.dot(self.masses, np.sum(self.nodes**2, axis=1)))

    def at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = float(t)
        if t not in self._kept:
            self.prepare([t])
        return self._kept[t]

    def prepare(self, times) -> None:
        """Compute the marginals at every time of ``times`` not kept yet, the grid part's binning and transforms for many
        times at once (a chain bound asks for its 2K + 1 times in one call). Each time's values are those it gets alone,
        to rounding: in 1-D every transform has one length, whatever the batch."""
        pending = self._pending(times)
        chunk = max(1, _BATCHED_VALUES // self.quadrature.grid.size)
        for start in range(0, len(pending), chunk):
            batch = np.array(pending[start : start + chunk])
            truth_values = _ou_mixture_values(self.mixture, batch, self.quadrature.points)
            for t, grid_density, grid_gradient, (truth_density, _, truth_score) in zip(
                batch.tolist(), *self._grid_parts(batch), truth_values
            ):
                density = self.fraction * truth_density + (1 - self.fraction) * grid_density
                numerator = self.fraction * truth_density[:, None] * truth_score + (1 - self.fraction) * grid_gradient
                positive = density > 0
                safe = np.where(positive, density, 1.0)
                score = np.where(positive[:, None], numerator / safe[:, None], 0.0)
                log_density = np.where(positive, np.log(safe), 0.0)  # q log q -> 0 where q = 0
                self._kept[t] = (density, log_density, score)

    def _grid_parts(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The grid part's density and score numerator at the kept nodes, at each of ``times``: (T, n) and (T, n, d)."""
        grid = self.quadrature.grid
        alphas, variances = np.exp(-times), -np.expm1(-2 * times)
        binned = linear_bin(alphas[:, None, None] * self.nodes, grid, self.masses).reshape(times.size, -1)
        binned /= grid.cell_volume
        spreads = variances - float(np.max(grid.spacing)) ** 2 / 6
        smoothed = spreads > 0  # at the smallest times the binning alone spreads the masses by more than sigma_t^2
        density, gradient = binned.copy(), np.zeros((times.size, grid.size, grid.dim))
        if grid.dim == 1:  # the density and its derivative from one transform of the masses
            density[smoothed], gradient[smoothed, :, 0] = convolve_pairs_1d(
                binned[smoothed], float(grid.spacing[0]), spreads[smoothed]
            )
        else:
            for row in np.flatnonzero(smoothed):
                values = binned[row].reshape(grid.shape)
                density[row] = convolve(values, grid, spreads[row]).ravel()
                for axis in range(grid.dim):
                    gradient[row, :, axis] = convolve(values, grid, spreads[row], derivative_axis=axis).ravel()
        small = density < _ROUND_OFF_FLOOR * density.max(axis=1, keepdims=True)
        small &= smoothed[:, None]
        density[small], gradient[small] = 0.0, 0.0
        return density[:, self.quadrature.kept], gradient[:, self.quadrature.kept]

    def early_stopping(self, t: float) -> float:
        r"""An upper bound on :math:`\mathrm{TV}(q, q_t)`: :math:`\lambda\,\mathrm{TV}(p_0, p_{0,t}) + (1-\lambda)\,\mathrm{TV}(\hat p, \hat p_t)`
        (joint convexity), the second on the previous fit's own grid, where its point masses sit on the nodes (binning
        them onto the quadrature grid instead would add node-scale aliasing that TV sees)."""
        truth_part = MixtureMarginals(self.mixture, self.quadrature).early_stopping(t)
        grid, values = self._grid, self._values
        alpha, variance = np.exp(-t), -np.expm1(-2 * t)
        moved = linear_bin(alpha * self.nodes, grid, self.masses).reshape(grid.shape) / grid.cell_volume
        smoothed = (
            convolve(moved, grid, max(variance - float(np.max(grid.spacing)) ** 2 / 6, 0.0)) if variance > 0 else moved
        )
        return self.fraction * truth_part + (1 - self.fraction) * 0.5 * grid.integrate_abs(values - smoothed)

    def second_moment(self, t: float) -> float:
        alpha, variance = np.exp(-t), -np.expm1(-2 * t)
        grid_part = alpha**2 * self._previous_second_moment + variance * self.dim
        return self.fraction * super().second_moment(t) + (1 - self.fraction) * grid_part

    def kl_to_standard_normal(self, t: float) -> float:
        r"""Joint convexity over the truth's components and the grid's point masses, each :math:`N(\alpha x_j, \sigma^2 I)`."""
        alpha, decay = np.exp(-t), np.exp(-2 * t)  # sigma^2 = 1 - decay
        per_axis = -decay - np.log1p(-decay)  # sigma^2 - 1 - log sigma^2
        grid_part = 0.5 * (self.dim * per_axis + alpha**2 * self._previous_second_moment)
        return self.fraction * super().kl_to_standard_normal(t) + (1 - self.fraction) * grid_part
