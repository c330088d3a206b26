"""Declarative sweep suites: models x truths x scenarios x sizes x real fractions x generations x replicates.

A suite is a list of cell specifications (plain dicts, JSON-serialisable).
Each cell has a stable key derived from its specification, and its seed is
derived from (suite seed, key), so results do not depend on worker count or
order. Kinds of cell:

- ``loop``: a self-consuming loop; the report checks it against the model's bound;
- ``calibration``: generation-0 runs of the diffusion model that calibrate Theorem D;
- ``phase``: growing-synthetic KDE runs over the synthetic amount m (Theorem P).

Users add a suite with :func:`register_suite`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Callable

import numpy as np

from selfloop.bounds import Registry
from selfloop.simulators import STANDARD_TRUTHS, Scenario
from selfloop.simulators.validation import check_nonnegative_size, check_size

__all__ = [
    "CELL_KINDS",
    "CellSpec",
    "SUITES",
    "cell_key",
    "cell_seed",
    "diffusion_cells",
    "get_suite",
    "load_suite_file",
    "loop_cells",
    "mle_cells",
    "gaussian_mle_cells",
    "phase_amounts",
    "phase_cells",
    "register_suite",
    "suite_names",
]


#: The kinds of cell a suite holds.
CELL_KINDS = ("loop", "calibration", "phase", "rate")


@dataclass(frozen=True)
class CellSpec:
    """One cell of a suite, typed. Suites store cells as plain dicts (:meth:`to_dict`), which key the cache and the
    baseline; :meth:`from_dict` validates one and names what is wrong.

    Examples
    --------
    >>> spec = CellSpec.from_dict(loop_cells(models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[500])[1])
    >>> spec.scenario.kind, spec.model["bandwidth"]
    ('mixed_fresh', 0.3)
    >>> CellSpec.from_dict(spec.to_dict()) == spec
    True
    """

    kind: str
    model: dict
    truth: str
    scenario: Scenario
    generations: int
    replicates: int

    def __post_init__(self) -> None:
        if self.kind not in CELL_KINDS:
            raise ValueError(f"kind must be one of {list(CELL_KINDS)}, got {self.kind!r}")
        if not isinstance(self.model, dict) or not isinstance(self.model.get("name"), str):
            raise ValueError(f"model must be a dict with a 'name', got {self.model!r}")
        if self.truth not in STANDARD_TRUTHS:
            raise ValueError(f"truth must be one of {sorted(STANDARD_TRUTHS)}, got {self.truth!r}")
        check_nonnegative_size("generations", self.generations)
        check_size("replicates", self.replicates)

    @classmethod
    def from_dict(cls, spec: dict) -> "CellSpec":
        missing = sorted({"kind", "model", "truth", "scenario", "generations", "replicates"} - set(spec))
        if missing:
            raise ValueError(f"cell: missing fields {missing} in {spec!r}")
        return cls(
            spec["kind"],
            spec["model"],
            spec["truth"],
            Scenario.from_dict(spec["scenario"]),
            spec["generations"],
            spec["replicates"],
        )

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "model": dict(self.model),
            "truth": self.truth,
            "scenario": self.scenario.to_dict(),
            "generations": self.generations,
            "replicates": self.replicates,
        }


def cell_key(spec: dict) -> str:
    """A stable 16-hex-digit key of a cell specification (canonical JSON, SHA-256)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cell_seed(suite_seed: int, key: str) -> int:
    """The cell's seed: a hash of the suite seed and the key (independent of order and workers)."""
    return int(hashlib.sha256(f"{suite_seed}:{key}".encode()).hexdigest()[:8], 16)


def _kde(bandwidth: float) -> dict:
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
        {
            "kind": "loop",
            "model": model,
            "truth": truth,
            "scenario": scenario,
            "generations": generations,
            "replicates": replicates,
        }
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
        cells += [
            {
                "kind": "loop",
                "model": model(width),
                "truth": truth,
                "scenario": scenario,
                "generations": generations,
                "replicates": replicates,
            }
            for scenario in scenarios
        ]
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


