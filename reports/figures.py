"""The report's figures: each written atomically as a PNG next to the markdown (:mod:`selfloop.reports.render`).

- per scenario and model family, the mean TV with its band, every upper bound in its own line style and, where the
  diffusion fits are certified, the certificate's band over runs;
- the summary of every checked cell's tightness against its detectable ratio;
- the phase transition against the amount of synthetic data;
- the Gaussian MLE loop's measured fitted variance against its exact laws.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from selfloop.bounds.phase import phase_curve
from selfloop.testing import UNDERPOWERED

from .assemble import describe_model
from .sweep import write_atomic
from .theorems import theorem_label

__all__ = [
    "FIGURE_PATTERNS",
    "figure_mle",
    "figure_phase",
    "figure_scenarios",
    "figure_summary",
    "finite_tightness",
    "phase_bounds",
    "upper_checks",
    "upper_theorems",
]

#: Figures this module writes; an earlier report's are removed first, so a folder never mixes two reports.
FIGURE_PATTERNS = ("tv_*.png", "phase.png", "summary.png", "tightness_histogram.png", "mle_laws.png")


def upper_checks(cell: dict) -> list[dict]:
    return [check for check in cell.get("checks", []) if check["side"] == "upper"]


def upper_theorems(cells: list[dict]) -> list[str]:
    """The ids of the theorems whose upper sides are present, the built-in ones first, then any a plugin registered."""
    present = {c["theorem"] for cell in cells for c in upper_checks(cell)}
    known = [theorem for theorem in ("theorem_k", "second_moment", "theorem_d") if theorem in present]
    return known + sorted(present - set(known))


def phase_bounds(phase: dict) -> list[tuple[str, dict]]:
    """The phase section's bound curves as (theorem id, curve), in the order of their labels."""
    return sorted(phase.get("bounds", {}).items(), key=lambda item: theorem_label(item[0]))


def finite_tightness(check: dict) -> list[float]:
    """A check's bound / mean TV per generation, without the generations whose mean TV is 0."""
    return [x for x in check["verdict"]["tightness"] if np.isfinite(x)]


def _save_figure(figure, path: Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_atomic(path, buffer.getvalue())


def _figure_key(cell: dict) -> tuple[str, str, str]:
    """Cells drawn in one figure: same scenario kind, model (with its parameters, e.g. the bandwidth) and truth."""
    spec = cell["spec"]
    return spec["scenario"]["kind"], describe_model(spec), spec["truth"]


def _file_label(text: str) -> str:
    """``kde(h=0.3)`` -> ``kde-h0.3``: a model label usable in a file name."""
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9.]+", "-", text.replace("=", ""))).strip("-")


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


#: Line style of each theorem's bound, by theorem id (Theorem G's per-run certificate under "theorem_g").
_STYLES = {
    "theorem_k": "--",
    "second_moment": ":",
    "theorem_d": "-.",
    "theorem_g": (0, (5, 1, 1, 1, 1, 1)),
    "gaussian_mle": (0, (1, 1)),
}


#: Detectable ratios above this are drawn at it in the summary figure.
MAX_SHOWN = 4.0


def figure_scenarios(cells: list[dict], out: Path) -> dict[str, list[str]]:
    """Mean TV (95% band) and every upper bound (one line style per bound) against generation; file names by scenario kind."""
    names: dict[str, list[str]] = defaultdict(list)
    groups = defaultdict(list)
    for cell in cells:
        if cell["spec"]["kind"] == "loop":
            groups[_figure_key(cell)].append(cell)
    for (kind, model, truth), members in sorted(groups.items()):
        figure = Figure(figsize=(7.5, 4.2))
        axis = figure.subplots()
        styles_used = set()
        for index, cell in enumerate(members):
            color = colormaps.get_cmap("tab10" if len(members) <= 10 else "tab20")(index % 20)
            summary = cell["summary"]
            generations = np.arange(len(summary["mean"]))
            axis.plot(
                generations,
                summary["mean"],
                color=color,
                marker=_MARKERS[index % len(_MARKERS)],
                markersize=4,
                label=cell["legend"],
            )
            axis.fill_between(generations, summary["ci_low"], summary["ci_high"], color=color, alpha=0.2)
            for check in upper_checks(cell):
                style = _STYLES.get(check["theorem"], "--")
                styles_used.add((check["label"], style))
                axis.plot(generations, np.minimum(check["values"], 1.0), color=color, linestyle=style, linewidth=1.2)
            if cell.get("certificate") is not None:  # Theorem G: each run's certificate, its range over runs as a band
                certificate = np.asarray(cell["certificate"])
                axis.fill_between(
                    generations,
                    certificate.min(axis=0),
                    certificate.max(axis=0),
                    color=color,
                    alpha=0.1,
                    hatch="//",
                    linewidth=0,
                )
                axis.plot(
                    generations, certificate.mean(axis=0), color=color, linestyle=_STYLES["theorem_g"], linewidth=1.2
                )
                styles_used.add(("Theorem G (certified, per run; band: min–max over runs)", _STYLES["theorem_g"]))
        handles, labels = axis.get_legend_handles_labels()
        for label, style in sorted(styles_used):
            handles.append(Line2D([], [], color="black", linestyle=style))
            labels.append(f"{label} bound")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("generation i")
        axis.set_ylabel("TV(p̂_i, p0)")
        what = "mean TV (95% band) and bounds" if styles_used else "mean TV (95% band); no bound applies"
        axis.set_title(f"{kind}, {model}, {truth}: {what}", fontsize=10)
        axis.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
        name = f"tv_{kind}_{_file_label(model)}_{truth}.png"
        _save_figure(figure, out / name)
        names[kind].append(name)
    return names


