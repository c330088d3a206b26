"""Tightness reports and CI regression for the self-consuming-loop bounds (``scloop`` CLI)."""

from .assemble import assemble
from .check import compare
from .checks import CHECKS, Check, register_check
from .plugins import load_plugins
from .render import render
from .suites import SUITES, CellSpec, get_suite, loop_cells, register_suite, suite_names
from .sweep import MODELS, register_model, run_suite
from .theorems import THEOREMS, CellContext, Theorem, TheoremValues, register_theorem
from .verdicts import decide

__all__ = [
    "CHECKS",
    "CellContext",
    "CellSpec",
    "Check",
    "MODELS",
    "SUITES",
    "THEOREMS",
    "Theorem",
    "TheoremValues",
    "assemble",
    "compare",
    "decide",
    "get_suite",
    "load_plugins",
    "loop_cells",
    "register_check",
    "register_model",
    "register_suite",
    "register_theorem",
    "render",
    "run_suite",
    "suite_names",
]
