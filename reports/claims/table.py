"""The report's claims table: every registered claim's rows (:meth:`selfloop.reports.Claim.rows`), in registry order."""

from __future__ import annotations

from ..records import ResultsDocument
from .base import CLAIMS

__all__ = ["claims_lines"]


def claims_lines(document: ResultsDocument) -> list[str]:
    """The claims table: each claim, whose it is, what tests it, its verdicts counted and how tight."""
    lines = [
        "## Claims and verdicts",
        "",
        "| claim | whose | tested by | checks | refuted / held / beyond (n.s.) / underpowered | bound / mean (min over generations) |",
        "|---|---|---|---|---|---|",
    ]
    for claim in CLAIMS.values():
        lines += ["| " + " | ".join(row) + " |" for row in claim.rows(document)]
    return lines + [
        "",
        "A check is *held* when its test could see a 2x violation, did not refute, and the mean TV is on the right side of "
        "the bound at every generation; *beyond (n.s.)* when the mean's point estimate is past the bound somewhere but not "
        "significantly (never counted as held); *underpowered* otherwise (reported, not counted); *+n sample-only*: the "
        "bounds the TV witness of a model known only by its samples did not refute (a witness can refute a bound, never "
        "confirm it).",
        "",
    ]
