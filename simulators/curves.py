r"""Truths on curves blurred by Gaussian noise: the peers' two moons, two circles and swiss roll, with exact densities.

A point is drawn uniformly along a curve (the parameter uniform on its interval), then moved by :math:`N(0, \sigma^2I)`.
Its density is the curve's average of Gaussian kernels, a 1-D integral along the curve:

Circular arcs (:class:`NoisyArcs`, 2-D)
    For an arc of radius R about c over the angles [a, b] and a point at polar coordinates :math:`(\rho, \theta)` about
    c, :math:`|x - c - Ru(t)|^2 = (\rho - R)^2 + 2\rho R(1 - \cos(t - \theta))`, so

    .. math:: p(x) = \frac{e^{-(\rho - R)^2/2\sigma^2}}{2\pi\sigma^2(b - a)}\int_a^b e^{-\kappa(1 - \cos(t - \theta))}\,dt,
        \qquad \kappa = \rho R/\sigma^2.

    A full circle is Bessel's closed form, :math:`e^{-(\rho-R)^2/2\sigma^2} I_0(\kappa)e^{-\kappa}/(2\pi\sigma^2)`. For
    an arc, :math:`1 - \cos u \ge 2u^2/\pi^2` on :math:`[-\pi, \pi]`, so beyond :math:`|t - \theta| > 14/\sqrt\kappa` (mod
    :math:`2\pi`, :data:`WINDOW`) the integrand is below :math:`e^{-40}`: the integral is Gauss-Legendre
    (:data:`NODES` nodes) over that window's intersection with the arc, an entire integrand on an interval of at most
    28 of its widths.
The swiss roll (:class:`NoisySwissRoll`, 3-D)
    :math:`(t\cos t, y, t\sin t)` with t uniform on :math:`[3\pi/2, 9\pi/2]` and y on [0, 21] (scikit-learn's
    ``make_swiss_roll``). The y part is :math:`(\Phi(y/\sigma) - \Phi((y - 21)/\sigma))/21` exactly; in the (x, z) plane
    the spiral point at t has radius t, so :math:`|x - c(t)| \ge |\rho - t|` and only t within :math:`20\sigma` of
    :math:`\rho` contribute, near the one :math:`t^* \equiv \theta \pmod{2\pi}` closest to :math:`\rho`; there the
    integrand is Gauss-Legendre over :math:`t^* \pm 20\sigma/|c'(t^*)|` (beyond it the spiral is more than
    :math:`12\sigma` from x: the integrand is below :math:`e^{-81}`).

Densities are exact to about 1e-13 of their peak (tested against a 30-digit quadrature and a fine composite rule). Sampling follows the law
(i.i.d.); scikit-learn's generators differ: ``make_moons`` and ``make_circles`` space the parameter evenly and split the
points equally between the curves, ``make_blobs`` draws new centres each call. docs/peers.md.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .grid import Box, tail_quantile
from .keys import content_key
from .validation import check_data, check_positive, check_size

__all__ = ["NEGLIGIBLE", "NODES", "WINDOW", "NoisyArcs", "NoisySwissRoll", "circles", "moons", "swiss_roll"]

#: Gauss-Legendre nodes of each window of the curves' integrals.
NODES = 64
#: An arc's window: :math:`|t - \theta| \le` WINDOW :math:`/\sqrt\kappa`, beyond which the integrand is below
#: :math:`e^{-2\,\mathrm{WINDOW}^2/\pi^2}` (:math:`e^{-40}` at 14).
WINDOW = 14.0
#: An arc's density is set to 0 where its bound, the radial factor :math:`e^{-(\rho - R)^2/2\sigma^2}` times its peak,
#: is below this fraction of the peak (more than 9 noise widths off the arc).
NEGLIGIBLE = 1e-18
_X, _W = np.polynomial.legendre.leggauss(NODES)


def _legendre(lower: np.ndarray, upper: np.ndarray, integrand) -> np.ndarray:
    """Gauss-Legendre of ``integrand(t)`` (t (n, NODES)) over [lower, upper] per point (empty intervals give 0)."""
    half = np.maximum(upper - lower, 0.0) / 2
    t = (lower + upper)[:, None] / 2 + half[:, None] * _X[None, :]
    return half * (integrand(t) @ _W)


class NoisyArcs:
    r"""A mixture of circular arcs blurred by :math:`N(0, \sigma^2I)` in 2-D (module docstring).

    Parameters
    ----------
    centres : array_like (K, 2)
    radii : array_like (K,)
    angles : array_like (K, 2)
        Each arc's angle interval [a, b] (b - a at most :math:`2\pi`; :math:`2\pi` is a full circle).
    weights : array_like (K,)
    noise : float
        :math:`\sigma`.
    """

    dim = 2

    def __init__(self, centres, radii, angles, weights, noise: float) -> None:
        self.centres = np.asarray(centres, dtype=float).reshape(-1, 2)
        self.radii = np.asarray(radii, dtype=float).ravel()
        self.angles = np.asarray(angles, dtype=float).reshape(-1, 2)
        self.weights = np.asarray(weights, dtype=float).ravel()
        self.noise = check_positive("noise", noise)
        count = len(self.centres)
        if not (len(self.radii) == len(self.angles) == len(self.weights) == count):
            raise ValueError("centres, radii, angles and weights must describe the same number of arcs")
        spans = self.angles[:, 1] - self.angles[:, 0]
        if np.any(self.radii <= 0) or np.any(spans <= 0) or np.any(spans > 2 * np.pi + 1e-12):
            raise ValueError("radii must be positive and each angle interval of length in (0, 2 pi]")
        if np.any(self.weights < 0) or abs(self.weights.sum() - 1) > 1e-9:
            raise ValueError("weights must be non-negative and sum to 1")
        self._cumulative = np.cumsum(self.weights)

    def __repr__(self) -> str:
        return f"NoisyArcs(arcs={len(self.radii)}, noise={self.noise:g})"

    @property
    def key(self) -> str:
        return content_key("noisy-arcs", self.centres, self.radii, self.angles, self.weights, [self.noise])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        n = check_size("n", n)
        arc = np.minimum(self._cumulative.searchsorted(rng.random(n), side="right"), len(self.weights) - 1)
        low, high = self.angles[arc, 0], self.angles[arc, 1]
        t = low + (high - low) * rng.random(n)
        points = self.centres[arc] + self.radii[arc, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
        return points + self.noise * rng.standard_normal((n, 2))

    def _arc_density(self, x: np.ndarray, k: int) -> np.ndarray:
        variance = self.noise**2
        offset = x - self.centres[k]
        rho, theta = np.hypot(offset[:, 0], offset[:, 1]), np.arctan2(offset[:, 1], offset[:, 0])
        radius, (low, high) = self.radii[k], self.angles[k]
        kappa = rho * radius / variance
        radial = np.exp(-((rho - radius) ** 2) / (2 * variance)) / (2 * np.pi * variance)
        if high - low >= 2 * np.pi - 1e-12:  # a full circle: Bessel's closed form
            return radial * special.i0e(kappa)
        out = np.zeros(len(x))
        near = np.flatnonzero(radial * 2 * np.pi * variance > NEGLIGIBLE)  # elsewhere the integral's bound is below it
        kappa, theta = kappa[near], theta[near]
        width = np.minimum(np.pi, WINDOW / np.sqrt(np.maximum(kappa, 1e-300)))
        total = np.zeros(len(near))
        for turn in (-1, 0, 1):  # the window about theta, and its images a turn away, met with the arc
            centre = theta + 2 * np.pi * turn
            lower, upper = np.maximum(low, centre - width), np.minimum(high, centre + width)
            inside = np.flatnonzero(upper > lower)
            total[inside] += _legendre(
                lower[inside],
                upper[inside],
                lambda t: np.exp(-kappa[inside, None] * (1 - np.cos(t - theta[inside, None]))),
            )
        out[near] = radial[near] * total / (high - low)
        return out

    def pdf(self, x) -> np.ndarray:
        x = check_data("x", x, 2)
        return sum(weight * self._arc_density(x, k) for k, weight in enumerate(self.weights) if weight > 0)

    def logpdf(self, x) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x))

    def smoothed(self, s2: float) -> NoisyArcs:
        r"""The exact convolution :math:`p * N(0, s_2I)`: the same arcs with noise :math:`\sqrt{\sigma^2 + s_2}`."""
        if s2 == 0:
            return self
        noise = float(np.sqrt(self.noise**2 + check_positive("s2", s2)))
        return NoisyArcs(self.centres, self.radii, self.angles, self.weights, noise)

    def bounding_box(self, mass: float = 1e-9) -> Box:
        """A box outside which the law has probability at most ``mass`` (each arc's box widened by a Gaussian tail)."""
        z = tail_quantile(mass / (len(self.weights) * 2))
        lows, highs = [], []
        for centre, radius, (low, high) in zip(self.centres, self.radii, self.angles):
            t = np.concatenate(
                [np.linspace(low, high, 2049), [a for a in np.arange(-4, 9) * np.pi / 2 if low < a < high]]
            )
            points = centre + radius * np.stack([np.cos(t), np.sin(t)], axis=1)
            lows.append(points.min(axis=0))
            highs.append(points.max(axis=0))
        return Box(np.min(lows, axis=0) - z * self.noise, np.max(highs, axis=0) + z * self.noise)

    @property
    def grid_spacing(self) -> float:
        """A tenth of the noise: the kink-corrected rule is then accurate to a few 1e-6 across the thin ridge (a
        mixture's 1/20 would cost four times the nodes, each a quadrature along the curve)."""
        return self.noise / 10.0


class NoisySwissRoll:
    r"""scikit-learn's swiss roll, :math:`(t\cos t, y, t\sin t)`, t uniform on :math:`[3\pi/2, 9\pi/2]`, y on
    [0, ``length``], blurred by :math:`N(0, \sigma^2I_3)` (module docstring)."""

    dim = 3
    turns = (1.5 * np.pi, 4.5 * np.pi)

    def __init__(self, noise: float = 0.05, length: float = 21.0) -> None:
        self.noise, self.length = check_positive("noise", noise), check_positive("length", length)

    def __repr__(self) -> str:
        return f"NoisySwissRoll(noise={self.noise:g}, length={self.length:g})"

    @property
    def key(self) -> str:
        return content_key("noisy-swiss-roll", [self.noise, self.length])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        n = check_size("n", n)
        low, high = self.turns
        t = low + (high - low) * rng.random(n)
        y = self.length * rng.random(n)
        points = np.stack([t * np.cos(t), y, t * np.sin(t)], axis=1)
        return points + self.noise * rng.standard_normal((n, 3))

    def pdf(self, x) -> np.ndarray:
        x = check_data("x", x, 3)
        sigma, (low, high) = self.noise, self.turns
        along = (special.ndtr(x[:, 1] / sigma) - special.ndtr((x[:, 1] - self.length) / sigma)) / self.length
        rho, theta = np.hypot(x[:, 0], x[:, 2]), np.arctan2(x[:, 2], x[:, 0])
        nearest = theta + 2 * np.pi * np.round((rho - theta) / (2 * np.pi))  # t = theta (mod 2 pi) closest to rho
        reach = 20 * sigma / np.sqrt(1 + nearest**2)
        lower = np.maximum.reduce([np.full(len(x), low), rho - 20 * sigma, nearest - reach])
        upper = np.minimum.reduce([np.full(len(x), high), rho + 20 * sigma, nearest + reach])

        def kernel(t: np.ndarray) -> np.ndarray:
            dx, dz = x[:, 0, None] - t * np.cos(t), x[:, 2, None] - t * np.sin(t)
            return np.exp(-(dx**2 + dz**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)

        return along * _legendre(lower, upper, kernel) / (high - low)

    def logpdf(self, x) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x))


def moons(noise: float = 0.05) -> NoisyArcs:
    """scikit-learn's two moons: the upper half of the unit circle and the lower half of the one about (1, 1/2), equal
    weights, blurred by ``noise``."""
    return NoisyArcs([[0.0, 0.0], [1.0, 0.5]], [1.0, 1.0], [[0.0, np.pi], [np.pi, 2 * np.pi]], [0.5, 0.5], noise)


def circles(noise: float = 0.05, factor: float = 0.8) -> NoisyArcs:
    """scikit-learn's two circles: radius 1 and ``factor`` about the origin, equal weights, blurred by ``noise``."""
    full = [[0.0, 2 * np.pi]] * 2
    return NoisyArcs([[0.0, 0.0]] * 2, [1.0, check_positive("factor", factor)], full, [0.5, 0.5], noise)


def swiss_roll(noise: float = 0.05) -> NoisySwissRoll:
    """scikit-learn's swiss roll (length 21), blurred by ``noise``."""
    return NoisySwissRoll(noise)
