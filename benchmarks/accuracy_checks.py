"""Two figures the docstrings used to carry, measured: the KDE's quadrature error on its default grid, and the
separable evaluation of a Gaussian mixture on a grid against a pdf at every node.

Run by hand (not in CI): ``python -m benchmarks.accuracy_checks``.
"""

from __future__ import annotations

import time

import numpy as np

from selfloop.simulators import KDE, Box, Grid, standard_truth
from selfloop.simulators.metrics import common_grid, tv_on_grid


def kde_quadrature_error() -> float:
    """Largest |TV on the default grid (h/10) - TV from exact kernel sums at h/80|, 1-D, N in {50, 10^4}, h in
    {0.03, 0.1, 0.3}."""
    truth, worst = standard_truth("bimodal_1d"), 0.0
    for n in (50, 10_000):
        for h in (0.03, 0.1, 0.3):
            fit = KDE(h).fit(truth.sample(n, np.random.default_rng(0)))
            grid = common_grid([truth, fit])
            default = tv_on_grid(grid, grid.evaluate(fit), grid.evaluate(truth))
            fine = Grid.covering(Box.union([truth.bounding_box(1e-9), fit.bounding_box(1e-9)]), h / 80)
            exact = tv_on_grid(fine, fit.pdf(fine.points()).reshape(fine.shape), fine.evaluate(truth))
            worst = max(worst, abs(default - exact))
    return worst


def mixture_on_a_grid() -> tuple[int, float, float]:
    """(nodes, median seconds of grid_pdf, of pdf at every node) for ring_2d on a grid four times finer than its own."""
    ring = standard_truth("ring_2d")
    grid = Grid.covering(ring.bounding_box(1e-9), ring.grid_spacing / 4)

    def seconds(evaluate, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            evaluate()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    separable = seconds(lambda: ring.grid_pdf(grid), 21)
    pointwise = seconds(lambda: ring.pdf(grid.points()), 3)
    return grid.size, separable, pointwise


if __name__ == "__main__":
    print(
        f"1-D KDE TV, default grid (h/10) vs exact kernel sums at h/80: max |difference| {kde_quadrature_error():.2e}"
    )
    nodes, separable, pointwise = mixture_on_a_grid()
    print(f"ring_2d on {nodes} nodes: grid_pdf {separable * 1e3:.1f} ms, pdf at every node {pointwise * 1e3:.1f} ms")
