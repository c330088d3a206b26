"""Plugin discovery: installed packages extend selfloop through the entry-point group ``scloop.plugins``.

A package declares, in its own pyproject.toml::

    [project.entry-points."scloop.plugins"]
    mine = "my_package.selfloop_plugin:register"

and ``register()`` (no arguments) registers its bounds, models and suites. :func:`load_plugins` calls
every such function once per process: the ``scloop`` CLI calls it before parsing its arguments (so
``--suite`` sees plugin suites), and :func:`selfloop.reports.sweep.run_cell` calls it in every
worker (process pool or Dask) before a cell runs.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["GROUP", "load_plugins"]

#: The entry-point group that selfloop plugins are declared in.
GROUP = "scloop.plugins"

_loaded: set[str] = set()


def load_plugins() -> list[str]:
    """Call every ``scloop.plugins`` entry point not yet called in this process; return the names called now.

    A plugin that fails to load or register raises ``RuntimeError`` naming it (a broken plugin must
    not silently drop its cells from a report).
    """
    called = []
    for entry_point in metadata.entry_points(group=GROUP):
        key = f"{entry_point.name}={entry_point.value}"
        if key in _loaded:
            continue
        try:
            entry_point.load()()
        except Exception as error:
            raise RuntimeError(f"selfloop plugin {entry_point.name!r} ({entry_point.value}) failed: {error}") from error
        _loaded.add(key)
        called.append(entry_point.name)
    return called
