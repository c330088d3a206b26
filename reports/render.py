"""Rendering the results document: tightness.md and PNG figures (matplotlib, Agg), written atomically."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bounds import registered_bounds  # noqa: E402

from .sweep import write_atomic  # noqa: E402

__all__ = ["render", "write_results"]

def write_results(document: dict, path: Path) -> None:
    write_atomic(Path(path), json.dumps(document, indent=1))


def _save_figure(figure, path: Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    write_atomic(path, buffer.getvalue())


def _scenario_group(cell: dict) -> str:
    return cell["spec"]["scenario"]["kind"]


def _figure_key(cell: dict) -> tuple[str, str, str]:
    """Cells drawn in one figure: same scenario kind, model family and truth."""
    spec = cell["spec"]
    return spec["scenario"]["kind"], spec["model"]["name"], spec["truth"]


def _figure_scenarios(cells: list[dict], out: Path) -> dict[str, list[str]]:
    """Figures of mean TV (95% band) and bound (dashed) against generation; file names by scenario kind."""
    names: dict[str, list[str]] = defaultdict(list)
    groups = defaultdict(list)
    for cell in cells:
        if cell["spec"]["kind"] == "loop":
            groups[_figure_key(cell)].append(cell)
    for (kind, model, truth), members in sorted(groups.items()):
        figure, axis = plt.subplots(figsize=(8, 4))
        for index, cell in enumerate(members):
            color = plt.get_cmap("tab10" if len(members) <= 10 else "tab20")(index % 20)
            summary = cell["summary"]
            generations = np.arange(len(summary["mean"]))
            axis.plot(generations, summary["mean"], color=color, label=cell["legend"])
            axis.fill_between(generations, summary["ci_low"], summary["ci_high"], color=color, alpha=0.2)
            if cell["bound"] is not None:
                axis.plot(generations, np.minimum(cell["bound"], 1.0), color=color, linestyle="--")
        axis.set_xlabel("generation i")
        axis.set_ylabel("TV(p̂_i, p0)")
        axis.set_title(f"{kind}, {model}, {truth}: mean TV (95% band), bound dashed")
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        name = f"tv_{kind}_{model}_{truth}.png"
        _save_figure(figure, out / name)
        names[kind].append(name)
    return names


def _figure_phase(phase: dict, out: Path) -> str:
    figure, axis = plt.subplots(figsize=(7, 4))
    synthetic = np.asarray(phase["synthetic"], dtype=float)
    shown = np.where(synthetic > 0, synthetic, synthetic[synthetic > 0].min() / 4 if np.any(synthetic > 0) else 1.0)
    axis.errorbar(shown, phase["mean"], yerr=1.96 * np.asarray(phase["stderr"]), marker="o", capsize=3, label=f"mean TV at generation {phase['generation']} (95% CI)")
    axis.axvline(phase["threshold"], color="C3", linestyle="--", label=f"symbolic m*_{phase['generation']} = {phase['threshold']:.0f}")
    axis.axvline(phase["empirical_peak"] if phase["empirical_peak"] > 0 else shown[0], color="C2", linestyle=":", label=f"empirical peak m = {phase['empirical_peak']}")
    axis.set_xscale("log")
    axis.set_xlabel(f"synthetic points per generation m (n = {phase['real']} real; m = 0 drawn at the left edge)")
    axis.set_ylabel("TV")
    axis.legend(fontsize=7)
    axis.set_title("Phase transition: growing synthetic data, KDE with h = 0.9 N^(-1/5)")
    _save_figure(figure, out / "phase.png")
    return "phase.png"


def _figure_tightness(cells: list[dict], out: Path) -> str:
    ratios = np.concatenate([np.asarray(cell["verdict"]["tightness"]) for cell in cells if cell["verdict"]])
    ratios = ratios[np.isfinite(ratios)]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.hist(ratios, bins=30, color="C0")
    axis.axvline(1.0, color="C3", linestyle="--", label="bound = mean TV")
    axis.set_xlabel("bound / mean empirical TV (every cell and generation)")
    axis.set_ylabel("count")
    axis.legend()
    _save_figure(figure, out / "tightness_histogram.png")
    return "tightness_histogram.png"


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _bounds_section() -> list[str]:
    lines = ["## The bounds", "", "Every registered bound (`bounds.register`), with its provenance and status.", ""]
    for name, bound in sorted(registered_bounds().items()):
        lines += [f"### `{name}` ({bound.source.status})", "", bound.statement, "", f"$$ {bound.latex()} $$", "", f"Source: {bound.source.theorem}. {bound.source.note}", ""]
    return lines


def _cell_table(cells: list[dict]) -> list[str]:
    lines = ["| cell | generations | mean TV ± 95% CI (last gen.) | bound (last gen.) | bound/mean (min–max) | verdict |", "|---|---|---|---|---|---|"]
    for cell in cells:
        summary = cell["summary"]
        last = len(summary["mean"]) - 1
        half = summary["ci_high"][last] - summary["mean"][last]
        if cell["verdict"]:
            tightness = [x for x in cell["verdict"]["tightness"] if np.isfinite(x)]
            verdict = "**REFUTED**" if cell["verdict"]["refuted"] else f"holds (p = {cell['verdict']['p_value']:.2g})"
            bound_text, ratio_text = _fmt(cell["bound"][last]), f"{min(tightness):.2f}–{max(tightness):.2f}"
        else:
            verdict, bound_text, ratio_text = "no bound", "—", "—"
        lines.append(f"| {cell['label']} | {last} | {_fmt(summary['mean'][last])} ± {half:.4f} | {bound_text} | {ratio_text} | {verdict} |")
    return lines


def render(document: dict, out: Path) -> Path:
    """Write tightness.md and figures into ``out`` (created if needed); returns the markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cells = document["cells"]
    checked = [cell for cell in cells if cell["verdict"]]
    refuted = [cell for cell in checked if cell["verdict"]["refuted"]]
    ratios = np.concatenate([np.asarray(cell["verdict"]["tightness"]) for cell in checked]) if checked else np.array([])
    ratios = ratios[np.isfinite(ratios)]
    figures = _figure_scenarios(cells, out)
    lines = [
        "# Tightness of the self-consuming-loop TV bounds",
        "",
        "Fu, Zhang, Wang, Tian, Tao, *Towards Theoretical Understandings of Self-Consuming Generative Models*, ICML 2024 (arXiv:2402.11778).",
        "",
        f"Suite `{document['suite']}`, seed {document['seed']}, scloop {document['package_version']}, commit `{document['git_commit']}`.",
        "",
        "## Headline",
        "",
        f"- {len(cells)} cells, {len(checked)} checked against a bound, **{len(refuted)} refuted** "
        f"(betting test, level {document['alpha']:g} per cell, Bonferroni over generations).",
    ]
    if ratios.size:
        lines.append(f"- bound / mean empirical TV over every checked cell and generation: min {ratios.min():.2f}, median {np.median(ratios):.2f}, max {ratios.max():.2f}.")
    phase = document.get("phase")
    if phase:
        lines.append(
            f"- phase transition: empirical peak of mean TV at generation {phase['generation']} at m = {phase['empirical_peak']} "
            f"(rises: {phase['rises']}, falls: {phase['falls']}); symbolic threshold of the bound m*_{phase['generation']} = {phase['threshold']:.0f}."
        )
    lines += ["", "![tightness ratios](tightness_histogram.png)" if checked else "", ""]
    if checked:
        _figure_tightness(cells, out)
    lines += _bounds_section()
    lines += ["## Results by scenario", ""]
    groups = defaultdict(list)
    for cell in cells:
        if cell["spec"]["kind"] == "loop":
            groups[_scenario_group(cell)].append(cell)
    for kind, members in sorted(groups.items()):
        lines += [f"### {kind}", ""]
        if kind == "mixed_reused":
            lines += ["The real points come from one fixed pool: this breaks the independence the bounds assume, so the verdict is reported, not expected.", ""]
        lines += _cell_table(members) + [""] + [f"![{kind}]({name})" for name in figures[kind]] + [""]
    calibration = document.get("calibration")
    if calibration:
        lines += [
            "## Theorem D calibration",
            "",
            f"C1 = {calibration['C1']:.4g}, C2 = {calibration['C2']:.4g} ({calibration['method']}), on generation-0 cells:",
            "",
            "| N | width | TV upper (mean + 3 se) |",
            "|---|---|---|",
        ] + [f"| {c['size']} | {c['width']} | {c['tv_upper']:.4f} |" for c in calibration["cells"]] + [""]
    if phase:
        _figure_phase(phase, out)
        lines += [
            "## Phase transition (Theorem P)",
            "",
            f"Growing synthetic data, n = {phase['real']} real points per generation, KDE with h = 0.9 N^(-1/5) (alpha = {phase['alpha']:.2f}).",
            "",
            "| m | mean TV at generation %d | standard error |" % phase["generation"],
            "|---|---|---|",
        ] + [f"| {m} | {mean:.4f} | {se:.4f} |" for m, mean, se in zip(phase["synthetic"], phase["mean"], phase["stderr"])] + [
            "",
            f"The symbolic threshold of the bound is m*_1 = {phase['threshold_generation_1']:.0f} and m*_{phase['generation']} = {phase['threshold']:.0f}; "
            f"the empirical peak of the TV itself is at m = {phase['empirical_peak']}. Theorem P locates the peak of the *bound*; the two need not coincide.",
            "",
            "![phase transition](phase.png)",
            "",
        ]
    path = out / "tightness.md"
    write_atomic(path, "\n".join(lines))
    return path
