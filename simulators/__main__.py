"""Quick loop demo: ``python -m selfloop.simulators`` prints mean exact TV per generation for every scenario."""

from __future__ import annotations

import numpy as np

from . import KDE, Scenario, run_loop, standard_truth

SCENARIOS = {
    "fully synthetic": Scenario.fully_synthetic(1000),
    "mixed, fresh real (lambda=0.5)": Scenario.mixed(1000, 0.5),
    "mixed, reused real (lambda=0.5)": Scenario.mixed(1000, 0.5, reuse_real=True),
    "growing synthetic (n=500, m=5000)": Scenario.growing_synthetic(500, 5000),
    "accumulate (+1000 per generation)": Scenario.accumulating(1000, 1000),
}


def main() -> None:
    truth = standard_truth("bimodal_1d")
    print("KDE (h = 0.3) on the 1-D bimodal truth, 20 replicates: mean TV(p_i, p0) at generations 0, 5, 10")
    for name, scenario in SCENARIOS.items():
        result = run_loop(truth, KDE(0.3), scenario, generations=10, seed=0, replicates=20)
        mean = result.mean_tv()
        stderr = result.tv.std(axis=0, ddof=1) / np.sqrt(result.replicates)
        cells = "  ".join(f"{mean[i]:.4f}±{stderr[i]:.4f}" for i in (0, 5, 10))
        print(f"  {name:36s} {cells}")


if __name__ == "__main__":
    main()
