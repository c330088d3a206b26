"""Tightness reports and CI regression for the self-consuming-loop bounds (``scloop`` CLI).

The unit of the harness is the :class:`Claim`: one module, one :func:`register_claim` call, and the sweep, the
verdicts, the claims table, the cell tables, results.json and ``scloop check`` all take it from :data:`CLAIMS`.
Every extension point is a :class:`selfloop.simulators.Registry`: claims here, models (:func:`register_model`),
suites (:func:`register_suite`), truths (:func:`selfloop.simulators.register_truth`), bounds
(:func:`selfloop.bounds.register`) and loop measures (:func:`selfloop.simulators.measures.register_measure`).
"""

from .assemble import assemble
from .builders import loop_cells
from .cells import CellSpec
from .check import compare
from .claims import CLAIMS, Cell, Claim, register_claim
from .models import MODELS, register_model
from .plugins import load_plugins
from .render import render
from .suites import SUITES, get_suite, register_suite, suite_names
from .sweep import run_suite

__all__ = [
    "CLAIMS",
    "Cell",
    "CellSpec",
    "Claim",
    "MODELS",
    "SUITES",
    "assemble",
    "compare",
    "get_suite",
    "load_plugins",
    "loop_cells",
    "register_claim",
    "register_model",
    "register_suite",
    "render",
    "run_suite",
    "suite_names",
]
