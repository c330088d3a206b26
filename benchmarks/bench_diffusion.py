"""Random-feature diffusion: closed-form gradient flow vs the naive explicit gradient-descent loop.

Run by hand (not in CI): ``python -m benchmarks.bench_diffusion``.

Training setting: 1-D bimodal truth, N = 500, width m = 128, 8 noise draws
per point, early stopping ``EarlyStopping(10)`` (the naive loop needs about
10 N^(2/5) g_max / g_mean iterations, tens of thousands: at N = 2000,
m = 256 one naive fit takes about half an hour). The naive loop is what
a user would write: build the feature matrix Phi (M x m) and targets once,
then iterate A <- A - eta grad L(A) with the largest stable step
eta = 1 / (largest Hessian eigenvalue) until the loss reaches the closed-form
loss at the same stopping time. Both run in this process; the figure is the
median ratio over REPEATS runs. A second part times one full generation
(fit, 200-step sampler density, exact TV) and its peak memory in a subprocess. A third part
(``--density-2d [--before REF]``) times the 2-D SDE grid density (ring_2d, N = 1000) at widths and
steps (128, 80) and (256, 200), at revision REF (default 04fdbac) and in this checkout, each in a
fresh interpreter, with the same parameterization ("preconditioned", which both revisions have).
A fourth part (``--loop [--before REF]``) times one 1-D loop cell of the standard suite (Li's network,
width 96, 80 steps, N = 2000, lambda = 0.5, 16 replicates x 5 fits, one-step errors on) with the
replicates run together (the default), one at a time (``chunk_replicates=1``), and at revision REF
(default 5b337d8, before the replicates ran together), each in a fresh interpreter on one BLAS thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from selfloop.simulators import EarlyStopping, RandomFeatureDiffusion, standard_truth, tv_quadrature

from ._child import peak_rss_gib, revision_on_path, run_child

SIZE, WIDTH, DRAWS, REPEATS = 500, 128, 8, 3
GENERATION_SIZE, GENERATION_WIDTH = 2000, 256


def naive_fit(
    model: RandomFeatureDiffusion, data: np.ndarray, rng: np.random.Generator, target_loss: float
) -> tuple[np.ndarray, int]:
    """Explicit gradient descent on the score-matching loss until it reaches ``target_loss``."""
    phi, targets = model.design(data, rng)
    rows, m = phi.shape
    lipschitz = 2 * np.linalg.norm(phi, 2) ** 2 / (rows * m**2)
    weights = np.zeros((1, m))
    iterations = 0
    while True:
        residual = phi @ weights.T / m - targets
        if np.sum(residual**2) / rows <= target_loss:
            return weights, iterations
        weights -= (1.0 / lipschitz) * (2.0 / (rows * m)) * (residual.T @ phi)
        iterations += 1


def speed() -> dict:
    truth = standard_truth("bimodal_1d")
    model = RandomFeatureDiffusion(width=WIDTH, noise_draws=DRAWS, stopping_time=EarlyStopping(10.0))
    ratios, ours_times, naive_times, iterations = [], [], [], []
    for repeat in range(REPEATS):
        data = truth.sample(SIZE, np.random.default_rng(repeat))
        start = time.perf_counter()
        fitted = model.fit(data, np.random.default_rng(100 + repeat))
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        _, count = naive_fit(model, data, np.random.default_rng(100 + repeat), fitted.loss * (1 + 1e-9))
        naive_times.append(time.perf_counter() - start)
        iterations.append(count)
        ratios.append(naive_times[-1] / ours_times[-1])
    return {
        "ours_seconds_median": float(np.median(ours_times)),
        "naive_seconds_median": float(np.median(naive_times)),
        "naive_iterations_median": int(np.median(iterations)),
        "speed_ratio_median": float(np.median(ratios)),
    }


def generation_child() -> None:
    truth = standard_truth("bimodal_1d")
    model = RandomFeatureDiffusion(width=GENERATION_WIDTH, steps=200)
    start = time.perf_counter()
    fitted = model.fit(truth.sample(GENERATION_SIZE, np.random.default_rng(0)), np.random.default_rng(1))
    fit_seconds = time.perf_counter() - start
    distance = tv_quadrature(truth, fitted)
    total = time.perf_counter() - start
    print(
        json.dumps(
            {"fit_seconds": fit_seconds, "fit_density_tv_seconds": total, "peak_gib": peak_rss_gib(), "tv": distance}
        )
    )


def generation() -> dict:
    return run_child("benchmarks.bench_diffusion", "--generation-child")


DENSITY_SNIPPET = """
import json, time
import numpy as np
from selfloop.simulators import RandomFeatureDiffusion, standard_truth
truth, out = standard_truth("ring_2d"), {}
for width, steps in ((128, 80), (256, 200)):
    rng = np.random.default_rng(0)
    fitted = RandomFeatureDiffusion(width=width, steps=steps, parameterization="preconditioned").fit(truth.sample(1000, rng), rng)
    start = time.perf_counter()
    grid, density = fitted.density_grid()
    out[f"{width}/{steps}"] = {"seconds": time.perf_counter() - start, "nodes": int(grid.size), "mass": float(grid.integrate(density))}
