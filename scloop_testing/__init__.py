"""Testing tools for the self-consuming-loop harness: bound verdicts and Hypothesis strategies.

``scloop_testing.strategies`` needs Hypothesis (the ``[test]`` extra) and is
imported on demand (``from scloop_testing import strategies``), so the report
CLI works with the plain install.
"""

from .property import ALPHA, PropertyOutcome, check_property
from .verdict import POWER, UNDERPOWERED, Verdict, betting_p_value, check_bound, detectable_ratio, mixture_e_values

__all__ = ["ALPHA", "POWER", "PropertyOutcome", "check_property", "UNDERPOWERED", "Verdict", "betting_p_value", "check_bound", "detectable_ratio", "mixture_e_values"]
