"""The 2-D KDE loop before and after variance-compensated binning and separable truth densities, in one run.

Run by hand: ``python -m benchmarks.bench_kde_2d [--replicates 30]``. Setting (the speed issue): two 2-D
modes 8 apart, h = 0.15, N = 500, lambda = 0.5, 5 generations, exact TV at every generation. "Before" restores
the previous numerics in this process (grid step h/40, uncompensated binning, the truth evaluated point by
point); both runs use the same seeds, so they fit the same models, and the TV difference between them is the
change in accuracy (each against a reference four times finer is printed too).
"""

from __future__ import annotations

import argparse
import time
import warnings
from contextlib import contextmanager

import numpy as np

import simulators.kde as kde
import simulators.truth as truth_module
from simulators import KDE, GaussianMixture, Scenario, run_loop
from simulators.grid import gaussian_blur, linear_bin

TRUTH = GaussianMixture.isotropic([0.5, 0.5], [[-4.0, 0.0], [4.0, 0.0]], [0.36, 0.36])
SCENARIO, BANDWIDTH, GENERATIONS = Scenario.mixed(500, 0.5), 0.15, 5


@contextmanager
def previous_numerics():
    """The numerics before the change: h/40, no variance compensation, no separable truth density."""
    steps, grid_pdf, truth_grid_pdf = dict(kde.STEPS_PER_BANDWIDTH), kde.FittedKDE.grid_pdf, truth_module.GaussianMixture.grid_pdf
    kde.STEPS_PER_BANDWIDTH[2] = 40
    kde.FittedKDE.grid_pdf = lambda self, grid: gaussian_blur(linear_bin(self.data, grid), grid, self.bandwidth**2)
    del truth_module.GaussianMixture.grid_pdf
    try:
        yield
    finally:
        kde.STEPS_PER_BANDWIDTH.update(steps)
        kde.FittedKDE.grid_pdf = grid_pdf
        truth_module.GaussianMixture.grid_pdf = truth_grid_pdf


def timed_loop(replicates: int) -> tuple[np.ndarray, float, int]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        tv = run_loop(TRUTH, KDE(BANDWIDTH), SCENARIO, GENERATIONS, seed=0, replicates=replicates).tv
        return tv, time.perf_counter() - start, len(caught)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=30)
    replicates = parser.parse_args(argv).replicates
    after, after_seconds, after_warnings = timed_loop(replicates)
    with previous_numerics():
        before, before_seconds, before_warnings = timed_loop(replicates)
    fits = replicates * (GENERATIONS + 1)
    print(f"2-D KDE loop, {replicates} replicates x {GENERATIONS + 1} fits, exact TV each")
    print(f"before: {before_seconds:.1f} s ({before_seconds / fits:.3f} s per fit), {before_warnings} grid-cap warnings")
    print(f"after:  {after_seconds:.1f} s ({after_seconds / fits:.3f} s per fit), {after_warnings} grid-cap warnings")
    print(f"speed ratio {before_seconds / after_seconds:.1f}x; max |TV after - TV before| = {np.max(np.abs(after - before)):.2e}")


if __name__ == "__main__":
    main()
