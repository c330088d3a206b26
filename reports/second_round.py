"""Cells of the field's second round of laws: the weighted Gaussian loop across its real weight (He, Xu and Cheng),
the accumulate-against-replace risk ratio of three maximum-likelihood loops (Dey and Donoho) and curated loops
(Ferbach et al.)."""

from __future__ import annotations

__all__ = ["CURATED_REWARD", "curated_cells", "risk_ratio_cells", "weighted_cells"]

#: He, Xu and Cheng's weights: the ends, the golden ratio's inverse (the optimum at r = s) and points around it.
WEIGHTS = (0.2, 0.4, 0.5, 0.618, 0.75, 1.0)


def weighted_cells(
    *, real: int, synthetic: int, generations: int, replicates: int, weights=WEIGHTS, known: bool = True
) -> list[dict]:
    """The Gaussian MLE loop on ``gaussian_1d`` weighing r real against s synthetic points by each of ``weights``;
    ``known``: the mean alone fitted, the covariance the truth's (the paper's setting), else both fitted."""
    model = {"name": "mle", "covariance": 2.25} if known else {"name": "mle"}
    return [
        {
            "kind": "loop",
            "model": model,
            "truth": "gaussian_1d",
            "scenario": {"kind": "weighted", "real": real, "synthetic": synthetic, "real_weight": weight},
            "generations": generations,
            "replicates": replicates,
        }
        for weight in weights
    ]


def risk_ratio_cells(
    *,
    size: int,
    logistic_size: int,
    generations: int,
    replicates: int,
    logistic_replicates: int,
    bernoulli: bool = True,
):
    """Replace and accumulate (``size`` real points, then ``size`` synthetic ones a generation) for the Poisson MLE
    loop, the Bernoulli one (the categorical model on two symbols; ``bernoulli``) and the logistic regression at
    ``logistic_size``."""
    settings: list[tuple[dict, str, int, int]] = [
        ({"name": "poisson_mle"}, "poisson_3", size, replicates),
        ({"name": "logistic_mle"}, "logistic_2d", logistic_size, logistic_replicates),
    ]
    if bernoulli:
        settings.insert(0, ({"name": "categorical_mle", "symbols": 2}, "bernoulli", size, replicates))
    return [
        {
            "kind": "loop",
            "model": model,
            "truth": truth,
            "scenario": scenario,
            "generations": generations,
            "replicates": count,
        }
        for model, truth, n, count in settings
        for scenario in (
            {"kind": "fully_synthetic", "size": n},
            {"kind": "accumulate", "size": n, "added": n, "real": 0},
        )
    ]


#: The curated loops' reward on ``three_symbols`` (p0 = 0.5, 0.3, 0.2): the rarest symbol the most preferred.
CURATED_REWARD = (0.0, 1.0, 2.0)


def curated_cells(*, size: int, generations: int, replicates: int, settings=((0.0, 2), (0.5, 3))) -> list[dict]:
    """The unsmoothed categorical MLE on ``three_symbols`` curated by :data:`CURATED_REWARD`, N points a generation,
    one cell per (real fraction, K) of ``settings`` (fraction 0: fully synthetic)."""
    model = {"name": "categorical_mle", "symbols": 3}
    return [
        {
            "kind": "loop",
            "model": {"name": "curated", "model": model, "reward": list(CURATED_REWARD), "choices": choices},
            "truth": "three_symbols",
            "scenario": (
                {"kind": "fully_synthetic", "size": size}
                if fraction == 0
                else {"kind": "mixed_fresh", "size": size, "real_fraction": fraction}
            ),
            "generations": generations,
            "replicates": replicates,
        }
        for fraction, choices in settings
    ]
