r"""The random-feature diffusion model: its settings, its features and its fit.

Where the training departs from Li et al. (NeurIPS 2023), and why:

- Li et al. minimise the population loss, an integral over t and over the noise; here the integral is a Monte
  Carlo sum over ``noise_draws`` (t, z) pairs per training point, drawn once, so the gradient flow is the exact
  flow of a quadratic empirical loss (a closed form) and not a stochastic approximation.
- Li et al. average over t uniformly on :math:`[t_0, T]` with a weight :math:`\lambda(t)`; here t is
  log-uniform, which is the uniform average with weight :math:`\lambda(t) \propto \sigma_t^2/t`. Uniform t puts
  almost no draws below t = 0.1, where the score changes fastest, and leaves the small-t score untrained.
- Li et al. stop the flow at a time chosen by their analysis, which depends on unknown constants; here
  :class:`EarlyStopping` sets :math:`\tau \propto N^{2/5} m^2/\bar g` (spectral cut-off at Li's :math:`N^{2/5}`
  rate).

The features are drawn from the stream of the fit (``features="replicate"``, the default: each replicate and
generation has its own draw, as in the theory, which holds with high probability over the features) or once from
``seed`` (``features="fixed"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..validation import check_data, check_nonnegative_size, check_positive, check_size
from .base import DiffusionModel
from .fitted import FittedDiffusion
from .network import PARAMETERIZATIONS, Networks
from .ode import FittedODEDiffusion
from .sde import FittedSDEDiffusion
from .training import EarlyStopping, StoppingTime, TrainingProblem, design_chunks, training_problem

__all__ = ["RandomFeatureDiffusion"]

#: The fitted class of each sampler: its sampling, its density and how many fits do both at once.
SAMPLERS: dict[str, type[FittedDiffusion]] = {"sde": FittedSDEDiffusion, "ode": FittedODEDiffusion}


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


class RandomFeatureDiffusion(DiffusionModel):
    """Random-feature score diffusion model: ``fit(data, rng) -> FittedDiffusion``.

    Parameters
    ----------
    width : int
        Hidden width m.
    stopping_time : None, float or callable
        Gradient-flow time tau; ``None`` means tau = infinity (minimum-norm
        least squares); a callable ``(N, m, mean_eigenvalue) -> tau`` such as
        :class:`EarlyStopping`. Default ``EarlyStopping(10)``: on the 1-D
        bimodal truth it gives TV decreasing in N and in m, while tau = infinity
        overfits small samples and its far-field drift points outward.
    steps : int
        Steps of the sampler (Euler-Maruyama for the SDE, Runge-Kutta 4 for the ODE:
        four network evaluations a step).
    t0, horizon : float
        Time interval [t0, T]. T = 10 makes the forward marginal N(0, I) to
        1e-4 in TV for data with E|X_0| <= 5:
        TV <= e^{-T} E|X_0| / sqrt(2 pi) + d e^{-2T}.
    noise_draws : int
        (t, z) draws per training point in the score-matching loss.
    seed : int
        Seed of the random features W, U when ``features="fixed"``.
    feature_scale, time_scale : float
        Standard deviations of the entries of W and of U.
    grid_spacing : float
        Step of the grid the SDE sampler's density is computed on in d <= 2.
    parameterization : ``"li"`` or ``"preconditioned"``
        Output scaling of the score network (:mod:`selfloop.simulators.diffusion.network`); ``"li"`` is Li et al.'s.
    sampler : ``"sde"`` or ``"ode"``
        Reverse SDE (:class:`FittedSDEDiffusion`: grid density, d <= 2) or probability-flow ODE
        (:class:`FittedODEDiffusion`: exact density, any d).
    features : ``"replicate"`` or ``"fixed"``
        Draw W, U from the stream passed to :meth:`fit` (every fit its own features) or once from ``seed``.
    """

    def __init__(
        self,
        width: int = 256,
        stopping_time: StoppingTime = EarlyStopping(10.0),
        steps: int = 200,
        *,
        t0: float = 1e-3,
        horizon: float = 10.0,
        noise_draws: int = 16,
        seed: int = 0,
        feature_scale: float = 1.0,
        time_scale: float = 2.0,
        grid_spacing: float | None = None,
        parameterization: str = "li",
        sampler: str = "sde",
        features: str = "replicate",
    ) -> None:
        self.parameterization = _choice("parameterization", parameterization, PARAMETERIZATIONS)
        self.sampler = _choice("sampler", sampler, SAMPLERS)
        self.feature_draw = _choice("features", features, ("replicate", "fixed"))
        self.width = check_size("width", width)
        if stopping_time is not None and not callable(stopping_time):
            stopping_time = float(stopping_time)
            if np.isnan(stopping_time) or stopping_time < 0:
                raise ValueError(f"stopping_time must be >= 0, None or a rule, got {stopping_time!r}")
        self.stopping_time = stopping_time
        super().__init__(steps, t0, horizon, grid_spacing)
        self.noise_draws = check_size("noise_draws", noise_draws)
        self.seed = check_nonnegative_size("seed", seed)
        self.feature_scale = check_positive("feature_scale", feature_scale)
        self.time_scale = check_positive("time_scale", time_scale)

    def __repr__(self) -> str:
        return (
            f"RandomFeatureDiffusion(width={self.width}, stopping_time={self.stopping_time!r}, steps={self.steps}, "
            f"parameterization={self.parameterization!r}, sampler={self.sampler!r}, features={self.feature_draw!r})"
        )

    @property
    def fitted_class(self) -> type[FittedDiffusion]:
        """The class of this model's fits: :class:`FittedSDEDiffusion` or :class:`FittedODEDiffusion`."""
        return SAMPLERS[self.sampler]

    def features(self, dim: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Random features (W (m, d), U (m, 3)): from ``rng`` when ``features="replicate"``, else from ``seed``."""
        if self.feature_draw == "fixed" or rng is None:
            rng = np.random.default_rng([self.seed, dim])
        weights = self.feature_scale * rng.standard_normal((self.width, dim))
        time_weights = self.time_scale * rng.standard_normal((self.width, 3))
        return weights, time_weights

    def output_scales(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`(c_{\text{out}}(t), c_{\text{skip}}(t))` of the parameterization."""
        return PARAMETERIZATIONS[self.parameterization](np.asarray(times, dtype=float))

    def design(self, data, rng: np.random.Generator, features=None) -> tuple[np.ndarray, np.ndarray]:
        r"""The explicit least-squares problem :math:`\min_A \|\Phi A^T/m - Y\|^2/M`: (Phi (M, m), Y (M, d)).

        Holds all M = N * noise_draws rows in memory: for tests and benchmarks;
        training uses :meth:`training_problem`, which consumes the same rows in chunks.
        ``features`` default: :meth:`features` drawn from ``rng`` first, as :meth:`fit` does.
        """
        data = check_data("data", data)
        features = self.features(data.shape[1], rng) if features is None else features
        chunks = list(design_chunks(self, data, rng, features))
        return np.concatenate([phi for phi, _ in chunks]), np.concatenate([targets for _, targets in chunks])

    def training_problem(self, data, rng: np.random.Generator, features=None) -> TrainingProblem:
        """Draw the (t, z) pairs and accumulate G, C and |Y|^2/M in chunks (memory O(m^2)).

        ``features`` default: :meth:`features` drawn from ``rng`` first, as :meth:`fit` does.
        """
        data = check_data("data", data)
        features = self.features(data.shape[1], rng) if features is None else features
        return training_problem(self, data, rng, features)

    def fit(self, data, rng: np.random.Generator) -> FittedDiffusion:
        """Draw the features (``features="replicate"``), then train A by the exact gradient flow on ``data`` (n, d)."""
        data = check_data("data", data)
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy Generator (the features and the noise draws of the loss need it)")
        features = self.features(data.shape[1], rng)
        problem = self.training_problem(data, rng, features)
        tau = self.stopping_time
        if callable(tau):
            tau = float(tau(data.shape[0], self.width, float(np.trace(problem.gram)) / self.width))
        weights = problem.flow(tau)
        return self.fitted_class(self, weights, data, tau, problem.loss(weights), features)

    def stack(self, fits: Sequence[FittedDiffusion]) -> Networks:
        """The random-feature networks of ``fits`` stacked (:class:`Networks`): one matrix product per step for all."""
        return Networks(fits)
