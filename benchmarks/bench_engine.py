"""The loop engine against an earlier revision: ``run_loop`` wall time for four models, each case in a fresh
interpreter, the revisions alternating.

Run by hand (not in CI): ``python -m benchmarks.bench_engine --against PATH_TO_OLD_CHECKOUT_PYTHON`` (the ``python``
of a virtual environment with the earlier revision installed); without ``--against`` it times this revision only.
One BLAS thread. Prints the median of ``--repeats`` runs per case and revision, their ratio, and whether the last
generation's mean TV is the same float in both (the engine must not change a number).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CASES = {
    "kde": "run_loop(standard_truth('bimodal_1d'), KDE(0.1), Scenario.mixed(10_000, 0.5), 20, seed=0, replicates=100)",
    "kde2d": "run_loop(standard_truth('ring_2d'), KDE(0.3), Scenario.mixed(1000, 0.5), 10, seed=0, replicates=32)",
    "diffusion": "run_loop(standard_truth('bimodal_1d'), RandomFeatureDiffusion(width=96, steps=80), "
    "Scenario.mixed(2000, 0.5), 4, seed=0, replicates=16, measures=['one_step'])",
    "mle": "run_loop(standard_truth('gaussian_1d'), GaussianMLE(), Scenario.fully_synthetic(50), 30, seed=0, replicates=400)",
}
_CHILD = """
import json, time
from selfloop.simulators import KDE, GaussianMLE, RandomFeatureDiffusion, Scenario, run_loop, standard_truth
start = time.perf_counter()
result = {case}
print(json.dumps({{"seconds": time.perf_counter() - start, "mean_tv_last": float(result.tv[:, -1].mean())}}))
"""


def run(python: str, case: str) -> dict:
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [python, "-c", _CHILD.format(case=CASES[case])],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd="/",  # import the installed revision, not this folder's sources
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="python of an environment with the earlier revision installed")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    revisions = {"this": sys.executable, **({"earlier": arguments.against} if arguments.against else {})}
    for case in CASES:
        times = {name: [] for name in revisions}
        values = {}
        for _ in range(arguments.repeats):
            for name, python in revisions.items():
                measured = run(python, case)
                times[name].append(measured["seconds"])
                values[name] = measured["mean_tv_last"]
        line = f"{case:10s}" + "".join(f" {name} {statistics.median(t):.2f} s" for name, t in times.items())
        if arguments.against:
            ratio = statistics.median(times["earlier"]) / statistics.median(times["this"])
            line += f"; earlier / this {ratio:.2f}; same TV: {values['earlier'] == values['this']}"
        print(line)


if __name__ == "__main__":
    main()
