"""The models that suite cells name: a registry of factories ``spec -> model`` with the label each gets in reports.

A cell's model is a dict ``{"name": ..., ...}``; :func:`build_model` builds it from the registered entry of its name.
Register your own with :func:`register_model` (in a plugin, entry point ``scloop.plugins``, so that worker processes
see it too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from selfloop.simulators import (
    KDE,
    BigramMLE,
    CategoricalMLE,
    Curated,
    GaussianMLE,
    LinearRegression,
    LogisticMLE,
    PoissonMLE,
    PowerRule,
    RandomFeatureDiffusion,
    Registry,
    SampleOnly,
    Scenario,
    ScoreDiffusion,
)
from selfloop.simulators.diffusion import DenoisingMLP

__all__ = [
    "DIFFUSION_DEFAULTS",
    "MODELS",
    "SAMPLE_ONLY",
    "ModelEntry",
    "build_model",
    "build_scenario",
    "describe_model_spec",
    "diffusion_spec",
    "register_model",
]


def _kde(spec: dict):
    return KDE(PowerRule(spec["power_rule"])) if "power_rule" in spec else KDE(spec["bandwidth"])


#: What a diffusion model spec leaves out means these (the model's own defaults, except 16 noise draws).
DIFFUSION_DEFAULTS = {"noise_draws": 16, "parameterization": "li", "sampler": "sde"}


def diffusion_spec(spec: Mapping[str, Any]) -> dict:
    """A diffusion model spec with :data:`DIFFUSION_DEFAULTS` filled in where it is silent."""
    return {**DIFFUSION_DEFAULTS, **spec}


def _diffusion(spec: dict):
    spec = diffusion_spec(spec)
    return RandomFeatureDiffusion(
        width=spec["width"],
        steps=spec["steps"],
        noise_draws=spec["noise_draws"],
        parameterization=spec["parameterization"],
        sampler=spec["sampler"],
    )


def _describe_diffusion(spec: dict) -> str:
    spec = diffusion_spec(spec)
    extras = [spec["parameterization"]] + ([spec["sampler"]] if spec["sampler"] != "sde" else [])
    return f"diffusion(m={spec['width']}, steps={spec['steps']}, {', '.join(extras)})"


def _score_mlp(spec: dict) -> ScoreDiffusion:
    """The worked example of your own score network: an MLP trained by denoising score matching (scikit-learn)."""
    trainer = DenoisingMLP(tuple(spec["hidden"]), epochs=spec["epochs"], noise_draws=spec["noise_draws"])
    return ScoreDiffusion(trainer, steps=spec["steps"])


def _describe_score_mlp(spec: dict) -> str:
    return (
        f"mlp_score({'×'.join(str(width) for width in spec['hidden'])}, epochs={spec['epochs']}, steps={spec['steps']})"
    )


def _generic_label(spec: Mapping[str, Any]) -> str:
    return spec["name"] + "(" + ", ".join(f"{key}={value}" for key, value in spec.items() if key != "name") + ")"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``factory(spec) -> model`` and ``describe(spec) -> label`` for reports."""

    factory: Callable[[dict], object]
    describe: Callable[[dict], str] = _generic_label


