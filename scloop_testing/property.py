"""One call that checks a bound property with the whole discipline: verdict, power, controls, record.

Use it inside your own property tests::

    from selfloop.testing import check_property

    check_property("my bound", tv, bound, controls={"halved": bound / 2})

It asserts that the correct bound is not refuted, that every negative control
the test has the power to see is refuted (:attr:`Verdict.within_power`), and
that, if a lower bound is given, it is not refuted either; then it records
the verdicts for the end-of-run summary (:mod:`selfloop.testing.record`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .record import record
from .verdict import ALPHA, Verdict, check_bound

__all__ = ["PropertyOutcome", "check_property"]


@dataclass(frozen=True)
class PropertyOutcome:
    """The verdicts of one property example: ``verdict``, ``controls`` (name -> Verdict) and ``lower``."""

    verdict: Verdict
    controls: dict[str, Verdict]
    lower: Verdict | None


def check_property(
    name: str,
    tv: np.ndarray,
    bound: np.ndarray,
    *,
    controls: dict[str, np.ndarray] | None = None,
    lower: np.ndarray | None = None,
    alpha: float = ALPHA,
    require_power: float | None = None,
) -> PropertyOutcome:
    """Check ``bound`` against replicate TVs ``tv`` (R, G + 1) and assert what the test's power allows.

    Parameters
    ----------
    name : str
        The property's name in the summary.
    tv, bound : ndarray
        Replicate TVs and the correct upper bound per generation.
    controls : dict of name -> ndarray, optional
        Deliberately false bounds on the same replicates. Each one within the
        test's power must be refuted.
    lower : ndarray, optional
        A lower bound on E TV_i (e.g. Jensen's), tested with ``side="lower"``.
    require_power : float, optional
        If given, also assert that the correct bound's detectable ratio is at most this.

    Raises
    ------
    AssertionError
        If the correct bound (or the lower bound) is refuted, if a control within
        power survives, or if the detectable ratio exceeds ``require_power``.
    """
    verdict = check_bound(tv, bound, alpha=alpha)
    control_verdicts = {label: check_bound(tv, values, alpha=alpha) for label, values in (controls or {}).items()}
    lower_verdict = check_bound(tv, lower, alpha=alpha, side="lower") if lower is not None else None
    record(name, verdict, control_verdicts, lower_verdict)
    assert not verdict.refuted, f"{name}: the correct bound is refuted: {verdict.summary()}"
    if lower_verdict is not None:
        assert not lower_verdict.refuted, f"{name}: the lower bound is refuted: {lower_verdict.summary()}"
    if require_power is not None:
        assert verdict.detectable_ratio <= require_power, (
            f"{name}: underpowered for {require_power}: {verdict.summary()}"
        )
    for label, control in control_verdicts.items():
        if control.within_power:
            assert control.refuted, f"{name}: control {label!r} is within power but not refuted: {control.summary()}"
    return PropertyOutcome(verdict, control_verdicts, lower_verdict)
