"""KDE loop speed against the naive scipy.stats.gaussian_kde loop, and memory at N = 10^6.

Run by hand (not in CI): ``python -m benchmarks.bench_kde_loop``.

Setting (issue 2): 1-D bimodal truth, N = 10^4 per generation, h = 0.1,
20 generations, exact TV at every generation. The naive loop is what a user
would write: ``gaussian_kde`` with the same absolute bandwidth, density on a
4096-point grid, TV by the trapezoidal rule on that grid, ``resample()`` to
draw the next generation's data. Both loops run ``REPEATS`` times,
interleaved, in this process; the reported figure is the median of the
per-repeat time ratios.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from scipy import stats

from simulators import KDE, Scenario, run_loop, standard_truth

from ._child import peak_rss_gib, run_child

SIZE, BANDWIDTH, GENERATIONS, REPEATS = 10_000, 0.1, 20, 5
NAIVE_GRID = np.linspace(-6.0, 6.0, 4096)


def naive_tv(truth, kde: stats.gaussian_kde) -> float:
    """TV as a user would compute it: trapezoid of |p - p0| on a 4096-point grid."""
    difference = np.abs(kde(NAIVE_GRID) - truth.pdf(NAIVE_GRID[:, None]))
    return 0.5 * float(np.trapezoid(difference, NAIVE_GRID))


def naive_kde(data: np.ndarray) -> stats.gaussian_kde:
    """scipy's KDE with absolute bandwidth h: its factor multiplies the sample std."""
    return stats.gaussian_kde(data, bw_method=BANDWIDTH / data.std(ddof=1))


def naive_loop(truth, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    data = truth.sample(SIZE, rng)[:, 0]
    distances = []
    for _ in range(GENERATIONS + 1):
        kde = naive_kde(data)
        distances.append(naive_tv(truth, kde))
        data = kde.resample(SIZE, seed=rng)[0]
    return distances


def ours(truth, seed: int):
    return run_loop(truth, KDE(BANDWIDTH), Scenario.fully_synthetic(SIZE), GENERATIONS, seed=seed)


def speed() -> dict:
    truth = standard_truth("bimodal_1d")
    ours(truth, 0)  # warm-up (imports, FFT plans)
    ratios, ours_times, naive_times = [], [], []
    for repeat in range(REPEATS):
        start = time.perf_counter()
        ours(truth, repeat)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        naive_loop(truth, repeat)
        naive_times.append(time.perf_counter() - start)
        ratios.append(naive_times[-1] / ours_times[-1])
    # accuracy: both TV methods on the same fitted models
    result = ours(truth, 123)
    naive_on_same = [naive_tv(truth, naive_kde(model.data[:, 0])) for model in result.models]
    return {
        "ours_seconds_median": float(np.median(ours_times)),
        "naive_seconds_median": float(np.median(naive_times)),
        "speed_ratio_median": float(np.median(ratios)),
        "tv_max_abs_difference": float(np.max(np.abs(result.tv[0] - naive_on_same))),
    }


def memory_child() -> None:
    """Runs in a subprocess: 3 generations at N = 10^6, then prints peak RSS."""
    start = time.perf_counter()
    result = run_loop(standard_truth("bimodal_1d"), KDE(BANDWIDTH), Scenario.mixed(1_000_000, 0.5), 3, seed=0)
    elapsed = time.perf_counter() - start
    print(json.dumps({"peak_gib": peak_rss_gib(), "seconds": elapsed, "tv": result.tv[0].tolist()}))


if __name__ == "__main__":
    if "--memory-child" in sys.argv:
        memory_child()
    else:
        figures = {"speed": speed(), "memory_n1e6_3_generations": run_child("benchmarks.bench_kde_loop", "--memory-child")}
        print(json.dumps(figures, indent=2))
