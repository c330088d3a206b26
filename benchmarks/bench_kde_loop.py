"""The KDE loop against the tools a user would pick, its scaling, and its floor, in one run.

Run by hand (not in CI): ``python -m benchmarks.bench_kde_loop`` (needs the ``[bench]`` extra: KDEpy).

Setting: 1-D bimodal truth, N = 10^4 points per generation, h = 0.1, lambda = 0.5 fresh real data,
20 generations after generation 0, R = 100 replicates, TV to the truth at every generation.

- ours: ``run_loop(..., replicates=R)`` (the replicates run together: one binning and one FFT a chunk, simulators/measurement.py);
- KDEpy: the loop a user would write with ``KDEpy.FFTKDE``: fit, evaluate on an equidistant grid
  covering the data and the truth, TV by the trapezoid rule on that grid, the same draws (each
  replicate's own stream, the same calls), so both fit identical training sets;
- naive: ``scipy.stats.gaussian_kde`` evaluated on the same grid, ``resample`` for the synthetic
  draws; timed on ``NAIVE_REPLICATES`` replicates and compared per replicate-generation;
- floor: only drawing every replicate's samples and binning them (no smoothing, no TV); and the loop's work split into
  its stages, each timed alone (drawing, binning, the FFT smoothing, the TV on the grid): how close ours is to the sum
  of its own parts, and where the time goes.

Accuracy: on replicate 0 every generation's TV is also computed from exact kernel sums on a grid of
step h/40 (the reference); the largest deviation of ours and of KDEpy's from it is printed. KDEpy's
grid is the smallest power of two whose TV is as accurate as ours (at most 2^16 points).
Scaling: seconds per generation against N (10^3 to 10^7, R = 1) and against R (N = 10^4), saved as a
log-log plot in docs/kde_loop_scaling.png; peak memory of one generation at N = 10^7 in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import stats

from selfloop.simulators import KDE, FittedKDE, Grid, Scenario, run_loop, standard_truth
from selfloop.simulators.grid import Box
from selfloop.simulators.metrics import tv_on_grid
from selfloop.simulators.smoothing import gaussian_smooth, linear_bin

from ._child import peak_rss_gib, run_child

SIZE, BANDWIDTH, REAL_FRACTION, GENERATIONS, REPLICATES, NAIVE_REPLICATES = 10_000, 0.1, 0.5, 20, 100, 2
TRUTH = standard_truth("bimodal_1d")
SCENARIO = Scenario.mixed(SIZE, REAL_FRACTION)


def streams(seed: int, replicates: int) -> list[np.random.Generator]:
    """Each replicate's loop stream, as run_loop spawns it."""
    return [np.random.default_rng(stream.spawn(2)[0]) for stream in np.random.SeedSequence(seed).spawn(replicates)]


def next_data(rng: np.random.Generator, data: np.ndarray) -> np.ndarray:
    """The next training set, drawn exactly as run_loop draws it: real points, then KDE samples."""
    return np.concatenate(
        [TRUTH.sample(SCENARIO.real, rng), FittedKDE(data, BANDWIDTH).sample(SCENARIO.synthetic, rng)]
    )


def user_grid(data: np.ndarray, points: int) -> np.ndarray:
    """An equidistant grid covering the data (plus 8 h) and the truth's mass."""
    box = TRUTH.bounding_box()
    return np.linspace(
        min(box.lower[0], data.min() - 8 * BANDWIDTH), max(box.upper[0], data.max() + 8 * BANDWIDTH), points
    )


def trapezoid_tv(grid: np.ndarray, density: np.ndarray) -> float:
    return 0.5 * float(np.trapezoid(np.abs(density - TRUTH.pdf(grid[:, None])), grid))


def kdepy_loop(seed: int, replicates: int, points: int) -> np.ndarray:
    from KDEpy import FFTKDE

    out = np.zeros((replicates, GENERATIONS + 1))
    for replicate, rng in enumerate(streams(seed, replicates)):
        data = TRUTH.sample(SIZE, rng)
        for generation in range(GENERATIONS + 1):
            if generation:
                data = next_data(rng, data)
            grid = user_grid(data, points)
            out[replicate, generation] = trapezoid_tv(grid, FFTKDE(bw=BANDWIDTH).fit(data[:, 0]).evaluate(grid))
    return out


