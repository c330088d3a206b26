"""The version of the code that computes a cell: a digest of every source file of the packages involved and of the
installed plugins (their distributions' versions and sources), so that a cached cell (or a cached seed-independent
value) is never reused across a change of code, a plugin's included."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from selfloop.simulators.persistent import library_versions, source_digest

from .plugins import GROUP

__all__ = ["COMPUTING_PACKAGES", "code_fingerprint", "library_fingerprint", "plugin_sources"]

#: The packages whose source decides a cell's numbers.
COMPUTING_PACKAGES = ("selfloop.bounds", "selfloop.simulators", "selfloop.reports", "selfloop.testing")
#: The entry-point groups whose plugins compute numbers: registrations (claims, models, suites) and loop measures.
PLUGIN_GROUPS = (GROUP, "scloop.measures")


def _package_folders() -> dict[str, Path]:
    """Where each computing package's source lives (the repository folders, or site-packages when installed)."""
    return {name: Path(str(importlib.import_module(name).__file__)).resolve().parent for name in COMPUTING_PACKAGES}


def _sources(name: str, origin: Path) -> list[tuple[str, Path]]:
    """A module's file, or every ``.py`` file of a package's folder, named under ``name``."""
    if origin.name != "__init__.py":
        return [(name, origin)]
    folder = origin.parent
    return [(f"{name}/{path.relative_to(folder)}", path) for path in sorted(folder.rglob("*.py"))]


def plugin_sources() -> list[tuple[str, Path]]:
    """The source files of the installed plugins (entry points of :data:`PLUGIN_GROUPS` outside this package), each
    named by its distribution, version and module: a plugin's new version or edited source is new code."""
    found: dict[str, tuple[str, Path]] = {}
    for group in PLUGIN_GROUPS:
        for point in metadata.entry_points(group=group):
            module = point.module
            if module.split(".")[0] == "selfloop":
                continue  # this package's own, in COMPUTING_PACKAGES
            spec = importlib.util.find_spec(module)
            if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
                continue  # nothing readable to version (a compiled module keeps its distribution's version)
            distribution = f"{point.dist.name}=={point.dist.version}" if point.dist is not None else "?"
            for name, path in _sources(f"{distribution}:{module}", Path(spec.origin)):
                found[name] = (name, path)
    return [found[name] for name in sorted(found)]


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest (12 hex digits) of every ``.py`` file of the packages that compute a cell, by package, relative path
    and content, and of the installed plugins' sources (:func:`plugin_sources`)."""
    files = [
        (f"{name}/{path.relative_to(folder)}", path)
        for name, folder in sorted(_package_folders().items())
        for path in sorted(folder.rglob("*.py"))
    ]
    return source_digest(files + plugin_sources(), length=12)


@lru_cache(maxsize=1)
def library_fingerprint() -> str:
    """SHA-256 (8 hex digits) of the versions of numpy and scipy: a cached number is reused only where they are the same."""
    return hashlib.sha256(library_versions().encode()).hexdigest()[:8]
