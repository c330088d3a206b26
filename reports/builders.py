"""Builders of cell specifications (:mod:`selfloop.reports.cells`): models x truths x scenarios x sizes x real
fractions x generations x replicates, one function per family of cells; the suites (:mod:`selfloop.reports.suites`)
are sums of them."""

from __future__ import annotations

from itertools import product

import numpy as np

from selfloop.simulators import STANDARD_TRUTHS

__all__ = [
    "categorical_cells",
    "diffusion_cells",
    "gaussian_mle_cells",
    "kde_spec",
    "loop_cell",
    "loop_cells",
    "mle_cells",
    "phase_amounts",
    "phase_cells",
    "rate_cells",
    "regression_cells",
    "sample_only_twins",
    "score_network_cells",
    "sequence_cells",
]


def loop_cell(model: dict, truth: str, scenario: dict, generations: int, replicates: int) -> dict:
    """One loop cell's specification."""
    return {
        "kind": "loop",
        "model": model,
        "truth": truth,
        "scenario": scenario,
        "generations": generations,
        "replicates": replicates,
    }


def kde_spec(bandwidth: float) -> dict:
    return {"name": "kde", "bandwidth": bandwidth}


def _scenarios(size: int, fractions: tuple[float, ...]) -> list[dict]:
    """Every scenario kind at one size: fully synthetic, mixed fresh/reused per fraction, growing, accumulate."""
    out = [{"kind": "fully_synthetic", "size": size}]
    for fraction in fractions:
        out.append({"kind": "mixed_fresh", "size": size, "real_fraction": fraction})
        out.append({"kind": "mixed_reused", "size": size, "real_fraction": fraction})
    out.append({"kind": "growing_synthetic", "real": size // 4, "synthetic": size - size // 4})
    out.append({"kind": "accumulate", "size": size, "added": size // 2})
    return out


def loop_cells(
    *,
    models: list[dict],
    truths: list[str],
    sizes: list[int],
    real_fractions=(0.5,),
    generations: int = 6,
    replicates: int = 32,
) -> list[dict]:
    """Loop cells for every model, truth and size, in every scenario kind (one mixed pair per real fraction).

    ``models`` are model specifications such as ``{"name": "kde", "bandwidth": 0.3}`` (see
    :func:`selfloop.reports.register_model`); ``truths`` are names of :func:`selfloop.simulators.standard_truth`.

    Examples
    --------
    >>> cells = loop_cells(models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[500])
    >>> sorted({cell["scenario"]["kind"] for cell in cells})
    ['accumulate', 'fully_synthetic', 'growing_synthetic', 'mixed_fresh', 'mixed_reused']
    """
    return [
        loop_cell(model, truth, scenario, generations, replicates)
        for model, truth, size in product(models, truths, sizes)
        for scenario in _scenarios(size, tuple(real_fractions))
    ]


def rate_cells(
    *, truths, sizes, widths, steps: int, replicates: int = 4, noise_draws: int = 8, parameterization: str = "li"
) -> list[dict]:
    """Li et al.'s rate on its own quantity: generation-0 fits over ``sizes`` x ``widths`` on each of ``truths``, whose
    integrated score errors :func:`selfloop.bounds.fit_rate` fits (with the calibration cells of the same family).

    Examples
    --------
    >>> cells = rate_cells(truths=["bimodal_1d"], sizes=(250, 1000), widths=(64, 128), steps=80)
    >>> len(cells), {cell["kind"] for cell in cells}
    (4, {'rate'})
    """
    model = {
        "name": "diffusion",
        "steps": steps,
        "noise_draws": noise_draws,
        "parameterization": parameterization,
        "sampler": "sde",
    }
    return [
        {
            "kind": "rate",
            "model": dict(model, width=width),
            "truth": truth,
            "scenario": {"kind": "fully_synthetic", "size": size},
            "generations": 0,
            "replicates": replicates,
        }
        for truth, width, size in product(truths, widths, sizes)
    ]


def diffusion_cells(
    *,
    widths,
    steps: int,
    calibration_sizes,
    prediction_sizes,
    prediction_widths=None,
    calibration_truth: str = "skewed_1d",
    truths=("bimodal_1d",),
    real_fractions=(),
    generations: int = 3,
    replicates: int = 16,
    calibration_replicates: int | None = None,
    noise_draws: int = 8,
    parameterization: str = "li",
    sampler: str = "sde",
    tv_samples: int | None = None,
) -> list[dict]:
    """Theorem D's cells for one model family (parameterization, sampler, steps, noise draws).

    Calibration: generation-0 runs on ``calibration_truth`` over the grid ``widths`` x
    ``calibration_sizes``, so both constants are identified (C1 by N, C2 by m). Test: loop cells on
    each of ``truths`` (which must differ from the calibration truth, so every test setting is
    disjoint from the calibration set) at ``prediction_sizes`` x ``prediction_widths`` (default
    ``widths``), fully synthetic and mixed fresh at each real fraction. ``tv_samples`` sets the Monte
    Carlo TV's draws where TV is not a quadrature (the ODE sampler, d > 2).

    Examples
    --------
    >>> cells = diffusion_cells(widths=(64, 128, 256), steps=40, calibration_sizes=(250, 1000, 4000), prediction_sizes=(600,))
    >>> sum(cell["kind"] == "calibration" for cell in cells), sorted({cell["truth"] for cell in cells})
    (9, ['bimodal_1d', 'skewed_1d'])
    """
    if calibration_truth in truths:
        raise ValueError(
            f"truths: the test truths {list(truths)} must differ from the calibration truth {calibration_truth!r}"
        )

    def model(width: int) -> dict:
        spec = {
            "name": "diffusion",
            "width": width,
            "steps": steps,
            "noise_draws": noise_draws,
            "parameterization": parameterization,
            "sampler": sampler,
        }
        if tv_samples is not None:
            spec["tv_samples"] = tv_samples
        return spec

    cells = [
        {
            "kind": "calibration",
            "model": model(width),
            "truth": calibration_truth,
            "scenario": {"kind": "fully_synthetic", "size": size},
            "generations": 0,
            "replicates": calibration_replicates or replicates,
        }
        for width, size in product(widths, calibration_sizes)
    ]
    for truth, width, size in product(truths, prediction_widths or widths, prediction_sizes):
        scenarios = [{"kind": "fully_synthetic", "size": size}] + [
            {"kind": "mixed_fresh", "size": size, "real_fraction": fraction} for fraction in real_fractions
        ]
        cells += [loop_cell(model(width), truth, scenario, generations, replicates) for scenario in scenarios]
    return cells


def phase_amounts(real: int, generation: int, points: int, span: float = 20.0) -> tuple[int, ...]:
    """m = 0 and ``points`` log-spaced amounts from m*/span to span m* (Theorem P's threshold at the 1-D KDE rate)."""
    from selfloop.bounds import kde_rate, phase_threshold

    threshold = phase_threshold(alpha=kde_rate(1), n=real, generation=generation)  # the phase cells' truth is 1-D
    return (0,) + tuple(int(m) for m in np.round(np.geomspace(threshold / span, span * threshold, points)))


def phase_cells(*, real: int, synthetic, generation: int, replicates: int, power_rule: float = 0.9) -> list[dict]:
    """Growing-synthetic KDE cells over the synthetic amounts ``synthetic`` (Theorem P), bandwidth ``power_rule`` N^(-1/5)."""
    return [
        {
            "kind": "phase",
            "model": {"name": "kde", "power_rule": power_rule},
            "truth": "bimodal_1d",
            "scenario": {"kind": "growing_synthetic", "real": real, "synthetic": m},
            "generations": generation,
            "replicates": replicates,
        }
        for m in synthetic
    ]


def mle_cells(*, size: int, generations: int, replicates: int) -> list[dict]:
    """Gaussian MLE cells (fully synthetic and mixed at 1/2): the classic collapse toy, without a bound."""
    return [
        {
            "kind": "loop",
            "model": {"name": "mle"},
            "truth": "bimodal_1d",
            "scenario": scenario,
            "generations": generations,
            "replicates": replicates,
        }
        for scenario in (
            {"kind": "fully_synthetic", "size": size},
            {"kind": "mixed_fresh", "size": size, "real_fraction": 0.5},
        )
    ]


def gaussian_mle_cells(*, truths=("gaussian_1d",), size: int, generations: int, replicates: int) -> list[dict]:
    """Gaussian MLE cells on Gaussian truths, where the exact laws and the TV bound apply: fully synthetic, mixed at 1/2
    and, in 1-D, accumulating synthetic data (docs/theory.md, section 9). TV is exact in every dimension
    (:func:`selfloop.simulators.gaussian_tv`).

    Examples
    --------
    >>> [cell["scenario"]["kind"] for cell in gaussian_mle_cells(size=50, generations=10, replicates=100)]
    ['fully_synthetic', 'mixed_fresh', 'accumulate']
    """
    cells = []
    for truth in truths:
        scenarios = [
            {"kind": "fully_synthetic", "size": size},
            {"kind": "mixed_fresh", "size": size, "real_fraction": 0.5},
        ]
        if STANDARD_TRUTHS[truth]().dim == 1:
            scenarios.append({"kind": "accumulate", "size": size, "added": size})
        cells += [loop_cell({"name": "mle"}, truth, scenario, generations, replicates) for scenario in scenarios]
    return cells


def score_network_cells(
    *,
    truths,
    size: int,
    hidden=(64, 64),
    epochs: int = 60,
    noise_draws: int = 4,
    steps: int,
    real_fraction: float = 0.5,
    generations: int = 2,
    replicates: int = 6,
) -> list[dict]:
    """Loop cells of your own score network's worked example (``score_mlp``: :class:`selfloop.simulators.ScoreDiffusion`
    with :class:`selfloop.simulators.diffusion.DenoisingMLP`), mixed fresh at ``real_fraction`` on each of ``truths``:
    every fit certified by Theorem G, and in 1-D Lemma R on the certified one-step errors too.

    Examples
    --------
    >>> [cell["model"]["name"] for cell in score_network_cells(truths=["bimodal_1d"], size=500, steps=60)]
    ['score_mlp']
    """
    model = {"name": "score_mlp", "hidden": list(hidden), "epochs": epochs, "noise_draws": noise_draws, "steps": steps}
    scenario = {"kind": "mixed_fresh", "size": size, "real_fraction": real_fraction}
    return [loop_cell(dict(model), truth, dict(scenario), generations, replicates) for truth in truths]


def regression_cells(*, truth: str = "regression_5d", size: int, generations: int, replicates: int) -> list[dict]:
    """The linear-regression loop (model ``ols``, noise 1): replace (fully synthetic, T = ``size`` fresh covariates a
    generation) and accumulate (T new pairs a generation onto the first T real ones); TV exact in d + 1.

    Examples
    --------
    >>> [cell["scenario"]["kind"] for cell in regression_cells(size=50, generations=10, replicates=200)]
    ['fully_synthetic', 'accumulate']
    """
    model = {"name": "ols", "noise": 1.0}
    scenarios = [{"kind": "fully_synthetic", "size": size}, {"kind": "accumulate", "size": size, "added": size}]
    return [loop_cell(dict(model), truth, scenario, generations, replicates) for scenario in scenarios]


def sample_only_twins(cells: list[dict]) -> list[dict]:
    """The same cells with their models known only by their samples (``"sample_only": true``): the same fits, the
    claims decided on the TV witness, so a report shows beside each cell what a sample-only evaluation can see.

    Examples
    --------
    >>> [cell["model"] for cell in sample_only_twins([{"kind": "loop", "model": {"name": "kde", "bandwidth": 0.3}}])]
    [{'name': 'kde', 'bandwidth': 0.3, 'sample_only': True}]
    """
    return [{**cell, "model": {**cell["model"], "sample_only": True}} for cell in cells]


def _every_scenario(size: int, real_fraction: float) -> list[dict]:
    """One scenario of each kind at one size: fully synthetic, mixed fresh and reused, growing, accumulating."""
    return [
        {"kind": "fully_synthetic", "size": size},
        {"kind": "mixed_fresh", "size": size, "real_fraction": real_fraction},
        {"kind": "mixed_reused", "size": size, "real_fraction": real_fraction},
        {"kind": "growing_synthetic", "real": size // 4, "synthetic": size - size // 4},
        {"kind": "accumulate", "size": size, "added": size // 2},
    ]


def _discrete_cells(
    name: str, truth: str, sizes, kinds, real_fraction, smoothing, generations, replicates
) -> list[dict]:
    """Loop cells of the discrete model ``name`` (K from the truth, add-``smoothing``) at each size, in ``kinds``."""
    symbols = getattr(STANDARD_TRUTHS[truth](), "symbols", None)
    if not isinstance(symbols, int):
        raise ValueError(f"truth: {truth!r} is not a law on symbols, so the {name} model cannot fit it")
    model = {"name": name, "symbols": symbols, "smoothing": smoothing}
    return [
        loop_cell(dict(model), truth, scenario, generations, replicates)
        for size in sizes
        for scenario in _every_scenario(size, real_fraction)
        if scenario["kind"] in kinds
    ]


def categorical_cells(
    *,
    truth: str,
    sizes,
    kinds=("fully_synthetic", "mixed_fresh", "mixed_reused", "growing_synthetic", "accumulate"),
    real_fraction: float = 0.5,
    smoothing: float = 0.0,
    generations: int,
    replicates: int,
) -> list[dict]:
    """The categorical MLE loop (model ``categorical_mle``, add-``smoothing``) on a categorical truth at each size, in
    the scenario ``kinds`` (each at one size: mixed at ``real_fraction``, growing from a quarter of it, accumulating half
    of it a generation).

    Examples
    --------
    >>> [cell["scenario"]["kind"] for cell in categorical_cells(truth="die", sizes=[20], kinds=("accumulate",), generations=5, replicates=10)]
    ['accumulate']
    """
    return _discrete_cells("categorical_mle", truth, sizes, kinds, real_fraction, smoothing, generations, replicates)


def sequence_cells(
    *,
    truth: str,
    sizes,
    kinds=("fully_synthetic", "mixed_fresh"),
    real_fraction: float = 0.5,
    smoothing: float = 0.0,
    generations: int,
    replicates: int,
) -> list[dict]:
    """The next-token loop: a bigram fit (model ``bigram_mle``) of a Markov-chain truth's sequences, each size a number
    of sequences, in the scenario ``kinds`` (as :func:`categorical_cells`)."""
    return _discrete_cells("bigram_mle", truth, sizes, kinds, real_fraction, smoothing, generations, replicates)
