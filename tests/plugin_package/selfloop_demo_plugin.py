"""A selfloop plugin from outside the repository: a bound, a check, a model and a suite, registered through an entry point."""

import numpy as np

from selfloop.bounds import Bound, Source, get_bound
from selfloop.bounds import register as register_bound
from selfloop.bounds import symbols as s
from selfloop.reports import Theorem, TheoremValues, loop_cells, register_model, register_suite, register_theorem
from selfloop.simulators import KDE


class ScaledKDE:
    """A KDE whose bandwidth is a fixed fraction of the sample's spread."""

    def __init__(self, scale: float):
        self.scale = scale

    def fit(self, data, rng=None):
        return KDE(self.scale * float(data.std())).fit(data, rng)


def register():
    register_bound(
        Bound(
            "demo_linear_growth",
            s.error * (s.generation + 1),
            "TV_i <= eps (i + 1)",
            Source("demo plugin", "Lemma 1", "rigorous"),
        )
    )

    def values(context):  # eps = 0.2 assumed
        return get_bound("demo_linear_growth").evaluate(error=0.2, generation=np.arange(context.generations + 1))

    register_theorem(
        Theorem(
            "demo",
            "demo bound",
            "demo_linear_growth",
            lambda spec: spec["model"]["name"] == "scaled_kde",
            lambda context: TheoremValues(values(context)),
        )
    )
    register_model("scaled_kde", lambda spec: ScaledKDE(spec["scale"]))
    register_suite(
        "demo",
        lambda: loop_cells(
            models=[{"name": "scaled_kde", "scale": 0.3}],
            truths=["bimodal_1d"],
            sizes=[300],
            generations=3,
            replicates=32,
        ),
    )
