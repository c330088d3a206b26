"""A Monte Carlo estimate with its standard error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MonteCarloEstimate"]


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo estimate with its standard error: the one estimate type of the package.

    ``limits`` are the values the estimated quantity cannot leave (``(0, 1)`` for a TV), to which
    :meth:`interval` is clipped.
    """

    value: float
    stderr: float
    samples: int
    limits: tuple[float, float] = (-np.inf, np.inf)

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """Two-sided normal confidence interval ``value ± z·stderr``, clipped to ``limits``."""
        return max(self.limits[0], self.value - z * self.stderr), min(self.limits[1], self.value + z * self.stderr)
