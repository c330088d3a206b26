"""A persistent, content-addressed cache of values that do not depend on a seed's draws (reference grids, moments of
a bound, finished cells), shared by every process that runs the harness.

An entry is addressed by a SHA-256 of everything its value depends on: the caller's namespace and inputs, the version
of the code that computed it, and the versions of numpy and scipy. It is written atomically (a temporary file, then
``os.replace``), so concurrent writers, as the workers of a pool or a Dask cluster, never leave half an entry; an entry
that cannot be read is computed again.

Where: ``$SCLOOP_CACHE``, else the user cache directory (platformdirs). ``SCLOOP_CACHE=off`` (what ``scloop ...
--no-cache`` sets) turns it off: every value is computed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from .atomic import write_atomic

__all__ = ["CACHE_VARIABLE", "cache_folder", "cached", "code_version", "library_versions", "source_digest"]

T = TypeVar("T")
#: The environment variable naming the folder (or ``off``).
CACHE_VARIABLE = "SCLOOP_CACHE"


def cache_folder() -> Path | None:
    """The cache's folder, or None when it is off."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured is not None and configured.strip().lower() in ("off", "0", "no", "false", ""):
        return None
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("selfloop"))


def source_digest(files: Iterable[tuple[str, Path]], length: int = 16) -> str:
    """A version of the code in ``files``, ``(name, path)`` pairs in order: SHA-256 (``length`` hex digits) of each
    name and content. The one way this harness versions source code (:func:`code_version`,
    :func:`selfloop.reports.fingerprint.code_fingerprint`)."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()[:length]


def code_version(*modules) -> str:
    """A version of the code in ``modules``: :func:`source_digest` of their source files, in order."""
    return source_digest((module.__name__, Path(module.__file__)) for module in modules)


def library_versions() -> str:
    """The versions of numpy and scipy, ``numpy=...,scipy=...``: a cached number is reused only where they are the
    same."""
    versions = []
    for name in ("numpy", "scipy"):
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}=?")
    return ",".join(versions)


def _address(namespace: str, key: object, version: str) -> str:
    text = repr((namespace, key, version, library_versions())).encode()
    return hashlib.sha256(text).hexdigest()


def cached(namespace: str, key: object, compute: Callable[[], T], *, version: str) -> T:
    """``compute()``, or its value from the cache when an entry with the same address exists.

    Parameters
    ----------
    namespace : str
        What the value is (``"chain.reference_times"``), also the entry's folder.
    key : object
        Everything the value depends on, with a faithful ``repr`` (tuples of numbers, strings and bytes).
    compute : callable
        Computes the value (picklable); called when the cache is off or has no readable entry.
    version : str
        The version of the code behind ``compute``: change it whenever its numbers would change.
    """
    folder = cache_folder()
    if folder is None:
        return compute()
    path = folder / namespace / f"{_address(namespace, key, version)}.pickle"
    try:
        with open(path, "rb") as stream:
            return pickle.load(stream)
    except FileNotFoundError:
        pass
    except Exception:  # a damaged entry (truncated, from another Python): computed again and rewritten
        path.unlink(missing_ok=True)
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:  # a read-only or full disk costs the cache, never the value
        pass
    return value