#: Models by name; extend with :func:`register_model`.
MODELS: Registry[ModelEntry] = Registry("model")
MODELS.register(
    "kde",
    ModelEntry(
        _kde,
        lambda spec: f"kde(h={spec['bandwidth']})" if "bandwidth" in spec else f"kde(h={spec['power_rule']}·N^-1/5)",
    ),
)
MODELS.register(
    "mle",
    ModelEntry(
        lambda spec: GaussianMLE(ddof=spec.get("ddof", 0), covariance=spec.get("covariance")),
        lambda spec: (
            "gaussian_mle"
            + (f"(ddof={spec['ddof']})" if spec.get("ddof") else "")
            + (f"(known Σ = {spec['covariance']})" if spec.get("covariance") is not None else "")
        ),
    ),
)
MODELS.register("diffusion", ModelEntry(_diffusion, _describe_diffusion))
MODELS.register("score_mlp", ModelEntry(_score_mlp, _describe_score_mlp))
MODELS.register(
    "categorical_mle",
    ModelEntry(
        lambda spec: CategoricalMLE(spec["symbols"], spec.get("smoothing", 0.0)),
        lambda spec: f"categorical_mle(K={spec['symbols']}, α={spec.get('smoothing', 0.0):g})",
    ),
)
MODELS.register(
    "bigram_mle",
    ModelEntry(
        lambda spec: BigramMLE(spec["symbols"], spec.get("smoothing", 0.0)),
        lambda spec: f"bigram_mle(K={spec['symbols']}, α={spec.get('smoothing', 0.0):g})",
    ),
)
MODELS.register(
    "ols",
    ModelEntry(lambda spec: LinearRegression(spec.get("noise", 1.0)), lambda spec: f"ols(σ={spec.get('noise', 1.0)})"),
)

MODELS.register(
    "curated",
    ModelEntry(
        lambda spec: Curated(build_model(spec["model"]), spec["reward"], spec.get("choices", 2)),
        lambda spec: (
            f"curated({describe_model_spec(spec['model'])}, K={spec.get('choices', 2)}, "
            f"r={[float(value) for value in spec['reward']]})"
        ),
    ),
)
MODELS.register("poisson_mle", ModelEntry(lambda spec: PoissonMLE(), lambda spec: "poisson_mle"))
MODELS.register("logistic_mle", ModelEntry(lambda spec: LogisticMLE(), lambda spec: "logistic_mle"))


def register_model(
    name: str,
    factory: Callable[[dict], object],
    *,
    describe: Callable[[dict], str] | None = None,
    replace: bool = False,
) -> None:
    """Make ``{"name": name, ...}`` usable in suite cells; ``factory(spec)`` returns a model with ``fit(data, rng)``,
    and ``describe(spec)`` its label in reports (default ``name(key=value, ...)``).

    Register in a plugin (entry point ``scloop.plugins``) so the worker processes see it too. A name
    already taken (a built-in model included) raises ``ValueError`` unless ``replace=True``.
    """
    MODELS.register(name, ModelEntry(factory, describe or _generic_label), replace=replace)


def _model_entry(spec: Mapping[str, Any]) -> ModelEntry:
    try:
        return MODELS.get(spec["name"])
    except (KeyError, TypeError):
        raise ValueError(f"model spec must be a dict with a 'name', got {spec!r}") from None


#: The key of a model specification that hides the model's density: its fits are known only by their samples
#: (:class:`selfloop.simulators.SampleOnly`), and the cell's claims are decided on the TV witness.
SAMPLE_ONLY = "sample_only"


def build_model(spec: Mapping[str, Any]):
    """A model from its specification ``{"name": ..., ...}`` (see :data:`MODELS`); ``"sample_only": true`` wraps it in
    :class:`selfloop.simulators.SampleOnly`."""
    if spec.get(SAMPLE_ONLY):
        return SampleOnly(build_model({key: value for key, value in spec.items() if key != SAMPLE_ONLY}))
    return _model_entry(spec).factory(dict(spec))  # a factory gets a plain dict, whatever mapping the cell holds


def describe_model_spec(spec: Mapping[str, Any]) -> str:
    """The label the model's registration gives it, e.g. ``kde(h=0.3)`` (an unregistered name gets the generic form);
    ``, sample-only`` for a model known only by its samples."""
    if isinstance(spec, Mapping) and spec.get(SAMPLE_ONLY):
        return describe_model_spec({key: value for key, value in spec.items() if key != SAMPLE_ONLY}) + ", sample-only"
    return (
        _model_entry(spec).describe(dict(spec))
        if isinstance(spec, Mapping) and spec.get("name") in MODELS
        else _generic_label(spec)
    )


def build_scenario(spec: dict) -> Scenario:
    """A :class:`selfloop.simulators.Scenario` from its specification (:meth:`Scenario.from_dict`)."""
    return Scenario.from_dict(spec)
