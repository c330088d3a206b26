"""Content keys: the one way a law's parameters become the string that keys every cache of a value computed from it
(:attr:`selfloop.simulators.protocol.Truth.key`)."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["content_key"]


def content_key(kind: str, *arrays) -> str:
    """SHA-256 of ``kind`` and of each array's shape and float64 values, 24 hex digits: equal keys, equal parameters
    (up to a collision of 96 bits).

    Examples
    --------
    >>> content_key("poisson", [3.0]) == content_key("poisson", np.array([3.0])) != content_key("poisson", [3.5])
    True
    """
    digest = hashlib.sha256(kind.encode())
    for array in arrays:
        values = np.ascontiguousarray(array, dtype=float)
        digest.update(np.asarray(values.shape, dtype=np.int64).tobytes())
        digest.update(values.tobytes())
    return digest.hexdigest()[:24]
