"""The report's figures: each written atomically as a PNG next to the markdown (:mod:`selfloop.reports.render`).

- per scenario and model family, the mean TV with its band, every upper bound in its own line style and, where the
  diffusion fits are certified, the certificate's band over runs;
- the summary of every checked cell's tightness against its detectable ratio.

A claim draws its own figures in its section (the phase transition, the Gaussian MLE loop's laws), with
:func:`save_figure`; each claim's bound keeps its own line style (:attr:`selfloop.reports.Claim.line_style`).
"""

from __future__ import annotations

import io
import multiprocessing
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from selfloop.simulators.atomic import write_atomic
from selfloop.testing import UNDERPOWERED

from .models import describe_model_spec
from .records import CellRecord
from .text import finite_tightness, side_records

__all__ = [
    "FIGURE_PATTERNS",
    "describe_scenario_kind",
    "figure_scenarios",
    "figure_summary",
    "new_figure",
    "save_figure",
    "upper_claims",
    "upper_sides",
]

#: Figures this module writes (and one an earlier version wrote); with each claim's own (:attr:`Claim.figures`), an
#: earlier report's are removed first, so a folder never mixes two reports.
FIGURE_PATTERNS = ("tv_*.png", "summary.png", "tightness_histogram.png")


def upper_sides(cell: CellRecord) -> list[dict]:
    """The cell's upper bound sides (:func:`selfloop.reports.text.side_records`)."""
    return [side for side in side_records(cell) if side["side"] == "upper"]


def upper_claims(cells: list[CellRecord], order: list[str]) -> list[str]:
    """The ids of the claims whose upper bound sides are present, in ``order`` (the registry's), then any other."""
    present = {side["claim"] for cell in cells for side in upper_sides(cell)}
    return [name for name in order if name in present] + sorted(present - set(order))


def new_figure(width: float, height: float, columns: int = 1) -> tuple:
    """A figure of ``width`` x ``height`` inches with one axis, ``(figure, axis)``, or ``columns`` of them side by side,
    ``(figure, axes)``. Matplotlib is imported here, at the first figure, so the reports package loads without it
    (``scloop check``, the test workers, a plugin's process)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")  # laid out as it is drawn: one draw per figure
    return figure, figure.subplots(1, columns)


def save_figure(figure, path: Path) -> None:
    """Write a matplotlib figure as a PNG, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    write_atomic(path, buffer.getvalue())


def _figure_key(cell: CellRecord) -> tuple[str, str, str]:
    """Cells drawn in one figure: same scenario kind, model (with its parameters, e.g. the bandwidth) and truth."""
    return cell.scenario_kind, describe_model_spec(cell.spec.model), cell.spec.truth


def _file_label(text: str) -> str:
    """``kde(h=0.3)`` -> ``kde-h0.3``: a model label usable in a file name."""
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9.]+", "-", text.replace("=", ""))).strip("-")


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


#: Detectable ratios above this are drawn at it in the summary figure.
MAX_SHOWN = 4.0


def figure_scenarios(
    cells: list[CellRecord], out: Path, in_table, styles: dict[str, Any], workers: int = 1
) -> dict[str, list[str]]:
    """Mean TV (95% band) and every upper bound (``styles``: each claim's line style, by id; dashed for one not in
    it) against generation; file names by scenario kind. With ``workers`` > 1 the figures are drawn in that many
    forked processes (the same files: each figure is drawn from its own cells alone)."""
    groups = defaultdict(list)
    for cell in cells:
        if cell.spec.kind == "loop":
            groups[_figure_key(cell)].append(cell)
    jobs = [(key, members, out, in_table, styles) for key, members in sorted(groups.items())]
    processes = min(workers, len(jobs))
    if processes > 1:
        import matplotlib.figure  # noqa: F401  (once, before the fork: the drawing processes inherit it)

        with multiprocessing.get_context("fork").Pool(processes) as pool:
            drawn = pool.map(_figure_scenario, jobs)
    else:
        drawn = [_figure_scenario(job) for job in jobs]
    names: dict[str, list[str]] = defaultdict(list)
    for (kind, _, _), name in zip(sorted(groups), drawn):
        names[kind].append(name)
    return names


def _figure_scenario(job: tuple) -> str:
    """One figure of :func:`figure_scenarios`: the cells of one scenario kind, model and truth; returns its file name."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    (kind, model, truth), members, out, in_table, styles = job
    figure, axis = new_figure(7.5, 4.2)
    styles_used = set()
    for index, cell in enumerate(members):
        color = colormaps.get_cmap("tab10" if len(members) <= 10 else "tab20")(index % 20)
        summary = cell.summary
        generations = np.arange(len(summary["mean"]))
        axis.plot(
            generations,
            summary["mean"],
            color=color,
            marker=_MARKERS[index % len(_MARKERS)],
            markersize=4,
            label=cell.legend,
        )
        axis.fill_between(generations, summary["ci_low"], summary["ci_high"], color=color, alpha=0.2)
        for side in upper_sides(cell):
            style = styles.get(side["claim"], "--")
            styles_used.add((side["label"], style))
            axis.plot(generations, np.minimum(side["values"], 1.0), color=color, linestyle=style, linewidth=1.2)
        for name, record in cell.claims.items():
            if "per_run" not in record.verdicts or not in_table(name):
                continue  # a per-run bound: each run's bound, its range over runs as a band
            bound = np.asarray(record.values["upper"])
            axis.fill_between(
                generations, bound.min(axis=0), bound.max(axis=0), color=color, alpha=0.1, hatch="//", linewidth=0
            )
            style = styles.get(name, (0, (5, 1, 1, 1, 1, 1)))
            axis.plot(generations, bound.mean(axis=0), color=color, linestyle=style, linewidth=1.2)
            styles_used.add((f"{record.label} (certified, per run; band: min–max over runs)", style))
    handles, labels = axis.get_legend_handles_labels()
    for label, style in sorted(styles_used):
        handles.append(Line2D([], [], color="black", linestyle=style))
        labels.append(f"{label} bound")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("generation i")
    witness = all(cell.summary.get("quantity") == "tv_lower" for cell in members)
    axis.set_ylabel("TV witness (its mean ≤ TV)" if witness else "TV(p̂_i, p0)")
    what = "mean TV (95% band) and bounds" if styles_used else "mean TV (95% band); no bound applies"
    axis.set_title(f"{kind}, {model}, {truth}: {what}", fontsize=10)
    axis.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    name = f"tv_{kind}_{_file_label(model)}_{truth}.png"
    save_figure(figure, out / name)
    return name


def figure_summary(cells: list[CellRecord], out: Path, order: list[str]) -> str:
    """Every upper bound side: tightness (min bound/mean over generations) against the detectable ratio."""
    figure, axis = new_figure(6.5, 4.2)
    markers = dict(zip(upper_claims(cells, order), ("o", "s", "^", "D", "v", "P", "X")))
    for claim, marker in markers.items():
        found = [side for cell in cells for side in upper_sides(cell) if side["claim"] == claim]
        label = found[0]["label"]
        points = [
            (min(finite_tightness(side)), side["verdict"]["detectable_ratio"] or MAX_SHOWN)
            for side in found
            if finite_tightness(side)
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
    save_figure(figure, out / "summary.png")
    return "summary.png"


def describe_scenario_kind(cell: CellRecord) -> str:
    scenario = cell.spec.to_dict()["scenario"]
    return scenario["kind"] + (f" λ={scenario['real_fraction']:g}" if "real_fraction" in scenario else "")
