"""Which cells the diffusion claims apply to, and the model family a cell belongs to."""

from __future__ import annotations

from selfloop.simulators import standard_truth

from ..cells import CellSpec
from ..models import diffusion_spec

__all__ = ["certified", "diffusion_family", "diffusion_loop"]


def diffusion_loop(spec: CellSpec) -> bool:
    """A loop cell of the random-feature diffusion model."""
    return spec.model["name"] == "diffusion" and spec.kind == "loop"


def certified(spec: CellSpec, kinds: tuple[str, ...] = ("loop",)) -> bool:
    """A diffusion cell of one of ``kinds`` whose fits Theorem G certifies: the SDE sampler, a truth in d <= 2."""
    return (
        spec.model["name"] == "diffusion"
        and spec.kind in kinds
        and diffusion_spec(spec.model)["sampler"] == "sde"
        and standard_truth(spec.truth).dim <= 2
    )


def diffusion_family(model: dict) -> str:
    """The model family a Theorem D calibration belongs to: the diffusion spec without its width, e.g. ``li, sde, steps=40, noise_draws=8``."""
    model = diffusion_spec(model)
    return (
        f"{model['parameterization']}, {model['sampler']}, steps={model['steps']}, noise_draws={model['noise_draws']}"
    )
