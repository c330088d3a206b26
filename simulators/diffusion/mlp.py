r"""A real neural score network for :class:`selfloop.simulators.ScoreDiffusion`: an MLP trained by denoising score
matching with scikit-learn's ``MLPRegressor`` (the optional extra ``selfloop[neural]``).

The network predicts the noise: for data :math:`x_0`, a time t and :math:`z \sim N(0, I)`, the noisy point is
:math:`x_t = \alpha_t x_0 + \sigma_t z` and the network :math:`\hat\varepsilon(x_t, t)` is trained to output z by
least squares. Its minimiser is :math:`E[Z \mid X_t = x]`, so the score is

.. math:: s(x, t) = -\hat\varepsilon(x, t)/\sigma_t, \qquad \nabla\log q_t(x) = -E[Z \mid X_t = x]/\sigma_t,

the denoising score-matching objective of Vincent (2011) in the noise-prediction form of Ho et al. (2020). Each
epoch draws fresh times and noise for every training point (t log-uniform on :math:`[t_0, T]`, as the random-feature
model), so the network sees new (t, z) pairs throughout and the loss is the population loss over the noise; one
epoch is one pass of Adam over them (``MLPRegressor.partial_fit``).

scikit-learn is light enough for CI on 2 cores and is a well-kept library; a user with their own framework (PyTorch,
JAX) writes the same ``fit_score`` with it and passes it to :class:`~selfloop.simulators.ScoreDiffusion`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

from ..validation import check_positive, check_size
from .network import sigma

__all__ = ["DenoisingMLP"]

_MISSING = "DenoisingMLP needs scikit-learn, the optional extra: pip install 'selfloop[neural]' (or scikit-learn)"


def _time_inputs(times: np.ndarray) -> np.ndarray:
    r"""The network's time inputs :math:`(\alpha_t, \sigma_t, \tfrac14\log t)`, shape (n, 3)."""
    return np.column_stack([np.exp(-times), sigma(times), 0.25 * np.log(times)])


class DenoisingMLP:
    r"""``fit_score(data, rng)`` for :class:`selfloop.simulators.ScoreDiffusion`: an MLP noise predictor trained by
    denoising score matching (module docstring).

    Parameters
    ----------
    hidden : tuple of int
        Widths of the hidden layers (ReLU).
    epochs : int
        Passes of Adam, each over fresh (t, z) draws for every training point, ``noise_draws`` per point.
    noise_draws : int
        (t, z) draws per training point in each epoch.
    stopping_time, horizon : float
        The time interval :math:`[t_0, T]` the times are drawn from: those of the :class:`ScoreDiffusion` it trains for.
    learning_rate : float
        Adam's step size.
    batch_size : int
        Rows per Adam step.

    Examples
    --------
    >>> import numpy as np
    >>> from selfloop.simulators import ScoreDiffusion, standard_truth
    >>> truth = standard_truth("bimodal_1d")
    >>> model = ScoreDiffusion(DenoisingMLP(hidden=(16,), epochs=2), steps=20)
    >>> fit = model.fit(truth.sample(100, np.random.default_rng(0)), np.random.default_rng(1))
    >>> fit.score(np.zeros((2, 1)), 0.5).shape
    (2, 1)
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 64),
        *,
        epochs: int = 60,
        noise_draws: int = 4,
        stopping_time: float = 1e-3,
        horizon: float = 10.0,
        learning_rate: float = 2e-3,
        batch_size: int = 256,
    ) -> None:
        self.hidden = tuple(check_size("hidden", width) for width in hidden)
        if not self.hidden:
            raise ValueError("hidden: need at least one hidden layer")
        self.epochs = check_size("epochs", epochs)
        self.noise_draws = check_size("noise_draws", noise_draws)
        self.stopping_time = check_positive("stopping_time", stopping_time)
        self.horizon = check_positive("horizon", horizon)
        if self.stopping_time >= self.horizon:
            raise ValueError(f"stopping_time must be < horizon, got {stopping_time} and {horizon}")
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.batch_size = check_size("batch_size", batch_size)
        if importlib.util.find_spec("sklearn") is None:  # the optional extra: say so before any loop starts
            raise ImportError(_MISSING)

    def __repr__(self) -> str:
        return f"DenoisingMLP(hidden={self.hidden}, epochs={self.epochs}, noise_draws={self.noise_draws})"

    def __call__(self, data: np.ndarray, rng: np.random.Generator) -> Callable[[np.ndarray, float], np.ndarray]:
        """Train on ``data`` (N, d) with every random number from ``rng``; returns ``score(x, t)``."""
        from sklearn.neural_network import MLPRegressor

        network = MLPRegressor(
            hidden_layer_sizes=self.hidden,
            learning_rate_init=self.learning_rate,
            batch_size=self.batch_size,
            random_state=int(rng.integers(2**31)),
        )
        points, dim = np.repeat(data, self.noise_draws, axis=0), data.shape[1]
        low, high = np.log(self.stopping_time), np.log(self.horizon)
        for _ in range(self.epochs):
            times = np.exp(rng.uniform(low, high, points.shape[0]))
            noise = rng.standard_normal(points.shape)
            noisy = np.exp(-times)[:, None] * points + sigma(times)[:, None] * noise
            network.partial_fit(np.column_stack([noisy, _time_inputs(times)]), noise[:, 0] if dim == 1 else noise)

        def score(x: np.ndarray, t: float) -> np.ndarray:
            """The trained MLP's score :math:`-\\hat\\varepsilon(x, t)/\\sigma_t`, x (n, d) -> (n, d)."""
            times = np.full(x.shape[0], float(t))
            predicted = network.predict(np.column_stack([x, _time_inputs(times)])).reshape(x.shape[0], dim)
            return -predicted / sigma(np.array(float(t)))

        return score
