r"""Diffusion models: the random-feature model (Li, Li, Zhang, Bian, NeurIPS 2023, arXiv:2311.01797) and any score
the user trains, one concept a module.

- :mod:`.network`: the score network :math:`s_A(x, t) = c_{\text{out}}(t) A\,\mathrm{ReLU}(Wx + Ue(t))/m +
  c_{\text{skip}}(t) x` of one fit or many stacked;
- :mod:`.training`: the quadratic denoising score-matching problem and its exact gradient flow;
- :mod:`.fitted`: what both samplers share (the network, the time grid, the sampler's box);
- :mod:`.sde`: the reverse-SDE sampler and its density on a grid (d <= 2), many fits at once;
- :mod:`.ode`: the probability-flow ODE sampler and its exact density (any d);
- :mod:`.base`: :class:`DiffusionModel`, what every diffusion model shares (the sampler's settings, the loop's
  hooks), and :class:`ScoreStack`, the scores of many fits evaluated together;
- :mod:`.model`: :class:`RandomFeatureDiffusion`, whose ``sampler`` chooses the fitted class;
- :mod:`.score`: :class:`ScoreDiffusion`, any score the user trains, sampled by the reverse SDE;
- :mod:`.mlp`: :class:`DenoisingMLP`, a worked example of such a score: an MLP trained by denoising score matching
  (scikit-learn, the optional extra ``selfloop[neural]``).

The forward process is Ornstein-Uhlenbeck, :math:`dX = -X\,dt + \sqrt2\,dW`, so
:math:`X_t = \alpha_t X_0 + \sigma_t Z` with :math:`\alpha_t = e^{-t}`, :math:`\sigma_t^2 = 1 - e^{-2t}`, on
:math:`[t_0, T]`.
"""

from .base import DiffusionModel, ScoreStack
from .fitted import FittedDiffusion
from .mlp import DenoisingMLP
from .model import RandomFeatureDiffusion
from .network import Networks
from .ode import FittedODEDiffusion
from .score import FittedScoreDiffusion, ScoreDiffusion, ScoreFunctions
from .sde import MAX_ESCAPED_MASS, NEGLIGIBLE_NODE_MASS, FittedSDEDiffusion, sample_sde, sde_densities
from .training import EarlyStopping, TrainingProblem

__all__ = [
    "MAX_ESCAPED_MASS",
    "NEGLIGIBLE_NODE_MASS",
    "DenoisingMLP",
    "DiffusionModel",
    "EarlyStopping",
    "FittedDiffusion",
    "FittedODEDiffusion",
    "FittedSDEDiffusion",
    "FittedScoreDiffusion",
    "Networks",
    "RandomFeatureDiffusion",
    "ScoreDiffusion",
    "ScoreFunctions",
    "ScoreStack",
    "TrainingProblem",
    "sample_sde",
    "sde_densities",
]
