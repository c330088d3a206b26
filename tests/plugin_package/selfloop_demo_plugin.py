"""A selfloop plugin from outside the repository: a claim with its bound, a model and a suite, through an entry point."""

import numpy as np

from selfloop.bounds import Bound, Source, get_bound
from selfloop.bounds import register as register_bound
from selfloop.bounds import symbols as s
from selfloop.reports import Claim, loop_cells, register_claim, register_model, register_suite
from selfloop.simulators import KDE


class ScaledKDE:
    """A KDE whose bandwidth is a fixed fraction of the sample's spread."""

    def __init__(self, scale: float):
        self.scale = scale

    def fit(self, data, rng=None):
        return KDE(self.scale * float(data.std())).fit(data, rng)


class LinearGrowth(Claim):
    """TV_i <= eps (i + 1) with eps = 0.2: the default verdict, check_bound on the upper side, states its power."""

    id, label, whose, bound = "demo", "demo bound", "demo plugin, Lemma 1", "demo_linear_growth"

    def applies(self, spec):
        return spec.model["name"] == "scaled_kde"

    def evaluate(self, cell):
        generation = np.arange(cell.generations + 1)
        return {"upper": get_bound(self.bound).evaluate(error=0.2, generation=generation)}


def register():
    bound = Bound(
        "demo_linear_growth",
        s.error * (s.generation + 1),
        "TV_i <= eps (i + 1)",
        Source("demo plugin", "Lemma 1", "rigorous"),
    )
    register_bound(bound)
    register_claim(LinearGrowth())
    register_model("scaled_kde", lambda spec: ScaledKDE(spec["scale"]))
    cells = dict(models=[{"name": "scaled_kde", "scale": 0.3}], truths=["bimodal_1d"], sizes=[300], generations=3)
    register_suite("demo", lambda: loop_cells(**cells, replicates=32))
