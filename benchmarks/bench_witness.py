"""The TV witness of a model known only by its samples, against the exact TV of the same fits: its cost and how much
of the TV it sees.

Run by hand (not in CI): ``python -m benchmarks.bench_witness``. One BLAS thread. For KDE fits of the bimodal 1-D and
the ring 2-D truths, Gaussian MLE fits in d = 3 and 10, and a categorical fit, at a few training sizes: the exact TV, the
mean of 20 witnesses (4 000 draws each) as a share of it, the witness's cost per fit, and the exact TV's cost per fit
(a grid quadrature, the Gaussian closed form, a finite sum); and a loop's cost both ways (the KDE loop on the bimodal
truth with its witness beside TV, and ``SampleOnly`` of it, which measures the witness alone).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from selfloop.simulators import (  # noqa: E402
    KDE,
    Categorical,
    CategoricalMLE,
    GaussianMixture,
    GaussianMLE,
    SampleOnly,
    Scenario,
    run_loop,
    standard_truth,
    tv,
    tv_witness,
)


def _standard_normal(dim: int) -> GaussianMixture:
    return GaussianMixture([1.0], np.zeros((1, dim)), np.eye(dim)[None])


def _settings():
    bimodal, ring, die = standard_truth("bimodal_1d"), standard_truth("ring_2d"), Categorical(np.full(6, 1 / 6))
    for size in (50, 200, 2000):
        yield f"kde 1-D, N = {size}", bimodal, lambda rng, n=size: KDE(0.3).fit(bimodal.sample(n, rng))
    for size in (100, 1000):
        yield f"kde 2-D, N = {size}", ring, lambda rng, n=size: KDE(0.4).fit(ring.sample(n, rng))
    for dim, size in ((3, 40), (3, 400), (10, 60), (10, 600)):
        truth = _standard_normal(dim)
        yield f"mle {dim}-D, N = {size}", truth, lambda rng, t=truth, n=size: GaussianMLE().fit(t.sample(n, rng))
    yield "die, N = 30", die, lambda rng: CategoricalMLE(6).fit(die.sample(30, rng))


def main() -> None:
    print("| setting | exact TV | witness mean / TV ± s.e. | witness per fit (ms) | exact TV per fit (ms) |")
    print("|---|---|---|---|---|")
    for name, truth, make_fit in _settings():
        fit = make_fit(np.random.default_rng(3))
        started = time.perf_counter()
        exact = tv(truth, fit)[0]
        exact_seconds = time.perf_counter() - started
        started = time.perf_counter()
        values = [tv_witness(truth, fit, 4000, np.random.default_rng(seed)).value for seed in range(20)]
        witness_seconds = (time.perf_counter() - started) / 20
        print(
            f"| {name} | {exact:.4f} | {np.mean(values) / exact:.3f} ± {np.std(values, ddof=1) / np.sqrt(20) / exact:.3f} | "
            f"{1e3 * witness_seconds:.1f} | "
            f"{1e3 * exact_seconds:.2f} |"
        )
    truth, scenario = standard_truth("bimodal_1d"), Scenario.mixed(500, 0.5)
    for label, model, measures in (
        ("KDE loop, exact TV", KDE(0.3), ()),
        ("KDE loop, exact TV and the witness", KDE(0.3), ("witness",)),
        ("SampleOnly(KDE) loop, the witness", SampleOnly(KDE(0.3)), ()),
    ):
        started = time.perf_counter()
        run_loop(truth, model, scenario, 6, seed=0, replicates=24, measures=measures)
        print(f"{label} (24 replicates, 6 generations): {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
