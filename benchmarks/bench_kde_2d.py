"""The 2-D KDE loop of the speed issue, before and after, in one run, at equal accuracy.

Run by hand: ``python -m benchmarks.bench_kde_2d [--replicates 30] [--before REF]``.

Setting: two 2-D modes 8 apart, h = 0.15, N = 500, lambda = 0.5, 5 generations, exact TV at every
generation. "Before" is the same loop at git revision REF (default ``13a0ddd``, the code the speed
issue measured at 226 s), checked out into a temporary worktree and run in a subprocess with the same
seed; "after" is this checkout. Both fit the same training sets when their samplers agree, so the
largest TV difference is printed, and each TV is compared with exact kernel sums on a finer grid
for the first replicate (the accuracy target is 1e-4 absolute).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from ._child import revision_on_path

SNIPPET = """
import json, sys, time, warnings
import numpy as np
from selfloop.simulators import KDE, GaussianMixture, Scenario, run_loop
truth = GaussianMixture.isotropic([0.5, 0.5], [[-4.0, 0.0], [4.0, 0.0]], [1.0, 1.0])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    start = time.perf_counter()
    result = run_loop(truth, KDE(0.15), Scenario.mixed(500, 0.5), 5, seed=0, replicates=int(sys.argv[1]))
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "tv": result.tv.tolist(), "warnings": len(caught)}))
"""

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path | None, replicates: int) -> dict:
    """Time the loop in a fresh interpreter, with ``path`` (a revision's code, :func:`revision_on_path`) first on
    ``PYTHONPATH``, or with this checkout when ``path`` is None."""
    environment = dict(os.environ, **({"PYTHONPATH": str(path)} if path else {}))
    output = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(replicates)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd="/",
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def reference_tv(replicates: int) -> np.ndarray:
    """The first replicate's TVs from exact kernel sums on a grid of step h/12 (this checkout's sampler)."""
    from selfloop.simulators import KDE, FittedKDE, GaussianMixture, Grid, Scenario, run_loop
    from selfloop.simulators.grid import Box

    truth = GaussianMixture.isotropic([0.5, 0.5], [[-4.0, 0.0], [4.0, 0.0]], [1.0, 1.0])
    result = run_loop(truth, KDE(0.15), Scenario.mixed(500, 0.5), 5, seed=0, replicates=1)
    values = []
    for model in result.models:
        grid = Grid.covering(Box.union([truth.bounding_box(), model.bounding_box()]), 0.15 / 12)
        exact = np.concatenate(
            [FittedKDE(model.data, model.bandwidth).pdf(chunk) for chunk in np.array_split(grid.points(), 64)]
        )
        values.append(0.5 * grid.integrate_abs(exact.reshape(grid.shape) - truth.grid_pdf(grid)))
    return np.array(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--before", default="13a0ddd", help="git revision of the 'before' code")
    arguments = parser.parse_args(argv)
    with revision_on_path(ROOT, arguments.before) as path:
        before = run(path, arguments.replicates)
    after = run(None, arguments.replicates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_tv(1)
    fits = arguments.replicates * 6
    after_tv, before_tv = np.array(after["tv"]), np.array(before["tv"])
    print(f"2-D KDE loop, {arguments.replicates} replicates x 6 fits, exact TV each")
    print(
        f"before ({arguments.before}): {before['seconds']:.1f} s ({before['seconds'] / fits:.3f} s per fit), {before['warnings']} warnings"
    )
    print(f"after:  {after['seconds']:.1f} s ({after['seconds'] / fits:.3f} s per fit), {after['warnings']} warnings")
    print(f"speed ratio {before['seconds'] / after['seconds']:.1f}x")
    print(f"max |TV after - exact-sum reference| (replicate 0): {np.max(np.abs(after_tv[0] - reference)):.2e}")
    if after_tv.shape == before_tv.shape:
        print(
            f"max |TV after - TV before| (same seeds; differs where the samplers' draws differ): {np.max(np.abs(after_tv - before_tv)):.2e}"
        )


if __name__ == "__main__":
    main()
