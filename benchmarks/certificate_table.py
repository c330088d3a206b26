"""Theorem G against the measured TV at generation 0: ``python -m benchmarks.certificate_table [--steps 200]``.

For each truth, training size N, width and seed, fit the random-feature diffusion model (SDE sampler), measure
TV(p̂, p0) by quadrature on the sampler's grid density, and certify it with the chain and the path bound. Prints the
ratio certificate / measured TV (min / median / max), the share of the score part in the chain bound's KL, and the
cost per fit. Figures belong in docs/performance.md, with the date, the machine and this command.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from selfloop.bounds import diffusion_certificate
from selfloop.simulators import RandomFeatureDiffusion, standard_truth, tv_quadrature


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=2)
    options = parser.parse_args()
    print(
        "| truth | fits | chain / TV (min / median / max) | path / TV (min / median / max) | score share of chain KL | chain s / fit | path s / fit |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in ("bimodal_1d", "skewed_1d"):
        truth = standard_truth(name)
        diffusion_certificate(
            RandomFeatureDiffusion(width=8, steps=options.steps).fit(
                truth.sample(50, np.random.default_rng(0)), np.random.default_rng(0)
            ),
            truth,
        )  # the reference grid, once
        chain_ratio, path_ratio, share, chain_seconds, path_seconds = [], [], [], [], []
        for size in (250, 1000, 4000):
            for width in (64, 128, 256):
                for seed in range(options.seeds):
                    model = RandomFeatureDiffusion(width=width, steps=options.steps)
                    fitted = model.fit(
                        truth.sample(size, np.random.default_rng(seed)), np.random.default_rng(1000 + seed)
                    )
                    measured = tv_quadrature(truth, fitted)
                    start = time.perf_counter()
                    chain = diffusion_certificate(fitted, truth)
                    chain_seconds.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    path = diffusion_certificate(fitted, truth, method="path")
                    path_seconds.append(time.perf_counter() - start)
                    chain_ratio.append(chain.tv / measured)
                    path_ratio.append(path.tv / measured)
                    share.append(chain.parts["score"] / chain.kl)
        spread = lambda values: f"{np.min(values):.2f} / {np.median(values):.2f} / {np.max(values):.2f}"  # noqa: E731
        print(
            f"| {name} | {len(chain_ratio)} | {spread(chain_ratio)} | {spread(path_ratio)} | {spread(share)} "
            f"| {np.median(chain_seconds):.2f} | {np.median(path_seconds):.2f} |"
        )


if __name__ == "__main__":
    main()
