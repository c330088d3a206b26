"""The one exception a fit raises when the data or the fit degenerate: :class:`DegenerateFit`, a ``ValueError``.

A sample whose covariance is singular (the Gaussian MLE, the regression's design), all of whose points coincide (a KDE
bandwidth rule), or a sampler that flings its mass off the grid its density lives on (the SDE diffusion model): fitted
directly, each is bad input and raises. Inside a loop such a fit is the phenomenon under study (collapse), and the loop
can tell it apart from every other error by its class.
"""

from __future__ import annotations

__all__ = ["DegenerateFit"]


class DegenerateFit(ValueError):
    """A fit that degenerated: a collapsed sample, or a sampler whose mass left its density's grid.

    ``singular`` says whether the degenerate fit's law is singular to every law with a density (a Gaussian of singular
    covariance, a KDE of coincident points at bandwidth 0): its TV to such a truth is exactly 1, which is what the loop
    records for a replicate that collapsed this way (:attr:`selfloop.simulators.LoopResult.collapsed_at`).
    """

    def __init__(self, message: str, *, singular: bool = False) -> None:
        super().__init__(message)
        self.singular = bool(singular)

    def __reduce__(self):  # pickled across processes with its flag
        return (_rebuilt, (str(self), self.singular))


def _rebuilt(message: str, singular: bool) -> DegenerateFit:
    return DegenerateFit(message, singular=singular)
