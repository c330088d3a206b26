"""Which cells the diffusion claims apply to, and the model family a cell belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfloop.simulators import FittedSDEDiffusion, GaussianMixture, standard_truth

from ..cells import CellSpec
from ..models import build_model, diffusion_spec

__all__ = ["certified", "diffusion_family", "diffusion_loop", "sde_sampled"]


def diffusion_loop(spec: CellSpec) -> bool:
    """A loop cell of the random-feature diffusion model, fitted on every point it is given (Theorem D's rate is for a
    fit on N i.i.d. draws of the training law; a subsampled pool is not that)."""
    return spec.model.name == "diffusion" and spec.kind == "loop" and spec.scenario.kind != "accumulate_subsample"


def sde_sampled(model: Mapping[str, Any]) -> bool:
    """A model spec whose fits the reverse SDE samples (:class:`selfloop.simulators.FittedSDEDiffusion`): the
    random-feature model with ``sampler="sde"``, :class:`selfloop.simulators.ScoreDiffusion`, or any registered model
    built on either; what Theorem G certifies."""
    fitted_class = getattr(build_model(model), "fitted_class", None)
    return isinstance(fitted_class, type) and issubclass(fitted_class, FittedSDEDiffusion)


def certified(spec: CellSpec, kinds: tuple[str, ...] = ("loop",)) -> bool:
    """A cell of one of ``kinds`` whose fits Theorem G certifies: a model sampled by the reverse SDE, a Gaussian-mixture
    truth (its OU marginals are the certificate's closed forms) in d <= 2."""
    truth = standard_truth(spec.truth)
    return spec.kind in kinds and isinstance(truth, GaussianMixture) and truth.dim <= 2 and sde_sampled(spec.model)


def diffusion_family(model: Mapping[str, Any]) -> str:
    """The model family a Theorem D calibration belongs to: the diffusion spec without its width, e.g. ``li, sde, steps=40, noise_draws=8``."""
    model = diffusion_spec(model)
    return (
        f"{model['parameterization']}, {model['sampler']}, steps={model['steps']}, noise_draws={model['noise_draws']}"
    )
