"""The :class:`Bound` type and the registry that tests and reports read.

A user adds a bound in a few lines::

    import sympy as sp
    from selfloop.bounds import Bound, Source, register, symbols as s

    mine = register(Bound(
        "my_kde_rate",
        s.error * (1 - (1 - s.real_fraction) ** (s.generation + 1)) / s.real_fraction,
        statement="TV_i <= eps (1 - (1 - lambda)^(i+1)) / lambda",
        source=Source("my paper", "Theorem 1", "rigorous"),
    ))
    mine.evaluate(error=0.1, real_fraction=0.5, generation=3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

from selfloop.simulators.registry import Registry

from .symbols import DOMAINS, LATEX_NAMES

__all__ = ["PAPER", "Bound", "Source", "get_bound", "register", "registered_bounds"]

PAPER = "Fu, Zhang, Wang, Tian, Tao. Towards Theoretical Understandings of Self-Consuming Generative Models. ICML 2024, arXiv:2402.11778"

Status = Literal["rigorous", "calibrated"]


@dataclass(frozen=True)
class Source:
    """Where a bound comes from.

    Attributes
    ----------
    paper : str
    theorem : str
        Theorem or section, e.g. ``"docs/theory.md, section 3 (Theorem K)"``.
    status : ``"rigorous"`` or ``"calibrated"``
        Rigorous: a proof with explicit constants. Calibrated: a rate whose
        constants were fitted to measurements.
    note : str
        Provenance in a sentence (what was derived, what is assumed).
    """

    paper: str
    theorem: str
    status: Status
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in ("rigorous", "calibrated"):
            raise ValueError(f"status must be 'rigorous' or 'calibrated', got {self.status!r}")

    def __str__(self) -> str:
        return f"{self.paper}; {self.theorem} ({self.status})"


@dataclass(frozen=True)
class Bound:
    """A TV bound written as a SymPy expression over named symbols.

    Parameters
    ----------
    name : str
        Registry key.
    expr : sympy.Expr
        The bound. Free symbols are the inputs of :meth:`evaluate`.
    statement : str
        What is bounded, in a sentence (e.g. ``"E TV(p_i, p0) <= ..."``).
    source : Source
    metadata : dict
        Anything else worth keeping (a calibration set, say).
    definitions : tuple of sympy.Eq
        What the symbols of ``expr`` stand for, when a symbol is itself a computed quantity (an
        integral of the truth, say): each equation's left side is written in terms of its right side.
        The report prints them under the formula, so what is printed is what is evaluated.
    side : ``"upper"`` or ``"lower"``
        Whether the expression bounds the quantity in ``statement`` from above (the default) or below.
    """

    name: str
    expr: sp.Expr
    statement: str
    source: Source
    metadata: dict = field(default_factory=dict, compare=False)
    definitions: tuple = ()
    side: Literal["upper", "lower"] = "upper"

    def __post_init__(self) -> None:
        object.__setattr__(self, "expr", sp.sympify(self.expr))
        object.__setattr__(self, "definitions", tuple(self.definitions))
        if self.side not in ("upper", "lower"):
            raise ValueError(f"side must be 'upper' or 'lower', got {self.side!r}")
        for definition in self.definitions:
            if not isinstance(definition, sp.Eq):
                raise ValueError(f"definitions must be sympy equations (sympy.Eq), got {definition!r}")

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """The free symbols, sorted by name: what :meth:`evaluate` needs."""
        return tuple(sorted(self.expr.free_symbols, key=lambda symbol: symbol.name))

    @property
    def symbol_names(self) -> tuple[str, ...]:
        return tuple(symbol.name for symbol in self.symbols)

    def latex(self) -> str:
        """LaTeX of the expression in the notation of docs/theory.md (digamma written as psi)."""
        return _latex(self.expr)

    def latex_definitions(self) -> list[str]:
        """LaTeX of each of :attr:`definitions`, in order (empty when the formula is self-contained)."""
        return [_latex(definition) for definition in self.definitions]

    def subs(self, **values: Any) -> Bound:
        """A new bound with some symbols fixed (e.g. calibrated constants); same name and source."""
        lookup = {symbol.name: symbol for symbol in self.symbols}
        unknown = sorted(set(values) - set(lookup))
        if unknown:
            raise ValueError(f"{unknown[0]} is not a symbol of bound {self.name!r} (symbols: {list(lookup)})")
        for name, value in values.items():
            _check_value(lookup[name], value)
        expr = self.expr.subs(
            {lookup[name]: sp.nsimplify(value) if isinstance(value, int) else value for name, value in values.items()}
        )
        return Bound(self.name, expr, self.statement, self.source, dict(self.metadata), self.definitions, self.side)

    @cached_property
    def _function(self):
        return sp.lambdify(self.symbols, _stable(self.expr), modules=["scipy", "numpy"])

    @cached_property
    def _plain_function(self):
        return sp.lambdify(self.symbols, self.expr, modules=["scipy", "numpy"])

    def _checked(self, values: dict[str, Any]) -> dict[sp.Symbol, np.ndarray]:
        """Every symbol's value, checked against its assumptions and domain; missing or unknown names raise."""
        names = self.symbol_names
        missing = [name for name in names if name not in values]
        if missing:
            raise ValueError(f"{missing[0]} is missing: bound {self.name!r} needs {list(names)}")
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"{unknown[0]} is not a symbol of bound {self.name!r} (symbols: {list(names)})")
        return {symbol: _check_value(symbol, values[symbol.name]) for symbol in self.symbols}

    def evaluate(self, **values: Any) -> float | np.ndarray:
        """Evaluate at ``values`` (scalars or broadcastable numpy arrays).

        Raises
        ------
        ValueError
            Naming the symbol that is missing, unknown, or outside its domain
            (negative size, real fraction outside [0, 1], ...), or if the
            result is not finite.
        """
        checked = self._checked(values)
        # subnormal inputs are flushed to 0: their effect is below double precision, and numpy's
        # vectorised ufuncs flush them inconsistently across platforms (expm1(-5e-324) -> -0.0)
        arguments = [_flush_subnormal(checked[symbol]) for symbol in self.symbols]
        with np.errstate(all="ignore"):
            result = np.asarray(self._function(*arguments), dtype=float)
            undefined = ~np.isfinite(result)
            if np.any(undefined):  # e.g. log1p(-1) * 0 at lambda = 1, i = 0: the plain form is exact there
                plain = np.broadcast_to(np.asarray(self._plain_function(*arguments), dtype=float), result.shape)
                result = np.where(undefined, plain, result)
        if not np.all(np.isfinite(result)):
            raise ValueError(f"bound {self.name!r} is not finite at {values}")
        return float(result) if result.ndim == 0 else result

    def evaluate_precise(self, digits: int = 50, **values: Any) -> sp.Float:
        """Evaluate at scalar ``values`` with ``digits`` significant digits (SymPy/mpmath arithmetic)."""
        checked = self._checked(values)
        exact = {symbol: sp.nsimplify(float(value), rational=True) for symbol, value in checked.items()}
        return sp.N(self.expr.subs(exact), digits)


