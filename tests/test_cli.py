"""The scloop command line, plugins, Dask, the cache and the registries."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reporting import assert_same_numbers, numbers, tiny  # noqa: F401  (tiny: registers the suite)

import selfloop.reports.sweep
from selfloop.reports import fingerprint, get_suite, register_suite, run_suite
from selfloop.reports.cli import main


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


def test_report_cli_does_not_need_the_test_extra():
    """`pip install -e .` (no Hypothesis, no pytest) must be enough for `scloop report`."""
    import subprocess
    import sys

    code = "import sys; sys.modules['hypothesis'] = None; sys.modules['pytest'] = None; import selfloop.reports.cli, selfloop.reports.assemble"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_ctrl_c_stops_a_parallel_report_within_seconds_and_keeps_finished_cells(tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) during a 2-worker report (56 KDE loop cells from a
    suite file, the first done in a second or two): the CLI exits with 130 and a one-line message within 5 s, no
    worker survives, and every cell finished before is in the cache."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out, suite = tmp_path / "out", tmp_path / "kde.toml"
    suite.write_text(
        '[[loop]]\nmodels = [{ name = "kde", bandwidth = 0.3 }, { name = "kde", bandwidth = 0.15 }]\n'
        'truths = ["bimodal_1d", "skewed_1d"]\nsizes = [400, 1600]\nreal_fractions = [0.2, 0.5]\n'
        "generations = 6\nreplicates = 48\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "selfloop.reports",
            "report",
            "--suite",
            str(suite),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ, MPLBACKEND="Agg", SCLOOP_CACHE=str(tmp_path / "cache")),
        # as from a terminal: a run started in the background (`cmd &` in a script) inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    cache = tmp_path / "cache" / "cells"  # the persistent cache's cells
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


def test_dask_local_cluster_reproduces_the_process_pool_exactly(tmp_path):
    """Cells of every kind of the quick suite (its cheapest of each, at 4 replicates) on a 2-process Dask LocalCluster
    give the process pool's numbers exactly: the same cells, seeds and records. (CI's ``scloop check`` compares the
    whole suite, computed by the process pool, with the committed baseline.)"""
    pytest.importorskip("distributed")
    from selfloop.reports.sweep import estimated_cost

    cheapest: dict[tuple, dict] = {}
    for spec in sorted(get_suite("quick"), key=estimated_cost):
        cheapest.setdefault((spec["kind"], spec["model"]["name"]), dict(spec, replicates=min(spec["replicates"], 4)))
    cells = list(cheapest.values())
    assert len(cells) >= 6  # loop kde, loop mle, loop ols, calibration, loop diffusion, phase
    on_dask, _ = run_suite(cells, 0, tmp_path / "dask", workers=2, scheduler="local")
    on_pool, _ = run_suite(cells, 0, tmp_path / "pool", workers=2)

    def computed(result) -> dict:
        return {key: value for key, value in result.to_dict().items() if key != "seconds"}

    assert [computed(result) for result in on_dask] == [computed(result) for result in on_pool]


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
    for name, folder in fingerprint._package_folders().items():
        copies[name] = tmp_path / name
        shutil.copytree(folder, copies[name], ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "_package_folders", lambda: copies)
    fingerprint.code_fingerprint.cache_clear()
    try:
        before = fingerprint.code_fingerprint()
        loop = copies["selfloop.simulators"] / "loop.py"
        loop.write_text(loop.read_text() + "\n# a change\n")
        fingerprint.code_fingerprint.cache_clear()
        assert fingerprint.code_fingerprint() != before
    finally:
        monkeypatch.undo()
        fingerprint.code_fingerprint.cache_clear()


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
    records = [cell["claims"]["demo"] for cell in document["cells"]]
    assert [record["label"] for record in records] == ["demo bound"] * 5
    assert all(record["verdicts"]["upper"]["outcome"] == "held" for record in records)
    report = (out / "tightness.md").read_text()
    assert "demo_linear_growth" in report and "**demo bound** (rigorous): 5 cells checked, **0 refuted**" in report
    # the claims table gives the plugin's claim its row, counted like the built-in ones
    assert "| demo bound | demo plugin, Lemma 1 | demo bound | 5 | 0 / 5 / 0 / 0 |" in report
    # scloop check compares its records: the report's own results pass, and a moved value of the claim is named
    baseline = out / "results.json"
    check = [sys.executable, "-m", "selfloop.reports", "check", "--baseline", str(baseline), "--workers", "1"]
    assert subprocess.run(check, capture_output=True, text=True, env=environment, cwd=tmp_path).returncode == 0
    document["cells"][0]["claims"]["demo"]["values"]["upper"][1] += 0.01
    baseline.write_text(json.dumps(document))
    moved = subprocess.run(check, capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert moved.returncode == 1 and "demo bound bound changed" in moved.stdout
    # without the package on the path the suite does not exist: the plugin, not a leftover registration, supplied it
    bare = subprocess.run(
        [sys.executable, "-m", "selfloop.reports", "report", "--suite", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bare.returncode == 2 and "unknown suite 'demo'" in bare.stderr


def test_the_reports_package_loads_without_the_libraries_only_some_paths_use():
    """``import selfloop.reports`` (every ``scloop`` command, every test worker) leaves matplotlib, scipy.stats,
    scipy.signal and scipy.interpolate unloaded: each is imported where it is first used (a figure, the chi-square
    conformance test, a 2-D grid convolution, 2-D points off a grid). Control: drawing a figure loads matplotlib, and
    the check sees it; pyplot stays unloaded even then, so the user's matplotlib backend is left alone."""
    code = (
        "import sys, selfloop.reports\n"
        "heavy = ('matplotlib', 'scipy.stats', 'scipy.signal', 'scipy.interpolate')\n"
        "assert not [name for name in heavy if name in sys.modules], [name for name in heavy if name in sys.modules]\n"
        "from selfloop.reports.figures import new_figure\n"
        "new_figure(2, 2)\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


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
        sum(1 for cell in document["cells"] if cell["claims"]) == 5
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


@pytest.mark.parametrize("workers", [None, 2], ids=["serial", "xdist"])
def test_a_users_property_test_elsewhere_gets_the_fixture_and_the_summary(tmp_path, workers):
    """The pytest11 plugin in a test run outside this repository: the check_property fixture and the property
    marker work, and the bound verification summary lists the user's property, both examples of it; under
    pytest-xdist the two examples run in the workers and the controller's summary still counts both."""
    import shutil

    if workers:
        pytest.importorskip("xdist")
    user_test = tmp_path / "test_mine.py"
    shutil.copy(Path(__file__).parent / "plugin_package" / "demo_property_check.py", user_test)
    parallel = ["-n", str(workers)] if workers else []
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *parallel]
        + ["-m", "property", str(user_test)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        "bound verification summary" in run.stdout
        and "my Theorem K setting: 2 examples, correct bound refuted in 0" in run.stdout
        and "control 'third' within power 2/2, refuted 2/2" in run.stdout
    ), run.stdout


