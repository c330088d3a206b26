"""What the command line refuses before it starts: a suite file whose model cannot be built, named by file and cell
in one line; and what it says of itself (--version)."""

from __future__ import annotations

import pytest

from selfloop.reports.cli import main


@pytest.mark.parametrize(
    "model, message",
    [
        ('{ name = "kde", bandwidth = -0.3 }', "cell 2: bandwidth must be a finite positive number, got -0.3"),
        ('{ name = "kdee", bandwidth = 0.3 }', "cell 2: model name must be one of"),
        ('{ name = "kde" }', "cell 2: the model specification lacks 'bandwidth'"),
    ],
    ids=["negative bandwidth", "unknown model", "missing parameter"],
)
def test_a_bad_model_in_a_suite_file_is_named_before_any_cell_runs(tmp_path, capsys, monkeypatch, model, message):
    """The error names the file and the cell, in one line, and no cell has run (the sweep is never reached)."""
    import selfloop.reports.cli as cli

    def never(*args, **kwargs):
        raise AssertionError("a cell ran")

    monkeypatch.setattr(cli, "run_suite", never)
    suite = tmp_path / "bad.toml"
    cell = 'kind = "loop"\ntruth = "bimodal_1d"\nscenario = { kind = "fully_synthetic", size = 50 }\ngenerations = 2\n'
    suite.write_text(
        f'[[cell]]\nmodel = {{ name = "mle" }}\n{cell}replicates = 2\n\n[[cell]]\nmodel = {model}\n{cell}replicates = 2\n'
    )
    assert main(["report", "--suite", str(suite), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"scloop: error: suite file {suite}, {message}") and error.count("\n") == 1


def test_a_registered_suite_whose_model_cannot_be_built_is_named_before_any_cell_runs(tmp_path, capsys, monkeypatch):
    """A registered suite (a plugin's, or standard without its extra) gets the same one-line error as a suite file."""
    import selfloop.reports.cli as cli
    from selfloop.reports import SUITES, loop_cells, register_suite

    monkeypatch.setattr(cli, "run_suite", lambda *args, **kwargs: pytest.fail("a cell ran"))
    cells = loop_cells(models=[{"name": "kde", "bandwidth": -1.0}], truths=["bimodal_1d"], sizes=[100], replicates=2)
    register_suite("conformance_bad_suite", lambda: cells)
    try:
        assert main(["report", "--suite", "conformance_bad_suite", "--out", str(tmp_path / "out")]) == 2
    finally:
        SUITES.unregister("conformance_bad_suite")
    error = capsys.readouterr().err
    assert (
        error.startswith("scloop: error: suite conformance_bad_suite, cell 1: bandwidth must be")
        and error.count("\n") == 1
    )


def test_the_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("scloop (selfloop) ")


def test_the_old_command_name_warns_and_runs(capsys):
    from selfloop.reports.cli import renamed_main

    with pytest.raises(SystemExit) as exit_:
        renamed_main(["--version"])
    captured = capsys.readouterr()
    assert exit_.value.code == 0 and "now called scloop" in captured.err and captured.out.startswith("scloop")
