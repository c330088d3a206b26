"""Testing tools for the self-consuming-loop harness: Hypothesis strategies and bound verdicts."""

from . import strategies
from .verdict import Verdict, betting_p_value, check_bound

__all__ = ["Verdict", "betting_p_value", "check_bound", "strategies"]
