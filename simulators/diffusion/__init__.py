r"""Random-feature diffusion model (Li, Li, Zhang, Bian, NeurIPS 2023, arXiv:2311.01797), one concept a module.

- :mod:`.network`: the score network :math:`s_A(x, t) = c_{\text{out}}(t) A\,\mathrm{ReLU}(Wx + Ue(t))/m +
  c_{\text{skip}}(t) x` of one fit or many stacked;
- :mod:`.training`: the quadratic denoising score-matching problem and its exact gradient flow;
- :mod:`.fitted`: what both samplers share (the network, the time grid, the sampler's box);
- :mod:`.sde`: the reverse-SDE sampler and its density on a grid (d <= 2), many fits at once;
- :mod:`.ode`: the probability-flow ODE sampler and its exact density (any d);
- :mod:`.model`: :class:`RandomFeatureDiffusion`, whose ``sampler`` chooses the fitted class.

The forward process is Ornstein-Uhlenbeck, :math:`dX = -X\,dt + \sqrt2\,dW`, so
:math:`X_t = \alpha_t X_0 + \sigma_t Z` with :math:`\alpha_t = e^{-t}`, :math:`\sigma_t^2 = 1 - e^{-2t}`, on
:math:`[t_0, T]`.
"""

from .fitted import FittedDiffusion
from .model import RandomFeatureDiffusion
from .network import Networks
from .ode import FittedODEDiffusion
from .sde import MAX_ESCAPED_MASS, NEGLIGIBLE_NODE_MASS, FittedSDEDiffusion, sample_sde, sde_densities
from .training import EarlyStopping, TrainingProblem

__all__ = [
    "MAX_ESCAPED_MASS",
    "NEGLIGIBLE_NODE_MASS",
    "EarlyStopping",
    "FittedDiffusion",
    "FittedODEDiffusion",
    "FittedSDEDiffusion",
    "Networks",
    "RandomFeatureDiffusion",
    "TrainingProblem",
    "sample_sde",
    "sde_densities",
]
