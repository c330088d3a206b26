"""Packaging: one namespace, nothing importable under the bare folder names."""

import os
import subprocess
import sys


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
