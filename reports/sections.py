"""The report's other sections: the phase transition, the Gaussian MLE loop's exact laws, where Theorem K's slack
is, and the appendix of every registered bound."""

from __future__ import annotations

from pathlib import Path

from selfloop.bounds import registered_bounds

from .figures import figure_mle, phase_bounds
from .theorems import theorem_label

__all__ = ["bounds_appendix", "mle_lines", "phase_lines", "slack_lines"]


def phase_lines(phase: dict) -> list[str]:
    if phase["rises_then_falls"]:
        shape = "rises and then falls (a significant rise into and fall out of one m"
    else:
        shape = (
            ("rises" if phase["rises"] else "does not rise significantly")
            + (" and falls" if phase["falls"] else "")
            + " (no significant rise then fall"
        )
    shape += "; every pair compared at 1% with Bonferroni over the pairs)"
    lines = [
        "## Phase transition (Theorem P)",
        "",
        f"Growing synthetic data, n = {phase['real']} real points per generation, KDE with h = 0.9 N^(-1/5) (alpha = {phase['alpha']:.2f}). "
        f"Mean TV at generation {phase['generation']} {shape}.",
        "",
        "| m | mean TV at generation %d | standard error |" % phase["generation"]
        + "".join(f" {theorem_label(theorem)} bound |" for theorem, _ in phase_bounds(phase)),
        "|---|---|---|" + "---|" * len(phase.get("bounds", {})),
    ]
    for index, (m, mean, se) in enumerate(zip(phase["synthetic"], phase["mean"], phase["stderr"])):
        lines.append(
            f"| {m} | {mean:.4f} | {se:.4f} |"
            + "".join(f" {curve['values'][index]:.4f} |" for _, curve in phase_bounds(phase))
        )
    peaks = ", ".join(
        f"the {theorem_label(theorem)} bound at m = {curve['peak']}"
        if curve["peak"]
        else f"the {theorem_label(theorem)} bound is monotone on this grid"
        for theorem, curve in phase_bounds(phase)
    )
    lines += [
        "",
        f"Where the curves peak: the empirical mean TV at m = {phase['empirical_peak']}"
        + (
            f" (90% bootstrap interval [{phase['peak_interval'][0]:.0f}, {phase['peak_interval'][1]:.0f}])"
            if phase.get("peak_interval")
            else ""
        )
        + f"; {peaks}; Theorem P's symbolic threshold "
        f"m*_{phase['generation']} = {phase['threshold']:.0f} (m*_1 = {phase['threshold_generation_1']:.0f}). Theorem P locates the peak of a "
        "rate bound eps(N) = C N^-alpha propagated by Lemma R; it need not coincide with the peak of the TV itself.",
        "",
        "![phase transition](phase.png)",
        "",
    ]
    return lines


def mle_lines(cells: list[dict], out: Path) -> list[str]:
    """The Gaussian MLE loop's exact laws per cell, with the figure."""
    chosen = [cell for cell in cells if cell.get("mle_law")]
    if not chosen:
        return []
    lines = [
        "## The Gaussian MLE loop: exact laws",
        "",
        "A Gaussian truth refit by maximum likelihood: the first two moments of the fitted parameters follow exact laws "
        "(docs/theory.md, section 9). Per cell, the replicate means of the whitened fitted variance and of the squared "
        f"Mahalanobis error of the fitted mean are compared with the laws at every generation (|z| < {chosen[0]['mle_law']['z_limit']:g}); "
        "the TV bound built on them is in the scenario tables (*Gaussian MLE*).",
        "",
        "| cell | variance at the last generation: measured ± se (law) | max abs z, variance "
        "| E Δ² at the last generation: measured ± se (law) | max abs z, mean | laws |",
        "|---|---|---|---|---|---|",
    ]
    for cell in chosen:
        law = cell["mle_law"]
        variance, offset = law["variance"], law["mean_offset"]
        lines.append(
            f"| {cell['label']} | {variance['measured'][-1]:.4f} ± {variance['stderr'][-1]:.4f} ({variance['law'][-1]:.4f}) | {variance['max_abs_z']:.2f} | "
            f"{offset['measured'][-1]:.4f} ± {offset['stderr'][-1]:.4f} ({offset['law'][-1]:.4f}) | {offset['max_abs_z']:.2f} | "
            f"{'hold' if law['holds'] else '**REJECTED**'} |"
        )
    name = figure_mle(cells, out)
    return lines + ["", f"![Gaussian MLE laws]({name})", ""]


def slack_lines(cells: list[dict]) -> list[str]:
    """A table of Theorem K's parts at the last generation: which step is loose, and by how much."""
    chosen = [cell for cell in cells if cell.get("slack")]
    if not chosen:
        return []
    lines = [
        "## Where Theorem K's slack is",
        "",
        "Theorem K bounds E TV_i by Lemma R applied to B + S̄_k: the exact smoothing bias B plus a bound S̄_k on the sampling error "
        "E S_k = E TV(p̂_k, K_h * q_k). Here E S_k is measured on the same replicates, so the two sources of slack separate: "
        "the sampling bound (S̄ / E S, from Var ≤ second moment and Jensen) and the propagation (the triangle inequality adds "
        "every generation's error although they partly cancel: Lemma R on the measured B + E S, against the mean TV). At the last generation:",
        "",
        "| cell | B | E S (measured ± se) | S̄ (bound) | S̄ / E S | mean TV | Lemma R on B + E S | Theorem K | propagation / mean TV | Theorem K / mean TV |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in chosen:
        slack = cell["slack"]
        last = len(slack["bias"]) - 1
        measured, bound, mean = slack["sampling_measured"][last], slack["sampling_bound"][last], slack["mean_tv"][last]
        propagated = slack["propagated_measured"][last]
        lines.append(
            f"| {cell['label']} | {slack['bias'][last]:.4f} | {measured:.4f} ± {slack['sampling_stderr'][last]:.4f} | {bound:.4f} | "
            f"{bound / measured:.2f} | {mean:.4f} | {propagated:.4f} | {slack['bound'][last]:.4f} | {propagated / mean:.2f} | "
            f"{slack['bound'][last] / mean:.2f} |"
        )
    return lines + [""]


def bounds_appendix() -> list[str]:
    lines = [
        "## Appendix: the bounds",
        "",
        "Every registered bound (`selfloop.bounds.register`), with its provenance and status; derivations in docs/theory.md.",
        "",
    ]
    for name, bound in sorted(registered_bounds().items()):
        side = "" if bound.side == "upper" else ", a lower bound"
        lines += [f"### `{name}` ({bound.source.status}{side})", "", bound.statement, "", f"$$ {bound.latex()} $$", ""]
        if bound.definitions:
            lines += ["where", ""] + [f"$$ {definition} $$" for definition in bound.latex_definitions()] + [""]
        lines += [f"Source: {bound.source.theorem}. {bound.source.note}", ""]
    return lines
