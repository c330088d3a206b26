"""The three rules by which a claim's values become a verdict, and what each verdict counts as.

- a bound on E TV_i (either side): :func:`bound_verdict`, the one-sided sequential test of
  :func:`selfloop.testing.check_bound` at level :data:`ALPHA`, with its power (the detectable ratio; a verdict counts as
  a check only if it is at most :data:`selfloop.testing.UNDERPOWERED`, a 2x violation visible);
- a per-run bound (Theorem G's certificate, Lemma R on certified one-step errors): :func:`per_run_verdict`, each run's
  TV at or below its own bound, to :data:`CERTIFICATE_TOLERANCE`;
- an exact law (the Gaussian MLE's moments): :func:`law_verdict`, every replicate-mean z-score below :data:`LAW_Z`;
  an exact law of the probabilities of events (a symbol lost by the categorical loop):
  :func:`binomial_law_verdict`, exact binomial tests over the replicates (:func:`binomial_p_values`), Bonferroni over
  the events at :data:`ALPHA`.

Every verdict is a JSON-ready dict with its ``kind`` and its ``outcome``: ``"refuted"``, ``"held"``, ``"beyond"``
(a bound's mean past it, not significantly: never counted as held) or ``"underpowered"`` (reported, not counted).
A :class:`selfloop.reports.Claim` picks its rule in ``decide``.
"""

from __future__ import annotations

import numpy as np

from selfloop.testing import ALPHA, check_bound, is_underpowered

__all__ = [
    "CERTIFICATE_TOLERANCE",
    "LAW_Z",
    "OUTCOMES",
    "bound_outcome",
    "binomial_law_verdict",
    "binomial_p_values",
    "bound_verdict",
    "law_verdict",
    "on_the_wrong_side",
    "per_run_verdict",
    "replicate_sum_p_values",
    "under",
    "witness_verdict",
]

#: A measured TV above its per-run bound by at most this counts as at or below it: quadrature puts TV within 1e-9.
CERTIFICATE_TOLERANCE = 1e-9
#: A measured mean farther than this many standard errors from an exact law, at any generation, rejects the law (with
#: up to 31 generations and two quantities per cell, a correct law passes with probability above 0.999).
LAW_Z = 4.5
#: The outcomes a verdict can have, in the order the claims table counts them; ``sample_only``: a bound not refuted by
#: the TV witness of a model known only by its samples (a witness can refute a bound, never confirm it).
OUTCOMES = ("refuted", "held", "beyond", "underpowered", "sample_only")


def on_the_wrong_side(verdict: dict) -> bool:
    """Whether a bound verdict's mean TV is beyond the bound at some generation (above an upper bound, below a lower).

    ``max_ratio`` is mean / bound (upper) or bound / mean (lower); 1e-12 relative absorbs rounding at a tie.
    """
    return verdict["max_ratio"] > 1 + 1e-12


def bound_outcome(verdict: dict) -> str:
    """A bound verdict's outcome: refuted, beyond (the mean past the bound, not significantly), underpowered or held."""
    if verdict["refuted"]:
        return "refuted"
    if on_the_wrong_side(verdict):
        return "beyond"
    return "underpowered" if verdict["underpowered"] else "held"


def bound_verdict(tv: np.ndarray, values, side: str = "upper") -> dict:
    """The verdict of the bound ``values`` (G + 1,) on E TV_i against replicate TVs ``tv`` (R, G + 1)."""
    verdict = check_bound(np.asarray(tv, dtype=float), np.asarray(values, dtype=float), alpha=ALPHA, side=side)
    detectable = verdict.detectable_ratio
    record = {
        "kind": "bound",
        "refuted": verdict.refuted,
        "p_value": verdict.p_value,
        "worst_generation": verdict.worst_generation,
        "max_ratio": verdict.max_ratio,
        "tightness": [float(x) for x in verdict.tightness],
        "detectable_ratio": detectable if np.isfinite(detectable) else None,
        "underpowered": is_underpowered(detectable),
    }
    return {**record, "outcome": bound_outcome(record)}


def witness_verdict(witness: np.ndarray, values, slack: float | None = None) -> dict:
    r"""An upper bound :math:`b_i` on E TV_i against TV witnesses W (R, G + 1) (:func:`selfloop.simulators.tv_witness`).

    The test runs on the positive parts :math:`X = \max(W, 0) \in [0, 1]`, whose mean is at most
    :math:`E\,\mathrm{TV}_i + \delta` (:func:`selfloop.simulators.witness_slack`, ``slack``; by default that of the
    loop's witness): the betting test of :func:`bound_verdict` of :math:`b_i + \delta` on X has TV's own leverage
    (W itself ranges over [-1, 1], where no test of 24 replicates has power). It can refute the bound; otherwise the
    outcome is ``sample_only``, never ``held``, with the power it had: the detectable ratio in the bound's scale, the
    smallest :math:`\rho` such that positive parts of mean :math:`\rho b_i` would be seen with probability 0.9 (the
    test's ratio :math:`\rho'` against :math:`b_i + \delta` maps back as :math:`\rho = \rho' + (\rho' - 1)\delta/b_i`,
    the largest over the generations)."""
    from selfloop.simulators import Witness

    witness, bound = np.asarray(witness, dtype=float), np.asarray(values, dtype=float)
    slack = Witness().slack if slack is None else float(slack)
    positive = np.maximum(witness, 0.0)
    verdict = bound_verdict(positive, np.minimum(bound + slack, 1.0))
    transformed = verdict["detectable_ratio"]
    detectable = None
    if transformed is not None:
        detectable = float(np.max(transformed + (transformed - 1) * slack / np.maximum(bound, 1e-12)))
    mean = witness.mean(axis=0)
    return {
        **verdict,
        "witness": True,
        "slack": slack,
        "max_ratio": float(np.max(mean / np.maximum(bound, 1e-12))),
        "tightness": [float(b / m) if m > 0 else None for b, m in zip(bound, mean)],
        "detectable_ratio": detectable,
        "underpowered": False,
        "outcome": "refuted" if verdict["refuted"] else "sample_only",
    }