def gaussian_mle_cells(
    *, truths=("gaussian_1d",), size: int, generations: int, replicates: int, tv_samples: int | None = None
) -> list[dict]:
    """Gaussian MLE cells on Gaussian truths, where the exact laws and the TV bound apply: fully synthetic, mixed at 1/2
    and, in 1-D, accumulating synthetic data (docs/theory.md, section 9). ``tv_samples`` sets the Monte Carlo TV's draws
    in d > 2 (each replicate's TV is then an unbiased estimate, so the checks stay valid).

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
        model = {"name": "mle"} if tv_samples is None else {"name": "mle", "tv_samples": tv_samples}
        cells += [
            {
                "kind": "loop",
                "model": dict(model),
                "truth": truth,
                "scenario": scenario,
                "generations": generations,
                "replicates": replicates,
            }
            for scenario in scenarios
        ]
    return cells


def quick() -> list[dict]:
    """Under a minute on 2 cores: KDE on the bimodal truth in every scenario, a small diffusion calibration, the phase curve."""
    return (
        loop_cells(
            models=[_kde(0.3)], truths=["bimodal_1d"], sizes=[500], real_fractions=(0.5,), generations=6, replicates=24
        )
        + mle_cells(size=50, generations=20, replicates=24)
        + gaussian_mle_cells(size=50, generations=20, replicates=400)
        + diffusion_cells(
            widths=(64, 128, 256),
            steps=40,
            calibration_sizes=(250, 1000, 4000),
            prediction_sizes=(600,),
            prediction_widths=(96,),
            real_fractions=(0.5,),
            generations=3,
        )
        + phase_cells(real=500, synthetic=phase_amounts(500, 8, 5), generation=8, replicates=40)
    )


def standard() -> list[dict]:
    """Minutes on 2 cores: two 1-D truths, two sizes and fractions, Li's and the preconditioned diffusion side by side, a
    2-D diffusion row, a denser phase curve."""
    return (
        loop_cells(
            models=[_kde(0.3), _kde(0.15)],
            truths=["bimodal_1d", "skewed_1d"],
            sizes=[300, 1500],
            real_fractions=(0.2, 0.5),
            generations=8,
            replicates=32,
        )
        + mle_cells(size=50, generations=30, replicates=32)
        + gaussian_mle_cells(size=50, generations=30, replicates=400)
        + gaussian_mle_cells(
            truths=("gaussian_3d",), size=50, generations=20, replicates=200, tv_samples=2000
        )  # TV by Monte Carlo in 3-D
        + [
            cell
            for parameterization in ("li", "preconditioned")  # side by side: what the network's form changes
            for cell in diffusion_cells(
                widths=(64, 128, 256),
                steps=80,
                calibration_sizes=(250, 1000, 4000),
                prediction_sizes=(500, 2000),
                prediction_widths=(96,),
                real_fractions=(0.2, 0.5),
                generations=4,
                parameterization=parameterization,
            )
        ]
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
        + rate_cells(
            truths=["bimodal_1d"], sizes=(250, 1000, 4000), widths=(64, 128, 256), steps=80
        )  # Li's rate, a second truth
        + phase_cells(real=500, synthetic=phase_amounts(500, 8, 12), generation=8, replicates=60)
    )


def full() -> list[dict]:
    """Hours on a many-core machine: the standard grid plus the 2-D ring, larger sizes, more replicates and generations."""
    return (
        loop_cells(
            models=[_kde(0.3), _kde(0.15), _kde(0.6)],
            truths=["bimodal_1d", "skewed_1d", "ring_2d"],
            sizes=[300, 1500, 6000],
            real_fractions=(0.1, 0.3, 0.5, 0.8),
            generations=10,
            replicates=64,
        )
        + mle_cells(size=50, generations=60, replicates=64)
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
        + diffusion_10d()
        + phase_cells(real=500, synthetic=phase_amounts(500, 8, 20), generation=8, replicates=200)
    )


def diffusion_10d() -> list[dict]:
    """The full suite's d = 10 row on its own: the ODE diffusion model (exact density, Monte Carlo TV) on a five-component
    mixture in R^10, fully synthetic and mixed at lambda in {0.1, 0.5, 0.9}, 20 generations, calibrated on a
    three-component mixture."""
    return diffusion_cells(
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


#: Suites by name: ``build() -> list of cell specifications`` (``SUITES.scoped()`` for temporary ones).
SUITES: Registry[Callable[[], list[dict]]] = Registry("suite")
for _name, _build in (("quick", quick), ("standard", standard), ("full", full), ("diffusion_10d", diffusion_10d)):
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
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
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
    """The cells of suite ``name``: a registered suite, or a path to a ``.toml`` suite file."""
    if str(name).endswith(".toml"):
        cells = load_suite_file(name)
    elif name not in SUITES:
        raise ValueError(f"suite must be one of {suite_names()} or a .toml file, got {name!r}")
    else:
        cells = SUITES.get(name)()
    for cell in cells:
        CellSpec.from_dict(cell)  # every cell is well formed before any runs
    return cells
