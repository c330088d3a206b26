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
    (:func:`selfloop.bounds.chain.reference_times`: a choice that depends on q and the times only, so the bound holds).
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

from selfloop.simulators import Box, FittedDiffusion, FittedSDEDiffusion, GaussianMixture, tv_monte_carlo

from .chain import chain_key, chain_parts, reference_times
from .kde import MONTE_CARLO_MARGIN
from .ou_marginals import (
    MixedMarginals,
    MixtureMarginals,
    Quadrature,
    TrainingDistribution,
    certifiable_parts,
    kl_to_standard_normal,
    mixture_values,
    ou_marginal,
    truth_marginals,
)

__all__ = [
    "CERTIFICATE_METHODS",
    "Certificate",
    "diffusion_certificate",
    "integrated_score_error",
    "tv_from_kl",
]

#: The two KL bounds (module docstring).
CERTIFICATE_METHODS = ("chain", "path")
#: Gauss-Legendre nodes per sampler step for the path bound's time integral (its integrand is smooth in t).
_LEGENDRE_NODES = 4


def tv_from_kl(kl: float) -> float:
    r"""The TV that a KL bound allows: :math:`\min(\sqrt{KL/2}, \sqrt{1 - e^{-KL}})` (Pinsker, Bretagnolle-Huber)."""
    return min(np.sqrt(kl / 2), np.sqrt(-np.expm1(-kl)))


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
    kl_stderr : float
        Monte Carlo standard error of the KL estimate (d > 2; 0 for quadrature). ``kl`` and ``tv`` then include
        ``MONTE_CARLO_MARGIN`` standard errors (of the KL and of the early-stopping TV), so each is an upper confidence value.
    score_error : float
        By-product: :math:`\sum_k \Delta_k E_{q_{t_k}}|\nabla\log q_{t_k} - s_A(\cdot, t_k)|^2`, the integrated score
        error against the reference (:func:`integrated_score_error`, Li et al.'s quantity when q is the truth).
    """

    tv: float
    kl: float
    parts: dict = field(default_factory=dict)
    method: str = "chain"
    score_error: float = float("nan")
    kl_stderr: float = 0.0

    @staticmethod
    def from_parts(parts: dict, method: str, kl_margin: float = 0.0, kl_stderr: float = 0.0) -> Certificate:
        """The certificate from its parts; ``kl_margin`` is added to the KL (a Monte Carlo upper confidence margin)."""
        parts = dict(parts)
        score_error = float(parts.pop("score_error", np.nan))
        kl = max(parts["initialisation"] + parts["discretisation"] + parts["score"] + parts["cross"] + kl_margin, 0.0)
        tv = min(1.0, parts["early_stopping"] + tv_from_kl(kl))
        return Certificate(float(tv), float(kl), parts, method, score_error, float(kl_stderr))


def _path_parts(fitted, marginals: MixtureMarginals, times: np.ndarray) -> dict:
    """The path bound's KL parts (module docstring; the reduction by Tweedie is in docs/theory.md, section 8)."""
    dim, quadrature = marginals.dim, marginals.quadrature
    nodes, weights = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
    y = quadrature.points

    def moments(t: float) -> tuple[float, float]:
        """(M2(t), J(t)): the second moment and the Fisher information of q_t."""
        density, _, score = marginals.at(t)
        return marginals.second_moment(t), quadrature.expect_inner(density, score)

    parts = {
        "initialisation": marginals.kl_to_standard_normal(times[0]),
        "discretisation": 0.0,
        "score": 0.0,
        "cross": 0.0,
    }
    for upper, lower in zip(times[:-1], times[1:]):
        density, _, score = marginals.at(upper)
        error = score - fitted.score(y, upper)
        error_squared = quadrature.expect_inner(density, error)
        error_y = quadrature.expect_inner(density, error, y)
        error_score = quadrature.expect_inner(density, error, score)
        second_k, fisher_k = moments(upper)
        half = (upper - lower) / 2
        for node, weight in zip(nodes, weights):
            t = lower + half * (node + 1)
            a = np.exp(-(upper - t))
            b2 = -np.expm1(-2 * (upper - t))
            c1, c2 = (1 / a - 1) / 2, b2 / (2 * a) + a
            second_t, fisher_t = moments(t)
            conditional = (
                (1 - a) ** 2 * second_t / 4
                + b2 * dim / 4
                - (1 - a) * dim
                + fisher_t
                - (c1**2 * second_k - 2 * c1 * c2 * dim + c2**2 * fisher_k)
            )
            mismatch = c1**2 * second_k - 2 * c1 * (c2 - 1) * dim + (c2 - 1) ** 2 * fisher_k
            parts["discretisation"] += half * weight * (conditional + mismatch)
            parts["cross"] += half * weight * (2 * c1 * error_y + 2 * (c2 - 1) * error_score)
        parts["score"] += (upper - lower) * error_squared
    parts["score_error"] = parts["score"]  # under q_{t_k}: the path bound's score part is Li's quantity itself
    return parts


def _monte_carlo_path_certificate(
    fitted, truth: GaussianMixture, times: np.ndarray, samples: int, rng: np.random.Generator
) -> Certificate:
    r"""The path bound in any dimension by Monte Carlo over exact forward pairs (d > 2).

    For each step and Gauss-Legendre time t in it, ``samples`` pairs are drawn exactly:
    :math:`X_t = \alpha_t X_0 + \sigma_t Z_1` with :math:`X_0 \sim q`, then :math:`X_{t_k} = a X_t + b Z_2`. The integrand
    :math:`|(X_t - X_{t_k})/2 + \nabla\log q_t(X_t) - s_A(X_{t_k}, t_k)|^2` is non-negative and evaluated exactly, so the
    average is unbiased with no cancellation (the quadrature route's moment differences would drown in Monte Carlo
    noise). Its standard error adds up over independent draws; the KL gets ``MONTE_CARLO_MARGIN`` of them, and the
    early-stopping TV, itself a Monte Carlo estimate (:func:`selfloop.simulators.tv_monte_carlo`), gets its own.
    The parts come from the same draws: ``score`` is the network's error at :math:`X_{t_k}` alone, ``discretisation``
    the integrand with the exact score in place of the network, ``cross`` the rest.
    """
    nodes, weights = np.polynomial.legendre.leggauss(_LEGENDRE_NODES)
    total = score_part = discretisation = variance = 0.0
    for upper, lower in zip(times[:-1], times[1:]):
        half = (upper - lower) / 2
        for node, weight in zip(nodes, weights):
            t = lower + half * (node + 1)
            a, b = np.exp(-(upper - t)), np.sqrt(-np.expm1(-2 * (upper - t)))
            x_t = ou_marginal(truth, t).sample(samples, rng)
            x_k = a * x_t + b * rng.standard_normal(x_t.shape)
            exact_t = mixture_values(ou_marginal(truth, t), x_t)[2]
            exact_k = mixture_values(ou_marginal(truth, upper), x_k)[2]
            network = fitted.score(x_k, upper)
            drift_gap = (x_t - x_k) / 2 + exact_t
            integrand = np.sum((drift_gap - network) ** 2, axis=1)
            total += half * weight * integrand.mean()
            variance += (half * weight) ** 2 * integrand.var(ddof=1) / samples
            discretisation += half * weight * np.mean(np.sum((drift_gap - exact_k) ** 2, axis=1))
            score_part += half * weight * np.mean(np.sum((exact_k - network) ** 2, axis=1))
    parts = {
        "initialisation": kl_to_standard_normal(ou_marginal(truth, times[0])),
        "discretisation": discretisation,
        "score": score_part,
        "cross": total - discretisation - score_part,
        "score_error": score_part,
    }
    stopping = tv_monte_carlo(truth, ou_marginal(truth, float(times[-1])), samples, rng)
    parts["early_stopping"] = min(1.0, stopping.value + MONTE_CARLO_MARGIN * stopping.stderr)
    stderr = float(np.sqrt(variance))
    return Certificate.from_parts(parts, "path", kl_margin=MONTE_CARLO_MARGIN * stderr, kl_stderr=stderr)


def diffusion_certificate(
    fitted,
    reference,
    *,
    method: str | None = None,
    spacing_scale: float = 1.0,
    drop_discretisation: bool = False,
    samples: int = 4000,
    rng: np.random.Generator | None = None,
) -> Certificate:
    r"""A rigorous upper bound on :math:`\mathrm{TV}(\hat p, q)` for a fitted SDE diffusion model (Theorem G).

    Parameters
    ----------
    fitted : FittedSDEDiffusion
        A fit sampled by the reverse SDE: of :class:`selfloop.simulators.RandomFeatureDiffusion` with
        ``sampler="sde"``, or of :class:`selfloop.simulators.ScoreDiffusion` (any score the user trained). The
        certificate reads the fit's score at the sampler's times and its time grid, nothing else.
    reference : GaussianMixture or TrainingDistribution
        q: the truth :math:`p_0` (or any Gaussian mixture, in any dimension), or, in dimension 1 or 2, generation i's
        training distribution :math:`\lambda p_0 + (1-\lambda)\hat p_{i-1}` (then the bound certifies Lemma R's
        :math:`\varepsilon_i`).
    method : ``"chain"``, ``"path"`` or None
        The KL bound (module docstring). None: the chain bound (the tighter) by quadrature in d <= 2, the path bound by
        Monte Carlo in d > 2, where the chain bound's differences of entropies cannot be resolved by sampling.
    spacing_scale : float
        Multiplies the quadrature step (tests halve it to show the value does not move).
    drop_discretisation : bool
        Negative control only: leave out the discretisation part. The result is then *not* a bound (the suite shows it
        falls below the sampler's TV with the exact score at few steps).
    samples, rng : int, numpy Generator
        d > 2 only: Monte Carlo draws per Gauss-Legendre time, and their generator (default seed 0).

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
    if method is not None and method not in CERTIFICATE_METHODS:
        raise ValueError(f"method must be one of {CERTIFICATE_METHODS} or None, got {method!r}")
    if not isinstance(reference, (GaussianMixture, TrainingDistribution)):
        raise ValueError(
            f"reference must be a GaussianMixture or a TrainingDistribution, got {type(reference).__name__}"
        )
    if isinstance(reference, TrainingDistribution):
        certifiable_parts(reference)  # a ValueError before any work
    if not isinstance(fitted, FittedSDEDiffusion):
        raise ValueError(
            "fitted: the certificate is for a fit sampled by the reverse SDE "
            "(RandomFeatureDiffusion with sampler='sde', or ScoreDiffusion)"
        )
    if fitted.dim != reference.dim:
        raise ValueError(f"reference: dimension {reference.dim} differs from the fit's {fitted.dim}")
    if not (np.isfinite(spacing_scale) and spacing_scale > 0):
        raise ValueError(f"spacing_scale must be positive, got {spacing_scale!r}")
    times = fitted.times()
    if reference.dim > 2:
        if method == "chain" or not isinstance(reference, GaussianMixture):
            raise ValueError(
                "method: in d > 2 the certificate is the path bound by Monte Carlo, against a Gaussian mixture"
            )
        if drop_discretisation:
            raise ValueError("drop_discretisation: the negative control is computed by quadrature, in d <= 2")
        samples = int(samples)
        if samples < 2:
            raise ValueError(f"samples must be at least 2, got {samples!r}")
        return _monte_carlo_path_certificate(
            fitted, reference, times, samples, np.random.default_rng(0) if rng is None else rng
        )
    method = method or "chain"
    if isinstance(reference, GaussianMixture):
        truth, marginals = reference, truth_marginals(reference, spacing_scale)
        key = chain_key(truth, times, spacing_scale)
    else:
        truth, previous = certifiable_parts(reference)
        grid = previous.density_grid()[0]
        box = Box(grid.lower, grid.lower + grid.spacing * (np.asarray(grid.shape) - 1))
        marginals, key = MixedMarginals(reference, Quadrature(truth, spacing_scale, extra=box)), None
    if method == "chain":
        parts = chain_parts(fitted, marginals, times, reference_times(truth, times, spacing_scale), key)
    else:
        parts = _path_parts(fitted, marginals, times)
    if drop_discretisation:
        parts["discretisation"] = 0.0
    parts["early_stopping"] = marginals.early_stopping(float(times[-1]))
    return Certificate.from_parts(parts, method)


def integrated_score_error(fitted, truth: GaussianMixture, *, spacing_scale: float = 1.0) -> float:
    r"""Li et al.'s quantity for one fit: :math:`\sum_k \Delta_k\, E_{q_{t_k}}|\nabla\log q_{t_k} - s_A(\cdot, t_k)|^2`.

    The Riemann sum, on the sampler's own time grid, of the integrated score error
    :math:`\int_{t_{\min}}^T E|s_A - \nabla\log q_t|^2\,dt` whose rate :math:`O(N^{-2/5} + m^{-4/5})` Li et al.
    prove (:mod:`selfloop.bounds.rate`); it is also the path bound's score part. Quadrature in d <= 2.

    Examples
    --------
    >>> import numpy as np
    >>> from selfloop.simulators import RandomFeatureDiffusion, standard_truth
    >>> truth = standard_truth("bimodal_1d")
    >>> fitted = RandomFeatureDiffusion(width=64, steps=40).fit(truth.sample(400, np.random.default_rng(0)), np.random.default_rng(1))
    >>> bool(integrated_score_error(fitted, truth) > 0)
    True
    """
    if not isinstance(truth, GaussianMixture):
        raise ValueError(f"truth must be a GaussianMixture, got {type(truth).__name__}")
    if not isinstance(fitted, FittedDiffusion) or fitted.dim != truth.dim:
        raise ValueError("fitted: needs a random-feature diffusion fit (times(), score()) in the truth's dimension")
    times = fitted.times()
    marginals = truth_marginals(truth, spacing_scale)
    y, total = marginals.quadrature.points, 0.0
    for upper, lower in zip(times[:-1], times[1:]):
        density, _, score = marginals.at(upper)
        total += (upper - lower) * marginals.quadrature.expect_inner(density, score - fitted.score(y, upper))
    return float(total)
