"""Cell specifications and their builders: models x truths x scenarios x sizes x real fractions x generations x
replicates.

A cell is a plain dict (JSON-serialisable), validated by :class:`CellSpec`. Each cell has a stable key derived from
its specification, and its seed is derived from (suite seed, key), so results do not depend on worker count or
order. Kinds of cell:

- ``loop``: a self-consuming loop; the report checks it against the model's theorems;
- ``calibration``: generation-0 runs of the diffusion model that calibrate Theorem D;
- ``phase``: growing-synthetic KDE runs over the synthetic amount m (Theorem P);
- ``rate``: generation-0 diffusion fits over N x width, for Li et al.'s rate on its own quantity.

The builders of cells are in :mod:`selfloop.reports.builders`, the suites built from them in
:mod:`selfloop.reports.suites`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from selfloop.simulators import STANDARD_TRUTHS, Scenario
from selfloop.simulators.validation import check_nonnegative_size, check_size

__all__ = ["CELL_KINDS", "CellSpec", "ModelSpec", "cell_key", "cell_seed"]


#: The kinds of cell a suite holds.
CELL_KINDS = ("loop", "calibration", "phase", "rate")


class ModelSpec(Mapping[str, Any]):
    """A cell's model, typed like the rest of the cell: its registered ``name`` and its ``parameters``, read-only.
    It is the mapping it was read from, too (``spec.model["bandwidth"]``, ``spec.model.get("covariance")``,
    :func:`selfloop.reports.build_model`), and equal to it.

    Examples
    --------
    >>> model = ModelSpec({"name": "kde", "bandwidth": 0.3})
    >>> model.name, model["bandwidth"], model.to_dict() == {"name": "kde", "bandwidth": 0.3}
    ('kde', 0.3, True)
    """

    __slots__ = ("_spec",)

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise ValueError(f"model must be a dict with a 'name', got {spec!r}")
        self._spec = dict(spec)  # a copy, read through the Mapping interface only (a mapping proxy would not pickle)

    @property
    def name(self) -> str:
        """The registered model name (:data:`selfloop.reports.MODELS`)."""
        return self._spec["name"]

    @property
    def parameters(self) -> dict[str, Any]:
        """Everything but the name."""
        return {key: value for key, value in self._spec.items() if key != "name"}

    def __getitem__(self, key: str) -> Any:
        return self._spec[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._spec)

    def __len__(self) -> int:
        return len(self._spec)

    def __repr__(self) -> str:
        return f"ModelSpec({dict(self._spec)!r})"

    def to_dict(self) -> dict[str, Any]:
        """The plain dict, in the order it was read."""
        return dict(self._spec)


@dataclass(frozen=True)
class CellSpec:
    """One cell of a suite, typed. Suites store cells as plain dicts (:meth:`to_dict`), which key the cache and the
    baseline (:attr:`key`); :meth:`from_dict` validates one and names what is wrong, and :meth:`to_dict` gives back
    exactly the dict it was read from, so a cell keeps its key (a scenario dict such as ``growing_synthetic`` with
    ``synthetic=0`` is the same scenario as ``mixed_fresh`` at λ = 1, but not the same cell).

    Examples
    --------
    >>> from selfloop.reports.builders import loop_cells
    >>> cells = loop_cells(models=[{"name": "kde", "bandwidth": 0.3}], truths=["bimodal_1d"], sizes=[500])
    >>> spec = CellSpec.from_dict(cells[1])
    >>> spec.scenario.kind, spec.model["bandwidth"]
    ('mixed_fresh', 0.3)
    >>> CellSpec.from_dict(spec.to_dict()) == spec and spec.to_dict() == cells[1] and spec.key == cell_key(cells[1])
    True
    """

    kind: str
    model: ModelSpec
    truth: str
    scenario: Scenario
    generations: int
    replicates: int
    source: dict | None = field(default=None, compare=False, repr=False)  # the dict it was read from

    def __post_init__(self) -> None:
        if self.kind not in CELL_KINDS:
            raise ValueError(f"kind must be one of {list(CELL_KINDS)}, got {self.kind!r}")
        if not isinstance(self.model, ModelSpec):
            object.__setattr__(self, "model", ModelSpec(self.model))  # a dict given: typed here, checked there
        if self.truth not in STANDARD_TRUTHS:
            raise ValueError(f"truth must be one of {sorted(STANDARD_TRUTHS)}, got {self.truth!r}")
        check_nonnegative_size("generations", self.generations)
        check_size("replicates", self.replicates)

    @classmethod
    def from_dict(cls, spec: dict) -> CellSpec:
        missing = sorted({"kind", "model", "truth", "scenario", "generations", "replicates"} - set(spec))
        if missing:
            raise ValueError(f"cell: missing fields {missing} in {spec!r}")
        extra = spec.get("measures", [])
        if not isinstance(extra, list) or not all(isinstance(name, str) for name in extra):
            raise ValueError(f"cell: measures must be a list of measure names, got {extra!r}")
        return cls(
            spec["kind"],
            spec["model"],
            spec["truth"],
            Scenario.from_dict(spec["scenario"]),
            spec["generations"],
            spec["replicates"],
            json.loads(json.dumps(spec)),
        )

    @property
    def measures(self) -> tuple[str, ...]:
        """Loop measures the cell records beside those its claims ask for (``"measures": ["nll"]`` in its dict: the
        peers' metrics), by name."""
        return tuple((self.source or {}).get("measures", ()))

    @property
    def sample_only(self) -> bool:
        """Whether the cell's model is known only by its samples (its claims are decided on the TV witness)."""
        return bool(self.model.get("sample_only"))

    @property
    def key(self) -> str:
        """The cell's key (:func:`cell_key` of :meth:`to_dict`)."""
        return cell_key(self.to_dict())

    def to_dict(self) -> dict:
        """The dict it was read from, or the canonical one for a spec built directly."""
        if self.source is not None:
            return json.loads(json.dumps(self.source))
        return {
            "kind": self.kind,
            "model": self.model.to_dict(),
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
