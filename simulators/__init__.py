"""Simulators of self-consuming generative loops with exact TV distances.

Public API (the README and docs/theory.md say what each name computes)::

    from selfloop.simulators import GaussianMixture, KDE, RandomFeatureDiffusion, ScoreDiffusion, GaussianMLE, Scenario, run_loop
"""

from .diffusion import (
    EarlyStopping,
    FittedDiffusion,
    FittedODEDiffusion,
    FittedSDEDiffusion,
    RandomFeatureDiffusion,
    ScoreDiffusion,
)
from .expected import (
    SmoothedTruth,
    bandwidth_schedule,
    expected_densities,
    expected_kde_density,
    expected_training_density,
)
from .grid import AccuracyWarning, Box, Grid
from .kde import KDE, FittedKDE, PowerRule
from .loop import LoopResult, memory_budget, run_loop
from .metrics import gaussian_tv, tv, tv_monte_carlo, tv_quadrature
from .mle import GaussianMLE
from .protocol import FittedDensity, GridDensity, Model, ReplicateBatching
from .registry import Registry
from .regression import LinearRegression, regression_truth, regression_tv
from .scenario import Scenario
from .truth import STANDARD_TRUTHS, GaussianMixture, register_truth, standard_truth

__all__ = [
    "AccuracyWarning",
    "Box",
    "EarlyStopping",
    "FittedDiffusion",
    "FittedDensity",
    "FittedKDE",
    "FittedODEDiffusion",
    "FittedSDEDiffusion",
    "GaussianMLE",
    "GaussianMixture",
    "Grid",
    "GridDensity",
    "KDE",
    "LinearRegression",
    "LoopResult",
    "Model",
    "PowerRule",
    "RandomFeatureDiffusion",
    "Registry",
    "ReplicateBatching",
    "STANDARD_TRUTHS",
    "Scenario",
    "ScoreDiffusion",
    "SmoothedTruth",
    "bandwidth_schedule",
    "expected_densities",
    "expected_kde_density",
    "expected_training_density",
    "gaussian_tv",
    "memory_budget",
    "register_truth",
    "regression_truth",
    "regression_tv",
    "run_loop",
    "standard_truth",
    "tv",
    "tv_monte_carlo",
    "tv_quadrature",
]