def under(tv, bound) -> np.ndarray:
    """Where a measured TV is at or below its per-run bound, to :data:`CERTIFICATE_TOLERANCE` (elementwise)."""
    return np.asarray(tv, dtype=float) <= np.asarray(bound, dtype=float) + CERTIFICATE_TOLERANCE


def per_run_verdict(tv: np.ndarray, bound) -> dict:
    """Each run's TV against its own bound (R, G + 1): ``held`` per run and generation, and the runs held at every
    generation. Not statistical: one run above its bound refutes."""
    held = under(tv, bound)
    runs_held = int(np.sum(np.all(held, axis=1)))
    return {
        "kind": "per_run",
        "held": held.tolist(),
        "runs": int(held.shape[0]),
        "runs_held": runs_held,
        "tolerance": CERTIFICATE_TOLERANCE,
        "outcome": "held" if runs_held == held.shape[0] else "refuted",
    }


def replicate_mean(samples) -> tuple[np.ndarray, np.ndarray]:
    """The replicates' mean (over axis 0) and its standard error; a standard error of 0 for a single replicate."""
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean(axis=0)
    if samples.shape[0] < 2:
        return mean, np.zeros_like(mean)
    return mean, samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])


def law_check(measured, stderr, law, law_stderr=None) -> dict:
    """:func:`law_verdict` of the largest |z| of replicate means against an exact law, every generation; ``law_stderr``
    is the law's own Monte Carlo error where it has one (combined with the means')."""
    spread = stderr if law_stderr is None else np.sqrt(np.asarray(stderr) ** 2 + np.asarray(law_stderr) ** 2)
    return law_verdict(float(np.max(np.abs(np.asarray(measured) - np.asarray(law)) / spread)))


def law_verdict(max_abs_z: float) -> dict:
    """An exact law against replicate means: it holds when every z-score is below :data:`LAW_Z` in absolute value."""
    holds = bool(max_abs_z < LAW_Z)
    return {
        "kind": "law",
        "holds": holds,
        "max_abs_z": float(max_abs_z),
        "z_limit": LAW_Z,
        "outcome": "held" if holds else "refuted",
    }


def binomial_p_values(counts, replicates: int, probabilities) -> np.ndarray:
    """Two-sided exact binomial p-values of ``counts`` (how many of ``replicates`` independent runs saw each event)
    against the events' exact ``probabilities``, elementwise."""
    from scipy import stats

    counts, probabilities = np.asarray(counts, dtype=float), np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    below = stats.binom.cdf(counts, replicates, probabilities)
    above = stats.binom.sf(counts - 1, replicates, probabilities)
    return np.minimum(1.0, 2 * np.minimum(below, above))


def replicate_sum_p_values(pmf, replicates: int, observed) -> np.ndarray:
    """Two-sided exact p-values of ``observed`` totals of ``replicates`` independent counts, each with the law ``pmf``
    on 0..M (last axis): the R-fold convolution by FFT (its rounding, about 1e-15 absolute, far below any level tested).
    ``pmf`` (..., M + 1), ``observed`` (...) integers."""
    pmf = np.asarray(pmf, dtype=float)
    length = replicates * (pmf.shape[-1] - 1) + 1
    total = np.fft.irfft(np.fft.rfft(pmf, length) ** replicates, length)
    total = np.clip(total, 0.0, None)
    index = np.asarray(np.rint(observed), dtype=np.int64)[..., None]
    below = np.take_along_axis(np.cumsum(total, axis=-1), index, axis=-1)[..., 0]
    above = np.take_along_axis(np.cumsum(total[..., ::-1], axis=-1)[..., ::-1], index, axis=-1)[..., 0]
    return np.minimum(1.0, 2 * np.minimum(below, above))


def binomial_law_verdict(smallest_p: float, events: int) -> dict:
    """An exact law of the probabilities of ``events`` events, tested one by one (:func:`binomial_p_values`) and
    Bonferroni over them at :data:`ALPHA`: it holds when the smallest p-value times ``events`` is at least ALPHA.

    A law verdict whose ``max_abs_z`` is the normal quantile of the smallest p-value (two-sided) and whose ``z_limit``
    is that of ALPHA / events: the same scale as :func:`law_verdict`'s, exact for counts.
    """
    from scipy import special

    def z_of(p: float) -> float:
        return abs(float(special.ndtri(max(p, 1e-300) / 2)))

    holds = bool(smallest_p * events >= ALPHA)
    return {
        "kind": "law",
        "holds": holds,
        "max_abs_z": z_of(smallest_p),
        "z_limit": z_of(ALPHA / events),
        "p_value": min(1.0, smallest_p * events),
        "outcome": "held" if holds else "refuted",
    }
