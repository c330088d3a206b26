"""Simulators of self-consuming generative loops with exact TV distances.

Public API (see DESIGN.md)::

    from simulators import GaussianMixture, KDE, RandomFeatureDiffusion, GaussianMLE, Scenario, run_loop
"""

from .diffusion import EarlyStopping, FittedDiffusion, RandomFeatureDiffusion
from .expected import SmoothedTruth, bandwidth_schedule, expected_densities, expected_kde_density, expected_training_density
from .grid import AccuracyWarning, Box, Grid
from .kde import KDE, FittedKDE, PowerRule
from .loop import LoopResult, run_loop
from .metrics import gaussian_tv, tv, tv_monte_carlo, tv_quadrature
from .mle import GaussianMLE
from .scenario import Scenario
from .truth import STANDARD_TRUTHS, GaussianMixture, standard_truth

__all__ = [
    "AccuracyWarning",
    "Box",
    "EarlyStopping",
    "FittedDiffusion",
    "FittedKDE",
    "GaussianMLE",
    "GaussianMixture",
    "Grid",
    "KDE",
    "LoopResult",
    "PowerRule",
    "RandomFeatureDiffusion",
    "STANDARD_TRUTHS",
    "Scenario",
    "SmoothedTruth",
    "bandwidth_schedule",
    "expected_densities",
    "expected_kde_density",
    "expected_training_density",
    "gaussian_tv",
    "run_loop",
    "standard_truth",
    "tv",
    "tv_monte_carlo",
    "tv_quadrature",
]
