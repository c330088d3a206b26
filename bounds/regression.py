r"""The linear-regression loop's risk law (Gerstgrasser et al. 2024, arXiv:2404.01413; Dohmatob, Feng and Kempe 2024,
arXiv:2402.07712), exact in both the replace and the accumulate loop.

Write :math:`X_j` (T x d) for generation j's covariates, :math:`A_j = X_j^TX_j`, :math:`\varepsilon_j` its label
noise, and :math:`e_i = \hat w_i - w^*`. Replace: :math:`\hat w_i` is OLS on labels :math:`X_i\hat w_{i-1} +
\varepsilon_i`, so :math:`e_i = e_{i-1} + A_i^{-1}X_i^T\varepsilon_i`, a sum of uncorrelated terms, and with
:math:`E\,A^{-1} = I/(T - d - 1)` (the inverse-Wishart mean)

.. math:: E|e_i|^2 = (i + 1)\,\frac{\sigma^2 d}{T - d - 1}.

Accumulate: :math:`\hat w_i` is OLS on all pairs so far; with :math:`S_i = \sum_{j\le i} A_j`, the normal equations of
generations i and i - 1 differ by :math:`A_i e_{i-1} + X_i^T\varepsilon_i`, so :math:`S_ie_i = S_ie_{i-1} +
X_i^T\varepsilon_i` and :math:`e_i = e_{i-1} + S_i^{-1}X_i^T\varepsilon_i`. The terms are again uncorrelated, and
:math:`E\operatorname{tr}(S_j^{-1}A_jS_j^{-1}) = E\operatorname{tr}(S_j^{-1})/(j + 1)` because the :math:`A_k` that
make up :math:`S_j` are exchangeable; :math:`S_j` is Wishart with (j + 1)T degrees of freedom, so

.. math:: E|e_i|^2 = \sigma^2 d \sum_{j=0}^{i} \frac{1}{(j + 1)\,((j + 1)T - d - 1)}
          \;\le\; \frac{\sigma^2 d}{T - d - 1}\,\frac{\pi^2}{6},

exact, below the published bound (its limit is that bound's with T - d - 1 in every term's second factor).
Reference: docs/theory.md, section 10.
"""

from __future__ import annotations

import numpy as np

__all__ = ["regression_risk_law"]


def regression_risk_law(
    features: int, samples: int, noise: float, generations: int, accumulate: bool = False
) -> np.ndarray:
    r""":math:`E|\hat w_i - w^*|^2` of the linear-regression loop, i = 0..generations (module docstring).

    Examples
    --------
    >>> regression_risk_law(features=5, samples=50, noise=1.0, generations=3)
    array([0.11363636, 0.22727273, 0.34090909, 0.45454545])
    >>> bool(regression_risk_law(5, 50, 1.0, 200, accumulate=True)[-1] < 0.11363636 * np.pi**2 / 6)
    True
    """
    for name, value in (("features", features), ("samples", samples), ("generations", generations)):
        if not isinstance(value, (int, np.integer)) or value < (0 if name == "generations" else 1):
            raise ValueError(
                f"{name} must be a {'non-negative' if name == 'generations' else 'positive'} integer, got {value!r}"
            )
    if samples <= features + 1:
        raise ValueError(f"samples: the inverse-Wishart mean needs T > d + 1, got T={samples}, d={features}")
    if not (np.isfinite(noise) and noise > 0):
        raise ValueError(f"noise must be positive, got {noise!r}")
    generation = np.arange(generations + 1)
    scale = noise**2 * features
    if not accumulate:
        return (generation + 1) * scale / (samples - features - 1)
    pooled = generation + 1
    return scale * np.cumsum(1.0 / (pooled * (pooled * samples - features - 1)))
