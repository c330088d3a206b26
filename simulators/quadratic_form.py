r"""The probability that a Gaussian quadratic form is positive, exactly, for many forms at once.

For independent standard normals :math:`Z_j`, the form :math:`Q = \sum_j (a_j Z_j^2 + \beta_j Z_j) + c` has the
characteristic function

.. math:: \varphi(t) = e^{itc}\prod_j (1 - 2ia_jt)^{-1/2}\exp\Big(-\frac{\beta_j^2 t^2}{2(1 - 2ia_jt)}\Big),

and Gil-Pelaez's inversion gives :math:`P(Q > 0) = \tfrac12 + \tfrac1\pi\,\mathrm{Im}\int_0^\infty \varphi(t)\,dt/t`.
On the real axis the integrand oscillates and, for few terms, decays only like :math:`t^{-1-n/2}`. Two steps make it
smooth and quickly decaying (docs/theory.md, section 12):

1. subtract :math:`g(t)/t` with :math:`g(t) = e^{-\kappa^2t^2}` (:math:`\kappa` the form's standard deviation): real
   on the real axis, so the imaginary part is unchanged, and entire with :math:`g(0) = 1`, so that
   :math:`h(z) = (\varphi(z) - g(z))/z` is analytic at 0; along any ray with :math:`|\theta| < \pi/4` it falls like a
   Gaussian, as :math:`\varphi` does at first;
2. rotate the ray of integration to :math:`z = re^{i\theta}`, :math:`|\theta| \le \pi/6`, on the side where the phase
   :math:`e^{izc_\infty}` of large :math:`|z|` decays (:math:`c_\infty = c - \sum_j \beta_j^2/(4a_j)`). The branch
   points :math:`z = -i/(2a_j)` lie on the imaginary axis, so the sector crossed holds none, and Cauchy's theorem
   keeps the integral. The angle is the largest of :data:`ANGLES` along which :math:`|\varphi|` stays below
   :math:`e^2` (checked on :data:`_PROBE`); the real axis, where :math:`|\varphi| \le 1`, always qualifies.

Along the ray, in units of the form's standard deviation :math:`\kappa`, fixed Gauss-Kronrod (7, 15) panels cover
[0, 8] evenly (where :math:`\varphi` falls like :math:`e^{-r^2/2}`) and then the tails in log-spaced panels up to
:math:`r_{\max}`: first a cheap rule, then a fine and long one for the forms it did not settle (:data:`RULES`). A form's error is the sum of the panels'
error estimates (QUADPACK's: the Kronrod-Gauss difference scaled by the integrand's spread on the panel, floored at
the rounding of its sum) and a rigorous majorant of the tail beyond :math:`r_{\max}`, valid once every
term is in its large-:math:`|z|` regime (:math:`|2a_jz| \ge 2`): there each term's modulus is at most
:math:`(2|a_jz|\cos\theta)^{-1/2}` and the phase decays as :math:`e^{-|c_\infty z\sin\theta|}`. A form whose error
exceeds :data:`TOLERANCE` is integrated again by adaptive quadrature (``scipy.integrate.quad_vec``) to infinity.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

__all__ = ["ANGLES", "TOLERANCE", "exceedance", "log_characteristic"]

#: The rays tried, largest first (the last is the real axis).
ANGLES = np.pi / np.array([6.0, 12.0, 24.0, 48.0, np.inf])
#: The largest growth of the characteristic function along an accepted ray (its log).
_GROWTH = 2.0
#: Where an angle is checked, in units of the scale.
_PROBE = np.logspace(-6, 10, 65)
#: The absolute error accepted for one probability by default (a TV, a difference of two, then has at most twice it);
#: a form above it goes to the next rule, and after the last to adaptive quadrature.
TOLERANCE = 4e-10
#: Complex numbers held at once by a batch of forms (forms x nodes x terms): 32 MB.
_BATCH_ENTRIES = 1 << 21

# Gauss-Kronrod (7, 15) on [-1, 1]: the Kronrod nodes, their weights, and the Gauss weights on the odd nodes
_NODES = np.array(
    [
        -0.991455371120812639206854697526329,
        -0.949107912342758524526189684047851,
        -0.864864423359769072789712788640926,
        -0.741531185599394439863864773280788,
        -0.586087235467691130294144845693013,
        -0.405845151377397166906606412076961,
        -0.207784955007898467600689403773245,
        0.0,
        0.207784955007898467600689403773245,
        0.405845151377397166906606412076961,
        0.586087235467691130294144845693013,
        0.741531185599394439863864773280788,
        0.864864423359769072789712788640926,
        0.949107912342758524526189684047851,
        0.991455371120812639206854697526329,
    ]
)
_KRONROD = np.array(
    [
        0.022935322010529224963732008058970,
        0.063092092629978553290700663189204,
        0.104790010322250183839876322541518,
        0.140653259715525918745189590510238,
        0.169004726639267902826583426598550,
        0.190350578064785409913256402421014,
        0.204432940075298892414161999234649,
        0.209482141084727828012999174891714,
        0.204432940075298892414161999234649,
        0.190350578064785409913256402421014,
        0.169004726639267902826583426598550,
        0.140653259715525918745189590510238,
        0.104790010322250183839876322541518,
        0.063092092629978553290700663189204,
        0.022935322010529224963732008058970,
    ]
)
_GAUSS = np.zeros(15)
_GAUSS[1::2] = [
    0.129484966168869693270611432679082,
    0.279705391489276667901467771423780,
    0.381830050505118944950369775488975,
    0.417959183673469387755102040816327,
    0.381830050505118944950369775488975,
    0.279705391489276667901467771423780,
    0.129484966168869693270611432679082,
]


def log_characteristic(z: np.ndarray, a: np.ndarray, beta: np.ndarray, c: np.ndarray) -> np.ndarray:
    r""":math:`\log\varphi(z)` of each form at the points ``z`` (R, M); ``a``, ``beta`` (R, n), ``c`` (R,). The principal
    logarithm of :math:`1 - 2iaz` is continuous along any ray in the right half-plane: there its imaginary part keeps
    one sign."""
    zz = z[..., None]
    w = 1 - 2j * a[:, None, :] * zz
    return (-0.5 * np.log(w) - beta[:, None, :] ** 2 * zz**2 / (2 * w)).sum(axis=-1) + 1j * z * c[:, None]


#: Terms multiplied together before one logarithm along a ray: each factor's argument moves by at most 1.15 rad per unit
#: of log r on a ray within 30 degrees of the real axis, and neighbouring nodes are less than 0.2 apart in log r, so a
#: group's argument moves by less than pi between them and unwrapping it along the ray is exact.
_GROUP = 4


def _log_characteristic_on_ray(r: np.ndarray, direction: np.ndarray, a, beta, c) -> np.ndarray:
    r""":math:`\log\varphi(z)` at :math:`z = r\,\mathrm{direction}` for nodes ``r`` (M,) in increasing order along each
    form's ray: the terms' :math:`-\tfrac12\log(1 - 2ia_jz)` as one logarithm of each group's product, its argument
    unwrapped along the ray from 0 at z = 0 (the same values as :func:`log_characteristic`, for a logarithm a group)."""
    z = r[None, :] * direction[:, None]  # (R, M)
    factors = 1 - 2j * (a * direction[:, None])[:, None, :] * r[None, :, None]  # (R, M, n)
    log_sum = np.zeros(z.shape, dtype=complex)
    for start in range(0, a.shape[1], _GROUP):
        product = np.prod(factors[:, :, start : start + _GROUP], axis=2)
        log_sum += np.log(np.abs(product)) + 1j * np.unwrap(np.angle(product), axis=1)
    linear = (beta[:, None, :] ** 2 / factors).sum(axis=2) * z**2 / 2
    return -0.5 * log_sum - linear + 1j * z * c[:, None]


def _integrand(z: np.ndarray, direction: np.ndarray, a, beta, c, scale, log_value=None) -> np.ndarray:
    r""":math:`\mathrm{Im}[h(z)\,dz/dr]` at ``z`` (R, M): :math:`h = (\varphi(z) - g(z))/z`, :math:`g = e^{-\kappa^2z^2}`,
    as :math:`g\,(e^{\log\varphi - \log g} - 1)/z` by ``expm1`` where g matters (no cancellation near 0), and as
    :math:`\varphi(z)/z` where :math:`|g| < e^{-40}` (beyond that, an exponent overflows and g is below any error)."""
    log_value = log_characteristic(z, a, beta, c) if log_value is None else log_value
    log_subtracted = -((scale[:, None] * z) ** 2)
    far = log_subtracted.real < -40.0
    difference = np.empty_like(z)
    difference[far] = np.exp(log_value[far])
    near = ~far
    difference[near] = np.exp(log_subtracted[near]) * np.expm1(log_value[near] - log_subtracted[near])
    return (difference / z * direction[:, None]).imag


def _directions(a: np.ndarray, beta: np.ndarray, c: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each form's ray (``e^{i theta}`` over its scale, so that the integrand's features sit near r = 1) and angle."""
    quadratic = a != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        c_infinity = c - np.where(quadratic, beta**2 / (4 * np.where(quadratic, a, 1.0)), 0.0).sum(axis=1)
    side = np.where(c_infinity >= 0, 1.0, -1.0)
    angle, chosen = np.zeros(a.shape[0]), np.zeros(a.shape[0], dtype=bool)
    for theta in ANGLES:
        open_ = ~chosen
        if not np.any(open_):
            break
        ray = np.exp(1j * theta * side[open_]) / scale[open_]
        fine = np.real(_log_characteristic_on_ray(_PROBE, ray, a[open_], beta[open_], c[open_])).max(axis=1) <= _GROWTH
        index = np.flatnonzero(open_)[fine]
        angle[index], chosen[index] = theta * side[index], True
    return np.exp(1j * angle) / scale, angle