def test_every_registry_refuses_a_taken_name_unless_replace_is_passed():
    """A plugin that shadows a built-in model, suite, claim, truth or bound must say so (replace=True); a silent swap
    changes every report."""
    from selfloop.bounds import BOUNDS, Bound, get_bound
    from selfloop.bounds import register as register_bound
    from selfloop.reports import CLAIMS, MODELS, SUITES, Claim, register_claim, register_model
    from selfloop.simulators import STANDARD_TRUTHS, register_truth, standard_truth

    class Impostor(Claim):
        id, label = "theorem_k", "not Theorem K"

    with MODELS.scoped(), SUITES.scoped(), CLAIMS.scoped(), BOUNDS.scoped(), STANDARD_TRUTHS.scoped():
        with pytest.raises(ValueError, match="'kde' is already a registered model"):
            register_model("kde", lambda spec: None)
        with pytest.raises(ValueError, match="'quick' is already a registered suite"):
            register_suite("quick", list)
        with pytest.raises(ValueError, match="'theorem_k' is already a registered claim"):
            register_claim(Impostor())
        with pytest.raises(ValueError, match="'bimodal_1d' is already a registered truth"):
            register_truth("bimodal_1d", lambda: standard_truth("skewed_1d"))
        with pytest.raises(ValueError, match="claim must be an instance of a Claim subclass"):
            register_claim(object())
        with pytest.raises(ValueError, match="'kde_second_moment' is already a registered bound"):
            register_bound(
                Bound(
                    "kde_second_moment", 0, "a different bound under a taken name", get_bound("kde_jensen_lower").source
                )
            )
        replacement = lambda spec: None  # noqa: E731
        register_model("kde", replacement, replace=True)
        register_suite("quick", list, replace=True)
        assert MODELS.get("kde").factory is replacement and get_suite("quick") == []
        register_claim(Impostor(), replace=True)
        assert CLAIMS.get("theorem_k").label == "not Theorem K"
    assert CLAIMS.get("theorem_k").label == "Theorem K"
    assert MODELS.get("kde").factory is not replacement and get_suite("quick")  # scoped: restored


def test_a_mean_above_the_bound_is_never_called_held():
    """Where the mean TV's point estimate exceeds the bound but the test cannot refute, the verdict says so (issue: the
    quick report said "held" where its calibrated bound was 5% below the mean)."""
    from selfloop.reports.text import counts as _counts
    from selfloop.reports.text import verdict_text as _verdict_text
    from selfloop.reports.verdicts import bound_verdict
    from selfloop.testing import check_bound

    tv = np.random.default_rng(0).uniform(0.08, 0.12, size=(6, 3))  # mean 0.1; 6 replicates cannot refute a 5% excess
    verdict = check_bound(tv, tv.mean(axis=0) / 1.05)
    assert not verdict.refuted and verdict.summary().startswith("above the bound, not significant")
    record = {"outside_theory": False, "side": "upper", "verdict": bound_verdict(tv, tv.mean(axis=0) / 1.05)}
    assert record["verdict"]["outcome"] == "beyond"
    assert _verdict_text(record).startswith("above the bound, not significant (p")
    assert _counts([record]) == (0, 0, 1, 0, 0)
    # control: the same test with the mean below the bound is never "beyond"
    below = {"outside_theory": False, "side": "upper", "verdict": bound_verdict(tv, tv.mean(axis=0) / 0.9)}
    assert below["verdict"]["outcome"] != "beyond" and not _verdict_text(below).startswith("above the bound")
