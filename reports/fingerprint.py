"""The version of the code that computes a cell: a hash of every source file of the packages involved, so that a
cached cell (or a cached seed-independent value) is never reused across a change of code."""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path

__all__ = ["COMPUTING_PACKAGES", "code_fingerprint", "library_versions"]

#: The packages whose source decides a cell's numbers.
COMPUTING_PACKAGES = ("selfloop.bounds", "selfloop.simulators", "selfloop.reports", "selfloop.testing")


def _package_folders() -> dict[str, Path]:
    """Where each computing package's source lives (the repository folders, or site-packages when installed)."""
    return {name: Path(str(importlib.import_module(name).__file__)).resolve().parent for name in COMPUTING_PACKAGES}


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 (12 hex digits) of every ``.py`` file of the packages that compute a cell, by package, relative path and content."""
    digest = hashlib.sha256()
    for name, folder in sorted(_package_folders().items()):
        for path in sorted(folder.rglob("*.py")):
            digest.update(f"{name}/{path.relative_to(folder)}".encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def library_versions() -> str:
    """SHA-256 (8 hex digits) of the versions of numpy and scipy: a cached number is reused only where they are the same."""
    from importlib import metadata

    return hashlib.sha256(
        ",".join(f"{name}={metadata.version(name)}" for name in ("numpy", "scipy")).encode()
    ).hexdigest()[:8]
