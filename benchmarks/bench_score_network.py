"""Your own score network and the exact laws: what a fit, a grid density and a certificate cost, and the exact E TV.

Run by hand (not in CI): ``SCLOOP_CACHE=off python -m benchmarks.bench_score_network``.

Part one: the worked example of :class:`selfloop.simulators.ScoreDiffusion`, ``DenoisingMLP((64, 64), epochs=60,
noise_draws=4)`` on N = 500 points of bimodal_1d (80 sampler steps) and ring_2d (40), four fits each: the training,
the sampler's grid density, Theorem G's certificate against p0 (the first builds the reference grid), and in 1-D
against the training distribution q_i. Part two: ``mle_expected_tv`` at 100 000 chains, 20 generations, in 1-D and
3-D, with its largest relative standard error. docs/performance.md has the figures.
"""

from __future__ import annotations

import time

import numpy as np

from selfloop.bounds import TrainingDistribution, diffusion_certificate, mle_expected_tv
from selfloop.simulators import Scenario, ScoreDiffusion, standard_truth
from selfloop.simulators.diffusion import DenoisingMLP


def main() -> None:
    for name, steps in [("bimodal_1d", 80), ("ring_2d", 40)]:
        truth = standard_truth(name)
        model = ScoreDiffusion(DenoisingMLP((64, 64), epochs=60, noise_draws=4), steps=steps)
        fits, tf, tc, td = [], [], [], []
        for s in range(4):
            data = truth.sample(500, np.random.default_rng(s))
            t = time.perf_counter()
            fit = model.fit(data, np.random.default_rng(100 + s))
            tf.append(time.perf_counter() - t)
            t = time.perf_counter()
            fit.density_grid()
            td.append(time.perf_counter() - t)
            t = time.perf_counter()
            diffusion_certificate(fit, truth)
            tc.append(time.perf_counter() - t)
            fits.append(fit)
        extra = ""
        if truth.dim == 1:
            t = time.perf_counter()
            diffusion_certificate(fits[1], TrainingDistribution(truth, fits[0], 0.5))
            extra = f", certificate against q_i {time.perf_counter() - t:.2f} s"
        print(
            f"{name} steps={steps}: fit median {np.median(tf):.2f} s, grid density median {np.median(td):.2f} s, "
            f"certificate first {tc[0]:.2f} s then median {np.median(tc[1:]):.2f} s{extra}"
        )
    g = standard_truth("gaussian_1d")
    for sc in [Scenario.fully_synthetic(50), Scenario.mixed(50, 0.5), Scenario.accumulating(50, 50)]:
        t = time.perf_counter()
        law = mle_expected_tv(g, sc, 20)
        el = time.perf_counter() - t
        print(
            f"mle_expected_tv gaussian_1d {sc.kind} 20 generations 100000 draws: {el:.2f} s, max relative se {np.max(law.standard_error / law.mean):.4f}"
        )
    t = time.perf_counter()
    law = mle_expected_tv(standard_truth("gaussian_3d"), Scenario.fully_synthetic(50), 20)
    el = time.perf_counter() - t
    print(
        f"mle_expected_tv gaussian_3d fully_synthetic 20 generations: {el:.2f} s, max relative se {np.max(law.standard_error / law.mean):.4f}"
    )


if __name__ == "__main__":
    main()
