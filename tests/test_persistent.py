"""The persistent cache of seed-independent values: computed once, reused across processes, recomputed when damaged,
off when asked, and never shared across code versions."""

import os
import subprocess
import sys

import numpy as np

from selfloop.simulators import persistent


def test_a_value_is_computed_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLOOP_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return np.arange(3.0)

    first = persistent.cached("demo", (1, "a"), compute, version="1")
    second = persistent.cached("demo", (1, "a"), compute, version="1")
    assert np.array_equal(first, second) and len(calls) == 1
    # another key, another code version: computed again
    persistent.cached("demo", (2, "a"), compute, version="1")
    persistent.cached("demo", (1, "a"), compute, version="2")
    assert len(calls) == 3


def test_a_damaged_entry_is_recomputed_and_off_computes_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("SCLOOP_CACHE", str(tmp_path))
    persistent.cached("demo", "k", lambda: 1.0, version="1")
    (entry,) = (tmp_path / "demo").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert persistent.cached("demo", "k", lambda: 2.0, version="1") == 2.0
    assert persistent.cached("demo", "k", lambda: 3.0, version="1") == 2.0  # rewritten, then read
    monkeypatch.setenv("SCLOOP_CACHE", "off")
    assert persistent.cache_folder() is None and persistent.cached("demo", "k", lambda: 4.0, version="1") == 4.0


def test_another_process_reads_what_one_wrote(tmp_path):
    code = (
        "from selfloop.simulators import persistent; "
        "print(persistent.cached('demo', 'shared', lambda: {sys_value}, version='1'))"
    )
    environment = dict(os.environ, SCLOOP_CACHE=str(tmp_path))
    for value, expected in ((5, "5"), (6, "5")):
        run = subprocess.run(
            [sys.executable, "-c", code.format(sys_value=value)], capture_output=True, text=True, env=environment
        )
        assert run.stdout.strip() == expected, run.stderr


def test_the_chain_reference_grid_comes_back_identical_from_the_cache(tmp_path, monkeypatch):
    """A cached Theorem G reference grid is the same array as the searched one (the certificate does not move)."""
    from selfloop.bounds import chain
    from selfloop.simulators import standard_truth

    monkeypatch.setenv("SCLOOP_CACHE", str(tmp_path))
    truth, times = standard_truth("bimodal_1d"), np.geomspace(10.0, 1e-3, 21)
    searched = chain.reference_times(truth, times, 2.0)
    chain._REFERENCE_TIMES.clear()  # the memory copy gone: from the disk
    assert list((tmp_path / "chain.reference_times").glob("*.pickle"))
    assert np.array_equal(chain.reference_times(truth, times, 2.0), searched)


def test_a_rerun_reads_its_cells_from_the_cache_and_no_cache_computes_them(tmp_path, monkeypatch, capsys):
    """scloop report twice: the second run computes nothing; with --no-cache it computes every cell, writes nothing
    to the cache, and leaves the setting as it was."""
    from selfloop.reports import SUITES, loop_cells, register_suite
    from selfloop.reports.cli import main

    monkeypatch.setenv("SCLOOP_CACHE", str(tmp_path / "cache"))
    cells = loop_cells(models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[200], generations=2)
    with SUITES.scoped():
        register_suite("one", lambda: cells[:2])
        for flags, computed in (([], 2), ([], 0), (["--no-cache"], 2)):
            out = tmp_path / f"out{len(flags)}{computed}"
            assert main(["report", "--suite", "one", "--out", str(out), "--workers", "1", *flags]) == 0
            assert f"suite one: {computed} cells computed" in capsys.readouterr().err
    assert len(list((tmp_path / "cache" / "cells").glob("*/*.json"))) == 2
    assert os.environ["SCLOOP_CACHE"] == str(tmp_path / "cache")


def test_a_plugins_version_and_source_are_part_of_the_code_fingerprint(tmp_path, monkeypatch):
    """A plugin's module (found through its entry point) joins the fingerprint that keys the cell cache: editing it, or
    a new version of its distribution, is new code; this package's own entry points are already counted."""
    from importlib import metadata

    from selfloop.reports import fingerprint

    (tmp_path / "my_plugin.py").write_text("def register():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Distribution:
        name, version = "my-plugin", "1.0"

    def entry_points(group):
        if group != "scloop.plugins":
            return []
        own = metadata.EntryPoint("certificate", "selfloop.bounds.certification:Certification", group)
        return [own, type("Point", (), {"module": "my_plugin", "dist": Distribution})()]

    monkeypatch.setattr(fingerprint.metadata, "entry_points", entry_points)
    fingerprint.code_fingerprint.cache_clear()
    try:
        sources = fingerprint.plugin_sources()
        assert [name for name, _ in sources] == ["my-plugin==1.0:my_plugin"]
        before = fingerprint.code_fingerprint()
        (tmp_path / "my_plugin.py").write_text("def register():\n    return None\n")
        fingerprint.code_fingerprint.cache_clear()
        edited = fingerprint.code_fingerprint()
        Distribution.version = "1.1"
        fingerprint.code_fingerprint.cache_clear()
        assert len({before, edited, fingerprint.code_fingerprint()}) == 3
    finally:
        fingerprint.code_fingerprint.cache_clear()
