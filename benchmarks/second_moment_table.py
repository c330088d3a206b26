"""Tightness of the second-moment bound against Theorem K, from the project's own simulations.

Run by hand: ``python -m benchmarks.second_moment_table [--replicates 400]``. Prints a markdown
table of bound / mean TV (min / median / max over generations 0-10) for both bounds, the
folded-normal predictor, Jensen's lower bound, and the smallest margin of the second-moment
bound above the mean in standard errors, on the 1-D bimodal truth.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from selfloop.bounds import kde_bound_for, kde_second_moment_terms
from selfloop.simulators import KDE, Scenario, run_loop, standard_truth

#: (N, h, lambda) of the prototype table in the issue, generations 0-10.
SETTINGS = [(500, 0.3, 0.0), (500, 0.3, 0.5), (2000, 0.15, 0.2), (300, 0.6, 0.8), (1000, 0.3, 0.5)]
GENERATIONS = 10


def _spread(values: np.ndarray) -> str:
    return f"{values.min():.2f} / {np.median(values):.2f} / {values.max():.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    truth = standard_truth("bimodal_1d")
    print(
        f"bimodal_1d, generations 0-{GENERATIONS}, {arguments.replicates} replicates; bound / mean TV as min / median / max\n"
    )
    print(
        "| N, h, lambda | second-moment bound | Theorem K | folded normal (predictor) | Jensen lower | smallest margin (se) | bound time |"
    )
    print("|---|---|---|---|---|---|---|")
    for size, bandwidth, real_fraction in SETTINGS:
        scenario = Scenario.mixed(size, real_fraction) if real_fraction else Scenario.fully_synthetic(size)
        tv = run_loop(
            truth, KDE(bandwidth), scenario, GENERATIONS, seed=arguments.seed, replicates=arguments.replicates
        ).tv
        mean, stderr = tv.mean(axis=0), tv.std(axis=0, ddof=1) / np.sqrt(tv.shape[0])
        start = time.perf_counter()
        terms = kde_second_moment_terms(truth, bandwidth, scenario, GENERATIONS)
        seconds = time.perf_counter() - start
        theorem_k = kde_bound_for(truth, bandwidth, scenario, GENERATIONS)
        margin = np.min((terms.upper - mean) / stderr)
        print(
            f"| {size}, {bandwidth}, {real_fraction} | {_spread(terms.upper / mean)} | {_spread(theorem_k / mean)} | "
            f"{_spread(terms.folded_normal / mean)} | {_spread(terms.lower / mean)} | {margin:.1f} | {seconds * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
