"""The TV upper bounds of Fu et al. 2024 (arXiv:2402.11778), in SymPy."""

from .bound import BOUNDS, PAPER, Bound, Source, get_bound, register, registered_bounds
from .categorical import (
    CategoricalLaw,
    categorical_collapse_time,
    categorical_expected_tv,
    categorical_law,
    categorical_loss_probability,
    categorical_moments,
    categorical_squared_error,
)
from .categorical_bound import categorical_second_moment_bound, categorical_tv_bound
from .certificate import Certificate, diffusion_certificate, integrated_score_error, tv_from_kl
from .curated import CuratedLaw, curated_law, curated_probabilities, reward_maximal
from .curated_chain import CuratedCountLaw, curated_count_law
from .diffusion import calibrate, calibrated_constants, diffusion_tv_bound, learner_error, learner_error_bound_for
from .early_stopping import EarlyStoppingLimit, early_stopping_limit
from .kde import kde_accumulate_bound, kde_bound_for, kde_bound_terms, kde_tv_bound
from .mle import MLEMoments, mle_moments
from .mle_bound import log_variance_second_moment, mle_bound_for, mle_tv_bound
from .mle_chain import ExpectedTV, gaussian_tv_to_standard, mle_expected_tv
from .mle_log_det import LogDetLaw, mle_log_det
from .mle_pool import accumulating_moments, subsample_moments
from .ou_marginals import TrainingDistribution, ou_marginal
from .phase import kde_rate, phase_bound, phase_threshold, threshold_ratio
from .rate import LI_EXPONENTS, RateFit, fit_rate
from .recursion import accumulate_bound, propagate, propagated, recursion_bound
from .regression import regression_risk_law
from .risk_ratio import PI_SQUARED_OVER_6, poisson_risk, risk_ratio_pattern
from .second_moment import (
    KDEMoments,
    SecondMomentTerms,
    kde_jensen_lower_bound,
    kde_second_moment_bound,
    kde_second_moment_bound_for,
    kde_second_moment_terms,
)
from .weighted_mean import WeightedLaw, optimal_real_weight, weighted_mean_variance_limit, weighted_mle_moments

__all__ = [
    "BOUNDS",
    "Bound",
    "LI_EXPONENTS",
    "MLEMoments",
    "RateFit",
    "CategoricalLaw",
    "Certificate",
    "EarlyStoppingLimit",
    "ExpectedTV",
    "KDEMoments",
    "PAPER",
    "PI_SQUARED_OVER_6",
    "SecondMomentTerms",
    "Source",
    "TrainingDistribution",
    "WeightedLaw",
    "CuratedLaw",
    "CuratedCountLaw",
    "curated_law",
    "curated_count_law",
    "curated_probabilities",
    "reward_maximal",
    "accumulate_bound",
    "calibrate",
    "categorical_collapse_time",
    "categorical_expected_tv",
    "categorical_law",
    "categorical_loss_probability",
    "categorical_moments",
    "categorical_second_moment_bound",
    "categorical_squared_error",
    "categorical_tv_bound",
    "calibrated_constants",
    "diffusion_certificate",
    "diffusion_tv_bound",
    "early_stopping_limit",
    "fit_rate",
    "gaussian_tv_to_standard",
    "integrated_score_error",
    "get_bound",
    "kde_accumulate_bound",
    "kde_bound_for",
    "kde_bound_terms",
    "kde_jensen_lower_bound",
    "kde_rate",
    "kde_second_moment_bound",
    "kde_second_moment_bound_for",
    "kde_second_moment_terms",
    "kde_tv_bound",
    "learner_error",
    "optimal_real_weight",
    "poisson_risk",
    "risk_ratio_pattern",
    "weighted_mean_variance_limit",
    "weighted_mle_moments",
    "learner_error_bound_for",
    "log_variance_second_moment",
    "mle_bound_for",
    "mle_expected_tv",
    "mle_moments",
    "mle_log_det",
    "LogDetLaw",
    "subsample_moments",
    "accumulating_moments",
    "mle_tv_bound",
    "ou_marginal",
    "phase_bound",
    "phase_threshold",
    "propagate",
    "propagated",
    "recursion_bound",
    "register",
    "registered_bounds",
    "regression_risk_law",
    "threshold_ratio",
    "tv_from_kl",
]
