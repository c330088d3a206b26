"""A selfloop plugin from outside the repository: a model, a suite and a bound, registered through an entry point."""

from selfloop.bounds import Bound, Source, register as register_bound, symbols as s
from selfloop.reports import loop_cells, register_model, register_suite
from selfloop.simulators import KDE


class ScaledKDE:
    """A KDE whose bandwidth is a fixed fraction of the sample's spread."""

    def __init__(self, scale: float):
        self.scale = scale

    def fit(self, data, rng=None):
        return KDE(self.scale * float(data.std())).fit(data, rng)


def register():
    register_bound(Bound("demo_linear_growth", s.error * (s.generation + 1), "TV_i <= eps (i + 1)", Source("demo plugin", "Lemma 1", "rigorous")))
    register_model("scaled_kde", lambda spec: ScaledKDE(spec["scale"]))
    register_suite("demo", lambda: loop_cells(models=[{"name": "scaled_kde", "scale": 0.3}], truths=["bimodal_1d"], sizes=[300], generations=3, replicates=8))
