"""Simulators of self-consuming generative loops with exact TV distances.

Public API (the README and docs/theory.md say what each name computes)::

    from selfloop.simulators import GaussianMixture, KDE, RandomFeatureDiffusion, ScoreDiffusion, GaussianMLE, Scenario, run_loop
"""

from .categorical import Categorical, CategoricalMLE, zipf
from .curated import Curated
from .curves import NoisyArcs, NoisySwissRoll
from .degenerate import DegenerateFit
from .diffusion import (
    EarlyStopping,
    FittedDiffusion,
    FittedODEDiffusion,
    FittedSDEDiffusion,
    RandomFeatureDiffusion,
    ScoreDiffusion,
)
from .discrete_measures import Entropy, NextTokenErrors, SymbolsLost, TotalCollapse
from .distance import TruthDistance
from .execution import Execution, memory_budget
from .expected import (
    SmoothedTruth,
    bandwidth_schedule,
    expected_densities,
    expected_kde_density,
    expected_training_density,
)
from .gaussian_tv import gaussian_tv, gaussian_tv_1d
from .grid import AccuracyWarning, Box, Grid
from .kde import KDE, FittedKDE, PowerRule
from .likelihood import HeldOutNLL, negative_log_likelihood
from .logistic import LogisticLaw, LogisticMLE, logistic_tv
from .loop import run_loop
from .measurement import TrainingMixture
from .measures import Measure, OneStep, Probes, TotalVariation
from .metrics import tv, tv_monte_carlo, tv_quadrature
from .mle import GaussianMLE
from .poisson import Poisson, PoissonMLE, poisson_tv
from .protocol import FiniteSupport, FittedDensity, GridDensity, Model, ReplicateBatching, Truth, WeightedFitting
from .registry import Registry
from .regression import LinearRegression, RegressionLaw, regression_truth, regression_tv, shared_covariates_tv
from .result import LoopResult
from .sample_only import SampleOnly, SklearnDensity
from .scenario import Scenario
from .sequences import BigramMLE, MarkovChain
from .standard_truths import STANDARD_TRUTHS, register_truth, standard_truth
from .truth import GaussianMixture
from .witness import Witness, WitnessEstimate, tv_witness, witness_slack

__all__ = [
    "Curated",
    "TrainingMixture",
    "NoisySwissRoll",
    "NoisyArcs",
    "negative_log_likelihood",
    "HeldOutNLL",
    "TotalCollapse",
    "AccuracyWarning",
    "BigramMLE",
    "Box",
    "Categorical",
    "CategoricalMLE",
    "DegenerateFit",
    "EarlyStopping",
    "Entropy",
    "Execution",
    "FiniteSupport",
    "FittedDiffusion",
    "FittedDensity",
    "FittedKDE",
    "FittedODEDiffusion",
    "FittedSDEDiffusion",
    "GaussianMLE",
    "LogisticLaw",
    "LogisticMLE",
    "Poisson",
    "PoissonMLE",
    "GaussianMixture",
    "Grid",
    "GridDensity",
    "KDE",
    "LinearRegression",
    "LoopResult",
    "MarkovChain",
    "Measure",
    "Model",
    "NextTokenErrors",
    "OneStep",
    "Probes",
    "PowerRule",
    "RandomFeatureDiffusion",
    "Registry",
    "ReplicateBatching",
    "STANDARD_TRUTHS",
    "SampleOnly",
    "Scenario",
    "ScoreDiffusion",
    "SklearnDensity",
    "SmoothedTruth",
    "SymbolsLost",
    "TotalVariation",
    "Truth",
    "WeightedFitting",
    "TruthDistance",
    "Witness",
    "WitnessEstimate",
    "bandwidth_schedule",
    "expected_densities",
    "expected_kde_density",
    "expected_training_density",
    "gaussian_tv",
    "gaussian_tv_1d",
    "memory_budget",
    "register_truth",
    "RegressionLaw",
    "regression_truth",
    "regression_tv",
    "shared_covariates_tv",
    "run_loop",
    "standard_truth",
    "tv",
    "logistic_tv",
    "poisson_tv",
    "tv_monte_carlo",
    "tv_quadrature",
    "tv_witness",
    "witness_slack",
    "zipf",
]
