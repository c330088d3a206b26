"""The claims the harness checks, one module each, registered in :data:`CLAIMS` in the order the report lists them.

=====================  ==========================================================  ==================================
id                     claim                                                       whose
=====================  ==========================================================  ==================================
theorem_k              the KDE loop's E TV_i, explicit constants (Theorem K)      Fu et al., re-derived
second_moment          E TV_i sandwiched by the KDE's exact mean and variance      beyond the paper
theorem_g              every diffusion fit's TV under its certificate (per run)   beyond the paper
theorem_d_certified    Lemma R on each run's certified one-step errors             Fu et al., certified per fit
theorem_d              Li et al.'s rate through the loop, calibrated               Fu et al. + Li et al.
li_rate                the score error's exponents over N x width                  Li et al. (arXiv:2311.01797)
early_stopping         the ideal loop's floor; the exact-score sampler against it  Khelifa et al. (arXiv:2606.13796)
gaussian_mle           the Gaussian MLE loop's TV bound from its exact laws        beyond the paper
mle_laws               the Gaussian MLE loop's exact moment laws                   Shumailov, Bertrand, Gerstgrasser
mle_expected_tv        the Gaussian MLE loop's exact E TV_i (the statistics' chain)  beyond the paper
regression_risk        the linear-regression loop's exact risk law                 Gerstgrasser, Dohmatob et al.
categorical_laws       the categorical loop's exact laws (TV, losses, entropy)     Shumailov, Seddik et al., exact
categorical_second_moment  the categorical loop's E TV_i, exact second moments      beyond the paper
categorical_lemma_r    Lemma R on the categorical learner                          Fu et al.'s route, re-derived
next_token_chain_rule  a chain's sequence TV within its token-level errors         beyond the paper
optimal_weight         the weighted Gaussian loop's exact laws; the optimal weight  He, Xu and Cheng (arXiv:2502.18049)
risk_ratio             accumulate keeps the MLE risk within pi^2/6, replace not    Dey and Donoho (arXiv:2410.22812)
curated                curated loops' exact laws; the reward never decreases       Ferbach et al. (arXiv:2407.09499)
theorem_p              the phase transition in the amount of synthetic data       Fu et al., re-derived
=====================  ==========================================================  ==================================

A new claim is one module with a :class:`Claim` subclass and one :func:`register_claim` call (docs/extending.md).
"""

from . import theorem_k, second_moment, theorem_g, theorem_d_certified, theorem_d, li_rate  # noqa: F401, I001
from . import early_stopping  # noqa: F401, I001
from . import gaussian_mle, mle_laws, mle_expected_tv, regression_risk  # noqa: F401, I001
from . import categorical_laws, categorical_second_moment, categorical_lemma_r, next_token_chain_rule  # noqa: F401, I001
from . import optimal_weight, risk_ratio, curated, theorem_p  # noqa: F401, I001  (registration order is the report's order)
from .base import CLAIMS, Cell, Claim, claim_label, record_claims, register_claim
from .table import claims_lines

__all__ = ["CLAIMS", "Cell", "Claim", "claim_label", "claims_lines", "record_claims", "register_claim"]
