"""Rendering the results document: tightness.md and PNG figures (matplotlib, Agg), written atomically."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .claims import claims_lines
from .diffusion_sections import rate_lines, theorem_d_lines, theorem_g_lines
from .figures import (
    FIGURE_PATTERNS,
    figure_phase,
    figure_scenarios,
    figure_summary,
    finite_tightness,
    phase_bounds,
    upper_checks,
    upper_theorems,
)
from .sections import bounds_appendix, mle_lines, phase_lines, slack_lines
from .sweep import write_atomic
from .text import certified_runs, counts, fmt, ratio_text, verdict_text
from .theorems import theorem_label

__all__ = ["render", "write_results"]


def write_results(document: dict, path: Path) -> None:
    write_atomic(Path(path), json.dumps(document, indent=1))


def _scenario_group(cell: dict) -> str:
    return cell["spec"]["scenario"]["kind"]


def _cell_table(cells: list[dict]) -> list[str]:
    theorems = upper_theorems(cells)
    labels = [theorem_label(theorem) for theorem in theorems]
    lower = any(c["side"] == "lower" for cell in cells for c in cell.get("checks", []))
    header = "| cell | mean TV ± 95% CI (last gen.) | " + " | ".join(
        f"{label}: bound/mean | {label}: verdict" for label in labels
    )
    header += " | Jensen lower / mean |" if lower else " |"
    certified = any(cell.get("certificate") is not None for cell in cells)
    header += " Theorem G: certificate / TV | Theorem G: verdict (per run) |" if certified else ""
    lines = [header, "|" + "---|" * (2 + 2 * len(labels) + (1 if lower else 0) + (2 if certified else 0))]
    for cell in cells:
        summary = cell["summary"]
        last = len(summary["mean"]) - 1
        half = summary["ci_high"][last] - summary["mean"][last]
        checks = {c["theorem"]: c for c in upper_checks(cell)}
        row = f"| {cell['label']} | {fmt(summary['mean'][last])} ± {half:.4f} |"
        for theorem in theorems:
            check = checks.get(theorem)
            row += f" {ratio_text(check)} | {verdict_text(check) if check else 'no bound'} |"
        if lower:
            jensen = next((c for c in cell.get("checks", []) if c["side"] == "lower"), None)
            row += f" {ratio_text(jensen)} |"
        if certified:
            if cell.get("certificate") is None:
                row += " — | no certificate |"
            else:
                held, runs, ratios = certified_runs([cell])
                state = "holds on every run" if held == runs else f"**VIOLATED** on {runs - held} runs"
                row += f" {min(ratios):.2f}–{max(ratios):.2f} | {state} ({held} / {runs}) |"
        lines.append(row)
    return lines


def _tally(cells: list[dict]) -> list[str]:
    """Headline lines: per upper bound, cells checked / refuted / underpowered / outside the theory, ratios and power."""
    lines = []
    by_theorem = defaultdict(list)
    for cell in cells:
        for check in upper_checks(cell):
            by_theorem[(check["status"], theorem_label(check["theorem"]))].append(check)
    for (status, label), checks in sorted(by_theorem.items()):
        inside = [c for c in checks if not c["outside_theory"]]
        checked = [c for c in inside if not c["verdict"]["underpowered"]]
        refuted, _, beyond, underpowered = counts(inside)
        tightness = np.array([x for c in checked for x in finite_tightness(c)])
        detectable = [c["verdict"]["detectable_ratio"] for c in checked]
        text = f"- **{label}** ({status}): {len(checked)} cells checked, **{refuted} refuted**"
        if beyond:
            text += f", **{beyond} with the mean TV above the bound** (not significant)"
        text += f", {underpowered} underpowered (not counted)"
        if len(checks) > len(inside):
            text += f", {len(checks) - len(inside)} outside the theory (reused pool, reported only)"
        if tightness.size:
            text += (
                f"; bound / mean TV median {np.median(tightness):.2f} (min {tightness.min():.2f}, max {tightness.max():.2f}); "
                f"median detectable ratio {np.median(detectable):.2f}"
            )
        lines.append(text + ".")
    return lines


_SCENARIO_ORDER = ("fully_synthetic", "mixed_fresh", "mixed_reused", "accumulate", "growing_synthetic")
_SCENARIO_NOTES = {
    "mixed_reused": "The real points come from one fixed pool: this breaks the independence the bounds assume, so each bound is "
    "evaluated at its fresh-data value and its verdict is reported, not expected.",
    "accumulate": "Beyond the paper (Gerstgrasser et al. 2024): every generation keeps all earlier points.",
}


def render(document: dict, out: Path) -> Path:
    """Write tightness.md and figures into ``out`` (created if needed); returns the markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in FIGURE_PATTERNS:
        for stale in out.glob(pattern):
            stale.unlink()
    cells = document["cells"]
    figures = figure_scenarios(cells, out)
    lines = [
        "# Tightness of the self-consuming-loop TV bounds",
        "",
        "Fu, Zhang, Wang, Tian, Tao, *Towards Theoretical Understandings of Self-Consuming Generative Models*, ICML 2024 (arXiv:2402.11778).",
        "",
        f"Suite `{document['suite']}`, seed {document['seed']}, scloop {document['package_version']}, commit `{document['git_commit']}`"
        + (
            f"; {document['cells_from_cache']} of {len(document['cells'])} cells from the cache (same seed and code)."
            if document.get("cells_from_cache")
            else "."
        ),
        "",
        *claims_lines(document),
        "## Headline",
        "",
        f"{len(cells)} cells. Each bound is tested by mixture betting at level {document['alpha']:g} per cell; a cell counts as checked only "
        "when the test could see a violation by a factor 2 with probability 0.9 (its *detectable ratio* is at most 2).",
        "",
    ]
    lines += _tally(cells)
    jensen = [c for cell in cells for c in cell.get("checks", []) if c["side"] == "lower" and not c["outside_theory"]]
    if jensen:
        lines.append(
            f"- **Jensen lower bound** TV(E p̂_i, p0) <= E TV_i (rigorous): refuted in {sum(c['verdict']['refuted'] for c in jensen)} of {len(jensen)} cells, "
            f"{sum(c['verdict']['underpowered'] for c in jensen)} of them underpowered "
            f"(lower bound / mean median {np.median([x for c in jensen for x in finite_tightness(c)]):.2f}): "
            "a lower bound on a small mean is hard to refute with TV in [0, 1] alone."
        )
    outside = [c for cell in cells for c in upper_checks(cell) if c["outside_theory"]]
    below = [c for c in outside if min(c["verdict"]["tightness"]) < 1]
    if outside:
        lines.append(
            f"- **Outside the theory** (reused real pool, each bound at its fresh-data value): {sum(c['verdict']['refuted'] for c in outside)} of "
            f"{len(outside)} checks refuted; the mean TV exceeds the fresh-data value somewhere in {len(below)} of them"
            + (f" (bound / mean down to {min(min(c['verdict']['tightness']) for c in below):.2f})" if below else "")
            + ": sharing the real points across generations inflates the fluctuations the bounds assume independent."
        )
    phase = document.get("phase")
    if phase:
        lines.append(
            f"- **Phase transition**: mean TV at generation {phase['generation']} "
            + ("rises and then falls" if phase["rises_then_falls"] else "shows no significant rise then fall")
            + f" in m; it peaks at m = {phase['empirical_peak']}"
            + (
                f" (90% interval [{phase['peak_interval'][0]:.0f}, {phase['peak_interval'][1]:.0f}])"
                if phase.get("peak_interval")
                else ""
            )
            + f"; the symbolic threshold is m*_{phase['generation']} = {phase['threshold']:.0f}"
            + "".join(
                f"; the {theorem_label(theorem)} bound peaks at m = {curve['peak']}"
                for theorem, curve in phase_bounds(phase)
                if curve["peak"]
            )
            + "."
        )
    if any(upper_checks(cell) for cell in cells):
        figure_summary(cells, out)
        lines += ["", "![summary: tightness against detectable ratio](summary.png)", ""]
    lines += ["## Results by scenario", ""]
    groups = defaultdict(list)
    for cell in cells:
        if cell["spec"]["kind"] == "loop":
            groups[_scenario_group(cell)].append(cell)
    for kind in sorted(
        groups, key=lambda k: (_SCENARIO_ORDER.index(k) if k in _SCENARIO_ORDER else len(_SCENARIO_ORDER), k)
    ):
        members = groups[kind]
        lines += [f"### {kind.replace('_', ' ')}", ""]
        if kind in _SCENARIO_NOTES:
            lines += [_SCENARIO_NOTES[kind], ""]
        if any(cell["spec"]["model"]["name"] == "mle" and not cell.get("mle_law") for cell in members):
            lines += [
                "Gaussian MLE rows on a multimodal truth are descriptive: a single Gaussian is misspecified there, so no bound "
                "applies; on a Gaussian truth they carry the exact laws and the TV bound (section *The Gaussian MLE loop*).",
                "",
            ]
        lines += _cell_table(members) + [""] + [f"![{kind}]({name})" for name in figures[kind]] + [""]
    lines += theorem_d_lines(document.get("calibration") or {}, cells)
    lines += theorem_g_lines(cells)
    lines += rate_lines(document.get("rates") or [])
    lines += mle_lines(cells, out)
    if phase:
        figure_phase(phase, out)
        lines += phase_lines(phase)
    lines += slack_lines(cells)
    lines += bounds_appendix()
    path = out / "tightness.md"
    write_atomic(path, "\n".join(lines))
    return path
