"""The one stage where verdicts are made: every theorem's bound against the measured TVs, Theorem G's per-run
certificates, and the Gaussian MLE's exact laws.

The sweep measures and evaluates (TVs, bound values, certificates, the MLE's moments); :func:`decide` turns a cell's
measurements into verdicts when the suite is assembled, after the calibrated theorems (Theorem D) are evaluated. So
each kind of verdict has one rule, here:

- a bound on E TV_i (either side): the one-sided sequential test of :func:`selfloop.testing.check_bound` at level
  :data:`ALPHA`, with its power (the detectable ratio; a verdict counts as a check only if it is at most
  :data:`selfloop.testing.UNDERPOWERED`, a 2x violation visible);
- a per-run bound (Theorem G's certificate, Lemma R on certified one-step errors): each run's TV at or below its
  own bound, to :data:`CERTIFICATE_TOLERANCE`;
- an exact law (the Gaussian MLE's moments): every replicate-mean z-score below :data:`LAW_Z`.
"""

from __future__ import annotations

import numpy as np

from selfloop.testing import ALPHA, check_bound, is_underpowered

__all__ = ["ALPHA", "CERTIFICATE_TOLERANCE", "LAW_Z", "decide", "per_run_verdicts", "under", "verdict_record"]

#: A measured TV above its per-run bound by at most this counts as at or below it: quadrature puts TV within 1e-9.
CERTIFICATE_TOLERANCE = 1e-9
#: A measured mean farther than this many standard errors from an exact law, at any generation, rejects the law (with
#: up to 31 generations and two quantities per cell, a correct law passes with probability above 0.999).
LAW_Z = 4.5


def verdict_record(tv: np.ndarray, values, side: str = "upper") -> dict:
    """The verdict of ``values`` against replicate TVs ``tv`` (R, G + 1), as a JSON-ready dict."""
    verdict = check_bound(tv, np.asarray(values, dtype=float), alpha=ALPHA, side=side)
    detectable = verdict.detectable_ratio
    return {
        "refuted": verdict.refuted,
        "p_value": verdict.p_value,
        "worst_generation": verdict.worst_generation,
        "max_ratio": verdict.max_ratio,
        "tightness": [float(x) for x in verdict.tightness],
        "detectable_ratio": detectable if np.isfinite(detectable) else None,
        "underpowered": is_underpowered(detectable),
    }


def under(tv, bound) -> np.ndarray:
    """Where a measured TV is at or below its per-run bound, to :data:`CERTIFICATE_TOLERANCE` (elementwise)."""
    return np.asarray(tv, dtype=float) <= np.asarray(bound, dtype=float) + CERTIFICATE_TOLERANCE


def _law_verdict(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {
        **record,
        "holds": all(record[name]["max_abs_z"] < LAW_Z for name in ("variance", "mean_offset")),
        "z_limit": LAW_Z,
    }


def per_run_verdicts(cell: dict) -> dict:
    """``certificate_held`` and ``lemma_r_held``: per run and generation, whether the run's TV is at or below its
    certificate, or below Lemma R on its certified one-step errors (None where that bound was not computed)."""
    tv = cell["tv"]
    return {
        held: None if cell.get(bound) is None else under(tv, cell[bound]).tolist()
        for bound, held in (("certificate", "certificate_held"), ("lemma_r_certified", "lemma_r_held"))
    }


def decide(entry: dict) -> dict:
    """Add every verdict to an assembled cell ``entry`` (in place; also returned).

    - ``entry["checks"]``: each bound record gets its ``verdict``;
    - ``entry["certificate_held"]``, ``entry["lemma_r_held"]``: per run and generation, whether the run's TV is at or
      below its certificate, or below Lemma R on its certified one-step errors (None where not measured);
    - ``entry["mle_law"]``: ``holds`` and ``z_limit``.
    """
    tv = np.asarray(entry["tv"], dtype=float)
    entry["checks"] = [
        {**record, "verdict": verdict_record(tv, record["values"], record["side"])} for record in entry["checks"]
    ]
    entry.update(per_run_verdicts(entry))
    entry["mle_law"] = _law_verdict(entry.get("mle_law"))
    return entry
