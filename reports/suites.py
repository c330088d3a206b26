"""Declarative sweep suites: named lists of cell specifications (:mod:`selfloop.reports.cells`).

Built in, each containing the one before: ``quick`` (the CI suite and the README's main job), ``standard`` (the report
of record: every claim, in 1-D, with the Gaussian MLE in 3-D and the regression loop in 6-D, in about a minute on 2
cores), ``extended`` (standard plus the 2-D diffusion row, the preconditioned network side by side and your own MLP
score network) and ``full`` (extended's rows at larger sizes, hours on a many-core machine); and ``diffusion_10d``.
Users add a suite with :func:`register_suite`, or write one as a TOML file (:func:`load_suite_file`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selfloop.simulators import Registry

from .builders import (
    categorical_cells,
    diffusion_cells,
    gaussian_mle_cells,
    kde_spec,
    loop_cell,
    loop_cells,
    mle_cells,
    phase_amounts,
    phase_cells,
    rate_cells,
    regression_cells,
    sample_only_twins,
    score_network_cells,
    sequence_cells,
)
from .cells import CellSpec
from .models import build_model
from .peer_experiments import peers
from .second_round import curated_cells, risk_ratio_cells, weighted_cells

__all__ = ["SUITES", "get_suite", "load_suite_file", "register_suite", "suite_names"]


def quick() -> list[dict]:
    """The CI suite, seconds on 2 cores: KDE on the bimodal truth in every scenario (and its mixed cell known only by
    its samples, decided on the TV witness), the Gaussian MLE and regression laws, a small diffusion calibration and
    prediction, the discrete loops, the phase curve. The MLE collapse toy without a bound and Li's rate (a 3 x 3 grid of
    calibration cells) are left to ``standard``."""
    kde = loop_cells(
        models=[kde_spec(0.3)], truths=["bimodal_1d"], sizes=[500], real_fractions=(0.5,), generations=6, replicates=24
    )
    return (
        kde
        + sample_only_twins([cell for cell in kde if cell["scenario"]["kind"] == "mixed_fresh"])
        + gaussian_mle_cells(size=50, generations=12, replicates=200)
        + regression_cells(size=50, generations=10, replicates=200)
        + diffusion_cells(  # two widths calibrate Theorem D; Li's rate needs a 3 x 3 grid (standard has it)
            widths=(64, 128),
            steps=40,
            calibration_sizes=(250, 1000, 4000),
            prediction_sizes=(400,),
            prediction_widths=(96,),
            real_fractions=(0.5,),
            generations=2,
        )
        + phase_cells(real=500, synthetic=phase_amounts(500, 8, 5), generation=8, replicates=24)
        + categorical_cells(
            truth="die",
            sizes=[20],
            kinds=("fully_synthetic", "mixed_fresh", "accumulate"),
            generations=10,
            replicates=100,
        )
        + sequence_cells(truth="markov_4x6", sizes=[100], kinds=("mixed_fresh",), generations=4, replicates=16)
    )


def _discrete() -> list[dict]:
    """The discrete rows of ``standard`` and ``extended``: the die in every scenario (and smoothed, fully synthetic),
    the 1 000-symbol Zipf law at N = 100, 1 000 and 10 000, mixed and accumulating, and the next-token loop."""
    return (
        categorical_cells(truth="die", sizes=[20], generations=12, replicates=200)
        + categorical_cells(
            truth="die", sizes=[20], kinds=("fully_synthetic",), smoothing=0.5, generations=12, replicates=200
        )
        + categorical_cells(
            truth="zipf_1000",
            sizes=[100, 1000, 10000],
            kinds=("mixed_fresh", "accumulate"),
            generations=8,
            replicates=32,
        )
        + sequence_cells(truth="markov_4x6", sizes=[200], generations=6, replicates=32)
    )


def standard() -> list[dict]:
    """Under a minute on 2 cores, the report of record, a row of every model and dimension: two 1-D truths, two sizes
    and fractions, Li's diffusion model in 1-D, the Gaussian MLE laws in 1-D and 3-D, Li's rate on a second truth, the
    regression loop, the discrete loops (categorical and next-token), the second round's laws (weighted, risk ratio,
    curated), one cheap cell of your own score network (an MLP: the extra ``selfloop[neural]``) and a cheap 2-D row
    (KDE and certified diffusion on the ring), a denser phase curve, and one KDE cell's sample-only twin (decided on
    the TV witness). The full 2-D diffusion row, the preconditioned network side by side and more score-network cells
    are in :func:`extended`."""
    kde = loop_cells(
        models=[kde_spec(0.3), kde_spec(0.15)],
        truths=["bimodal_1d", "skewed_1d"],
        sizes=[300, 1500],
        real_fractions=(0.2, 0.5),
        generations=8,
        replicates=32,
    )
    return (
        kde
        + sample_only_twins([cell for cell in kde if _is_mixed(cell, "bimodal_1d", 0.3, 300, 0.5)])
        + mle_cells(size=50, generations=30, replicates=32)
        + gaussian_mle_cells(size=50, generations=30, replicates=400)
        + gaussian_mle_cells(
            truths=("gaussian_3d",), size=50, generations=12, replicates=200
        )  # TV exact in 3-D (the generalized chi-square route)
        + _one_dimensional_diffusion("li")
        + rate_cells(
            truths=["bimodal_1d"], sizes=(250, 1000, 4000), widths=(64, 128, 256), steps=80
        )  # Li's rate, a second truth
        + regression_cells(size=50, generations=20, replicates=400)
        + _discrete()
        + weighted_cells(real=10, synthetic=10, generations=20, replicates=400, weights=(0.3, 0.618, 1.0))
        + weighted_cells(real=10, synthetic=10, generations=20, replicates=400, weights=(0.618,), known=False)
        + risk_ratio_cells(  # the Bernoulli rows (their categorical bounds' power cost 2 s a cell) in extended
            size=20, logistic_size=200, generations=8, replicates=400, logistic_replicates=200, bernoulli=False
        )
        + curated_cells(size=30, generations=15, replicates=400)
        + score_network_cells(
            truths=["bimodal_1d"], size=300, steps=40, generations=1, replicates=4
        )  # your own network
        + _two_dimensional()
        + phase_cells(real=500, synthetic=phase_amounts(500, 8, 12), generation=8, replicates=60)
    )


def _two_dimensional() -> list[dict]:
    """The standard suite's 2-D row, cheap: the KDE on the ring, mixed with fresh data, and a certified diffusion loop
    there (each fit's TV under its own certificate, run by run)."""
    kde = loop_cells(
        models=[kde_spec(0.3)], truths=["ring_2d"], sizes=[500], real_fractions=(0.5,), generations=4, replicates=16
    )
    diffusion = {"name": "diffusion", "width": 96, "steps": 40, "parameterization": "li"}
    return [cell for cell in kde if cell["scenario"]["kind"] == "mixed_fresh"] + [
        loop_cell(diffusion, "ring_2d", {"kind": "mixed_fresh", "size": 1000, "real_fraction": 0.5}, 2, 4)
    ]


def _is_mixed(cell: dict, truth: str, bandwidth: float, size: int, real_fraction: float) -> bool:
    """Whether ``cell`` is the mixed-fresh KDE cell of this truth, bandwidth, size and real fraction."""
    scenario = cell["scenario"]
    return (
        cell["truth"] == truth
        and cell["model"].get("bandwidth") == bandwidth
        and scenario["kind"] == "mixed_fresh"
        and scenario.get("size") == size
        and scenario.get("real_fraction") == real_fraction
    )


def _one_dimensional_diffusion(parameterization: str) -> list[dict]:
    """The 1-D diffusion row of ``standard`` (Li's network) and ``extended`` (both): calibration on skewed_1d, loops on
    bimodal_1d at two sizes, fully synthetic and mixed at two fractions."""
    return diffusion_cells(
        widths=(64, 128, 256),
        steps=80,
        calibration_sizes=(250, 1000, 4000),
        prediction_sizes=(500, 2000),
        prediction_widths=(96,),
        real_fractions=(0.2, 0.5),
        generations=4,
        parameterization=parameterization,
    )


def extended() -> list[dict]:
    """Minutes on 2 cores: the standard suite plus the preconditioned network side by side with Li's, a 2-D diffusion
    row and an MLP score network of one's own (certified, in 1-D and 2-D)."""
    return (
        standard()
        + _one_dimensional_diffusion("preconditioned")  # side by side: what the network's form changes
        + diffusion_cells(
            widths=(64, 128, 256),
            steps=40,
            calibration_sizes=(500, 2000),
            calibration_replicates=8,
            calibration_truth="square_2d",
            truths=("ring_2d",),
            prediction_sizes=(1000,),
            prediction_widths=(96,),
            real_fractions=(0.5,),
            generations=3,
            replicates=24,  # 8 could see nothing up to x10
        )
        + score_network_cells(truths=["bimodal_1d", "skewed_1d"], size=500, steps=80, generations=2, replicates=6)
        + score_network_cells(truths=["ring_2d"], size=500, steps=40, generations=1, replicates=4)  # your own network
        + [cell for cell in risk_ratio_cells(**BERNOULLI_RATIO) if cell["truth"] == "bernoulli"]
    )


#: The Bernoulli risk-ratio cells' sizes in extended (standard has the Poisson and logistic rows).
BERNOULLI_RATIO: dict[str, Any] = dict(
    size=20, logistic_size=200, generations=8, replicates=400, logistic_replicates=200
)


def full() -> list[dict]:
    """Hours on a many-core machine: every row of the extended suite at larger sizes, more replicates and generations,
    plus the KDE on the 2-D ring and the d = 10 diffusion row (:func:`diffusion_10d`)."""
    kde = loop_cells(
        models=[kde_spec(0.3), kde_spec(0.15), kde_spec(0.6)],
        truths=["bimodal_1d", "skewed_1d", "ring_2d"],
        sizes=[300, 1500, 6000],
        real_fractions=(0.1, 0.3, 0.5, 0.8),
        generations=10,
        replicates=64,
    )
    twins = [cell for truth in ("bimodal_1d", "ring_2d") for cell in kde if _is_mixed(cell, truth, 0.3, 1500, 0.5)]
    return (
        kde
        + sample_only_twins(twins)
        + mle_cells(size=50, generations=60, replicates=64)
        + gaussian_mle_cells(size=50, generations=60, replicates=1000)
        + gaussian_mle_cells(truths=("gaussian_3d",), size=50, generations=40, replicates=400)
        + [
            cell
            for parameterization in ("li", "preconditioned")
            for cell in diffusion_cells(
                widths=(64, 128, 256),
                steps=200,
                calibration_sizes=(250, 1000, 4000, 16000),
                prediction_sizes=(500, 2000, 8000),
                prediction_widths=(96, 192),
                real_fractions=(0.2, 0.5, 0.8),
                generations=6,
                parameterization=parameterization,
            )
        ]
        + diffusion_cells(
            widths=(64, 128, 256),
            steps=80,
            calibration_sizes=(500, 2000, 8000),
            calibration_replicates=8,
            calibration_truth="square_2d",
            truths=("ring_2d",),
            prediction_sizes=(1000, 4000),
            prediction_widths=(96,),
            real_fractions=(0.2, 0.5),
            generations=4,
            replicates=48,
        )
        + rate_cells(truths=["bimodal_1d"], sizes=(250, 1000, 4000, 16000), widths=(64, 128, 256), steps=200)
        + regression_cells(size=50, generations=40, replicates=1000)
        + weighted_cells(real=10, synthetic=30, generations=40, replicates=4000)
        + weighted_cells(real=10, synthetic=10, generations=40, replicates=4000, known=False)
        + risk_ratio_cells(size=50, logistic_size=1000, generations=20, replicates=8000, logistic_replicates=1000)
        + curated_cells(size=60, generations=30, replicates=4000, settings=((0.0, 2), (0.0, 4), (0.5, 3), (0.2, 2)))
        + score_network_cells(truths=["bimodal_1d", "skewed_1d"], size=2000, steps=200, generations=4, replicates=16)
        + score_network_cells(truths=["ring_2d"], size=1000, steps=80, generations=2, replicates=8)
        + diffusion_10d()
        + categorical_cells(truth="die", sizes=[20, 100], generations=30, replicates=1000)
        + categorical_cells(truth="zipf_1000", sizes=[100, 1000, 10000], generations=12, replicates=128)
        + sequence_cells(truth="markov_4x6", sizes=[200, 1000], generations=10, replicates=128)
        + phase_cells(real=500, synthetic=phase_amounts(500, 8, 20), generation=8, replicates=200)
    )


def diffusion_10d() -> list[dict]:
    """The full suite's d = 10 row on its own: the ODE diffusion model (exact density, Monte Carlo TV) on a five-component
    mixture in R^10, fully synthetic and mixed at lambda in {0.1, 0.5, 0.9}, 20 generations, calibrated on a
    three-component mixture; and the fully synthetic and lambda = 1/2 loops' sample-only twins, Theorem D decided on
    their TV witnesses against the same calibration (the calibration needs TVs: the ODE sampler's density gives them)."""
    cells = diffusion_cells(
        widths=(64, 128, 256),
        steps=20,
        calibration_sizes=(500, 2000, 8000),
        calibration_replicates=8,
        calibration_truth="mixture3_10d",
        truths=("mixture5_10d",),
        prediction_sizes=(2000,),
        prediction_widths=(128,),
        real_fractions=(0.1, 0.5, 0.9),
        generations=20,
        replicates=4,
        sampler="ode",
        tv_samples=1000,
    )
    twins = [  # fully synthetic and mixed at 1/2 once more, known only by their samples: Theorem D on the witness
        cell for cell in cells if cell["kind"] == "loop" and cell["scenario"].get("real_fraction", 0.5) == 0.5
    ]
    return cells + sample_only_twins(twins)


#: Suites by name: ``build() -> list of cell specifications`` (``SUITES.scoped()`` for temporary ones).
SUITES: Registry[Callable[[], list[dict]]] = Registry("suite")
for _name, _build in (
    ("quick", quick),
    ("standard", standard),
    ("extended", extended),
    ("full", full),
    ("diffusion_10d", diffusion_10d),
    ("peers", peers),
):
    SUITES.register(_name, _build)


def register_suite(name: str, build: Callable[[], list[dict]], *, replace: bool = False) -> None:
    """Add a suite: ``build()`` returns its list of cell specifications.

    A name already taken by another suite raises ``ValueError`` unless ``replace=True``.
    """
    SUITES.register(name, build, replace=replace)


def suite_names() -> list[str]:
    return sorted(SUITES)


def load_suite_file(path) -> list[dict]:
    """The cells of a suite written as TOML: ``[[loop]]`` tables are keyword arguments of :func:`loop_cells`,
    ``[[cell]]`` tables are cell specifications as they are.

    Example (``scloop report --suite mine.toml``)::

        [[loop]]
        models = [{ name = "kde", bandwidth = 0.3 }]
        truths = ["bimodal_1d"]
        sizes = [500]
        real_fractions = [0.5]
        generations = 6
        replicates = 24
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"suite file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"suite file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"loop", "cell"})
    if unknown:
        raise ValueError(
            f"suite file {path}: unknown tables {unknown}; use [[loop]] (loop_cells arguments) or [[cell]] (cell specifications)"
        )
    cells = []
    for table in document.get("loop", []):
        try:
            cells += loop_cells(**table)
        except TypeError as error:
            raise ValueError(
                f"suite file {path}: a [[loop]] table has {error}".replace("loop_cells() got ", "")
            ) from None
    cells += [dict(cell) for cell in document.get("cell", [])]
    if not cells:
        raise ValueError(f"suite file {path} defines no cells")
    return cells


def get_suite(name: str) -> list[dict]:
    """The cells of suite ``name``: a registered suite, or a path to a ``.toml`` suite file.

    Examples
    --------
    >>> sorted({cell["kind"] for cell in get_suite("quick")})
    ['calibration', 'loop', 'phase']
    """
    if str(name).endswith(".toml"):
        cells, where = load_suite_file(name), f"suite file {name}"
    elif name not in SUITES:
        raise ValueError(f"suite must be one of {suite_names()} or a .toml file, got {name!r}")
    else:
        cells, where = SUITES.get(name)(), f"suite {name}"
    for index, cell in enumerate(cells, start=1):  # every cell well formed, its model built, before any runs
        try:
            build_model(CellSpec.from_dict(cell).model)
        except (ValueError, TypeError, KeyError, ImportError) as error:
            detail = f"the model specification lacks {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(f"{where}, cell {index}: {detail}") from None
    return cells