def _latex(expr: sp.Basic) -> str:
    """LaTeX in the notation of docs/theory.md (digamma written as psi)."""
    return sp.latex(expr, symbol_names=LATEX_NAMES).replace(r"\operatorname{polygamma}{\left(0,", r"\psi{\left(")


def _flush_subnormal(array: np.ndarray) -> np.ndarray:
    return np.where(np.abs(array) < np.finfo(float).tiny, 0.0, array)


def _one_minus_power(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(a, n) if ``expr`` is exactly 1 - (1 - a)**n, else None."""
    if not (expr.is_Add and len(expr.args) == 2 and sp.S.One in expr.args):
        return None
    other = expr.args[0] if expr.args[1] == sp.S.One else expr.args[1]
    power = -other
    if not (power.is_Pow and power.base.is_Add):
        return None
    base = 1 - power.base
    if base.is_Number:  # a numeric base is exact; nothing to stabilise
        return None
    return base, power.exp


def _stable(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite :math:`1 - (1 - a)^n` as :math:`-\operatorname{expm1}(n \operatorname{log1p}(-a))` for evaluation.

    The geometric sums of Lemma R divide :math:`1 - (1-\lambda)^n` by :math:`\lambda`,
    which cancels catastrophically in floating point when :math:`\lambda` is tiny.
    """

    def rewrite(node: sp.Expr) -> sp.Expr:
        found = _one_minus_power(node)
        assert found is not None  # replace calls it only where the test below found the form
        base, power = found
        return -expm1(power * log1p(-base))

    return expr.replace(lambda node: _one_minus_power(node) is not None, rewrite)


def _check_value(symbol: sp.Symbol, value: Any) -> np.ndarray:
    """Check ``value`` against the symbol's assumptions and domain; return it as a float array."""
    name = symbol.name
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if symbol.is_positive and np.any(array <= 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    if symbol.is_nonnegative and np.any(array < 0):
        raise ValueError(f"{name} must be non-negative, got {value!r}")
    if symbol.is_integer and np.any(array != np.round(array)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if symbol in DOMAINS:
        low, high, open_ends = DOMAINS[symbol]
        outside = (array <= low) | (array >= high) if open_ends else (array < low) | (array > high)
        if np.any(outside):
            brackets = "()" if open_ends else "[]"
            raise ValueError(f"{name} must lie in {brackets[0]}{low}, {high}{brackets[1]}, got {value!r}")
    return array


def _check_bound(bound) -> None:
    if not isinstance(bound, Bound):
        raise ValueError(f"bound must be a Bound, got {type(bound).__name__}")


#: The registry that tests and reports iterate over (``BOUNDS.scoped()`` for temporary additions).
BOUNDS: Registry[Bound] = Registry("bound", _check_bound)


def register(bound: Bound, *, replace: bool = False) -> Bound:
    """Add ``bound`` to :data:`BOUNDS` under its name; returns it."""
    _check_bound(bound)
    return BOUNDS.register(bound.name, bound, replace=replace)


def registered_bounds() -> dict[str, Bound]:
    """All registered bounds, by name."""
    return BOUNDS.as_dict()


def get_bound(name: str) -> Bound:
    """The registered bound called ``name``."""
    return BOUNDS.get(name)
