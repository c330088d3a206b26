"""scloop check: the CI regression against a committed baseline, exact and statistical."""

import json

import pytest
from reporting import assert_same_numbers, numbers, tiny  # noqa: F401  (tiny: registers the suite)

from selfloop.reports import assemble, compare, get_suite, run_suite
from selfloop.reports.assemble import upgrade


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


def _as_written_before_theorem_ids(document: dict) -> dict:
    """The document as the previous release wrote it: no theorem ids, no per-run verdicts, phase curves by label."""
    old = json.loads(json.dumps(document))
    for cell in old["cells"]:
        for record in cell["checks"]:
            del record["theorem"]
        del cell["certificate_held"], cell["lemma_r_held"]
    labels = {"theorem_k": "Theorem K", "second_moment": "second-moment"}
    old["phase"]["bounds"] = {labels[key]: curve for key, curve in old["phase"]["bounds"].items()}
    return old


def test_a_document_of_the_previous_release_is_compared_and_rendered(tiny_run, tmp_path):
    cells, _, _ = tiny_run
    current = assemble(cells, suite="tiny", seed=0)
    old = _as_written_before_theorem_ids(current)
    assert compare(current, old).passed and compare(old, current).passed
    assert upgrade(old) == current  # the upgrade restores every field, verdicts included
    # control: a moved bound in the old document is still found, under the theorem's label
    cell = next(c for c in old["cells"] if any(r["label"] == "Theorem K" for r in c["checks"]))
    next(r for r in cell["checks"] if r["label"] == "Theorem K")["values"][0] *= 1.01
    assert "Theorem K bound changed" in {what for _, what, _ in compare(current, old).changes}


def test_check_reports_a_certificate_newly_violated(tiny_run):
    cells, _, _ = tiny_run
    baseline = assemble(cells, suite="tiny", seed=0)
    current = json.loads(json.dumps(baseline))
    cell = next(c for c in current["cells"] if c.get("certificate_held"))
    assert all(all(run) for run in cell["certificate_held"])  # the baseline holds on every run
    cell["certificate_held"][0][-1] = False
    changes = compare(current, baseline).changes
    assert ("Theorem G newly violated" in {what for _, what, _ in changes}) and not compare(baseline, baseline).changes
