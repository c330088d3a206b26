"""Testing tools for the self-consuming-loop harness: bound verdicts and Hypothesis strategies.

``selfloop.testing.strategies`` needs Hypothesis (the ``[test]`` extra) and is
imported on demand (``from selfloop.testing import strategies``), so the report
CLI works with the plain install.
"""

from .betting import betting_p_value, mixture_e_values
from .claims import ClaimConformance, check_claim, check_claims, conformance_cells
from .conformance import (
    check_density_integrates_to_one,
    check_fit_is_deterministic,
    check_model,
    check_samples_match_pdf,
)
from .property import PropertyOutcome, check_property
from .verdict import ALPHA, POWER, UNDERPOWERED, Verdict, check_bound, detectable_ratio, is_underpowered

__all__ = [
    "ALPHA",
    "ClaimConformance",
    "check_claim",
    "check_claims",
    "conformance_cells",
    "POWER",
    "PropertyOutcome",
    "check_density_integrates_to_one",
    "check_fit_is_deterministic",
    "check_model",
    "check_property",
    "check_samples_match_pdf",
    "UNDERPOWERED",
    "Verdict",
    "betting_p_value",
    "check_bound",
    "detectable_ratio",
    "is_underpowered",
    "mixture_e_values",
]
