"""Every Python snippet in the README and in docs/*.md runs as written, each in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SNIPPETS = [
    (path.relative_to(ROOT).as_posix(), code)
    for path in DOCUMENTS
    for code in re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
]


def test_the_readme_is_a_front_door_with_snippets():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200 and any(name == "README.md" for name, _ in SNIPPETS)
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("index", range(len(SNIPPETS)), ids=[f"{name}-{k}" for k, (name, _) in enumerate(SNIPPETS)])
def test_documented_snippet_runs(index, tmp_path):
    name, code = SNIPPETS[index]
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"MPLBACKEND": "Agg", "PATH": ""},
    )
    assert completed.returncode == 0, f"snippet {index} of {name} failed:\n{code}\n{completed.stderr[-3000:]}"