def naive_loop(seed: int, replicates: int, points: int = 4096) -> None:
    for rng in streams(seed, replicates):
        data = TRUTH.sample(SIZE, rng)[:, 0]
        for _ in range(GENERATIONS + 1):
            kde = stats.gaussian_kde(data, bw_method=BANDWIDTH / data.std(ddof=1))
            trapezoid_tv(user_grid(data[:, None], points), kde(user_grid(data[:, None], points)))
            data = np.concatenate(
                [TRUTH.sample(SCENARIO.real, rng)[:, 0], kde.resample(SCENARIO.synthetic, seed=rng)[0]]
            )


def floor(seed: int, replicates: int) -> None:
    """Draw every replicate's samples and bin them onto one grid per generation: the work no loop avoids."""
    rngs = streams(seed, replicates)
    data = np.stack([TRUTH.sample(SIZE, rng) for rng in rngs])
    for generation in range(GENERATIONS + 1):
        if generation:
            data = np.stack([next_data(rng, d) for rng, d in zip(rngs, data)])
        box = Box.union(
            [TRUTH.bounding_box(), Box(data.min(axis=(0, 1)) - 6 * BANDWIDTH, data.max(axis=(0, 1)) + 6 * BANDWIDTH)]
        )
        linear_bin(data, Grid.covering(box, FittedKDE.spacing_for(BANDWIDTH, 1)))


def floor_parts(seed: int, replicates: int) -> dict[str, float]:
    """The loop's work split into its stages, each timed alone over every generation (seconds): drawing the training
    sets, binning them, the FFT smoothing of the binned masses, and the TV to the truth on the grid. The first two are
    the floor (:func:`floor`); the last two are what the KDE and the measurement add. Stages share their inputs, so the
    times are of the work alone, not of a second pass through memory."""
    rngs = streams(seed, replicates)
    start = time.perf_counter()
    sets = [np.stack([TRUTH.sample(SIZE, rng) for rng in rngs])]
    for _ in range(GENERATIONS):
        sets.append(np.stack([next_data(rng, d) for rng, d in zip(rngs, sets[-1])]))
    parts = {"draw": time.perf_counter() - start, "bin": 0.0, "fft": 0.0, "tv": 0.0}
    for data in sets:
        box = Box.union(
            [TRUTH.bounding_box(), Box(data.min(axis=(0, 1)) - 6 * BANDWIDTH, data.max(axis=(0, 1)) + 6 * BANDWIDTH)]
        )
        grid = Grid.covering(box, FittedKDE.spacing_for(BANDWIDTH, 1))
        start = time.perf_counter()
        masses = linear_bin(data, grid)
        parts["bin"] += time.perf_counter() - start
        start = time.perf_counter()
        densities = gaussian_smooth(masses, grid, np.full((replicates, 1), BANDWIDTH**2 - grid.spacing[0] ** 2 / 6))
        parts["fft"] += time.perf_counter() - start
        truth = TRUTH.grid_pdf(grid)
        start = time.perf_counter()
        tv_on_grid(grid, densities, np.broadcast_to(truth, densities.shape))
        parts["tv"] += time.perf_counter() - start
    return parts


def reference_tv(seed: int) -> np.ndarray:
    """Replicate 0's TVs from exact kernel sums on a grid of step h/40."""
    result = run_loop(TRUTH, KDE(BANDWIDTH), SCENARIO, GENERATIONS, seed=seed, replicates=1)
    out = []
    for model in result.models:
        grid = Grid.covering(Box.union([TRUTH.bounding_box(), model.bounding_box()]), BANDWIDTH / 40)
        out.append(0.5 * grid.integrate_abs(model.pdf(grid.points()) - TRUTH.grid_pdf(grid)))
    return np.array(out)


def timed(function, *arguments) -> tuple[float, object]:
    start = time.perf_counter()
    value = function(*arguments)
    return time.perf_counter() - start, value


