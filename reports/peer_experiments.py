"""The ``peers`` suite: the experiments of the two public peer codebases, in small sizes, each with the harness's
exact law beside it where there is one (docs/peers.md maps every experiment of theirs to its cells here).

- *Collapse or Thrive?* (Kazdan, Schaeffer et al., arXiv:2410.16713): Gaussian fitting under replace, accumulate and
  accumulate-subsample (the determinant and the mean's error, with collapse as an outcome at d = 10, n = 32); KDEs on
  blobs, moons, circles and the swiss roll with the held-out negative log-likelihood; the discrete and regression
  loops.
- *Rate of model collapse in recursive training* (Suresh et al., arXiv:2412.17646): the Gaussian with the unbiased
  variance estimator, and the categorical loop's total collapse (the time to a point mass at K = N = 10).
"""

from __future__ import annotations

from .builders import loop_cell

__all__ = ["peers"]

#: The peers' three workflows at a size n: replace, accumulate (all points so far) and accumulate-subsample (n of them).
WORKFLOWS = ("replace", "accumulate", "accumulate_subsample")


def _workflow(name: str, size: int) -> dict:
    """A peer workflow at ``size`` points a generation, as a scenario specification."""
    if name == "replace":
        return {"kind": "fully_synthetic", "size": size}
    if name == "accumulate":
        return {"kind": "accumulate", "size": size, "added": size}
    return {"kind": "accumulate_subsample", "size": size, "added": size, "real": 0, "fit_size": size}


def _with(cell: dict, **fields) -> dict:
    return {**cell, **fields}


def _gaussians() -> list[dict]:
    """Collapse or Thrive's Gaussian fits: d = 1 and 3 at n = 10 in every workflow with the MLE, the unbiased estimator
    in 1-D (Suresh et al.'s), and the (d, n) = (10, 32) replace cell that collapses within 60 generations."""
    cells = [
        loop_cell({"name": "mle"}, truth, _workflow(workflow, 10), 30, 200)
        for truth in ("gaussian_1d", "gaussian_3d")
        for workflow in WORKFLOWS
    ]
    cells += [loop_cell({"name": "mle", "ddof": 1}, "gaussian_1d", _workflow(w, 10), 30, 200) for w in WORKFLOWS]
    cells.append(loop_cell({"name": "mle"}, "standard_normal_10d", _workflow("replace", 32), 60, 20))
    return cells


#: One of the peers' bandwidths per 2-D truth: the blobs at 0.5 (at 0.1 a grid over their (-10, 10)^2 box takes 4
#: million nodes a fit: minutes a cell; the extended suites can add it), the moons and circles at 0.1.
KDE_SETTINGS = (("blobs", 0.5), ("moons", 0.1), ("circles", 0.1))


def _kdes() -> list[dict]:
    """Collapse or Thrive's KDEs (scikit-learn's Gaussian kernel) on blobs, moons and circles at n = 100 in every
    workflow, and on the swiss roll (bandwidth 1, TV by Monte Carlo), with the held-out NLL."""
    cells = [
        _with(
            loop_cell({"name": "kde", "bandwidth": bandwidth}, truth, _workflow(workflow, 100), 8, 12),
            measures=["nll"],
        )
        for truth, bandwidth in KDE_SETTINGS
        for workflow in WORKFLOWS
    ]
    cells += [
        _with(
            loop_cell({"name": "kde", "bandwidth": 1.0, "tv_samples": 4000}, "swiss_roll", _workflow(w, 100), 5, 8),
            measures=["nll"],
        )
        for w in WORKFLOWS
    ]
    return cells


def _discrete_and_regression() -> list[dict]:
    """The categorical loop's total collapse at K = N = 10 (uniform) and the die in every workflow; the regression loop
    (d = 5) in every workflow."""
    categorical = {"name": "categorical_mle", "symbols": 10, "smoothing": 0.0}
    cells = [
        _with(
            loop_cell(categorical, "uniform_10", _workflow("replace", 10), 40, 400),
            measures=["total_collapse", "entropy", "symbols_lost"],
        )
    ]
    die = {"name": "categorical_mle", "symbols": 6, "smoothing": 0.0}
    cells += [loop_cell(die, "die", _workflow(w, 20), 20, 100) for w in WORKFLOWS]
    ols = {"name": "ols", "noise": 1.0}
    cells += [loop_cell(ols, "regression_5d", _workflow(w, 50), 20, 400) for w in WORKFLOWS]  # its risk is skewed
    return cells


def peers() -> list[dict]:
    """Every experiment of the two peer codebases that the harness expresses, small (module docstring)."""
    return _gaussians() + _kdes() + _discrete_and_regression()
