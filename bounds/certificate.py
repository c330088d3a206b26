r"""Theorem G: a rigorous certificate of TV(p̂, p0) for one fitted random-feature diffusion model (beyond the paper).

Theorem D needs Li et al.'s unknown constants; this bound needs none. It bounds the total variation between the
law :math:`\hat p` of the Euler-Maruyama sampler *as it is run* (:class:`selfloop.simulators.RandomFeatureDiffusion`,
``sampler="sde"``) and a Gaussian-mixture reference q, from the fitted network itself and q alone.

Forward process :math:`dX = -X\,dt + \sqrt2\,dW`, :math:`X_t = \alpha_t X_0 + \sigma_t Z`, with
:math:`\alpha_t = e^{-t}`, :math:`\sigma_t^2 = 1 - e^{-2t}`, so :math:`q_t` is again a Gaussian mixture. The
sampler runs :math:`y \leftarrow y + \Delta_k \hat b(y, t_k) + \sqrt{2\Delta_k}\,\xi` on the times
:math:`T = t_0 > \dots > t_K = t_{\min}`, with :math:`\hat b(y, t) = y + 2 s_A(y, t)` and :math:`y_0 \sim N(0, I)`.
Then

.. math::
    \mathrm{TV}(\hat p, q) \le \mathrm{TV}(q, q_{t_{\min}}) + \min\Big(\sqrt{\mathrm{KL}/2},\ \sqrt{1 - e^{-\mathrm{KL}}}\Big),
    \qquad \mathrm{KL} \ge \mathrm{KL}(q_{t_{\min}} \,\|\, \hat p)

(triangle inequality, then Pinsker or Bretagnolle-Huber), with KL from one of two bounds:

``"chain"`` (default): the chain rule of KL on the grid-time chains
    For any deterministic reference grid :math:`t'_K = t_{\min} < \dots < t'_0` and the chain
    :math:`Z_k = X_{t'_k}` (its kernels :math:`K^*_k` are the reverse-OU kernels of q),

    .. math::
        \mathrm{KL}(q_{t_{\min}} \,\|\, \hat p) \le \mathrm{KL}(q_{t'_0} \,\|\, N(0, I))
            + \sum_k E_{y \sim q_{t'_k}} \mathrm{KL}\big(K^*_k(\cdot\mid y) \,\|\, N(y + \Delta_k \hat b(y, t_k), 2\Delta_k I)\big),

    and each term is explicit: with :math:`a = e^{-h_k}`, :math:`b^2 = 1 - a^2`, :math:`h_k = t'_k - t'_{k+1}`,
    :math:`E[x \mid y] = (y + b^2 s^*(y))/a` (Tweedie, :math:`s^* = \nabla\log q_{t'_k}`) and
    :math:`E_y H(K^*_k(\cdot \mid y)) = H(q_{t'_{k+1}}) - H(q_{t'_k}) + \tfrac d2\log(2\pi e b^2)`,

    .. math::
        \text{term}_k = H(q_{t'_k}) - H(q_{t'_{k+1}}) + \tfrac d2 \log\frac{2\Delta_k}{e\,b^2}
            + \frac{M_2(t'_{k+1}) - E|E[x\mid y]|^2 + E|E[x\mid y] - y - \Delta_k \hat b(y, t_k)|^2}{4\Delta_k}.

    The reference grid is free: :math:`h_k` near :math:`-\tfrac12\log(1 - 2\Delta_k)` makes the kernel variances
    equal and leaves a per-step error of order :math:`\Delta^3` where the path bound has :math:`\Delta^2`; here each
    :math:`h_k` minimises its step's term with the exact score, from the anchor :math:`t'_K = t_{\min}` up
    (:func:`_reference_times`: a choice that depends on q and the times only, so the bound holds).
``"path"``: Girsanov on the sampler's path
    The sampler freezes its whole drift, linear part included, on each step; the reverse process has drift
    :math:`y + 2\nabla\log q_t(y)`. Girsanov (noise :math:`\sqrt2`) and data processing give

    .. math::
        \mathrm{KL}(q_{t_{\min}} \,\|\, \hat p) \le \mathrm{KL}(q_T \,\|\, N(0, I))
            + \sum_k \int_{t_{k+1}}^{t_k} E\,\Big|\tfrac{X_t - X_{t_k}}2 + \nabla\log q_t(X_t) - s_A(X_{t_k}, t_k)\Big|^2 dt,

    and Tweedie reduces each expectation to moments under :math:`q_{t_k}` (docs/theory.md, section 8).

Parts of the KL, as :attr:`Certificate.parts`: ``initialisation`` (the first KL, bounded by joint convexity over the
mixture's components), ``discretisation`` (the bound with the exact score :math:`\nabla\log q_{t_k}` in place of the
network: what the step sizes alone cost), ``score`` (:math:`\sum_k \Delta_k E|\nabla\log q_{t_k} - s_A|^2`) and
``cross`` (the rest, which may be negative); ``early_stopping`` is :math:`\mathrm{TV}(q, q_{t_{\min}})`, in TV.

Every expectation is a deterministic quadrature on a grid (d <= 2): trapezoidal sums, spectrally accurate on the
smooth mixture terms; the network's ReLU kinks make its terms accurate to the grid step squared, which tests bound by
halving the step. Reference: beyond Fu et al. 2024 (arXiv:2402.11778); docs/theory.md, section 8 (Theorem G).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from selfloop.simulators import Box, GaussianMixture, Grid, tv_quadrature

__all__ = ["CERTIFICATE_METHODS", "Certificate", "diffusion_certificate", "ou_marginal"]

#: The two KL bounds (module docstring).
CERTIFICATE_METHODS = ("chain", "path")
#: Gauss-Legendre nodes per sampler step for the path bound's time integral (its integrand is smooth in t).
_LEGENDRE_NODES = 4
#: Quadrature nodes per standard deviation of the narrowest reference component, by dimension.
_NODES_PER_STD = {1: 40.0, 2: 12.0}
#: Reference mass left outside the quadrature box, per component and axis end.
_BOX_MASS = 1e-14


@dataclass(frozen=True)
class Certificate:
    r"""A certified upper bound on :math:`\mathrm{TV}(\hat p, q)` for one fitted diffusion model.

    Attributes
    ----------
    tv : float
        The bound on :math:`\mathrm{TV}(\hat p, q)`.
    kl : float
        The bound on :math:`\mathrm{KL}(q_{t_{\min}} \,\|\, \hat p)`: the sum of the KL parts.
    parts : dict
        ``initialisation``, ``discretisation``, ``score``, ``cross`` (KL, summing to ``kl``) and ``early_stopping``
        (:math:`\mathrm{TV}(q, q_{t_{\min}})`).
    method : str
        ``"chain"`` or ``"path"``.
    """

    tv: float
    kl: float
    parts: dict = field(default_factory=dict)
    method: str = "chain"

    @staticmethod
    def from_parts(parts: dict, method: str) -> "Certificate":
        kl = max(parts["initialisation"] + parts["discretisation"] + parts["score"] + parts["cross"], 0.0)
        pinsker, bretagnolle_huber = np.sqrt(kl / 2), np.sqrt(-np.expm1(-kl))
        tv = min(1.0, parts["early_stopping"] + min(pinsker, bretagnolle_huber))
        return Certificate(float(tv), float(kl), dict(parts), method)


def ou_marginal(reference: GaussianMixture, t: float) -> GaussianMixture:
    r""":math:`q_t`, the law of :math:`X_t = \alpha_t X_0 + \sigma_t Z` for :math:`X_0 \sim q`: a Gaussian mixture."""
    alpha, variance = np.exp(-t), -np.expm1(-2 * t)
    return GaussianMixture(reference.weights, alpha * reference.means, alpha**2 * reference.covariances + variance * np.eye(reference.dim))


def _kl_to_standard_normal(mixture: GaussianMixture) -> float:
    r"""An upper bound on :math:`\mathrm{KL}(q \,\|\, N(0, I))`: :math:`\sum_j w_j \mathrm{KL}(N(m_j, S_j) \,\|\, N(0, I))` (joint convexity).

    Each term is :math:`\tfrac12(\operatorname{tr}S - d - \log\det S + |m|^2)`, summed over S's eigenvalues as
    :math:`\lambda - 1 - \log\lambda` (written with ``log1p``, exact near :math:`\lambda = 1`).
    """
    total = 0.0
    for weight, mean, covariance in zip(mixture.weights, mixture.means, mixture.covariances):
        excess = np.linalg.eigvalsh(covariance) - 1.0
        total += weight * 0.5 * (float(np.sum(excess - np.log1p(excess))) + float(mean @ mean))
    return total


class _Quadrature:
    """A grid of nodes and weights (cell volume) on which the reference's OU marginals are integrated."""

    def __init__(self, reference: GaussianMixture, spacing_scale: float) -> None:
        dim = reference.dim
        if dim > 2:
            raise ValueError(f"reference: the certificate is computed by quadrature in dimension 1 or 2, got dimension {dim}")
        standard = GaussianMixture(np.ones(1), np.zeros((1, dim)), np.eye(dim)[None])
        box = Box.union([reference.bounding_box(_BOX_MASS), standard.bounding_box(_BOX_MASS)])
        narrowest = float(np.sqrt(np.linalg.eigvalsh(reference.covariances).min()))
        self.grid = Grid.covering(box, min(narrowest, 1.0) / _NODES_PER_STD[dim] * spacing_scale)
        self.points = self.grid.points()
        self.volume = self.grid.cell_volume

    def marginal(self, mixture: GaussianMixture) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Density, log density and score of ``mixture`` at the nodes (score by component responsibilities)."""
        x = self.points
        logs = np.empty((mixture.components, x.shape[0]))
        gradients = np.empty((mixture.components, *x.shape))
        for k in range(mixture.components):
            precision = np.linalg.inv(mixture.covariances[k])
            centred = x - mixture.means[k]
            logs[k] = -0.5 * (np.einsum("ni,ij,nj->n", centred, precision, centred) + np.linalg.slogdet(2 * np.pi * mixture.covariances[k])[1])
            gradients[k] = -centred @ precision
        with np.errstate(divide="ignore"):
            logs += np.log(mixture.weights)[:, None]
        log_density = special.logsumexp(logs, axis=0)
        responsibilities = np.exp(logs - log_density)
        score = np.einsum("kn,kni->ni", responsibilities, gradients)
        return np.exp(log_density), log_density, score

    def expect(self, density: np.ndarray, values: np.ndarray) -> float:
        """:math:`\\int q\\,f` for values f at the nodes (the trapezoidal sum: the integrands vanish at the box's edge)."""
        return float(np.dot(density, values) * self.volume)


class _ChainStep:
    """One step of the chain bound against the reference kernels from :math:`t'_k = t'_{k+1} + h` down to :math:`t'_{k+1}`."""

    def __init__(self, reference: GaussianMixture, quadrature: _Quadrature, lower_time: float, reference_step: float, time: float, step: float) -> None:
        y, dim = quadrature.points, reference.dim
        upper, lower = ou_marginal(reference, lower_time + reference_step), ou_marginal(reference, lower_time)
        self.density, log_density, score = quadrature.marginal(upper)
        lower_density, lower_log_density, _ = quadrature.marginal(lower)
        a, b2 = np.exp(-reference_step), -np.expm1(-2 * reference_step)
        posterior_mean = (y + b2 * score) / a  # E[X_{t'_{k+1}} | X_{t'_k} = y], Tweedie
        self.exact_score = quadrature.marginal(ou_marginal(reference, time))[2]  # grad log q_{t_k}, at the sampler's time
        self.gap = posterior_mean - y - step * (y + 2 * self.exact_score)  # D_k: the exact-score step's error in mean
        entropy_difference = quadrature.expect(lower_density, lower_log_density) - quadrature.expect(self.density, log_density)
        conditional_variance = lower.squared_norm_moment(1) - quadrature.expect(self.density, np.sum(posterior_mean**2, axis=1))
        self.step = step
        self.discretisation = (
            entropy_difference + 0.5 * dim * np.log(2 * step / (np.e * b2))
            + (conditional_variance + quadrature.expect(self.density, np.sum(self.gap**2, axis=1))) / (4 * step)
        )


_REFERENCE_TIMES: dict[tuple, np.ndarray] = {}
_CHAIN_STEPS: dict[tuple, list] = {}
#: Largest number of node values (nodes x dimension x steps) whose chain steps are kept between fits (about 100 MB).
_KEPT_VALUES = 4_000_000


def _reference_times(reference: GaussianMixture, quadrature: _Quadrature, times: np.ndarray) -> np.ndarray:
    r"""The chain bound's reference grid :math:`t'_0 > \dots > t'_K = t_{\min}`, anchored at the sampler's last time.

    Built from the anchor up, each step :math:`h_k` minimises that step's term with the exact score (a bounded scalar
    search over :math:`[0.3\Delta_k, 4\Delta_k]`). It depends on the reference and the sampler's times only, never
    on a fit, so it is a deterministic choice and the bound stays valid; it is computed once per (reference, times,
    quadrature grid) and kept.
    """
    key = _key(reference, quadrature, times)
    if key not in _REFERENCE_TIMES:
        if len(_REFERENCE_TIMES) >= 64:
            _REFERENCE_TIMES.clear()
        grid = np.empty_like(times)
        grid[-1] = times[-1]
        for k in range(times.size - 2, -1, -1):
            step = times[k] - times[k + 1]
            found = optimize.minimize_scalar(
                lambda log_h: _ChainStep(reference, quadrature, grid[k + 1], np.exp(log_h), times[k], step).discretisation,
                bounds=(np.log(0.3 * step), np.log(4.0 * step)), method="bounded", options={"xatol": 1e-3},
            )
            grid[k] = grid[k + 1] + float(np.exp(found.x))
        _REFERENCE_TIMES[key] = grid
    return _REFERENCE_TIMES[key]


def _key(reference: GaussianMixture, quadrature: _Quadrature, times: np.ndarray) -> tuple:
    return (reference.weights.tobytes(), reference.means.tobytes(), reference.covariances.tobytes(), times.tobytes(), quadrature.grid.spacing.tobytes())


def _chain_steps(reference: GaussianMixture, quadrature: _Quadrature, times: np.ndarray) -> list[_ChainStep]:
    """Every step's fit-independent terms on the reference grid; kept between fits when they are small enough."""
    key = _key(reference, quadrature, times)
    if key in _CHAIN_STEPS:
        return _CHAIN_STEPS[key]
    grid = _reference_times(reference, quadrature, times)
    steps = [_ChainStep(reference, quadrature, grid[k + 1], grid[k] - grid[k + 1], times[k], times[k] - times[k + 1]) for k in range(times.size - 1)]
    if quadrature.points.size * len(steps) <= _KEPT_VALUES:
        _CHAIN_STEPS.clear()  # one reference and time grid at a time: a loop certifies all its fits against p0
        _CHAIN_STEPS[key] = steps
    return steps


def _chain_parts(fitted, reference: GaussianMixture, quadrature: _Quadrature, times: np.ndarray) -> dict:
    """The chain bound's KL parts (module docstring)."""
    grid = _reference_times(reference, quadrature, times)
    parts = {"initialisation": _kl_to_standard_normal(ou_marginal(reference, grid[0])), "discretisation": 0.0, "score": 0.0, "cross": 0.0}
    y = quadrature.points
    for k, chain in enumerate(_chain_steps(reference, quadrature, times)):
        error = chain.exact_score - fitted.score(y, times[k])  # e_k = grad log q_{t_k} - s_A
        parts["discretisation"] += chain.discretisation
        parts["score"] += chain.step * quadrature.expect(chain.density, np.sum(error**2, axis=1))
        parts["cross"] += quadrature.expect(chain.density, np.sum(chain.gap * error, axis=1))
    return parts


def _path_parts(fitted, reference: GaussianMixture, quadrature: _Quadrature, times: np.ndarray) -> dict:
    """The path bound's KL parts (module docstring; the reduction by Tweedie is in docs/theory.md, section 8)."""
    dim = reference.dim
    nodes, weights = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
    y = quadrature.points
    cache: dict[float, tuple[float, float]] = {}

    def moments(t: float) -> tuple[float, float]:
        """(M2(t), J(t)): the second moment and the Fisher information of q_t."""
        if t not in cache:
            q = ou_marginal(reference, t)
            density, _, score = quadrature.marginal(q)
            cache[t] = (q.squared_norm_moment(1), quadrature.expect(density, np.sum(score**2, axis=1)))
        return cache[t]

    parts = {"initialisation": _kl_to_standard_normal(ou_marginal(reference, times[0])), "discretisation": 0.0, "score": 0.0, "cross": 0.0}
    for upper, lower in zip(times[:-1], times[1:]):
        density, _, score = quadrature.marginal(ou_marginal(reference, upper))
        error = score - fitted.score(y, upper)
        error_squared = quadrature.expect(density, np.sum(error**2, axis=1))
        error_y = quadrature.expect(density, np.sum(error * y, axis=1))
        error_score = quadrature.expect(density, np.sum(error * score, axis=1))
        second_k, fisher_k = moments(upper)
        half = (upper - lower) / 2
        for node, weight in zip(nodes, weights):
            t = lower + half * (node + 1)
            a = np.exp(-(upper - t))
            b2 = -np.expm1(-2 * (upper - t))
            c1, c2 = (1 / a - 1) / 2, b2 / (2 * a) + a
            second_t, fisher_t = moments(t)
            conditional = (1 - a) ** 2 * second_t / 4 + b2 * dim / 4 - (1 - a) * dim + fisher_t - (c1**2 * second_k - 2 * c1 * c2 * dim + c2**2 * fisher_k)
            mismatch = c1**2 * second_k - 2 * c1 * (c2 - 1) * dim + (c2 - 1) ** 2 * fisher_k
            parts["discretisation"] += half * weight * (conditional + mismatch)
            parts["cross"] += half * weight * (2 * c1 * error_y + 2 * (c2 - 1) * error_score)
        parts["score"] += (upper - lower) * error_squared
    return parts


def diffusion_certificate(fitted, reference: GaussianMixture, *, method: str = "chain", spacing_scale: float = 1.0, drop_discretisation: bool = False) -> Certificate:
    r"""A rigorous upper bound on :math:`\mathrm{TV}(\hat p, q)` for a fitted SDE diffusion model (Theorem G).

    Parameters
    ----------
    fitted : FittedDiffusion
        A fit of :class:`selfloop.simulators.RandomFeatureDiffusion` with ``sampler="sde"``.
    reference : GaussianMixture
        q: the truth :math:`p_0` (or any Gaussian mixture), in dimension 1 or 2.
    method : ``"chain"`` or ``"path"``
        The KL bound (module docstring); the chain bound is the tighter.
    spacing_scale : float
        Multiplies the quadrature step (tests halve it to show the value does not move).
    drop_discretisation : bool
        Negative control only: leave out the discretisation part. The result is then *not* a bound (the suite shows it
        falls below the sampler's TV with the exact score at few steps).

    Returns
    -------
    Certificate
        ``tv``, ``kl`` and ``parts``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfloop.simulators import RandomFeatureDiffusion, standard_truth
    >>> truth = standard_truth("bimodal_1d")
    >>> fitted = RandomFeatureDiffusion(width=64, steps=40).fit(truth.sample(400, np.random.default_rng(0)), np.random.default_rng(1))
    >>> certificate = diffusion_certificate(fitted, truth)
    >>> bool(0 < certificate.tv <= 1), sorted(certificate.parts)
    (True, ['cross', 'discretisation', 'early_stopping', 'initialisation', 'score'])
    """
    if method not in CERTIFICATE_METHODS:
        raise ValueError(f"method must be one of {CERTIFICATE_METHODS}, got {method!r}")
    if not isinstance(reference, GaussianMixture):
        raise ValueError(f"reference must be a GaussianMixture, got {type(reference).__name__}")
    model = getattr(fitted, "model", None)
    if getattr(model, "sampler", None) != "sde" or not hasattr(fitted, "times"):
        raise ValueError("fitted: the certificate is for a fit of RandomFeatureDiffusion with sampler='sde'")
    if fitted.dim != reference.dim:
        raise ValueError(f"reference: dimension {reference.dim} differs from the fit's {fitted.dim}")
    if not (np.isfinite(spacing_scale) and spacing_scale > 0):
        raise ValueError(f"spacing_scale must be positive, got {spacing_scale!r}")
    quadrature = _Quadrature(reference, spacing_scale)
    times = fitted.times()
    parts = (_chain_parts if method == "chain" else _path_parts)(fitted, reference, quadrature, times)
    if drop_discretisation:
        parts["discretisation"] = 0.0
    parts["early_stopping"] = tv_quadrature(reference, ou_marginal(reference, float(times[-1])))
    return Certificate.from_parts(parts, method)
