"""What the property tests share: replicate counts, the power they require, and Hypothesis budgets."""

from hypothesis import HealthCheck, settings

REPLICATES = 48
#: Replicates of the fixed power settings: the floor (2/alpha)^(1/R) of the test is 1.08 there.
POWER_REPLICATES = 96
#: Largest detectable ratio the fixed power settings must reach (a bound 15% too small is seen).
REQUIRED_POWER = 1.15
#: The "tight" control divides the correct bound by this.
TIGHT = 1.2


def budget(examples: int):
    """Hypothesis settings for an expensive property: ``examples`` in ci/dev, ten times more when thorough."""
    current = settings.default
    scale = 10 if current.max_examples >= 100 else 1
    return settings(
        max_examples=examples * scale, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )
