r"""The random-feature score network of Li, Li, Zhang and Bian, for one fit or many stacked.

.. math:: s_A(x, t) = c_{\text{out}}(t)\,\frac1m A\,\mathrm{ReLU}(W x + U e(t)) + c_{\text{skip}}(t)\,x,
          \qquad e(t) = (1, \alpha_t, \sigma_t),

with the Ornstein-Uhlenbeck schedule :math:`\alpha_t = e^{-t}`, :math:`\sigma_t^2 = 1 - e^{-2t}`. The
parameterization fixes :math:`(c_{\text{out}}, c_{\text{skip}})`: ``"li"`` is (1, 0), Li et al.'s network;
``"preconditioned"`` is :math:`(1/\sigma_t, -1)`, which predicts the noise and builds in :math:`-x`, the score
of the stationary :math:`N(0, I)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["PARAMETERIZATIONS", "Networks", "embedding", "relu_features", "sigma"]

#: Hidden activations (fits x rows x width) formed at once when the networks are evaluated (cache-sized blocks).
_BLOCK_ENTRIES = 1 << 16
#: Times whose stacked network terms are kept (a sampler's grid with RK4's half steps needs 2 steps + 1).
_CACHED_TIMES = 4096


def sigma(times: np.ndarray) -> np.ndarray:
    r""":math:`\sigma_t = \sqrt{1 - e^{-2t}}`."""
    return np.sqrt(-np.expm1(-2 * times))


def embedding(times: np.ndarray) -> np.ndarray:
    r"""Time embedding :math:`e(t) = (1, \alpha_t, \sigma_t)`, with :math:`\alpha_t = e^{-t}`."""
    return np.stack([np.ones_like(times), np.exp(-times), sigma(times)], axis=-1)


#: Output scales :math:`(c_{\text{out}}(t), c_{\text{skip}}(t))` by parameterization.
PARAMETERIZATIONS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "li": lambda times: (np.ones_like(times), np.zeros_like(times)),
    "preconditioned": lambda times: (1.0 / sigma(times), -np.ones_like(times)),
}


def relu_features(x: np.ndarray, times: np.ndarray, weights: np.ndarray, time_weights: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{ReLU}(W x + U e(t))`, shape (n, m), as :math:`(h + |h|)/2` (exact, and a
    vectorised pass where ``np.maximum(h, 0.0)`` is not), with :math:`h = [x, e(t)] [W^\top; U^\top]`."""
    hidden = np.concatenate([x, embedding(times)], axis=1) @ np.vstack([weights.T, time_weights.T])
    hidden += np.abs(hidden)
    hidden *= 0.5
    return hidden


class Networks:
    r"""The score networks of R fits of one model, stacked.

    :math:`s_r(x, t) = c_{\text{out}}(t) A_r\,\mathrm{ReLU}(W_r x + U_r e(t))/m + c_{\text{skip}}(t)\,x`.

    Computed as :math:`A\,\mathrm{ReLU}(h) = \tfrac12 (A W x + A U e(t) + A|h|)`: the linear part is a
    (d, d) map per fit, and :math:`|h|` is one fast pass where a ReLU is a slow one. The hidden layer
    :math:`h = [x, 1]\,[W^\top; (U e(t))^\top]` is one stacked matrix product per cache-sized block of rows.
    One fit is the case R = 1, so there is one implementation of the network.

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
            bias = self._time_weights @ embedding(np.array(t))  # U e(t), (R, m)
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
