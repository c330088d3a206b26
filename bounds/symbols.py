"""The named symbols that bounds are written in.

Each symbol carries SymPy assumptions (positive, integer, ...), and
:data:`DOMAINS` records the closed intervals that assumptions cannot express
(``0 <= real_fraction <= 1``, ``0 < alpha < 1``). :data:`LATEX_NAMES` gives the
notation of docs/theory.md for rendering.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "DOMAINS",
    "added",
    "alphabet",
    "LATEX_NAMES",
    "alpha",
    "bandwidth",
    "bias",
    "constant",
    "C1",
    "C2",
    "dim",
    "error",
    "fitted_mean",
    "fitted_square",
    "initial_error",
    "generation",
    "initial_size",
    "laplacian_l1",
    "log_variance_square",
    "mean_absolute_integral",
    "mean_deviation",
    "moment_order",
    "probability",
    "real",
    "real_fraction",
    "root_variance_sum",
    "root_mean_square_integral",
    "second_moment",
    "size",
    "smoothing",
    "sqrt_integral",
    "synthetic",
    "variance_deviation",
    "weight_moment",
    "width",
]

size = sp.Symbol("size", positive=True, integer=True)  # N, points per generation
initial_size = sp.Symbol("initial_size", positive=True, integer=True)  # N_0
added = sp.Symbol("added", positive=True, integer=True)  # s, points added per generation when accumulating
real_fraction = sp.Symbol("real_fraction", nonnegative=True)  # lambda
generation = sp.Symbol("generation", nonnegative=True, integer=True)  # i
error = sp.Symbol("error", nonnegative=True)  # eps, one-step learner error
initial_error = sp.Symbol("initial_error", nonnegative=True)  # eps_0
bandwidth = sp.Symbol("bandwidth", positive=True)  # h
dim = sp.Symbol("dim", positive=True, integer=True)  # d
bias = sp.Symbol("bias", nonnegative=True)  # B = TV(K_h * p0, p0)
laplacian_l1 = sp.Symbol("laplacian_l1", nonnegative=True)  # ||Delta p0||_1
sqrt_integral = sp.Symbol("sqrt_integral", positive=True)  # J = int sqrt(G_{h^2/2} * E q)
weight_moment = sp.Symbol("weight_moment", positive=True)  # W = E (1 + |x|^2)^k
moment_order = sp.Symbol(
    "moment_order", positive=True, integer=True
)  # k > d/2 (written s in some texts; k here, s is the added points)
second_moment = sp.Symbol("second_moment", nonnegative=True)  # E|X|^2 under p0
width = sp.Symbol(
    "width", positive=True, integer=True
)  # w, hidden width (Li et al.'s m; m here is the synthetic amount)
C1 = sp.Symbol("C1", nonnegative=True)
C2 = sp.Symbol("C2", nonnegative=True)
constant = sp.Symbol("constant", positive=True)  # C in eps(N) = C N^-alpha
alpha = sp.Symbol("alpha", positive=True)
real = sp.Symbol("real", positive=True)  # n, real points per generation (phase transition)
synthetic = sp.Symbol("synthetic", nonnegative=True)  # m, synthetic points per generation
root_mean_square_integral = sp.Symbol("root_mean_square_integral", nonnegative=True)  # int sqrt((mu_i - p0)^2 + V_i)
mean_absolute_integral = sp.Symbol("mean_absolute_integral", nonnegative=True)  # int |mu_i - p0|
variance_deviation = sp.Symbol("variance_deviation", nonnegative=True)  # sqrt(E ||A_i - I||_F^2), Gaussian MLE loop
mean_deviation = sp.Symbol("mean_deviation", nonnegative=True)  # sqrt(E Delta_i^2), Gaussian MLE loop
log_variance_square = sp.Symbol(
    "log_variance_square", nonnegative=True
)  # bound on E (log sigma_i^2/sigma^2)^2, 1-D MLE

alphabet = sp.Symbol("alphabet", positive=True, integer=True)  # K, symbols of a categorical law
smoothing = sp.Symbol("smoothing", nonnegative=True)  # alpha, add-alpha smoothing
root_variance_sum = sp.Symbol("root_variance_sum", nonnegative=True)  # S = sum_k sqrt(m_k (1 - m_k))
probability = sp.Symbol("probability", nonnegative=True)  # p_k, one symbol's probability
fitted_mean = sp.Symbol("fitted_mean", nonnegative=True)  # E p_hat_k
fitted_square = sp.Symbol("fitted_square", nonnegative=True)  # E p_hat_k^2

#: Closed intervals [low, high] for symbols whose range assumptions cannot state; None = unbounded.
DOMAINS: dict[sp.Symbol, tuple[float | None, float | None, bool]] = {
    # symbol: (low, high, open at both ends)
    real_fraction: (0.0, 1.0, False),
    alpha: (0.0, 1.0, True),
    probability: (0.0, 1.0, False),
    fitted_mean: (0.0, 1.0, False),
    fitted_square: (0.0, 1.0, False),
}

LATEX_NAMES: dict[sp.Symbol, str] = {
    size: "N",
    initial_size: "N_0",
    added: "s",
    real_fraction: r"\lambda",
    generation: "i",
    error: r"\varepsilon",
    initial_error: r"\varepsilon_0",
    bandwidth: "h",
    dim: "d",
    bias: "B",
    laplacian_l1: r"\|\Delta p_0\|_1",
    sqrt_integral: "J",
    weight_moment: "W",
    moment_order: "k",
    second_moment: "M_2",
    width: "w",
    C1: "C_1",
    C2: "C_2",
    constant: "C",
    alpha: r"\alpha",
    real: "n",
    synthetic: "m",
    root_mean_square_integral: r"\int\sqrt{(\mu_i - p_0)^2 + V_i}\,dx",
    mean_absolute_integral: r"\int\left|\mu_i - p_0\right|dx",
    variance_deviation: "V_i",
    mean_deviation: "D_i",
    log_variance_square: "L_i",
    alphabet: "K",
    smoothing: "a",
    root_variance_sum: "S_i",
    probability: "p_k",
    fitted_mean: r"\mu_{k,i}",
    fitted_square: r"\nu_{k,i}",
}
