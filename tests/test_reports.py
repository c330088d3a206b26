"""Reports: sweep engine (parallel, order-free, resumable), rendering, baseline check, CLI errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import selfloop.reports.sweep
from selfloop.reports import assemble, compare, get_suite, register_suite, render, run_suite
from selfloop.reports.cli import main
from selfloop.reports.suites import CELL_KINDS, diffusion_cells, gaussian_mle_cells, loop_cells, phase_cells


def tiny() -> list[dict]:
    """A suite small enough for unit tests, with every kind of cell."""
    return (
        loop_cells(
            models=[{"name": "kde", "bandwidth": 0.3}],
            truths=["bimodal_1d"],
            sizes=[200],
            real_fractions=(0.5,),
            generations=3,
            replicates=8,
        )
        + diffusion_cells(
            widths=(64, 128),
            steps=20,
            calibration_sizes=(200, 800),
            prediction_sizes=(300,),
            prediction_widths=(96,),
            generations=2,
            replicates=3,
        )
        + phase_cells(real=200, synthetic=(0, 2000), generation=3, replicates=8)
        + gaussian_mle_cells(size=50, generations=4, replicates=60)
    )


register_suite("tiny", tiny)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cells")
    cells, stats = run_suite(get_suite("tiny"), 0, cache, workers=1)
    return cells, stats, cache


def _numbers(document: dict) -> list:
    return [(cell["key"], cell["tv"], cell["checks"]) for cell in document["cells"]]


def _assert_same_numbers(first, second, rtol: float = 1e-12) -> None:
    """Equal structure and strings; floats equal to ``rtol`` relative (BLAS thread counts may reorder sums)."""
    if isinstance(first, dict):
        assert isinstance(second, dict) and first.keys() == second.keys()
        for key in first:
            _assert_same_numbers(first[key], second[key], rtol)
    elif isinstance(first, (list, tuple)):
        assert isinstance(second, (list, tuple)) and len(first) == len(second)
        for a, b in zip(first, second):
            _assert_same_numbers(a, b, rtol)
    elif isinstance(first, float) and not isinstance(first, bool):
        assert second == pytest.approx(first, rel=rtol, abs=1e-15, nan_ok=True)
    else:
        assert first == second


def test_results_do_not_depend_on_worker_count(tiny_run, tmp_path):
    cells, _, _ = tiny_run
    parallel, _ = run_suite(get_suite("tiny"), 0, tmp_path, workers=2)
    _assert_same_numbers(
        _numbers(assemble(cells, suite="tiny", seed=0)), _numbers(assemble(parallel, suite="tiny", seed=0))
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
    (family,) = document["calibration"].values()
    assert (
        family["C1"] >= 0
        and family["C1_interval"][0] <= family["C1"] <= family["C1_interval"][1]
        and document["phase"]["threshold"] > 0
    )
    # the calibration grid (2 sizes x 2 widths on skewed_1d) and the disjoint test set (bimodal_1d, width 96)
    assert {(c["truth"], c["size"], c["width"]) for c in family["cells"]} == {
        ("skewed_1d", n, m) for n in (200, 800) for m in (64, 128)
    }
    assert {(t["truth"], t["width"]) for t in family["tests"]} == {("bimodal_1d", 96)}
    steps = next(cell["diffusion_steps"] for cell in document["cells"] if cell.get("diffusion_steps"))
    assert len(steps["eps_measured"]) == 3 and all(0 < e < 1 for e in steps["eps_measured"])
    assert "## Theorem D: calibration, test set and per-step errors" in text and "Lemma R on measured ε" in text
    # Theorem G: every SDE diffusion loop cell is certified on every run, and the claims table says so per run
    certified = [cell for cell in document["cells"] if cell.get("certificate") is not None]
    assert certified and all(np.all(np.asarray(c["tv"]) <= np.asarray(c["certificate"])) for c in certified)
    assert "## Theorem G: every diffusion fit certified" in text and "Theorem D, certified" in text
    # the Gaussian MLE loop on a Gaussian truth: its laws per cell, the claims rows and the TV bound's checks
    laws = [cell["mle_law"] for cell in document["cells"] if cell.get("mle_law")]
    assert len(laws) == 3 and all(law["holds"] for law in laws) and "## The Gaussian MLE loop: exact laws" in text
    assert "| Gaussian refit collapses at rate (N−1)/N per generation | Shumailov et al. 2024, exact law |" in text
    assert (tmp_path / "mle_laws.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = sum(len(c["tv"]) for c in certified)
    assert (
        "| Diffusion: every fit's TV under its certificate (SDE sampler, d ≤ 2) | paper's claim, certified per fit (rigorous) "
        f"| Theorem G (per run) | {runs} runs | 0 / {runs} /" in text
    )
    checks = [check for cell in document["cells"] for check in cell["checks"]]
    assert {check["bound"] for check in checks} == {
        "kde_theorem_k_step",
        "kde_second_moment",
        "kde_jensen_lower",
        "diffusion_theorem_d",
        "mle_tv",
    }
    assert all("detectable_ratio" in check["verdict"] and "underpowered" in check["verdict"] for check in checks)
    reused = [
        check
        for cell in document["cells"]
        if cell["spec"]["scenario"]["kind"] == "mixed_reused"
        for check in cell["checks"]
    ]
    assert reused and all(check["outside_theory"] for check in reused)


def test_check_passes_an_unchanged_rerun_exactly(tiny_run, tmp_path):
    """Same suite, same seeds: every number reproduces, so the exact comparison passes with no change at all."""
    cells, _, _ = tiny_run
    rerun, _ = run_suite(get_suite("tiny"), 0, tmp_path, workers=1)
    result = compare(assemble(rerun, suite="tiny", seed=0), assemble(cells, suite="tiny", seed=0))
    assert result.passed, result.markdown()


def _kde_bandwidth_three_percent_wider(monkeypatch):
    from selfloop.simulators import kde

    real_fit = kde.KDE.fit
    monkeypatch.setattr(
        kde.KDE,
        "fit",
        lambda self, data, rng=None: kde.FittedKDE(real_fit(self, data).data, real_fit(self, data).bandwidth * 1.03),
    )
    return lambda spec: spec["model"]["name"] == "kde"


def _draws_synthetic_points(spec) -> bool:
    scenario = spec["scenario"]
    return scenario["kind"] != "growing_synthetic" or scenario["synthetic"] > 0


def _kde_sampler_noise_widened(monkeypatch):
    from selfloop.simulators import kde

    def sample(self, n, rng):
        picks = rng.integers(0, self.data.shape[0], size=n)
        return self.data[picks] + 1.1 * self.bandwidth * rng.standard_normal((n, self.dim))

    monkeypatch.setattr(kde.FittedKDE, "sample", sample)
    return lambda spec: spec["model"]["name"] == "kde" and _draws_synthetic_points(spec)  # m = 0 never samples


def _diffusion_stops_twice_as_early(monkeypatch):
    from selfloop.simulators import diffusion

    real_call = diffusion.EarlyStopping.__call__
    monkeypatch.setattr(
        diffusion.EarlyStopping,
        "__call__",
        lambda self, size, width, mean_eigenvalue: real_call(self, size, width, mean_eigenvalue) / 2,
    )
    return lambda spec: spec["model"]["name"] == "diffusion"


@pytest.mark.parametrize(
    "perturb", [_kde_bandwidth_three_percent_wider, _kde_sampler_noise_widened, _diffusion_stops_twice_as_early]
)
def test_check_fails_on_a_real_simulator_change_and_names_the_moved_cells(tiny_run, monkeypatch, tmp_path, perturb):
    """Three real regressions (a 3% wider KDE bandwidth, KDE sampler noise 1.1 h, diffusion early stopping at scale 5
    instead of 10): each fails the exact check, the diff names exactly the cells of the changed model, and the
    rigorous bounds, which do not depend on the simulator, are reported unchanged."""
    cells, _, _ = tiny_run
    baseline = assemble(cells, suite="tiny", seed=0)
    affected = perturb(monkeypatch)
    perturbed, _ = run_suite(get_suite("tiny"), 0, tmp_path, workers=1)
    result = compare(assemble(perturbed, suite="tiny", seed=0), baseline)
    assert not result.passed
    moved = {label for label, what, _ in result.changes if what == "per-replicate TV changed"}
    expected = {cell["label"] for cell in baseline["cells"] if affected(cell["spec"])}
    assert moved == expected, moved ^ expected
    assert not [
        change for change in result.changes if change[1] in ("Theorem K bound changed", "second-moment bound changed")
    ]
    assert "per-replicate TV changed" in result.markdown()


def test_statistical_mode_tolerates_other_seeds_and_catches_a_large_change(tiny_run, tmp_path, monkeypatch):
    """--statistical: a rerun with another seed passes; a 30% wider KDE bandwidth still fails on the mean TV."""
    cells, _, _ = tiny_run
    baseline = assemble(cells, suite="tiny", seed=0)
    other_seed, _ = run_suite(get_suite("tiny"), 1, tmp_path / "seed1", workers=1)
    assert compare(assemble(other_seed, suite="tiny", seed=1), baseline, statistical=True).passed
    from selfloop.simulators import kde

    real_fit = kde.KDE.fit
    monkeypatch.setattr(
        kde.KDE,
        "fit",
        lambda self, data, rng=None: kde.FittedKDE(real_fit(self, data).data, real_fit(self, data).bandwidth * 1.3),
    )
    perturbed, _ = run_suite(get_suite("tiny"), 1, tmp_path / "wide", workers=1)
    result = compare(assemble(perturbed, suite="tiny", seed=1), baseline, statistical=True)
    assert any(what == "mean TV moved" for _, what, _ in result.changes)


def test_check_reports_a_changed_bound_and_a_new_refutation(tiny_run):
    cells, _, _ = tiny_run
    baseline = assemble(cells, suite="tiny", seed=0)
    current = json.loads(json.dumps(baseline))
    cell = next(c for c in current["cells"] if c["checks"])
    check = next(c for c in cell["checks"] if c["theorem"] == "second_moment" and c["side"] == "upper")
    check["values"][1] *= 1 + 1e-6
    check["verdict"]["refuted"] = True
    whats = {what for _, what, _ in compare(current, baseline).changes}
    assert {"second-moment bound changed", "second-moment newly refuted"} <= whats


def test_cli_report_from_results_and_check(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--suite", "tiny", "--out", str(out), "--workers", "1"]) == 0
    assert (out / "tightness.md").exists() and (out / "results.json").exists()
    rebuilt = tmp_path / "rebuilt"
    assert main(["report", "--from", str(out / "results.json"), "--out", str(rebuilt)]) == 0
    assert (rebuilt / "tightness.md").read_text() == (out / "tightness.md").read_text()
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "--suite", "tiny", "--out", str(baseline), "--workers", "1"]) == 0
    assert main(["baseline", "--suite", "tiny", "--out", str(baseline)]) == 2  # never overwritten without --force
    assert "--force" in capsys.readouterr().err
    assert main(["check", "--baseline", str(baseline), "--workers", "1"]) == 0
    assert "every cell matches" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["report", "--suite", "nope"], "unknown suite"),
        (["report", "--out", "/proc/forbidden/out"], "cannot create output directory"),
        (["report", "--workers", "0", "--out", "{tmp}/w"], "--workers"),
        (["check", "--baseline", "{tmp}/missing.json"], "does not exist"),
        (["check", "--baseline", "{tmp}/corrupt.json"], "not valid JSON"),
        (["check", "--baseline", "{tmp}/wrong.json"], "not a scloop results file"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_cli_input_gets_one_line_and_exit_2(arguments, message, tmp_path, capsys):
    (tmp_path / "corrupt.json").write_text("{not json")
    (tmp_path / "wrong.json").write_text(json.dumps([1, 2, 3]))
    assert main([argument.replace("{tmp}", str(tmp_path)) for argument in arguments]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_committed_quick_baseline_is_well_formed():
    from pathlib import Path

    baseline = json.loads((Path(__file__).parent.parent / "reports" / "baselines" / "quick.json").read_text())
    assert baseline["suite"] == "quick" and len(baseline["cells"]) == len(get_suite("quick"))
    assert baseline["format"] == 2
    assert not any(
        check["verdict"]["refuted"]
        for cell in baseline["cells"]
        for check in cell["checks"]
        if not check["outside_theory"]
    )
    assert np.isfinite([v for cell in baseline["cells"] for v in np.ravel(cell["tv"])]).all()


@pytest.mark.parametrize("name", ["quick", "standard", "full"])
def test_every_suite_cell_builds(name):
    """Every cell of every suite names a valid model, truth and scenario (the full suite is too long to run here)."""
    from selfloop.reports.sweep import build_model, build_scenario
    from selfloop.simulators import standard_truth

    cells = get_suite(name)
    assert len({json.dumps(cell, sort_keys=True) for cell in cells}) == len(cells)
    for cell in cells:
        build_model(cell["model"]), build_scenario(cell["scenario"]), standard_truth(cell["truth"])
        assert cell["kind"] in CELL_KINDS and cell["replicates"] >= 2


def test_report_cli_does_not_need_the_test_extra():
    """`pip install -e .` (no Hypothesis, no pytest) must be enough for `scloop report`."""
    import subprocess
    import sys

    code = "import sys; sys.modules['hypothesis'] = None; sys.modules['pytest'] = None; import selfloop.reports.cli, selfloop.reports.assemble"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_ctrl_c_stops_a_parallel_report_within_seconds_and_keeps_finished_cells(tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) during a 2-worker quick report: the CLI exits
    with 130 and a one-line message within 5 s, no worker survives, and every cell finished before is in the cache."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "selfloop.reports", "report", "--suite", "quick", "--out", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ, MPLBACKEND="Agg"),
        # as from a terminal: a run started in the background (`cmd &` in a script) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    cache = out / ".cells"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(cache.glob("*/*.json"))) < 2:
        time.sleep(0.1)
    finished = {path.name for path in cache.glob("*/*.json")}
    assert len(finished) >= 2 and process.poll() is None
    os.killpg(process.pid, signal.SIGINT)
    start = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    stopped = time.monotonic() - start
    print(f"stopped {stopped:.2f} s after Ctrl-C with {len(finished)} cells finished")
    assert process.returncode == 130 and stopped < 5.0, (process.returncode, stopped, stderr[-2000:])
    assert "interrupted" in stderr.strip().splitlines()[-1]
    assert finished <= {path.name for path in cache.glob("*/*.json")}
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # the whole group, workers included, is gone


def test_cli_usage_from_folder_and_no_stale_figures(tiny_run, tmp_path, capsys):
    """A bare `scloop` prints usage (exit 2); --from takes the folder; a second report leaves no figure of the first."""
    assert main([]) == 2
    assert "report" in capsys.readouterr().err
    out = tmp_path / "report"
    assert main(["report", "--suite", "tiny", "--out", str(out), "--workers", "1"]) == 0
    stale = out / "tv_old_kde_gone.png"
    stale.write_bytes(b"\x89PNG")
    again = tmp_path / "again"
    assert main(["report", "--from", str(out), "--out", str(again)]) == 0
    assert main(["report", "--from", str(out), "--out", str(out)]) == 0
    assert not stale.exists()
    text = (out / "tightness.md").read_text()
    assert text.index("## Claims and verdicts") < text.index("## Headline") < text.index("## Appendix: the bounds")


def test_dask_local_cluster_reproduces_the_process_pool_baseline_exactly(tmp_path, capsys):
    """The quick suite on a 2-process Dask LocalCluster matches the committed baseline (a process-pool run) exactly."""
    pytest.importorskip("distributed")
    baseline = Path(__file__).parent.parent / "reports" / "baselines" / "quick.json"
    assert main(["check", "--baseline", str(baseline), "--dask", "local", "--workers", "2"]) == 0, (
        capsys.readouterr().out
    )


def test_the_cache_is_keyed_by_seed_and_code(tiny_run, tmp_path, monkeypatch):
    """Another seed, or a change to the code that computes cells, never reuses cached numbers."""
    cells = get_suite("tiny")[:2]
    _, first = run_suite(cells, 0, tmp_path, workers=1)
    _, again = run_suite(cells, 0, tmp_path, workers=1)
    _, other_seed = run_suite(cells, 5, tmp_path, workers=1)
    assert (first.computed, again.skipped, other_seed.computed) == (2, 2, 2)
    monkeypatch.setattr(selfloop.reports.sweep, "code_fingerprint", lambda: "changed-code")
    _, changed = run_suite(cells, 0, tmp_path, workers=1)
    assert changed.computed == 2 and changed.skipped == 0


def test_the_code_fingerprint_follows_the_simulator_source(tmp_path, monkeypatch):
    """Editing a simulator source file changes the fingerprint that keys the cache (on a copy of the sources)."""
    import shutil

    copies = {}
    for name, folder in selfloop.reports.sweep._package_folders().items():
        copies[name] = tmp_path / name
        shutil.copytree(folder, copies[name], ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(selfloop.reports.sweep, "_package_folders", lambda: copies)
    selfloop.reports.sweep.code_fingerprint.cache_clear()
    try:
        before = selfloop.reports.sweep.code_fingerprint()
        loop = copies["selfloop.simulators"] / "loop.py"
        loop.write_text(loop.read_text() + "\n# a change\n")
        selfloop.reports.sweep.code_fingerprint.cache_clear()
        assert selfloop.reports.sweep.code_fingerprint() != before
    finally:
        monkeypatch.undo()
        selfloop.reports.sweep.code_fingerprint.cache_clear()


def test_an_installed_plugin_package_extends_the_cli_and_its_workers(tmp_path):
    """pip-install tests/plugin_package (its own pyproject, entry point group scloop.plugins) into a folder, then run
    ``scloop report --suite demo`` with 2 workers: the plugin's suite is accepted, its model's cells are computed in the
    worker processes and checked against its bound by its check, and the bound is in the report's formula appendix,
    with no edit to selfloop's files."""
    import shutil

    target, source = tmp_path / "site", tmp_path / "plugin_package"
    shutil.copytree(Path(__file__).parent / "plugin_package", source)  # the build leaves files beside the sources
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    assert (target / "selfloop_demo_plugin.py").exists() and list(target.glob("*.dist-info/entry_points.txt"))
    environment = dict(os.environ, PYTHONPATH=str(target), MPLBACKEND="Agg")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "selfloop.reports", "report", "--suite", "demo", "--out", str(out), "--workers", "2"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    document = json.loads((out / "results.json").read_text())
    assert len(document["cells"]) == 5 and all(
        cell["spec"]["model"]["name"] == "scaled_kde" for cell in document["cells"]
    )
    # every cell is checked against the plugin's bound, adequately powered, and the bound holds
    checks = [check for cell in document["cells"] for check in cell["checks"]]
    assert [check["label"] for check in checks] == ["demo bound"] * 5
    assert not any(check["verdict"]["refuted"] or check["verdict"]["underpowered"] for check in checks)
    report = (out / "tightness.md").read_text()
    assert "demo_linear_growth" in report and "**demo bound** (rigorous): 5 cells checked, **0 refuted**" in report
    # without the package on the path the suite does not exist: the plugin, not a leftover registration, supplied it
    bare = subprocess.run(
        [sys.executable, "-m", "selfloop.reports", "report", "--suite", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bare.returncode == 2 and "unknown suite 'demo'" in bare.stderr


def test_importing_the_reports_package_leaves_the_matplotlib_backend_alone():
    code = "import sys, selfloop.reports; assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_a_toml_suite_file_runs_like_a_registered_suite(tmp_path, capsys):
    suite = tmp_path / "mine.toml"
    suite.write_text(
        '[[loop]]\nmodels = [{ name = "kde", bandwidth = 0.3 }]\ntruths = ["bimodal_1d"]\nsizes = [200]\n'
        "real_fractions = [0.5]\ngenerations = 2\nreplicates = 8\n"
        '\n[[cell]]\nkind = "loop"\nmodel = { name = "mle" }\ntruth = "bimodal_1d"\n'
        'scenario = { kind = "fully_synthetic", size = 50 }\ngenerations = 3\nreplicates = 4\n'
    )
    assert main(["report", "--suite", str(suite), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["suite"] == str(suite) and len(document["cells"]) == 6
    assert (
        sum(1 for cell in document["cells"] if cell["checks"]) == 5
    )  # the KDE cells are checked, the MLE cell has no bound
    bad_cell = tmp_path / "bad_cell.toml"
    bad_cell.write_text(
        '[[cell]]\nkind = "loop"\nmodel = { name = "mle" }\ntruth = "bimodal_9d"\n'
        'scenario = { kind = "fully_synthetic", size = 50 }\ngenerations = 3\nreplicates = 4\n'
    )
    assert main(["report", "--suite", str(bad_cell), "--out", str(tmp_path / "out3")]) == 2
    assert "truth must be one of" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[[loop]]\nmodels = []\ncolour = 3\n")
    assert main(["report", "--suite", str(broken), "--out", str(tmp_path / "out2")]) == 2
    assert "unexpected keyword argument 'colour'" in capsys.readouterr().err


def test_a_users_property_test_elsewhere_gets_the_fixture_and_the_summary(tmp_path):
    """The pytest11 plugin in a test run outside this repository: the check_property fixture and the property
    marker work, and the bound verification summary lists the user's property."""
    import shutil

    user_test = tmp_path / "test_mine.py"
    shutil.copy(Path(__file__).parent / "plugin_package" / "demo_property_check.py", user_test)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-m",
            "property",
            str(user_test),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        "bound verification summary" in run.stdout
        and "my Theorem K setting: 1 examples, correct bound refuted in 0" in run.stdout
    )


def test_every_registry_refuses_a_taken_name_unless_replace_is_passed():
    """A plugin that shadows a built-in model, suite, check or bound must say so (replace=True); a silent swap changes every report."""
    import dataclasses

    from selfloop.bounds import BOUNDS, Bound, get_bound
    from selfloop.bounds import register as register_bound
    from selfloop.reports import CHECKS, MODELS, SUITES, Theorem, register_check, register_model, register_theorem

    with MODELS.scoped(), SUITES.scoped(), CHECKS.scoped(), BOUNDS.scoped():
        with pytest.raises(ValueError, match="'kde' is already a registered model"):
            register_model("kde", lambda spec: None)
        with pytest.raises(ValueError, match="'quick' is already a registered suite"):
            register_suite("quick", lambda: [])
        with pytest.raises(ValueError, match="'theorem_k' is already a registered theorem"):
            register_theorem(dataclasses.replace(CHECKS.get("second_moment"), id="theorem_k"))
        with pytest.raises(ValueError, match="differs from the theorem's id"):
            register_check("theorem_k", CHECKS.get("second_moment"))
        with pytest.raises(ValueError, match="'kde_second_moment' is already a registered bound"):
            register_bound(
                Bound(
                    "kde_second_moment", 0, "a different bound under a taken name", get_bound("kde_jensen_lower").source
                )
            )
        replacement = lambda spec: None  # noqa: E731
        register_model("kde", replacement, replace=True)
        register_suite("quick", lambda: [], replace=True)
        assert MODELS.get("kde").factory is replacement and get_suite("quick") == []
        assert isinstance(CHECKS.get("second_moment"), Theorem)
    assert MODELS.get("kde").factory is not replacement and get_suite("quick")  # scoped: restored


def test_a_mean_above_the_bound_is_never_called_held():
    """Where the mean TV's point estimate exceeds the bound but the test cannot refute, the verdict says so (issue: the
    quick report said "held" where its calibrated bound was 5% below the mean)."""
    from selfloop.reports.text import counts as _counts
    from selfloop.reports.text import verdict_text as _verdict_text
    from selfloop.testing import check_bound

    tv = np.random.default_rng(0).uniform(0.08, 0.12, size=(6, 3))  # mean 0.1; 6 replicates cannot refute a 5% excess
    verdict = check_bound(tv, tv.mean(axis=0) / 1.05)
    assert not verdict.refuted and verdict.summary().startswith("above the bound, not significant")
    record = {
        "outside_theory": False,
        "side": "upper",
        "verdict": {
            "refuted": False,
            "p_value": verdict.p_value,
            "worst_generation": 0,
            "max_ratio": verdict.max_ratio,
            "tightness": verdict.tightness.tolist(),
            "detectable_ratio": 1.6,
            "underpowered": False,
        },
    }
    assert _verdict_text(record).startswith("above the bound, not significant (p")
    assert _counts([record]) == (0, 0, 1, 0)
    below = dict(
        record, verdict=dict(record["verdict"], max_ratio=0.9)
    )  # control: the same check, mean below the bound
    assert _verdict_text(below).startswith("holds") and _counts([below]) == (0, 1, 0, 0)
