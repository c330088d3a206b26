"""Packaging: one namespace, nothing importable under the bare folder names."""

import os
import subprocess
import sys
from pathlib import Path


def test_the_bare_folder_names_do_not_import_and_the_namespace_does(tmp_path):
    code = (
        "import importlib\n"
        "for bare in ('bounds', 'simulators', 'reports', 'scloop_testing'):\n"
        "    try:\n"
        "        importlib.import_module(bare)\n"
        "    except ImportError:\n"
        "        continue\n"
        "    raise SystemExit(bare + ' imports')\n"
        "import selfloop.bounds, selfloop.simulators, selfloop.reports, selfloop.testing\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert run.returncode == 0, run.stdout + run.stderr


#: The longest a module may be: one concept a module (CHANGELOG.md, the redesign).
MAX_MODULE_LINES = 400


def test_no_module_is_longer_than_400_lines():
    root = Path(__file__).parent.parent
    folders = ("bounds", "simulators", "reports", "scloop_testing", "tests", "benchmarks")
    lengths = {
        str(path.relative_to(root)): len(path.read_text().splitlines())
        for folder in folders
        for path in (root / folder).rglob("*.py")
    }
    assert len(lengths) > 50  # the walk found the packages
    assert {name: lines for name, lines in lengths.items() if lines > MAX_MODULE_LINES} == {}