def _tail_bound(r_end: np.ndarray, angle: np.ndarray, a, beta, c, scale: np.ndarray) -> np.ndarray:
    r"""A majorant of :math:`\int |h(z)|\,|dz|` beyond the panels' end (at :math:`|z| = r_{\mathrm{end}}/\kappa`): a
    decreasing bound of :math:`|h|` summed over the dyadic intervals :math:`[x, 2x]`; +inf where the end is not yet in
    every term's large-:math:`|z|` regime (:math:`|z| \ge 1/|a_j|`)."""
    modulus = r_end / scale  # |z| at the end of the panels
    absolute = np.abs(a)
    quadratic = absolute > 0
    reach = np.where(quadratic, 1.0 / np.where(quadratic, absolute, 1.0), 0.0).max(axis=1)
    cosine, sine = np.cos(angle), np.abs(np.sin(angle))
    with np.errstate(divide="ignore", invalid="ignore"):
        c_infinity = c - np.where(quadratic, beta**2 / (4 * np.where(quadratic, a, 1.0)), 0.0).sum(axis=1)
    linear = np.where(quadratic, 0.0, beta**2).sum(axis=1)
    terms = quadratic.sum(axis=1)
    log_amplitude = -0.5 * np.where(
        quadratic, np.log(2 * np.where(quadratic, absolute, 1.0) * cosine[:, None]), 0.0
    ).sum(axis=1)
    x = modulus[:, None] * 2.0 ** np.arange(80)  # the dyadic intervals [x, 2x] beyond the end
    log_bound = (
        log_amplitude[:, None]
        - 0.5 * terms[:, None] * np.log(x)
        - (np.abs(c_infinity) * sine)[:, None] * x
        - (linear * np.cos(2 * angle) / 2)[:, None] * x**2
    )
    subtracted = -((scale[:, None] * x) ** 2) * np.cos(2 * angle)[:, None]  # log |g(z)| on the ray
    # |h| <= (|phi| + |g|)/|z| on [x, 2x], an interval of width x
    with np.errstate(over="ignore", invalid="ignore"):
        total = (np.exp(log_bound) + np.exp(subtracted)).sum(axis=1)
    return np.where(modulus >= reach, total, np.inf)


