"""Reports: the sweep engine (parallel, order-free, resumable), rendering, the suites."""

import json
from pathlib import Path

import numpy as np
import pytest
from reporting import assert_same_numbers, numbers, tiny  # noqa: F401  (tiny: registers the suite)

import selfloop.reports.sweep
from selfloop.reports import assemble, get_suite, render, run_suite
from selfloop.reports.cells import CELL_KINDS
from selfloop.reports.records import ResultsDocument
from selfloop.reports.text import side_records


def test_results_do_not_depend_on_worker_count(tiny_run, tmp_path):
    cells, _, _ = tiny_run
    parallel, _ = run_suite(get_suite("tiny"), 0, tmp_path, workers=2)
    assert_same_numbers(
        numbers(assemble(cells, suite="tiny", seed=0)), numbers(assemble(parallel, suite="tiny", seed=0))
    )


def test_interrupted_run_resumes_without_redoing_finished_cells(tmp_path, monkeypatch):
    real_run_cell, calls = selfloop.reports.sweep.run_cell, []

    def interrupted(spec, seed):
        calls.append(spec)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_cell(spec, seed)

    monkeypatch.setattr(selfloop.reports.sweep, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_suite(get_suite("tiny"), 0, tmp_path, workers=1)
    assert len(list(tmp_path.glob("*/*.json"))) == 2
    monkeypatch.setattr(selfloop.reports.sweep, "run_cell", real_run_cell)
    cells, stats = run_suite(get_suite("tiny"), 0, tmp_path, workers=1)
    assert stats.skipped == 2 and stats.computed == len(get_suite("tiny")) - 2
    _, again = run_suite(get_suite("tiny"), 0, tmp_path, workers=1)
    assert again.computed == 0


def test_report_writes_markdown_figures_and_json(tiny_run, tmp_path):
    cells, _, _ = tiny_run
    document = assemble(cells, suite="tiny", seed=0)
    path = render(document, tmp_path)
    text = path.read_text()
    assert f"{len(document['cells'])} cells." in text and "**0 refuted**" in text and "detectable ratio" in text
    assert "arXiv:2402.11778" in text and "$$" in text and "## Phase transition" in text
    assert text.index("## Headline") < text.index("## Results by scenario") < text.index("## Appendix: the bounds")
    appendix = text[text.index("## Appendix: the bounds") :]
    # the Jensen lower bound has its own entry, and the second-moment bound prints what it integrates
    jensen = appendix[appendix.index("### `kde_jensen_lower` (rigorous, a lower bound)") :]
    assert "TV(mu_i, p0) = 1/2 int |mu_i - p0| dx <= E TV(p_i, p0)" in jensen.split("### ")[1]
    second = appendix[appendix.index("### `kde_second_moment` (rigorous)") :].split("### ")[1]
    assert "where" in second and r"\Psi^{t}_{q}(x) =" in second and "{V}_{i} =" in second and r"{\mu}_{i} =" in second
    for name in (
        "summary.png",
        "phase.png",
        "tv_mixed_fresh_kde-h0.3_bimodal_1d.png",
        "tv_mixed_reused_kde-h0.3_bimodal_1d.png",
        "tv_fully_synthetic_diffusion-m96-steps20-li_bimodal_1d.png",
    ):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in text
    (family,) = document["claims"]["theorem_d"].values()
    assert (
        family["C1"] >= 0
        and family["C1_interval"][0] <= family["C1"] <= family["C1_interval"][1]
        and document["claims"]["theorem_p"]["threshold"] > 0
    )
    # the calibration grid (2 sizes x 2 widths on skewed_1d) and the disjoint test set (bimodal_1d, width 96)
    assert {(c["truth"], c["size"], c["width"]) for c in family["cells"]} == {
        ("skewed_1d", n, m) for n in (200, 800) for m in (64, 128)
    }
    assert {(t["truth"], t["width"]) for t in family["tests"]} == {("bimodal_1d", 96)}
    steps = next(cell["claims"]["theorem_d"]["values"] for cell in document["cells"] if "theorem_d" in cell["claims"])
    assert len(steps["eps_measured"]) == 3 and all(0 < e < 1 for e in steps["eps_measured"])
    assert "## Theorem D: calibration, test set and per-step errors" in text and "Lemma R on measured ε" in text
    # Theorem G: every SDE diffusion loop cell is certified on every run, and the claims table says so per run
    certified = [cell for cell in document["cells"] if "theorem_g" in cell["claims"]]
    assert certified and all(
        np.all(np.asarray(c["tv"]) <= np.asarray(c["claims"]["theorem_g"]["values"]["upper"])) for c in certified
    )
    assert "## Theorem G: every diffusion fit certified" in text and "Theorem D, certified" in text
    # the Gaussian MLE loop on a Gaussian truth: its laws per cell, the claims rows and the TV bound's checks
    laws = [cell["claims"]["mle_laws"]["verdicts"] for cell in document["cells"] if "mle_laws" in cell["claims"]]
    assert len(laws) == 3 and all(v["holds"] for law in laws for v in law.values())
    assert "## The Gaussian MLE loop: exact laws" in text
    assert (
        "| Gaussian refit collapses at rate (N−1)/N per generation | Shumailov et al. 2024 (arXiv:2305.17493), exact law |"
        in text
    )
    assert (tmp_path / "mle_laws.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = sum(len(c["tv"]) for c in certified)
    assert (
        "| Diffusion: every fit's TV under its certificate (SDE sampler, d ≤ 2) | paper's claim, certified per fit (rigorous) "
        f"| Theorem G (per run) | {runs} runs | 0 / {runs} /" in text
    )
    typed = ResultsDocument.from_dict(document)  # as the report's hooks read it
    sides = [side for cell in typed.cells for side in side_records(cell)]
    assert {(side["claim"], side["side"]) for side in sides} == {
        ("theorem_k", "upper"),
        ("second_moment", "upper"),
        ("second_moment", "lower"),
        ("theorem_d", "upper"),
        ("gaussian_mle", "upper"),
    }
    assert all("detectable_ratio" in side["verdict"] and "underpowered" in side["verdict"] for side in sides)
    reused = [side for cell in typed.cells if cell.scenario_kind == "mixed_reused" for side in side_records(cell)]
    assert reused and all(side["outside_theory"] for side in reused)
    # every claim that applies to some cell of the suite has its rows in the claims table
    table = text[text.index("## Claims and verdicts") : text.index("## Headline")]
    for statement in (
        "TV stays controlled",
        "Near-exact error curve",
        "Diffusion: every fit's TV",
        "Theorem D, certified",
        "Li et al.'s rate through the loop",
        "Gaussian MLE loop: E TV_i",
        "Phase transition",
    ):
        assert statement in table


def test_figures_drawn_in_parallel_are_those_drawn_in_one_process(tiny_run, tmp_path):
    """``render(..., workers=2)`` (what ``scloop report`` does) writes the same report and the same figures, byte for
    byte, as one process. Control: the legends changed draw different figures, and the comparison sees them."""
    cells, _, _ = tiny_run
    document = assemble(cells, suite="tiny", seed=0)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    render(document, serial, workers=1)
    render(document, parallel, workers=2)
    figures = sorted(path.name for path in serial.glob("*.png"))
    assert len(figures) >= 5 and figures == sorted(path.name for path in parallel.glob("*.png"))
    assert all((serial / name).read_bytes() == (parallel / name).read_bytes() for name in figures)
    assert (serial / "tightness.md").read_text() == (parallel / "tightness.md").read_text()
    for cell in document["cells"]:
        cell["legend"] += " (changed)"
    changed = tmp_path / "changed"
    render(document, changed, workers=2)
    drawn = [name for name in figures if name.startswith("tv_")]
    assert drawn and all((changed / name).read_bytes() != (serial / name).read_bytes() for name in drawn)


def test_committed_quick_baseline_is_well_formed():

    baseline = json.loads((Path(__file__).parent.parent / "reports" / "baselines" / "quick.json").read_text())
    assert baseline["suite"] == "quick" and len(baseline["cells"]) == len(get_suite("quick"))
    assert baseline["format"] == 3
    assert not any(
        verdict["outcome"] == "refuted"
        for cell in baseline["cells"]
        for record in cell["claims"].values()
        if not record["outside_theory"]
        for verdict in record["verdicts"].values()
    )
    distances = [cell["tv"] if cell["tv"] is not None else cell["measured"]["tv_lower"] for cell in baseline["cells"]]
    assert np.isfinite([v for distance in distances for v in np.ravel(distance)]).all()


@pytest.mark.parametrize("name", ["quick", "standard", "extended", "full"])
def test_every_suite_cell_builds(name):
    """Every cell of every suite names a valid model, truth and scenario (the full suite is too long to run here)."""
    from selfloop.reports.models import build_model, build_scenario
    from selfloop.simulators import standard_truth

    cells = get_suite(name)
    assert len({json.dumps(cell, sort_keys=True) for cell in cells}) == len(cells)
    for cell in cells:
        build_model(cell["model"]), build_scenario(cell["scenario"]), standard_truth(cell["truth"])
        assert cell["kind"] in CELL_KINDS and cell["replicates"] >= 2


def test_cell_records_round_trip_through_json():
    """Typed records, JSON only at the edges: every cell of the committed baseline reads into a CellRecord and writes
    back to the same JSON, and a worker's CellResult does the same through the cache's form."""
    from selfloop.reports.records import CellRecord

    baseline = json.loads((Path(__file__).parent.parent / "reports" / "baselines" / "quick.json").read_text())
    for cell in baseline["cells"]:
        record = CellRecord.from_dict(cell)
        assert json.loads(json.dumps(record.to_dict())) == cell
        assert record.result.spec.key == cell["key"]
        result = record.result.to_dict()  # the worker's form, as the cell cache holds it
        assert type(record.result).from_dict(result) == record.result


def test_the_extended_suite_certifies_your_own_score_network_like_the_built_in_model():
    """The score_mlp cells (1-D and 2-D) get Theorem G per run and Lemma R on the certified one-step errors (a record
    where those are computed, in 1-D), as the random-feature loops do; Theorem D's calibrated claim and Li's rate stay
    the random-feature model's."""
    from selfloop.reports import CLAIMS
    from selfloop.reports.cells import CellSpec

    def claims_of(spec: dict) -> set[str]:
        typed = CellSpec.from_dict(spec)
        return {claim.id for claim in CLAIMS.values() if claim.applies(typed)}

    cells = get_suite("extended")
    own = [cell for cell in cells if cell["model"]["name"] == "score_mlp"]
    assert {cell["truth"] for cell in own} == {"bimodal_1d", "skewed_1d", "ring_2d"}
    for cell in own:
        assert {"theorem_g", "theorem_d_certified"} <= claims_of(cell)
        assert not {"theorem_d", "li_rate"} & claims_of(cell)
    built_in = next(c for c in cells if c["model"]["name"] == "diffusion" and c["kind"] == "loop")
    assert "theorem_g" in claims_of(built_in)


def test_each_suite_runs_every_row_of_the_one_before():
    """``extended`` is ``standard`` plus its own rows (every standard cell as it is), and ``full`` is ``extended`` at
    larger sizes: every (cell kind, model and its parameterization, truth, scenario kind) of each suite is in the next,
    so no claim that a smaller report checks is missing from a larger one. Control: ``standard`` is not within
    ``quick``, and the comparison sees it."""

    def rows(name: str) -> set[tuple]:
        return {
            (
                cell["kind"],
                cell["model"]["name"],
                cell["model"].get("parameterization", ""),
                cell["truth"],
                cell["scenario"]["kind"],
            )
            for cell in get_suite(name)
        }

    assert set(map(json.dumps, get_suite("standard"))) <= set(map(json.dumps, get_suite("extended")))
    for smaller, larger in (("standard", "extended"), ("extended", "full")):
        assert rows(smaller) <= rows(larger), (smaller, larger, sorted(rows(smaller) - rows(larger)))
    assert not rows("standard") <= rows("quick")  # control