def figure_phase(phase: dict, out: Path) -> str:
    """Mean TV against m with its 95% band, the bounds' own curves (Theorem K rescaled to the data), m* and the peaks."""
    figure = Figure(figsize=(7.5, 4.5))
    axis = figure.subplots()
    synthetic = np.asarray(phase["synthetic"], dtype=float)
    shown = np.where(synthetic > 0, synthetic, synthetic[synthetic > 0].min() / 4 if np.any(synthetic > 0) else 1.0)
    mean, error = np.asarray(phase["mean"]), 1.96 * np.asarray(phase["stderr"])
    axis.plot(shown, mean, marker="o", color="C0", label=f"mean TV at generation {phase['generation']}")
    axis.fill_between(shown, mean - error, mean + error, color="C0", alpha=0.2, label="95% band")
    for (theorem, curve), color in zip(phase_bounds(phase), ("C1", "C4")):
        values = np.asarray(curve["values"])
        scale = mean.max() / values.max() if theorem == "theorem_k" else 1.0
        text = f"{theorem_label(theorem)} bound" + (f" × {scale:.2f} (rescaled)" if scale != 1.0 else "")
        axis.plot(shown, values * scale, color=color, linestyle=_STYLES.get(theorem, "--"), label=text)
    dense = np.geomspace(max(shown[0], 1.0), shown[-1], 200)
    rate_curve = phase_curve(phase["alpha"], phase["real"], phase["generation"], dense)
    axis.plot(
        dense,
        rate_curve * mean.max() / rate_curve.max(),
        color="C3",
        linewidth=1,
        alpha=0.7,
        label=f"Theorem P's B_{phase['generation']}(m), rescaled",
    )
    axis.axvline(
        phase["threshold"],
        color="C3",
        linestyle="--",
        label=f"symbolic m*_{phase['generation']} = {phase['threshold']:.0f}",
    )
    interval = phase.get("peak_interval")
    if interval:
        axis.axvspan(
            max(interval[0], shown[0]),
            interval[1],
            color="C2",
            alpha=0.12,
            label=f"empirical peak, 90% interval [{interval[0]:.0f}, {interval[1]:.0f}]",
        )
    axis.set_xscale("log")
    axis.set_xlabel(f"synthetic points per generation m (n = {phase['real']} real; m = 0 drawn at the left edge)")
    axis.set_ylabel("TV")
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    axis.set_title("Phase transition: growing synthetic data, KDE with h = 0.9 N^(-1/5)", fontsize=10)
    _save_figure(figure, out / "phase.png")
    return "phase.png"


def figure_summary(cells: list[dict], out: Path) -> str:
    """Every upper check: tightness (min bound/mean over generations) against the detectable ratio."""
    figure = Figure(figsize=(6.5, 4.2))
    axis = figure.subplots()
    markers = dict(zip(upper_theorems(cells), ("o", "s", "^", "D", "v", "P", "X")))
    for theorem, marker in markers.items():
        label = theorem_label(theorem)
        points = [
            (min(finite_tightness(check)), check["verdict"]["detectable_ratio"] or MAX_SHOWN)
            for cell in cells
            for check in upper_checks(cell)
            if check["theorem"] == theorem and finite_tightness(check)
        ]
        if points:
            tightness, detectable = np.array(points).T
            axis.scatter(
                tightness,
                np.minimum(detectable, MAX_SHOWN),
                marker=marker,
                alpha=0.7,
                label=f"{label} ({len(points)} cells)",
            )
    axis.axhline(
        UNDERPOWERED,
        color="C3",
        linestyle="--",
        linewidth=1,
        label=f"underpowered above (detectable ratio {UNDERPOWERED:g})",
    )
    axis.axvline(1.0, color="black", linewidth=0.8)
    axis.set_xlabel("tightness: min over generations of bound / mean TV (below 1: violated)")
    axis.set_ylabel(f"detectable ratio (power 0.9; capped at {MAX_SHOWN:g})")
    axis.legend(fontsize=7)
    axis.set_title("Every checked cell: how tight the bound, how small a violation the test could see", fontsize=9)
    _save_figure(figure, out / "summary.png")
    return "summary.png"


def figure_mle(cells: list[dict], out: Path) -> str | None:
    """Measured mean fitted variance (± 2 se) against each exact law, per Gaussian MLE cell."""
    chosen = [cell for cell in cells if cell.get("mle_law")]
    if not chosen:
        return None
    figure = Figure(figsize=(7.5, 4.2))
    axis = figure.subplots()
    for index, cell in enumerate(chosen):
        law = cell["mle_law"]["variance"]
        generations = np.arange(len(law["law"]))
        measured, error = np.asarray(law["measured"]), 2 * np.asarray(law["stderr"])
        color = f"C{index % 10}"
        axis.plot(generations, law["law"], color=color, linewidth=1.2)
        axis.errorbar(
            generations,
            measured,
            yerr=error,
            color=color,
            fmt="o",
            markersize=3,
            linewidth=0.8,
            label=f"{cell['spec']['truth']} {describe_scenario_kind(cell)}",
        )
    axis.set_xlabel("generation i")
    axis.set_ylabel("whitened fitted variance")
    axis.set_title("Gaussian MLE loop: measured mean (± 2 se, dots) against the exact law (lines)", fontsize=10)
    axis.legend(fontsize=7, frameon=False)
    name = "mle_laws.png"
    _save_figure(figure, out / name)
    return name


def describe_scenario_kind(cell: dict) -> str:
    scenario = cell["spec"]["scenario"]
    return scenario["kind"] + (f" λ={scenario['real_fraction']:g}" if "real_fraction" in scenario else "")