def comparison(seed: int = 0) -> dict:
    reference = reference_tv(seed)
    ours_seconds, ours = timed(
        lambda: run_loop(TRUTH, KDE(BANDWIDTH), SCENARIO, GENERATIONS, seed=seed, replicates=REPLICATES).tv
    )
    ours_error = float(np.max(np.abs(ours[0] - reference)))
    points = next(
        p
        for p in 2 ** np.arange(10, 17)
        if np.max(np.abs(kdepy_loop(seed, 1, int(p))[0] - reference)) <= ours_error or p == 2**16
    )
    kdepy_seconds, kdepy = timed(kdepy_loop, seed, REPLICATES, int(points))
    naive_seconds, _ = timed(naive_loop, seed, NAIVE_REPLICATES)
    floor_seconds, _ = timed(floor, seed, REPLICATES)
    parts = floor_parts(seed, REPLICATES)
    per_fit = REPLICATES * (GENERATIONS + 1)
    return {
        "setting": f"N={SIZE}, h={BANDWIDTH}, lambda={REAL_FRACTION}, {GENERATIONS} generations, R={REPLICATES}",
        "ours_seconds": ours_seconds,
        "kdepy_seconds": kdepy_seconds,
        "kdepy_grid_points": int(points),
        "naive_seconds_per_replicate_generation": naive_seconds / (NAIVE_REPLICATES * (GENERATIONS + 1)),
        "floor_seconds": floor_seconds,
        "ours_ms_per_replicate_generation": 1e3 * ours_seconds / per_fit,
        "kdepy_over_ours": kdepy_seconds / ours_seconds,
        "naive_over_ours": naive_seconds / (NAIVE_REPLICATES * (GENERATIONS + 1)) / (ours_seconds / per_fit),
        "ours_over_floor": ours_seconds / floor_seconds,
        "parts_seconds": parts,
        "ours_over_parts": ours_seconds / sum(parts.values()),
        "ours_max_tv_error": ours_error,
        "kdepy_max_tv_error": float(np.max(np.abs(kdepy[0] - reference))),
    }


def scaling() -> dict:
    by_size, by_replicates = {}, {}
    for size in [10**3, 10**4, 10**5, 10**6]:
        generations = 5 if size < 10**6 else 2
        seconds, _ = timed(run_loop, TRUTH, KDE(BANDWIDTH), Scenario.mixed(size, REAL_FRACTION), generations)
        by_size[size] = seconds / (generations + 1)
    by_size[10**7] = run_child("benchmarks.bench_kde_loop", "--memory-child")
    for replicates in [1, 4, 16, 64, 256]:
        seconds, _ = timed(lambda r=replicates: run_loop(TRUTH, KDE(BANDWIDTH), SCENARIO, 5, replicates=r))
        by_replicates[replicates] = seconds / 6
    return {"seconds_per_generation_by_size": by_size, "seconds_per_generation_by_replicates": by_replicates}


def plot(figures: dict, path: str = "docs/kde_loop_scaling.png") -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6))
    by_size = figures["seconds_per_generation_by_size"]
    sizes = sorted(by_size)
    seconds = [by_size[n]["seconds_per_generation"] if isinstance(by_size[n], dict) else by_size[n] for n in sizes]
    left, right = figure.subplots(1, 2)
    left.loglog(sizes, seconds, "o-")
    left.set(xlabel="points per generation N (R = 1)", ylabel="seconds per generation", title="against N")
    by_replicates = figures["seconds_per_generation_by_replicates"]
    counts = sorted(by_replicates)
    right.loglog(counts, [by_replicates[r] for r in counts], "o-", label="batched run_loop")
    right.loglog(counts, [by_replicates[counts[0]] * r for r in counts], ":", label="R x one replicate")
    right.set(xlabel="replicates R (N = 10^4)", title="against R")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def memory_child() -> None:
    """Runs in a subprocess: 2 generations at N = 10^7, then prints the time per generation and peak RSS."""
    start = time.perf_counter()
    run_loop(TRUTH, KDE(BANDWIDTH), Scenario.mixed(10**7, REAL_FRACTION), 2, seed=0)
    print(json.dumps({"seconds_per_generation": (time.perf_counter() - start) / 3, "peak_gib": peak_rss_gib()}))


if __name__ == "__main__":
    if "--memory-child" in sys.argv:
        memory_child()
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--skip-scaling", action="store_true")
        arguments = parser.parse_args()
        figures = {"comparison": comparison()}
        if not arguments.skip_scaling:
            figures.update(scaling())
            plot(figures)
        print(json.dumps(figures, indent=2))
