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
from itertools import product
from pathlib import Path

from typing import Callable

import numpy as np

from selfloop.bounds import Registry

__all__ = ["SUITES", "cell_key", "cell_seed", "get_suite", "load_suite_file", "loop_cells", "register_suite", "suite_names"]


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


def loop_cells(*, models: list[dict], truths: list[str], sizes: list[int], real_fractions=(0.5,), generations: int = 6, replicates: int = 32) -> list[dict]:
    """Loop cells for every model, truth and size, in every scenario kind (one mixed pair per real fraction).

    ``models`` are model specifications such as ``{"name": "kde", "bandwidth": 0.3}`` (see
    :func:`selfloop.reports.register_model`); ``truths`` are names of :func:`selfloop.simulators.standard_truth`.

    Examples
    --------
    >>> cells = loop_cells(models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[500])
    >>> sorted({cell["scenario"]["kind"] for cell in cells})
    ['accumulate', 'fully_synthetic', 'growing_synthetic', 'mixed_fresh', 'mixed_reused']
    """
    return _loop_cells(models, truths, sizes, tuple(real_fractions), generations, replicates)


def _loop_cells(models, truths, sizes, fractions, generations, replicates) -> list[dict]:
    return [
        {"kind": "loop", "model": model, "truth": truth, "scenario": scenario, "generations": generations, "replicates": replicates}
        for model, truth, size in product(models, truths, sizes)
        for scenario in _scenarios(size, fractions)
    ]


def _diffusion_cells(width: int, steps: int, calibration_sizes, prediction_sizes, fractions, generations, replicates) -> list[dict]:
    model = {"name": "diffusion", "width": width, "steps": steps, "noise_draws": 8}
    cells = [
        {"kind": "calibration", "model": model, "truth": "bimodal_1d", "scenario": {"kind": "fully_synthetic", "size": size}, "generations": 0, "replicates": replicates}
        for size in calibration_sizes
    ]
    for size in prediction_sizes:
        cells.append({"kind": "loop", "model": model, "truth": "bimodal_1d", "scenario": {"kind": "fully_synthetic", "size": size}, "generations": generations, "replicates": replicates})
        for fraction in fractions:
            cells.append({"kind": "loop", "model": model, "truth": "bimodal_1d", "scenario": {"kind": "mixed_fresh", "size": size, "real_fraction": fraction}, "generations": generations, "replicates": replicates})
    return cells


def _phase_amounts(real: int, generation: int, points: int, span: float = 20.0) -> tuple[int, ...]:
    """m = 0 and ``points`` log-spaced amounts from m*/span to span m* (Theorem P's threshold for alpha = 2/5)."""
    from selfloop.bounds import kde_rate, phase_threshold

    threshold = phase_threshold(alpha=kde_rate(1), n=real, generation=generation)  # the phase cells' truth is 1-D
    return (0,) + tuple(int(m) for m in np.round(np.geomspace(threshold / span, span * threshold, points)))


def _phase_cells(real: int, synthetic: tuple[int, ...], generation: int, replicates: int) -> list[dict]:
    return [
        {"kind": "phase", "model": {"name": "kde", "power_rule": 0.9}, "truth": "bimodal_1d",
         "scenario": {"kind": "growing_synthetic", "real": real, "synthetic": m}, "generations": generation, "replicates": replicates}
        for m in synthetic
    ]


def _mle_cells(size: int, generations: int, replicates: int) -> list[dict]:
    return [
        {"kind": "loop", "model": {"name": "mle"}, "truth": "bimodal_1d", "scenario": scenario, "generations": generations, "replicates": replicates}
        for scenario in ({"kind": "fully_synthetic", "size": size}, {"kind": "mixed_fresh", "size": size, "real_fraction": 0.5})
    ]


def quick() -> list[dict]:
    """Under a minute on 2 cores: KDE on the bimodal truth in every scenario, a small diffusion calibration, the phase curve."""
    return (
        _loop_cells([_kde(0.3)], ["bimodal_1d"], [500], (0.5,), 6, 24)
        + _mle_cells(50, 20, 24)
        + _diffusion_cells(64, 40, (250, 1000, 4000), (600,), (0.5,), 3, 16)
        + _phase_cells(500, _phase_amounts(500, 8, 5), 8, 40)
    )


def standard() -> list[dict]:
    """Under ten minutes on 2 cores: two 1-D truths, two sizes and fractions, diffusion width 128, a denser phase curve."""
    return (
        _loop_cells([_kde(0.3), _kde(0.15)], ["bimodal_1d", "skewed_1d"], [300, 1500], (0.2, 0.5), 8, 32)
        + _mle_cells(50, 30, 32)
        + _diffusion_cells(128, 80, (250, 1000, 4000), (500, 2000), (0.2, 0.5), 4, 16)
        + _phase_cells(500, _phase_amounts(500, 8, 12), 8, 60)
    )


def full() -> list[dict]:
    """Hours on a many-core machine: the standard grid plus the 2-D ring, larger sizes, more replicates and generations."""
    return (
        _loop_cells([_kde(0.3), _kde(0.15), _kde(0.6)], ["bimodal_1d", "skewed_1d", "ring_2d"], [300, 1500, 6000], (0.1, 0.3, 0.5, 0.8), 10, 64)
        + _mle_cells(50, 60, 64)
        + _diffusion_cells(256, 200, (250, 1000, 4000, 16000), (500, 2000, 8000), (0.2, 0.5, 0.8), 6, 16)
        + _phase_cells(500, _phase_amounts(500, 8, 20), 8, 200)
    )


#: Suites by name: ``build() -> list of cell specifications`` (``SUITES.scoped()`` for temporary ones).
SUITES: Registry[Callable[[], list[dict]]] = Registry("suite")
for _name, _build in (("quick", quick), ("standard", standard), ("full", full)):
    SUITES.register(_name, _build)


def register_suite(name: str, build: Callable[[], list[dict]]) -> None:
    """Add a suite: ``build()`` returns its list of cell specifications (a later registration replaces it)."""
    SUITES.register(name, build, replace=True)


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
        raise ValueError(f"suite file {path}: unknown tables {unknown}; use [[loop]] (loop_cells arguments) or [[cell]] (cell specifications)")
    cells = []
    for table in document.get("loop", []):
        try:
            cells += loop_cells(**table)
        except TypeError as error:
            raise ValueError(f"suite file {path}: a [[loop]] table has {error}".replace("loop_cells() got ", "")) from None
    cells += [dict(cell) for cell in document.get("cell", [])]
    if not cells:
        raise ValueError(f"suite file {path} defines no cells")
    return cells


def get_suite(name: str) -> list[dict]:
    """The cells of suite ``name``: a registered suite, or a path to a ``.toml`` suite file."""
    if str(name).endswith(".toml"):
        return load_suite_file(name)
    if name not in SUITES:
        raise ValueError(f"suite must be one of {suite_names()} or a .toml file, got {name!r}")
    return SUITES.get(name)()
