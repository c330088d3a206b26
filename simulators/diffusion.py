r"""Random-feature diffusion model (Li, Li, Zhang, Bian, NeurIPS 2023, arXiv:2311.01797).

Forward process
    Ornstein-Uhlenbeck :math:`dX = -X\,dt + \sqrt2\,dW`, so
    :math:`X_t = \alpha_t X_0 + \sigma_t Z` with :math:`\alpha_t = e^{-t}`,
    :math:`\sigma_t^2 = 1 - e^{-2t}`, on :math:`[t_0, T]`.
Score network
    :math:`s_A(x, t) = c_{\text{out}}(t)\,\frac1m A\,\mathrm{ReLU}(W x + U e(t)) + c_{\text{skip}}(t)\,x`,
    with random features :math:`W \in \mathbb R^{m\times d}`, :math:`U \in \mathbb R^{m\times 3}`,
    time embedding :math:`e(t) = (1, \alpha_t, \sigma_t)` (a point on the unit quarter-circle
    plus a bias), and trainable :math:`A \in \mathbb R^{d\times m}`. ``parameterization``:

    - ``"li"`` (default): :math:`c_{\text{out}} = 1`, :math:`c_{\text{skip}} = 0`, the
      network of Li et al., :math:`s_A = A\,\sigma(Wx + Ue(t))/m` with :math:`\sigma` = ReLU;
    - ``"preconditioned"``: :math:`c_{\text{out}} = 1/\sigma_t`, :math:`c_{\text{skip}} = -1`.
      The network predicts the noise, and :math:`-x`, the exact score of the stationary
      :math:`N(0, I)`, is built in, so the far field, which no training point reaches,
      points inward.

    Both are linear in A, so the training problem stays quadratic. The features are drawn
    from the stream of the fit (``features="replicate"``, the default: each replicate and
    generation has its own draw, as in the theory, which holds with high probability over
    the features) or once from ``seed`` (``features="fixed"``).
Loss
    weighted denoising score matching with ``noise_draws`` draws of
    :math:`(t, z)` per training point, :math:`t` log-uniform on :math:`[t_0, T]`:

    .. math:: L(A) = \frac1M\sum_{r=1}^M \sigma_{t_r}^2\,\big|s_A(x_r, t_r) + z_r/\sigma_{t_r}\big|^2
              = \frac1M \big\|\Phi A^T/m - Y\big\|_F^2,

    with rows :math:`\Phi_r = \sigma_{t_r} c_{\text{out}}(t_r)\,\mathrm{ReLU}(W x_r + U e(t_r))` and
    targets :math:`Y_r = -z_r - \sigma_{t_r} c_{\text{skip}}(t_r)\, x_r`.
Training
    gradient flow :math:`dA/d\tau = -\nabla_A L` from :math:`A = 0`. With
    :math:`G = \Phi^T\Phi/M = V\,\mathrm{diag}(g)\,V^T` and :math:`C = \Phi^T Y/M`, it is

    .. math:: A(\tau)^T = V\,\mathrm{diag}\!\Big(\frac{m\,(1 - e^{-2 g_i \tau/m^2})}{g_i}\Big) V^T C,

    exactly; :math:`\tau = \infty` is the minimum-norm least-squares solution.
    :math:`G` and :math:`C` are accumulated in chunks of rows, so memory is
    :math:`O(m^2)` whatever N.
Where the training departs from Li et al., and why
    - Li et al. minimise the population loss, an integral over t and over the noise;
      here the integral is a Monte Carlo sum over ``noise_draws`` (t, z) pairs per
      training point, drawn once, so the gradient flow is the exact flow of a
      quadratic empirical loss (a closed form) and not a stochastic approximation.
    - Li et al. average over t uniformly on :math:`[t_0, T]` with a weight
      :math:`\lambda(t)`; here t is log-uniform, which is the uniform average with weight
      :math:`\lambda(t) \propto \sigma_t^2/t`. Uniform t puts almost no draws below t = 0.1,
      where the score changes fastest, and leaves the small-t score untrained.
    - Li et al. stop the flow at a time chosen by their analysis, which depends on
      unknown constants; here :class:`EarlyStopping` sets
      :math:`\tau \propto N^{2/5} m^2/\bar g` (spectral cut-off at Li's :math:`N^{2/5}` rate).
Sampling
    ``sampler="sde"`` (default): Euler-Maruyama on the reverse SDE
    :math:`dY = [Y + 2 s_A(Y, t)]\,ds + \sqrt2\,d\bar W` from :math:`N(0, I)` at T down to
    :math:`t_0`, on a time grid uniform in :math:`\log t` below t = 1 and in t above
    (:meth:`FittedDiffusion.times`). Its density (d <= 2) is the same steps applied to a
    density on a grid: mass at each node moves to :math:`y + \Delta\,b(y)` (linear
    binning), then is convolved with :math:`N(0, 2\Delta - \delta^2/6)` by FFT, where
    :math:`\delta^2/6` is the mean variance that linear binning adds (grid step :math:`\delta`).

    ``sampler="ode"``: the probability-flow ODE :math:`dx/dt = f(x, t) = -x - s_A(x, t)`
    integrated by the classical fourth-order Runge-Kutta scheme on the same time grid, from
    :math:`x_T \sim N(0, I)` down to :math:`t_0`. Its density is exact in any dimension by
    the instantaneous change of variables,

    .. math:: \log\hat p(x) = \log\varphi(x_T) + \int_{t_0}^T \nabla\!\cdot f(x_t, t)\,dt,
              \qquad \nabla\!\cdot f = -d - c_{\text{skip}} d - \frac{c_{\text{out}}}{m}
              \sum_k \mathbb 1[(Wx + Ue)_k > 0]\,(WA)_{kk},

    where :math:`x_t` solves the ODE from :math:`x_{t_0} = x` up to T (the same scheme,
    the divergence carried along as an extra coordinate). The divergence of a ReLU
    random-feature score is analytic, so no trace estimator is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
from scipy import interpolate

from .batched_diffusion import (
    _SAMPLE_ROWS,
    MAX_ESCAPED_MASS,
    Networks,
    _embedding,
    _sigma,
    sample_sde,
    sde_densities,
)
from .grid import Box, Grid, tail_quantile
from .validation import check_data, check_nonnegative_size, check_positive, check_size

__all__ = ["EarlyStopping", "FittedDiffusion", "RandomFeatureDiffusion", "TrainingProblem"]

#: Rows of the feature matrix built at once (cache-sized: the ReLU pass is memory-bound).
_CHUNK_ROWS = 1024
#: Hidden activations (points x width) held at once along the ODE paths of :meth:`FittedDiffusion.logpdf`.
_PATH_ENTRIES = 1 << 16
#: Density grids with more nodes than this are computed one fit at a time: each sampler step is then already a few
#: large array operations, and a batch's shared window only adds nodes (2-D ring, 54 289 nodes, 6 fits: 12.3 s
#: batched against 10.7 s one at a time; a 1-D loop cell, 1 900 nodes, 16 replicates: 1.6x faster in all, batched).
_BATCHED_GRID_NODES = 1 << 14
#: Eigenvalues of G below this fraction of the largest are treated as zero (minimum-norm solution).
_RANK_TOLERANCE = 1e-10


@dataclass(frozen=True)
class EarlyStopping:
    r"""Stopping-time rule :math:`\tau(N) = \text{scale}\cdot N^{2/5}\, m^2 / (2\bar g)`.

    :math:`\bar g` is the mean eigenvalue of the Gram matrix G, so
    :math:`2\bar g\tau/m^2 = \text{scale}\cdot N^{2/5}`: an eigen-direction with
    eigenvalue g is fitted once :math:`g \gtrsim \bar g/(\text{scale}\,N^{2/5})`. More data
    fits more directions; this is spectral-cutoff regularisation at the
    :math:`N^{2/5}` rate of Li et al.
    """

    scale: float = 1.0

    def __post_init__(self) -> None:
        check_positive("scale", self.scale)

    def __call__(self, size: int, width: int, mean_eigenvalue: float) -> float:
        return self.scale * size**0.4 * width**2 / (2.0 * mean_eigenvalue)


StoppingTime = Union[None, float, Callable[[int, int, float], float]]


@dataclass(frozen=True)
class TrainingProblem:
    r"""The quadratic training problem: :math:`L(A) = \operatorname{tr}(A G A^T)/m^2 - 2\operatorname{tr}(A C)/m + y`."""

    gram: np.ndarray  # G (m, m)
    cross: np.ndarray  # C (m, d)
    target: float  # y = |Z|^2 / M
    rows: int  # M

    @property
    def width(self) -> int:
        return self.gram.shape[0]

    def loss(self, weights: np.ndarray) -> float:
        """L(A) for A of shape (d, m)."""
        m = self.width
        return float(
            np.einsum("ij,jk,ik->", weights, self.gram, weights) / m**2
            - 2 * np.einsum("ij,ji->", weights, self.cross) / m
            + self.target
        )

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        r""":math:`\nabla_A L = 2 A G/m^2 - 2 C^T/m`."""
        m = self.width
        return 2 * weights @ self.gram / m**2 - 2 * self.cross.T / m

    def flow(self, stopping_time: float | None) -> np.ndarray:
        r"""Exact gradient flow :math:`A(\tau)` from :math:`A(0) = 0`; ``None`` is :math:`\tau = \infty`."""
        m = self.width
        eigenvalues, vectors = np.linalg.eigh(self.gram)
        eigenvalues = np.maximum(eigenvalues, 0.0)
        positive = eigenvalues > _RANK_TOLERANCE * max(eigenvalues[-1], np.finfo(float).tiny)
        safe = np.where(positive, eigenvalues, 1.0)
        if stopping_time is None or np.isinf(stopping_time):
            gain = np.where(positive, m / safe, 0.0)
        else:
            rate = 2.0 * eigenvalues * stopping_time / m**2
            # m (1 - exp(-rate)) / g, with the g -> 0 limit 2 tau / m
            gain = np.where(positive, -np.expm1(-rate) * m / safe, 2.0 * stopping_time / m)
        return ((vectors * gain) @ (vectors.T @ self.cross)).T


class RandomFeatureDiffusion:
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
        Step of the grid the density is computed on in d <= 2 (SDE) or TV is integrated on.
    parameterization : ``"li"`` or ``"preconditioned"``
        Output scaling of the score network (module docstring); ``"li"`` is Li et al.'s network.
    sampler : ``"sde"`` or ``"ode"``
        Reverse SDE (grid density, d <= 2) or probability-flow ODE (exact density, any d).
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
        self.parameterization = _choice("parameterization", parameterization, _PARAMETERIZATIONS)
        self.sampler = _choice("sampler", sampler, ("sde", "ode"))
        self.feature_draw = _choice("features", features, ("replicate", "fixed"))
        self.width = check_size("width", width)
        if stopping_time is not None and not callable(stopping_time):
            stopping_time = float(stopping_time)
            if np.isnan(stopping_time) or stopping_time < 0:
                raise ValueError(f"stopping_time must be >= 0, None or a rule, got {stopping_time!r}")
        self.stopping_time = stopping_time
        self.steps = check_size("steps", steps)
        self.t0 = check_positive("t0", t0)
        self.horizon = check_positive("horizon", horizon)
        if self.t0 >= self.horizon:
            raise ValueError(f"t0 must be < horizon (T), got t0={t0}, horizon={horizon}")
        self.noise_draws = check_size("noise_draws", noise_draws)
        self.seed = check_nonnegative_size("seed", seed)
        self.feature_scale = check_positive("feature_scale", feature_scale)
        self.time_scale = check_positive("time_scale", time_scale)
        self.grid_spacing = None if grid_spacing is None else check_positive("grid_spacing", grid_spacing)

    def __repr__(self) -> str:
        return (
            f"RandomFeatureDiffusion(width={self.width}, stopping_time={self.stopping_time!r}, steps={self.steps}, "
            f"parameterization={self.parameterization!r}, sampler={self.sampler!r}, features={self.feature_draw!r})"
        )

    def features(self, dim: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Random features (W (m, d), U (m, 3)): from ``rng`` when ``features="replicate"``, else from ``seed``."""
        if self.feature_draw == "fixed" or rng is None:
            rng = np.random.default_rng([self.seed, dim])
        weights = self.feature_scale * rng.standard_normal((self.width, dim))
        time_weights = self.time_scale * rng.standard_normal((self.width, 3))
        return weights, time_weights

    def output_scales(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`(c_{\text{out}}(t), c_{\text{skip}}(t))` of the parameterization."""
        return _PARAMETERIZATIONS[self.parameterization](np.asarray(times, dtype=float))

    def _design_chunks(self, data: np.ndarray, rng: np.random.Generator, features):
        """Yield (Phi rows, Y rows) of the least-squares problem, a chunk of training points at a time."""
        weights, time_weights = features
        points_per_chunk = max(1, _CHUNK_ROWS // self.noise_draws)
        log_t0, log_horizon = np.log(self.t0), np.log(self.horizon)
        for start in range(0, data.shape[0], points_per_chunk):
            chunk = np.repeat(data[start : start + points_per_chunk], self.noise_draws, axis=0)
            times = np.exp(rng.uniform(log_t0, log_horizon, size=chunk.shape[0]))
            noise = rng.standard_normal(chunk.shape)
            alpha, sigma = np.exp(-times), _sigma(times)
            noisy = alpha[:, None] * chunk + sigma[:, None] * noise
            output, skip = self.output_scales(times)
            phi = (sigma * output)[:, None] * _relu_features(noisy, times, weights, time_weights)
            yield phi, -noise - (sigma * skip)[:, None] * noisy

    def design(self, data, rng: np.random.Generator, features=None) -> tuple[np.ndarray, np.ndarray]:
        r"""The explicit least-squares problem :math:`\min_A \|\Phi A^T/m - Y\|^2/M`: (Phi (M, m), Y (M, d)).

        Holds all M = N * noise_draws rows in memory: for tests and benchmarks;
        training uses :meth:`training_problem`, which consumes the same rows in chunks.
        ``features`` default: :meth:`features` drawn from ``rng`` first, as :meth:`fit` does.
        """
        data = check_data("data", data)
        features = self.features(data.shape[1], rng) if features is None else features
        chunks = list(self._design_chunks(data, rng, features))
        return np.concatenate([phi for phi, _ in chunks]), np.concatenate([targets for _, targets in chunks])

    def training_problem(self, data: np.ndarray, rng: np.random.Generator, features=None) -> TrainingProblem:
        """Draw the (t, z) pairs and accumulate G, C and |Y|^2/M in chunks (memory O(m^2)).

        ``features`` default: :meth:`features` drawn from ``rng`` first, as :meth:`fit` does.
        """
        data = check_data("data", data)
        features = self.features(data.shape[1], rng) if features is None else features
        rows = data.shape[0] * self.noise_draws
        gram = np.zeros((self.width, self.width))
        cross = np.zeros((self.width, data.shape[1]))
        target = 0.0
        for phi, targets in self._design_chunks(data, rng, features):
            gram += phi.T @ phi
            cross += phi.T @ targets
            target += float(np.sum(targets**2))
        return TrainingProblem(gram / rows, cross / rows, target / rows, rows)

    def fit(self, data, rng: np.random.Generator) -> "FittedDiffusion":
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
        return FittedDiffusion(self, weights, data, tau, problem.loss(weights), features)

    def sample_together(
        self, fits: list["FittedDiffusion"], n: int, rngs: list[np.random.Generator]
    ) -> list[np.ndarray]:
        """``fits[r].sample(n, rngs[r])`` for every r, the SDE samplers run together (the same draws, batched).

        :func:`selfloop.simulators.run_loop` calls this to draw every replicate's synthetic data at once.
        """
        n = check_size("n", n)
        if self.sampler != "sde" or len(fits) < 2:
            return [fit.sample(n, rng) for fit, rng in zip(fits, rngs)]
        return list(sample_sde(Networks(fits), fits[0].times(), n, rngs))

    def prepare_together(self, fits: list["FittedDiffusion"]) -> None:
        """Compute the SDE grid densities of ``fits`` that are not computed yet, together (:func:`sde_densities`);
        fits without a grid density (the ODE sampler, d > 2) are left alone.

        Each fit's density equals the one it computes alone (beyond rounding); :func:`selfloop.simulators.run_loop`
        calls this once per generation for all replicates, before their TVs are taken.
        """
        pending = [fit for fit in fits if fit.model.sampler == "sde" and fit.dim <= 2 and fit._density is None]
        if not pending:  # every density computed already, or none on a grid (the ODE sampler, d > 2)
            return
        spacing = pending[0].grid_spacing
        if Grid.covering(pending[0].sampler_box(), spacing).size > _BATCHED_GRID_NODES:
            batches = [[fit] for fit in pending]  # large grids: a step is already large array operations
        else:
            batches = [pending]
        for batch in batches:
            networks = batch[0]._network if len(batch) == 1 else Networks(batch)
            densities = sde_densities(networks, batch[0].times(), [fit.sampler_box() for fit in batch], spacing)
            for fit, density in zip(batch, densities):
                fit._store_density(*density)


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return value


_PARAMETERIZATIONS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "li": lambda times: (np.ones_like(times), np.zeros_like(times)),
    "preconditioned": lambda times: (1.0 / _sigma(times), -np.ones_like(times)),
}


def _interpolate_axis(values: np.ndarray, nodes: np.ndarray, targets: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis`` from the sorted ``nodes`` to ``targets``, zero outside the
    nodes (as ``np.interp`` with ``left=right=0``); one gather of the two neighbours per target."""
    inside = (targets >= nodes[0]) & (targets <= nodes[-1])
    cell = np.clip(np.searchsorted(nodes, targets, side="right") - 1, 0, nodes.size - 2)
    fraction = np.where(inside, (targets - nodes[cell]) / (nodes[cell + 1] - nodes[cell]), 0.0)
    shape = [1] * values.ndim
    shape[axis] = targets.size
    lower, upper = np.take(values, cell, axis=axis), np.take(values, cell + 1, axis=axis)
    return np.where(
        inside.reshape(shape), (1.0 - fraction).reshape(shape) * lower + fraction.reshape(shape) * upper, 0.0
    )


def _relu_features(x: np.ndarray, times: np.ndarray, weights: np.ndarray, time_weights: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{ReLU}(W x + U e(t))`, shape (n, m), as :math:`(h + |h|)/2` (exact, and a
    vectorised pass where ``np.maximum(h, 0.0)`` is not), with :math:`h = [x, e(t)] [W^\top; U^\top]`."""
    hidden = np.concatenate([x, _embedding(times)], axis=1) @ np.vstack([weights.T, time_weights.T])
    hidden += np.abs(hidden)
    hidden *= 0.5
    return hidden


class FittedDiffusion:
    """A trained random-feature diffusion model: its sampler, and the sampler's density.

    The SDE sampler's density is computed on a grid (d <= 2); the ODE sampler's density is
    exact at any point in any dimension (module docstring).
    """

    def __init__(
        self,
        model: RandomFeatureDiffusion,
        weights: np.ndarray,
        data: np.ndarray,
        stopping_time: float | None,
        loss: float,
        features,
    ) -> None:
        self.model = model
        self.weights = weights  # A, shape (d, m)
        self.dim = data.shape[1]
        self.stopping_time = stopping_time
        self.loss = loss
        self.features = features  # (W, U)
        # (WA)_kk: the ReLU network's Jacobian trace is sum_k 1[h_k > 0] (WA)_kk / m
        self._trace_weights = np.einsum("ki,ik->k", features[0], weights)
        self._network = Networks([self])
        self._data_box = Box(data.min(axis=0), data.max(axis=0))
        self._density: tuple[Grid, np.ndarray] | None = None
        self.escaped_mass = 0.0

    def __repr__(self) -> str:
        return f"FittedDiffusion(width={self.model.width}, dim={self.dim}, sampler={self.model.sampler!r}, stopping_time={self.stopping_time!r})"

    # ------------------------------------------------------------ score, sampler
    def times(self) -> np.ndarray:
        r"""The sampler's time grid from T down to t0 (steps + 1 points).

        Uniform in :math:`u(t) = \log t` for :math:`t \le 1` and :math:`t - 1` above
        (:math:`C^1` at t = 1): steps proportional to t where the score changes on
        the time scale t, and constant where the OU dynamics has time scale 1.
        A plain geometric grid would make the first steps from T = 10 so long
        that Euler-Maruyama on the linear drift is unstable.
        """

        def u(t: float) -> float:
            return float(np.log(t)) if t <= 1 else t - 1.0

        grid = np.linspace(u(self.model.horizon), u(self.model.t0), self.model.steps + 1)
        return np.where(grid <= 0, np.exp(np.minimum(grid, 0.0)), 1.0 + grid)

    def score(self, x: np.ndarray, t: float) -> np.ndarray:
        r""":math:`s_A(x, t) = c_{\text{out}}(t) A\,\mathrm{ReLU}(W x + U e(t))/m + c_{\text{skip}}(t) x`, shape (n, d).

        Evaluated by :class:`selfloop.simulators.batched_diffusion.Networks` (as
        :math:`\tfrac12 (A W x + A U e(t) + A|h|)`, one matrix product per cache-sized block), the code
        that evaluates a loop's replicates together. Its divergence along an ODE path is integrated by
        :meth:`step_divergence`.
        """
        return self._network.score(x, t)[0]

    def drift(self, y: np.ndarray, t: float) -> np.ndarray:
        r"""Reverse-SDE drift :math:`b(y, t) = y + 2 s_A(y, t)`."""
        return self._network.drift(y, t)[0]

    def velocity(self, x: np.ndarray, t: float) -> np.ndarray:
        r"""Probability-flow velocity :math:`f(x, t) = -x - s_A(x, t)` in forward time."""
        return -x - self.score(x, t)

    def flow(self, x: np.ndarray, times: np.ndarray, *, divergence: bool = False):
        r"""Runge-Kutta 4 for :math:`dx/dt = f(x, t)` along ``times`` (increasing or decreasing).

        With ``divergence=True`` also returns :math:`\int \nabla\cdot f(x_t, t)\,dt` along the path.
        The divergence of a ReLU network is a step function of t (unit k switches where its
        pre-activation :math:`h_k(t) = (W x_t + U e(t))_k` changes sign), so a Runge-Kutta rule
        integrates it only to first order. Instead, over each step :math:`h_k` is taken linear between
        its values at the two ends, and unit k counts for the fraction of the step where it is
        positive, :math:`(h_k^+(t_n) + h_k^+(t_{n+1}))/(|h_k(t_n)| + |h_k(t_{n+1})|)`; the output
        scales are averaged over the step. Both errors are second order in the step.
        """
        accumulated = np.zeros(x.shape[0])
        state = None
        for current, following in zip(times[:-1], times[1:]):
            step = following - current
            half = current + step / 2
            k1 = self.velocity(x, current)
            k2 = self.velocity(x + step / 2 * k1, half)
            k3 = self.velocity(x + step / 2 * k2, half)
            k4 = self.velocity(x + step * k3, following)
            after = x + step / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            if divergence:
                change, state = self.step_divergence(x, after, current, following, state)
                accumulated += change
            x = after
        return (x, accumulated) if divergence else x

    def step_divergence(self, before: np.ndarray, after: np.ndarray, current: float, following: float, state=None):
        r""":math:`\int \nabla\cdot f\,dt` over one step from ``before`` (time ``current``) to ``after``, and the
        pre-activations at ``after`` (``state``, reused as the next step's start); see :meth:`flow`."""
        weights, time_weights = self.features
        hidden = (
            before @ weights.T + _embedding(np.array([float(current)])) @ time_weights.T if state is None else state
        )
        ahead = after @ weights.T + _embedding(np.array([float(following)])) @ time_weights.T
        total = np.abs(hidden) + np.abs(ahead)
        positive = np.divide(
            np.maximum(hidden, 0.0) + np.maximum(ahead, 0.0), total, out=np.full_like(total, 0.5), where=total > 0
        )
        output, skip = (values.mean() for values in self.model.output_scales(np.array([current, following])))
        trace = output / self.model.width * (positive @ self._trace_weights) + skip * self.dim
        return (following - current) * (-self.dim - trace), ahead

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n points: the reverse SDE (Euler-Maruyama, :func:`selfloop.simulators.batched_diffusion.sample_sde`) or
        the probability-flow ODE (RK4) from N(0, I) at T to t0."""
        n = check_size("n", n)
        if self.model.sampler == "sde":
            return sample_sde(self._network, self.times(), n, [rng])[0]
        out = np.empty((n, self.dim))
        for start in range(0, n, _SAMPLE_ROWS):
            y = rng.standard_normal((min(_SAMPLE_ROWS, n - start), self.dim))
            out[start : start + y.shape[0]] = self.flow(y, self.times())
        return out

    # ------------------------------------------------------------ density
    def logpdf(self, x) -> np.ndarray:
        r"""Log density at ``x`` (n, d).

        ODE sampler: exact, :math:`\log\varphi(x_T) + \int_{t_0}^T \nabla\cdot f\,dt` with
        :math:`x_t` the flow from x at :math:`t_0` up to T (RK4 on the sampler's time grid,
        reversed). SDE sampler: the log of :meth:`pdf` (grid density, d <= 2).
        """
        x = check_data("x", x, self.dim)
        if self.model.sampler != "ode":
            with np.errstate(divide="ignore"):
                return np.log(self.pdf(x))
        out = np.empty(x.shape[0])
        rows = max(1, _PATH_ENTRIES // self.model.width)
        times = self.times()[::-1]
        for start in range(0, x.shape[0], rows):
            end, change = self.flow(x[start : start + rows], times, divergence=True)
            out[start : start + rows] = -0.5 * np.sum(end**2, axis=1) - 0.5 * self.dim * np.log(2 * np.pi) + change
        return out

    def pdf(self, x) -> np.ndarray:
        """Density at ``x`` (n, d): exact for the ODE sampler, linearly interpolated from :meth:`density_grid` for the SDE."""
        x = check_data("x", x, self.dim)
        if self.model.sampler == "ode":
            return np.exp(self.logpdf(x))
        grid, density = self.density_grid()
        if self.dim == 1:
            return np.interp(x[:, 0], grid.axes[0], density, left=0.0, right=0.0)
        return interpolate.RegularGridInterpolator(grid.axes, density, bounds_error=False, fill_value=0.0)(x)

    @property
    def grid_quadrature(self) -> bool:
        """Whether TV may be integrated on a grid: the SDE's grid density, yes; the ODE's exact density, no.

        The learned probability flow piles mass into spikes narrower than any default grid step
        (the density is exact pointwise, but a grid integrates it only to first order), so the
        ODE model's TV is the unbiased Monte Carlo estimate in every dimension.
        """
        return self.model.sampler == "sde"

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the density has at most ``mass``.

        SDE sampler in d <= 2: read off its grid density (:meth:`density_grid`), cutting a tail of
        ``mass / (2d)`` from each end of each axis's marginal and widening by one node, so TV's
        quadrature grid covers the mass and not the whole of :meth:`sampler_box` (on ring_2d about 40%
        of its nodes; mass the sampler moved off its grid is outside either, and TV counts it).
        Otherwise :meth:`sampler_box`.
        """
        if self.model.sampler != "sde" or self.dim > 2:
            return self.sampler_box(mass)
        grid, density = self.density_grid()
        lower, upper = [], []
        for axis, nodes in enumerate(grid.axes):
            marginal = (
                np.cumsum(density.sum(axis=tuple(other for other in range(self.dim) if other != axis)))
                * grid.cell_volume
            )
            tail = mass / (2 * self.dim)
            first = int(np.searchsorted(marginal, tail, side="right"))
            last = int(np.searchsorted(marginal, marginal[-1] - tail, side="left"))
            lower.append(nodes[max(first - 1, 0)])
            upper.append(nodes[min(last + 1, nodes.size - 1)])
        return Box(np.array(lower), np.array(upper))

    def sampler_box(self, mass: float = 1e-9) -> Box:
        """Where the sampler's mass may lie, before its density is known: the N(0, I) start and the training data,
        with a margin of 3; the SDE sampler's density grid covers it.

        The margin holds the tail mass that the learned far field (which no
        training point constrains) moves about; :meth:`density_grid` checks that
        less than ``MAX_ESCAPED_MASS`` of the mass leaves it.
        """
        z = tail_quantile(mass / self.dim)
        start = Box(np.full(self.dim, -z), np.full(self.dim, z))
        box = Box.union([start, self._data_box])
        return Box(box.lower - 3.0, box.upper + 3.0)

    @property
    def grid_spacing(self) -> float:
        """Step of the density grid: the model's ``grid_spacing``, default 0.01 (1-D) or 0.08 (2-D)."""
        if self.model.grid_spacing is not None:
            return self.model.grid_spacing
        return 0.01 if self.dim == 1 else 0.08

    def grid_pdf(self, grid: Grid) -> np.ndarray:
        """The density at the nodes of ``grid``.

        SDE sampler: the same multilinear interpolation of :meth:`density_grid` as :meth:`pdf`, done one axis at a
        time (a tensor-product grid needs only each axis's cells), instead of locating every node separately.
        """
        if self.model.sampler == "ode":
            return self.pdf(grid.points()).reshape(grid.shape)
        source, density = self.density_grid()
        values = density
        for axis, (nodes, targets) in enumerate(zip(source.axes, grid.axes)):
            values = _interpolate_axis(values, nodes, targets, axis)
        return values

    def density_grid(self) -> tuple[Grid, np.ndarray]:
        """The SDE sampler's density on its own grid (:meth:`sampler_box`, :attr:`grid_spacing`), computed once.

        Each Euler-Maruyama step moves the mass at every node to y + step * b(y) (linear binning)
        and convolves with N(0, 2 step - spacing^2/6) (:func:`selfloop.simulators.batched_diffusion.sde_densities`,
        which also computes many fits' densities together: :meth:`RandomFeatureDiffusion.prepare_together`).
        The drift is formed in double precision: single precision would be faster, but its rounding
        depends on how BLAS splits the work over threads, and reproducible results come first. Mass
        that the drift moves off the grid, and the mass of nodes below ``NEGLIGIBLE_NODE_MASS``, is
        dropped and recorded in ``escaped_mass``; the density then integrates to 1 - escaped_mass,
        and :func:`selfloop.simulators.tv_quadrature` counts it as TV.

        Raises
        ------
        ValueError
            For d > 2 (the grid is exponential in d; use ``sampler="ode"``, whose density is
            exact in any dimension), for the ODE sampler (its :meth:`pdf` is exact at any
            point), or if more than ``MAX_ESCAPED_MASS`` of the mass leaves the grid.
        """
        if self.model.sampler == "ode":
            raise ValueError("sampler: the ODE sampler's density is exact at any point (pdf); it has no grid density")
        if self.dim > 2:
            raise ValueError(
                f"sampler: the SDE sampler's density is computed on a grid, available in dimension <= 2, not {self.dim}; "
                'use RandomFeatureDiffusion(..., sampler="ode"), whose density is exact in any dimension'
            )
        if self._density is None:
            self.model.prepare_together([self])
        return self._density

    def _store_density(self, grid: Grid, density: np.ndarray, escaped: float, negligible: float) -> None:
        if escaped > MAX_ESCAPED_MASS:
            raise ValueError(
                f"grid: {escaped:.2e} of the sampler's mass left the grid (the learned drift points outward far from the data; "
                "Li's network has no inward far field where training never reached: use a larger width or N, "
                'parameterization="preconditioned", or stronger early stopping)'
            )
        self.escaped_mass = escaped + negligible
        self._density = (grid, density)
