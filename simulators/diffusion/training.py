r"""Training the random-feature score network: a quadratic problem solved by its exact gradient flow.

Weighted denoising score matching with ``noise_draws`` draws of :math:`(t, z)` per training point,
:math:`t` log-uniform on :math:`[t_0, T]`:

.. math:: L(A) = \frac1M\sum_{r=1}^M \sigma_{t_r}^2\,\big|s_A(x_r, t_r) + z_r/\sigma_{t_r}\big|^2
          = \frac1M \big\|\Phi A^T/m - Y\big\|_F^2,

with rows :math:`\Phi_r = \sigma_{t_r} c_{\text{out}}(t_r)\,\mathrm{ReLU}(W x_r + U e(t_r))` and targets
:math:`Y_r = -z_r - \sigma_{t_r} c_{\text{skip}}(t_r)\, x_r`. The gradient flow :math:`dA/d\tau = -\nabla_A L`
from :math:`A = 0` is, with :math:`G = \Phi^T\Phi/M = V\,\mathrm{diag}(g)\,V^T` and :math:`C = \Phi^T Y/M`,

.. math:: A(\tau)^T = V\,\mathrm{diag}\!\Big(\frac{m\,(1 - e^{-2 g_i \tau/m^2})}{g_i}\Big) V^T C,

exactly; :math:`\tau = \infty` is the minimum-norm least-squares solution. :math:`G` and :math:`C` are
accumulated in chunks of rows, so memory is :math:`O(m^2)` whatever N.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..validation import check_positive
from .network import relu_features, sigma

if TYPE_CHECKING:  # the model's type for the annotations only (base.py imports this module)
    from .model import RandomFeatureDiffusion

__all__ = ["EarlyStopping", "StoppingTime", "TrainingProblem", "design_chunks", "training_problem"]

#: Rows of the feature matrix built at once (cache-sized: the ReLU pass is memory-bound).
_CHUNK_ROWS = 1024
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


StoppingTime = float | Callable[[int, int, float], float] | None


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


def design_chunks(
    model: RandomFeatureDiffusion, data: np.ndarray, rng: np.random.Generator, features
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (Phi rows, Y rows) of the least-squares problem of ``model`` on ``data``, a chunk of points at a time.

    The (t, z) pairs are drawn from ``rng`` in the order of the rows.
    """
    weights, time_weights = features
    points_per_chunk = max(1, _CHUNK_ROWS // model.noise_draws)
    log_t0, log_horizon = np.log(model.t0), np.log(model.horizon)
    for start in range(0, data.shape[0], points_per_chunk):
        chunk = np.repeat(data[start : start + points_per_chunk], model.noise_draws, axis=0)
        times = np.exp(rng.uniform(log_t0, log_horizon, size=chunk.shape[0]))
        noise = rng.standard_normal(chunk.shape)
        alpha, scale = np.exp(-times), sigma(times)
        noisy = alpha[:, None] * chunk + scale[:, None] * noise
        output, skip = model.output_scales(times)
        phi = (scale * output)[:, None] * relu_features(noisy, times, weights, time_weights)
        yield phi, -noise - (scale * skip)[:, None] * noisy


def training_problem(
    model: RandomFeatureDiffusion, data: np.ndarray, rng: np.random.Generator, features
) -> TrainingProblem:
    """Draw the (t, z) pairs and accumulate G, C and |Y|^2/M in chunks (memory O(m^2))."""
    rows = data.shape[0] * model.noise_draws
    gram = np.zeros((model.width, model.width))
    cross = np.zeros((model.width, data.shape[1]))
    target = 0.0
    for phi, targets in design_chunks(model, data, rng, features):
        gram += phi.T @ phi
        cross += phi.T @ targets
        target += float(np.sum(targets**2))
    return TrainingProblem(gram / rows, cross / rows, target / rows, rows)