def _panels(linear_panels: int, decades: int, per_decade: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A fixed rule along the ray, in units of the form's scale (its standard deviation): ``linear_panels`` panels of
    equal width over [0, :data:`LINEAR_END`], where the characteristic function falls like :math:`e^{-r^2/2}`, then
    ``per_decade`` a decade over the algebraic and exponential tails, for ``decades`` decades. Returns the nodes, the
    Kronrod and Gauss weights, and the end of the last panel."""
    linear = np.linspace(0.0, LINEAR_END, linear_panels + 1)
    logarithmic = LINEAR_END * np.logspace(0, decades, decades * per_decade + 1)[1:]
    edges = np.concatenate([linear, logarithmic])
    middle, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    nodes = (middle[:, None] + half[:, None] * _NODES).ravel()
    return nodes, (half[:, None] * _KRONROD).ravel(), (half[:, None] * _GAUSS).ravel(), float(edges[-1])


#: Where the linear panels end (units of the form's standard deviation).
LINEAR_END = 8.0
#: The fixed rules tried in turn, each on the forms the one before could not settle: a cheap one that settles most
#: forms whose characteristic function decays quickly, then a fine and long one.
RULES = (_panels(16, 3, 4), _panels(32, 6, 6), _panels(64, 9, 12))


def _fixed_rule(a, beta, c, direction, angle, scale, rule) -> tuple[np.ndarray, np.ndarray]:
    """``rule`` (:data:`RULES`) on each form: its probability and error (panels' estimates and the tail's bound)."""
    nodes, kronrod, gauss, end = rule
    log_value = _log_characteristic_on_ray(nodes, direction, a, beta, c)
    values = _integrand(nodes[None, :] * direction[:, None], direction, a, beta, c, scale, log_value)
    values = values.reshape(len(a), -1, 15)
    weights = kronrod.reshape(-1, 15)  # per panel, the Kronrod weights times the half width
    kronrod_sum, gauss_sum = (values * weights).sum(axis=2), (values * gauss.reshape(-1, 15)).sum(axis=2)
    # QUADPACK's estimate of each panel's error (qk15): |K - G| scaled by the integrand's spread over the panel
    spread = (weights * np.abs(values - (kronrod_sum / weights.sum(axis=1))[..., None])).sum(axis=2)
    difference = np.abs(kronrod_sum - gauss_sum)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(spread > 0, spread * np.minimum(1.0, (200 * difference / spread) ** 1.5), difference)
    rounding = 50 * np.finfo(float).eps * (weights * np.abs(values)).sum(axis=2)
    estimate = np.maximum(scaled, rounding).sum(axis=1) / np.pi
    tail = _tail_bound(np.full(len(a), end), angle, a, beta, c, scale) / np.pi
    return 0.5 + kronrod_sum.sum(axis=1) / np.pi, estimate + tail


def _adaptive(a, beta, c, direction, scale, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """The forms the fixed rules could not settle, by adaptive Gauss-Kronrod to infinity (all at once)."""
    value, error = integrate.quad_vec(
        lambda r: _integrand(np.full((len(a), 1), r) * direction[:, None], direction, a, beta, c, scale)[:, 0],
        0,
        np.inf,
        epsabs=tolerance / 10,
        epsrel=0,
        norm="max",
        limit=4000,
    )
    return 0.5 + value / np.pi, np.full(len(a), error / np.pi)


def exceedance(a, beta, c, *, tolerance: float = TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`P(Q > 0)` for each form :math:`Q = \sum_j (a_j Z_j^2 + \beta_j Z_j) + c` and an estimate of its
    absolute error (module docstring).

    Parameters
    ----------
    a, beta : array_like (R, n)
        Each form's quadratic and linear coefficients (a form with fewer terms is padded with zeros).
    c : array_like (R,)
    tolerance : float
        The absolute error each probability is computed to (:data:`TOLERANCE`).

    Returns
    -------
    probability, error : ndarray (R,)
        The probabilities, clipped to [0, 1], and their estimated absolute errors.
    """
    a, beta = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(beta, dtype=float))
    c = np.atleast_1d(np.asarray(c, dtype=float))
    probability, error = np.empty(len(a)), np.empty(len(a))
    batch = int(np.clip(_BATCH_ENTRIES // (RULES[-1][0].size * a.shape[1]), 1, 1024))
    for start in range(0, len(a), batch):
        part = slice(start, start + batch)
        forms = a[part], beta[part], c[part]
        scale = np.sqrt((2 * forms[0] ** 2 + forms[1] ** 2).sum(axis=1))  # the form's standard deviation
        scale = np.where(scale > 0, scale, 1.0)
        direction, angle = _directions(*forms, scale)
        value, estimate = np.full(len(scale), np.nan), np.full(len(scale), np.inf)
        for rule in RULES:  # each on the forms not settled yet whose tail beyond the rule's end is small enough
            open_ = ~(estimate <= tolerance)
            if not np.any(open_):
                break
            a_open, beta_open, c_open = (form[open_] for form in forms)
            tail = _tail_bound(np.full(open_.sum(), rule[3]), angle[open_], a_open, beta_open, c_open, scale[open_])
            open_[open_] = tail / np.pi <= tolerance
            if not np.any(open_):
                continue
            a_open, beta_open, c_open, direction_open, angle_open, scale_open = (
                form[open_] for form in (*forms, direction, angle, scale)
            )
            value[open_], estimate[open_] = _fixed_rule(
                a_open, beta_open, c_open, direction_open, angle_open, scale_open, rule
            )
        unsettled = ~(estimate <= tolerance)
        if np.any(unsettled):
            a_left, beta_left, c_left, direction_left, scale_left = (
                form[unsettled] for form in (*forms, direction, scale)
            )
            value[unsettled], estimate[unsettled] = _adaptive(
                a_left, beta_left, c_left, direction_left, scale_left, tolerance
            )
        probability[part], error[part] = np.clip(value, 0.0, 1.0), estimate
    return probability, error
