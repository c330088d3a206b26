"""Input validation at the public boundary.

Every check raises :class:`ValueError` whose message starts with the name of
the offending parameter, so a user can see at once what was wrong.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "check_data",
    "check_fraction",
    "check_nonnegative",
    "check_positive",
    "check_size",
    "check_nonnegative_size",
]


def check_positive(name: str, value: Any, *, allow_inf: bool = False) -> float:
    """Return ``value`` as float, or raise if it is not a finite positive number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if np.isnan(value) or value <= 0 or (np.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as float, or raise if it is not a finite number >= 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    return value


def check_fraction(name: str, value: Any) -> float:
    """Return ``value`` as float, or raise if it is outside [0, 1]."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return value


def _check_integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    else:
        number = int(value)
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def check_size(name: str, value: Any) -> int:
    """Return ``value`` as int, or raise unless it is an integer >= 1."""
    return _check_integer(name, value, 1)


def check_nonnegative_size(name: str, value: Any) -> int:
    """Return ``value`` as int, or raise unless it is an integer >= 0."""
    return _check_integer(name, value, 0)


def check_data(name: str, data: Any, dim: int | None = None) -> np.ndarray:
    """Return ``data`` as a finite float array of shape (n, d).

    A 1-D input of length n is read as n points in one dimension.
    """
    array = np.asarray(data, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got shape {np.shape(data)}")
    if array.shape[0] < 1:
        raise ValueError(f"{name} must contain at least one point")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} has dimension {array.shape[1]}, expected {dim}")
    return array