print(json.dumps(out))
"""


LOOP_SNIPPET = """
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
threadpool_limits(1)
from selfloop.simulators import RandomFeatureDiffusion, Scenario, run_loop, standard_truth
truth, model = standard_truth("bimodal_1d"), RandomFeatureDiffusion(width=96, steps=80, noise_draws=8)
options = dict(generations=4, seed=7, replicates=16, measures=["one_step"])
if len(sys.argv) > 1:
    options["chunk_replicates"] = int(sys.argv[1])
start = time.perf_counter()
result = run_loop(truth, model, Scenario.mixed(2000, 0.5), **options)
print(json.dumps({"seconds": time.perf_counter() - start, "tv": result.tv.tolist()}))
"""


def loop_cell(before: str) -> dict:
    """One 1-D diffusion loop cell: replicates together, one at a time, and at ``before``, each in a fresh interpreter."""
    root = Path(__file__).resolve().parents[1]

    def run(path: Path | None, *arguments: str) -> dict:
        environment = dict(os.environ, **({"PYTHONPATH": str(path)} if path else {}))
        output = subprocess.run(
            [sys.executable, "-c", LOOP_SNIPPET, *arguments],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd="/",
        )
        return json.loads(output.stdout.strip().splitlines()[-1])

    with revision_on_path(root, before) as path:
        then = run(path)
    together, alone = run(None), run(None, "1")
    difference = float(np.max(np.abs(np.array(together["tv"]) - np.array(alone["tv"]))))
    return {
        "together_seconds": together["seconds"],
        "one_at_a_time_seconds": alone["seconds"],
        "before_seconds": then["seconds"],
        "speedup_over_one_at_a_time": alone["seconds"] / together["seconds"],
        "speedup_over_before": then["seconds"] / together["seconds"],
        "max_tv_difference_together_vs_alone": difference,
        "max_tv_difference_vs_before": float(np.max(np.abs(np.array(together["tv"]) - np.array(then["tv"])))),
    }


def density_2d(before: str) -> dict:
    """The 2-D grid density's time per model, at ``before`` and now, each in a fresh interpreter."""
    root = Path(__file__).resolve().parents[1]

    def run(path: Path | None) -> dict:
        environment = dict(os.environ, **({"PYTHONPATH": str(path)} if path else {}))
        output = subprocess.run(
            [sys.executable, "-c", DENSITY_SNIPPET],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd="/",
        )
        return json.loads(output.stdout.strip().splitlines()[-1])

    with revision_on_path(root, before) as path:
        then = run(path)
    now = run(None)
    return {
        key: {
            "before_seconds": then[key]["seconds"],
            "now_seconds": now[key]["seconds"],
            "speedup": then[key]["seconds"] / now[key]["seconds"],
            "nodes": now[key]["nodes"],
        }
        for key in now
    }


if __name__ == "__main__":
    if "--generation-child" in sys.argv:
        generation_child()
    elif "--loop" in sys.argv:
        revision = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else "5b337d8"
        print(json.dumps(loop_cell(revision), indent=2))
    elif "--density-2d" in sys.argv:
        revision = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else "04fdbac"
        print(json.dumps(density_2d(revision), indent=2))
    else:
        print(json.dumps({"training": speed(), "one_generation": generation()}, indent=2))
