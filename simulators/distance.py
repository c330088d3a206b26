r"""The loop's distance to the truth, whatever the model: TV where the fits have a density
(:class:`selfloop.simulators.measures.TotalVariation`: fields ``tv``, ``tv_stderr``), the TV witness where they are
known only by their samples (:class:`selfloop.simulators.witness.Witness`: ``tv_lower``, ``tv_lower_bound``, whose mean
is at most the TV). Every loop takes it first unless ``Execution(measure_tv=False)``; which of the two it is, is decided
at the first generation, from the fits, and kept for the chunk."""

from __future__ import annotations

import numpy as np

from .measures import GenerationStep, LoopSpec, TotalVariation
from .protocol import FittedDensity
from .witness import Witness

__all__ = ["TruthDistance"]


class TruthDistance:
    """TV, or the TV witness for fits without a density. ``total_variation`` and ``witness`` configure the two (their
    draws); the fields are those of the one the fits call for (``tv``, ``tv_stderr`` or ``tv_lower``,
    ``tv_lower_bound``), and with ``always_witness`` the witness's beside TV's where the fits have a density (to see
    what a sample-only evaluation of them would find)."""

    name = "distance"

    def __init__(
        self,
        total_variation: TotalVariation | None = None,
        witness: Witness | None = None,
        *,
        always_witness: bool = False,
    ) -> None:
        self.total_variation = total_variation or TotalVariation()
        self.witness = witness or Witness()
        self.always_witness = bool(always_witness)

    @property
    def fields(self) -> tuple[str, ...]:
        """Both measures' fields; a loop fills those its fits call for."""
        return self.total_variation.fields + self.witness.fields

    @property
    def samples(self) -> int:
        """The Monte Carlo draws of the TV, the default of every other Monte Carlo distance of the loop."""
        return self.total_variation.samples

    def __repr__(self) -> str:
        return f"TruthDistance({self.total_variation!r}, {self.witness!r}, always_witness={self.always_witness})"

    def start(self, loop: LoopSpec) -> None:
        self.total_variation.start(loop)
        self.witness.start(loop)

    def collapsed(self, singular: bool) -> dict[str, float]:
        """Both measures' values for a collapsed replicate (TV exactly 1 for a fit singular to the truth, and so its
        witness)."""
        return {**self.total_variation.collapsed(singular), **self.witness.collapsed(singular)}

    def take(self, step: GenerationStep) -> dict[str, np.ndarray]:
        if "density" not in step.memory:
            step.memory["density"] = isinstance(step.fits[0], FittedDensity)
        if not step.memory["density"]:
            return self.witness.take(step)
        taken = self.total_variation.take(step)
        return {**taken, **self.witness.take(step)} if self.always_witness else taken
