"""What a cell measures beside its theorems' bounds: the Gaussian MLE's moments against their exact laws, Theorem
K's parts (where it is loose), and non-rigorous predictors shown next to the bounds. Verdicts on them are made in
:func:`selfloop.reports.verdicts.decide`."""

from __future__ import annotations

import numpy as np

from selfloop.bounds import kde_bound_terms, mle_moments
from selfloop.bounds.recursion import propagate_scenario

from .theorems import THEOREMS, CellContext, is_kde_with_a_mixture_bound

__all__ = ["kde_predictors", "kde_slack", "mle_law_record"]


def mle_law_record(parameters: dict, context: CellContext) -> dict | None:
    r"""The Gaussian MLE loop's exact laws (:func:`selfloop.bounds.mle_moments`) against the cell's fitted parameters.

    Two quantities per generation, each as replicate mean, standard error, law and z-score: the whitened fitted variance
    (:math:`\sigma_i^2/\sigma^2` in 1-D, :math:`\operatorname{tr}(\Sigma^{-1}\Sigma_i)/d` in d dimensions) and the squared
    Mahalanobis error of the fitted mean, :math:`\Delta_i^2`. The verdict (``holds``) is made by
    :func:`selfloop.reports.verdicts.decide`.
    """
    kind = context.spec["scenario"]["kind"]
    applies = context.spec["model"]["name"] == "mle" and context.truth.components == 1 and kind != "mixed_reused"
    if not parameters or not applies or (context.truth.dim > 1 and kind == "accumulate"):
        return None
    law = mle_moments(context.truth, context.scenario, context.generations)
    covariance, mean = context.truth.covariances[0], context.truth.means[0]
    precision, dim = np.linalg.inv(covariance), context.truth.dim
    if dim == 1:
        variance = parameters["variance"] / covariance[0, 0]
        offset = (parameters["mean"] - mean[0]) ** 2 / covariance[0, 0]
    else:
        variance = np.einsum("ij,rgji->rg", precision, parameters["covariance"]) / dim
        error = parameters["mean"] - mean
        offset = np.einsum("rgi,ij,rgj->rg", error, precision, error)
    laws = {"variance": np.einsum("ij,gji->g", precision, law.covariance) / dim, "mean_offset": law.mean_deviation**2}
    record = {}
    for name, samples in (("variance", variance), ("mean_offset", offset)):
        measured, stderr = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
        z = (measured - laws[name]) / stderr
        record[name] = {
            "measured": measured.tolist(),
            "stderr": stderr.tolist(),
            "law": laws[name].tolist(),
            "max_abs_z": float(np.max(np.abs(z))),
        }
    return record


def kde_predictors(context: CellContext) -> dict:
    """Non-rigorous predictors shown beside the checks: the folded-normal value of the second-moment computation."""
    if not is_kde_with_a_mixture_bound(context.spec):
        return {}
    return {"folded_normal": [float(x) for x in THEOREMS.get("second_moment").evaluate(context).terms["folded_normal"]]}


def kde_slack(sampling_errors: np.ndarray, tv: np.ndarray, truth, bandwidth, scenario, generations: int) -> dict:
    r"""Where Theorem K is loose, per generation: its parts, measured and bounded.

    - ``bias``: B = TV(K_h * p0, p0), exact (it is not bounded, so it has no slack);
    - ``sampling_measured`` (± ``sampling_stderr``): the replicate mean of S_k = TV(p̂_k, K_h * q_k),
      next to ``sampling_bound``, Theorem K's :math:`\tfrac12 N^{-1/2}(4\pi h^2)^{-d/4} J_k`;
    - ``propagated_measured``: Lemma R applied to the measured B + E S_k, next to the mean TV
      (the triangle inequality's slack) and Theorem K (``bound``).
    """
    terms = kde_bound_terms(truth, bandwidth, scenario, generations)
    measured = sampling_errors.mean(axis=0)
    stderr = sampling_errors.std(axis=0, ddof=1) / np.sqrt(sampling_errors.shape[0])
    parts = {
        "bias": terms.bias,
        "sampling_measured": measured,
        "sampling_stderr": stderr,
        "sampling_bound": terms.sampling,
        "propagated_measured": propagate_scenario(terms.bias + measured, scenario),
        "mean_tv": tv.mean(axis=0),
        "bound": terms.total,
    }
    return {name: [float(x) for x in values] for name, values in parts.items()}
