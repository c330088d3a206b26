"""Running one benchmark part in a fresh subprocess, so its peak memory is its own."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["peak_rss_gib", "revision_on_path", "run_child"]


def peak_rss_gib() -> float:
    """Peak resident set size of this process, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_child(module: str, flag: str) -> dict:
    """Run ``python -m module flag`` and parse the JSON object on its last line of output."""
    output = subprocess.run([sys.executable, "-m", module, flag], capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def revision_on_path(root: Path, revision: str) -> Iterator[Path]:
    """Check ``revision`` out into a temporary git worktree and yield a folder to put first on ``PYTHONPATH``.

    The folder holds a ``selfloop`` package whose subpackages link to the worktree's folders, so
    ``import selfloop.simulators`` in a subprocess imports that revision's code, ahead of the
    editable install of this checkout.
    """
    with tempfile.TemporaryDirectory() as scratch:
        worktree = Path(scratch) / "worktree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), revision], cwd=root, check=True, capture_output=True
        )
        try:
            package = Path(scratch) / "path" / "selfloop"
            package.mkdir(parents=True)
            (package / "__init__.py").write_text("")
            for name, folder in (
                ("bounds", "bounds"),
                ("simulators", "simulators"),
                ("reports", "reports"),
                ("testing", "scloop_testing"),
            ):
                if (worktree / folder).is_dir():
                    (package / name).symlink_to(worktree / folder)
            yield package.parent
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)], cwd=root, check=True, capture_output=True
            )
