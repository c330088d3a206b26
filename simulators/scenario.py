r"""Training-loop scenarios of a self-consuming loop.

Generation 0 is fit on ``initial`` real points. Generation :math:`i \ge 1` is
fit on ``real`` points from :math:`p_0` and ``synthetic`` points drawn from the
previous fitted model, so the real fraction is
:math:`\lambda = r / (r + s)`. The kinds of docs/theory.md, section 1, map to:

================== ======================================================
fully synthetic    ``Scenario.fully_synthetic(N)``: r = 0, s = N
mixed, fresh real  ``Scenario.mixed(N, real_fraction)``
mixed, reused real ``Scenario.mixed(N, real_fraction, reuse_real=True)``: one fixed pool
growing synthetic  ``Scenario.growing_synthetic(n, m)``: r = n, s = m, generation 0 on n real
accumulate         ``Scenario.accumulating(N, synthetic)``: each generation adds new points
accumulate,        ``Scenario.accumulating(N, synthetic, fit_size=n)``: the pool grows as in accumulate, each
subsample          generation fits on n points drawn from it without replacement
weighted           ``Scenario.weighted(n, m, real_weight=w)``: r = n fresh real and s = m synthetic points, the real
                   part weighted w and the synthetic part 1 - w in the fit (He, Xu and Cheng 2025); generation 0 on n
                   real points
================== ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_fraction, check_nonnegative_size, check_size

__all__ = ["Scenario"]


@dataclass(frozen=True)
class Scenario:
    """How each generation's training set is assembled.

    Parameters
    ----------
    real : int
        Real points per generation i >= 1 (r_i).
    synthetic : int
        Synthetic points per generation i >= 1 (s_i), drawn from generation i-1.
    initial : int, optional
        Real points that generation 0 is fit on; default ``real + synthetic``.
    reuse_real : bool
        Draw the real points once (a pool of ``max(real, initial)`` points) and
        reuse them every generation. This breaks the independence the bounds
        assume; it is simulated to report, not hidden.
    accumulate : bool
        Keep every earlier training point and add the ``real + synthetic`` new
        ones (Gerstgrasser et al. 2024); beyond the paper.
    fit_size : int, optional
        With ``accumulate``: every generation fits on ``fit_size`` points drawn without replacement from the pool of
        all points so far (Kazdan et al. 2024's accumulate-subsample), generation 0 from the ``initial`` real points;
        at most ``initial``.
    real_weight : float, optional
        The weight w in [0, 1] of the real part of a generation i >= 1 fit, the synthetic part weighted 1 - w (each
        point of a part equally): the fit minimises w * (mean loss on the real points) + (1 - w) * (mean loss on the
        synthetic ones). Needs fresh real points and synthetic ones (r, s >= 1) and a model that fits by weighted
        sufficient statistics (:class:`selfloop.simulators.protocol.WeightedFitting`). None: every point weighs the
        same.
    """

    #: The scenario kinds, in the order the reports list them (:attr:`kind` returns one of them).
    KINDS = (
        "fully_synthetic",
        "mixed_fresh",
        "mixed_reused",
        "accumulate",
        "accumulate_subsample",
        "growing_synthetic",
        "weighted",
    )

    real: int
    synthetic: int
    initial: int = None  # type: ignore[assignment]  # None: real + synthetic, set in __post_init__
    reuse_real: bool = False
    accumulate: bool = False
    fit_size: int | None = None
    real_weight: float | None = None

    def __post_init__(self) -> None:
        real = check_nonnegative_size("real", self.real)
        synthetic = check_nonnegative_size("synthetic", self.synthetic)
        if real + synthetic < 1:
            raise ValueError("real + synthetic must be >= 1, got 0")
        initial = real + synthetic if self.initial is None else check_size("initial", self.initial)
        if self.reuse_real and self.accumulate:
            raise ValueError(
                "reuse_real and accumulate cannot both be set: an accumulated pool already keeps its real points"
            )
        if self.fit_size is not None:
            fit_size = check_size("fit_size", self.fit_size)
            if not self.accumulate:
                raise ValueError(
                    "fit_size: a subsample of the pool needs accumulate=True (the pool is what accumulates)"
                )
            if fit_size > initial:
                raise ValueError(f"fit_size must be at most initial ({initial}), the first pool's size, got {fit_size}")
            object.__setattr__(self, "fit_size", fit_size)
        if self.real_weight is not None:
            object.__setattr__(self, "real_weight", check_fraction("real_weight", self.real_weight))
            if self.reuse_real or self.accumulate or real < 1 or synthetic < 1:
                raise ValueError(
                    "real_weight weighs fresh real points against synthetic ones in each generation: it needs real >= 1 "
                    f"and synthetic >= 1, without reuse_real or accumulate (got real={real}, synthetic={synthetic}, "
                    f"reuse_real={self.reuse_real}, accumulate={self.accumulate})"
                )
        object.__setattr__(self, "real", real)
        object.__setattr__(self, "synthetic", synthetic)
        object.__setattr__(self, "initial", initial)

    # ------------------------------------------------------------- shorthands
    @classmethod
    def fully_synthetic(cls, size: int) -> Scenario:
        """r = 0, s = N: classic model collapse."""
        size = check_size("size", size)
        return cls(real=0, synthetic=size)

    @classmethod
    def mixed(cls, size: int, real_fraction: float, *, reuse_real: bool = False) -> Scenario:
        """r = round(lambda N), s = N - r, with fresh (or, if asked, reused) real points.

        Raises if a real fraction strictly between 0 and 1 rounds to no real or no
        synthetic point (``Scenario.mixed(1, 0.5)`` is not a mixed scenario).
        """
        size = check_size("size", size)
        real_fraction = check_fraction("real_fraction", real_fraction)
        real = int(round(real_fraction * size))
        if 0 < real_fraction < 1 and real in (0, size):
            raise ValueError(
                f"real_fraction {real_fraction!r} of size {size} rounds to {real} real and {size - real} synthetic points, "
                f"which is not a mixed scenario; use a larger size, or Scenario.fully_synthetic / real_fraction=1 explicitly"
            )
        return cls(real=real, synthetic=size - real, reuse_real=reuse_real)

    @classmethod
    def growing_synthetic(cls, real: int, synthetic: int) -> Scenario:
        """r = n fixed, s = m swept; generation 0 is fit on the n real points only."""
        real = check_size("real", real)
        return cls(real=real, synthetic=synthetic, initial=real)

    @classmethod
    def accumulating(cls, size: int, synthetic: int, *, real: int = 0, fit_size: int | None = None) -> Scenario:
        """Generation 0 on ``size`` real points, then each generation adds ``real`` + ``synthetic`` new ones; with
        ``fit_size``, each generation fits on that many points drawn without replacement from the pool
        (accumulate-subsample)."""
        size = check_size("size", size)
        return cls(real=real, synthetic=synthetic, initial=size, accumulate=True, fit_size=fit_size)

    @classmethod
    def weighted(cls, real: int, synthetic: int, real_weight: float, *, initial: int | None = None) -> Scenario:
        """r = n fresh real and s = m synthetic points a generation, the real part weighted w in the fit and the
        synthetic part 1 - w; generation 0 on ``initial`` (default n) real points."""
        real = check_size("real", real)
        return cls(
            real=real, synthetic=synthetic, initial=real if initial is None else initial, real_weight=real_weight
        )

    # ------------------------------------------------------------- as data
    def to_dict(self) -> dict:
        """The scenario in the suite vocabulary (one of :attr:`KINDS` and its sizes), or, if no shorthand
        reproduces it exactly, ``{"kind": "custom", ...}`` with every field. :meth:`from_dict` inverts it.

        Examples
        --------
        >>> Scenario.mixed(500, 0.5).to_dict()
        {'kind': 'mixed_fresh', 'size': 500, 'real_fraction': 0.5}
        >>> Scenario.from_dict(Scenario.mixed(500, 0.5).to_dict()) == Scenario.mixed(500, 0.5)
        True
        """
        kind = self.kind
        if kind == "weighted":
            compact = {"kind": kind, "real": self.real, "synthetic": self.synthetic, "real_weight": self.real_weight}
            if self.initial != self.real:
                compact["initial"] = self.initial
        elif kind == "fully_synthetic" and self.initial == self.size:
            compact = {"kind": kind, "size": self.size}
        elif kind in ("mixed_fresh", "mixed_reused"):
            compact = {"kind": kind, "size": self.size, "real_fraction": self.real / self.size}
        elif kind == "growing_synthetic":
            compact = {"kind": kind, "real": self.real, "synthetic": self.synthetic}
        elif kind == "accumulate":
            compact = {"kind": kind, "size": self.initial, "added": self.synthetic, "real": self.real}
        elif kind == "accumulate_subsample":
            compact = {
                "kind": kind,
                "size": self.initial,
                "added": self.synthetic,
                "real": self.real,
                "fit_size": self.fit_size,
            }
        else:
            compact = None
        if compact is not None:
            try:
                if Scenario.from_dict(compact) == self:
                    return compact
            except ValueError:
                pass
        return {
            "kind": "custom",
            "real": self.real,
            "synthetic": self.synthetic,
            "initial": self.initial,
            "reuse_real": self.reuse_real,
            "accumulate": self.accumulate,
            **({"fit_size": self.fit_size} if self.fit_size is not None else {}),
        }

    @classmethod
    def from_dict(cls, spec: dict) -> Scenario:
        """The scenario a suite's ``{"kind": ..., ...}`` describes (see :meth:`to_dict`); bad input names the field."""
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError(f"scenario must be a dict with a 'kind', got {spec!r}")
        kind = spec["kind"]
        try:
            if kind == "fully_synthetic":
                return cls.fully_synthetic(spec["size"])
            if kind in ("mixed_fresh", "mixed_reused"):
                return cls.mixed(spec["size"], spec["real_fraction"], reuse_real=kind == "mixed_reused")
            if kind == "growing_synthetic":
                return cls.growing_synthetic(spec["real"], spec["synthetic"])
            if kind == "weighted":
                return cls.weighted(spec["real"], spec["synthetic"], spec["real_weight"], initial=spec.get("initial"))
            if kind == "accumulate":
                return cls.accumulating(spec["size"], spec["added"], real=spec.get("real", 0))
            if kind == "accumulate_subsample":
                return cls.accumulating(
                    spec["size"], spec["added"], real=spec.get("real", 0), fit_size=spec["fit_size"]
                )
            if kind == "custom":
                fields = ("real", "synthetic", "initial", "reuse_real", "accumulate")
                return cls(**{key: spec[key] for key in fields}, fit_size=spec.get("fit_size"))
        except KeyError as missing:
            raise ValueError(
                f"scenario: a {kind!r} scenario needs the field {missing.args[0]!r}, got {sorted(spec)}"
            ) from None
        raise ValueError(f"scenario kind must be one of {[*cls.KINDS, 'custom']}, got {kind!r}")

    # ------------------------------------------------------------- derived
    @property
    def kind(self) -> str:
        """A short name: fully_synthetic, mixed_fresh, mixed_reused, growing_synthetic, accumulate or
        accumulate_subsample, or weighted."""
        if self.real_weight is not None:
            return "weighted"
        if self.accumulate:
            return "accumulate" if self.fit_size is None else "accumulate_subsample"
        if self.reuse_real:
            return "mixed_reused"
        if self.real == 0:
            return "fully_synthetic"
        if self.initial != self.real + self.synthetic:
            return "growing_synthetic"
        return "mixed_fresh"

    @property
    def size(self) -> int:
        """Points added per generation i >= 1: N = r + s."""
        return self.real + self.synthetic

    @property
    def real_fraction(self) -> float:
        r"""Real fraction of the new points, :math:`\lambda = r/(r+s)`."""
        return self.real / self.size

    def point_weights(self) -> np.ndarray | None:
        """The weights of a generation i >= 1 training set's points, real ones first (each w / r), then synthetic ones
        (each (1 - w) / s), summing to 1; None when every point weighs the same."""
        if self.real_weight is None:
            return None
        w = self.real_weight
        return np.concatenate([np.full(self.real, w / self.real), np.full(self.synthetic, (1.0 - w) / self.synthetic)])

    def real_fractions(self, generations: int) -> np.ndarray:
        r""":math:`\lambda_i` for i = 0..generations; :math:`\lambda_0 = 1`."""
        out = np.full(generations + 1, self.real_fraction)
        out[0] = 1.0
        return out

    def pool_sizes(self, generations: int) -> np.ndarray:
        """The number of points kept at generation i, for i = 0..generations: every point so far when accumulating
        (subsampled or not), else the training set itself."""
        if self.accumulate:
            return self.initial + np.arange(generations + 1) * self.size
        return self.training_sizes(generations)

    def training_sizes(self, generations: int) -> np.ndarray:
        """N_i, the number of points generation i is fit on, for i = 0..generations."""
        steps = np.arange(generations + 1)
        if self.fit_size is not None:
            return np.full(generations + 1, self.fit_size)
        if self.accumulate:
            return self.initial + steps * self.size
        out = np.full(generations + 1, self.size)
        out[0] = self.initial
        return out

    def new_points(self, generations: int) -> np.ndarray:
        """Points newly drawn for generation i (N_0 = initial, then r + s), for i = 0..generations.

        Equal to :meth:`training_sizes` except when accumulating, where generation i
        is fit on every earlier point too.
        """
        out = np.full(generations + 1, self.size)
        out[0] = self.initial
        return out

    def new_data_weights(self, generations: int) -> np.ndarray:
        r"""Accumulate scenario: :math:`a_i = (r+s)/N_i`, the weight of generation i's new points in the pool of
        :math:`N_i` (a_0 = 1).

        For the other scenarios every generation is fit on new points only, so a_i = 1.
        """
        if not self.accumulate:
            return np.ones(generations + 1)
        sizes = self.pool_sizes(generations)  # subsampled: the new points' share of the pool, the fit's expected one
        out = self.size / sizes.astype(float)
        out[0] = 1.0
        return out
