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


def test_every_public_name_is_exported_from_one_module():
    """One vocabulary: a name in a module's ``__all__`` is in no other module's (a package's ``__init__`` may gather
    its modules' names for the flat API)."""
    import importlib
    import pkgutil
    from collections import defaultdict

    homes = defaultdict(list)
    for package in ("selfloop.bounds", "selfloop.simulators", "selfloop.reports", "selfloop.testing"):
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
            if info.ispkg or info.name.endswith("__main__"):
                continue
            for name in getattr(importlib.import_module(info.name), "__all__", []):
                homes[name].append(info.name)
    assert not {name: modules for name, modules in homes.items() if len(modules) > 1}


def test_no_module_outside_a_claims_own_names_its_id():
    """A claim's presentation is its own (Claim attributes and hooks) and a claim that reads another's records declares
    it (``reads``): no module of reports/ quotes a registered claim's id but the claim's own, the reader of old
    documents (legacy.py, which maps their names) and a declared ``reads``; a model's name that is also a claim's
    (``gaussian_mle``, ``curated``: the model registry and a cell's ``"name"``) is a model's. Its module's name is its
    id, too."""
    import re

    from selfloop.reports import CLAIMS

    root = Path(__file__).resolve().parent.parent / "reports"
    ids = {name: type(CLAIMS.get(name)).__module__.rsplit(".", 1)[-1] + ".py" for name in CLAIMS}
    assert all(module == f"{name}.py" for name, module in ids.items()), ids
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name in ("legacy.py", "models.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name, module in ids.items():
                quoted = re.search(rf"[\"']{re.escape(name)}[\"']", line)
                own = path.parent.name == "claims" and path.name == module
                declared = line.strip().startswith("reads = ") or "``" in line or f'"name": "{name}"' in line
                if quoted and not own and not declared:
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
