"""Always-valid statistics for comparing two opt-in rates, in plain Python (docs/experiments.md).

The rule, stated up front: a mixture sequential probability ratio test (mSPRT; Johari, Koomen, Pekelis and Walsh,
"Always valid inference", 2017) on the difference of two proportions, with a normal mixing distribution of
standard deviation ``TAU`` (5 points: the size of effect a value-exchange wording can plausibly make) and the
normal approximation of each rate. The test may be looked at after every customer: the chance that it ever
declares a difference between two equal variants stays at or below ``ALPHA``. The interval it reports is the
matching always-valid confidence sequence, so "95 % interval" holds however often the page was opened. No
decision is made before each arm has ``minimum`` customers.

A sample-ratio-mismatch check (Pearson's chi-squared against the configured split) says when the arms' sizes are
too far from the split to trust the comparison: assignment or exposure recording is broken.
"""

import math
from dataclasses import dataclass

ALPHA = 0.05
TAU = 0.05
SRM_ALPHA = 0.001


@dataclass(frozen=True)
class Comparison:
    """Variant minus control, as rates (0.041 is 4.1 points)."""

    control_rate: float
    variant_rate: float
    difference: float
    low: float
    high: float

    @property
    def decided(self) -> bool:
        """Whether the always-valid interval excludes no difference (the mSPRT rejects equality)."""
        return self.low > 0 or self.high < 0


def _variance(successes: int, n: int) -> float:
    # The rate's variance with one success and one failure added, so an arm at 0 % or 100 % is not certain.
    rate = (successes + 1) / (n + 2)
    return rate * (1 - rate) / n


def compare(
    control: tuple[int, int], variant: tuple[int, int], *, alpha: float = ALPHA, tau: float = TAU
) -> Comparison:
    """Compare two arms given as (successes, customers); both need at least one customer."""
    (s_a, n_a), (s_b, n_b) = control, variant
    rate_a, rate_b = s_a / n_a, s_b / n_b
    difference = rate_b - rate_a
    v = _variance(s_a, n_a) + _variance(s_b, n_b)
    tau2 = tau * tau
    # Where the mixture likelihood ratio against "the difference is d" stays below 1/alpha (Johari et al., eq. 12).
    half_width = math.sqrt(v * (v + tau2) / tau2 * (math.log((v + tau2) / v) + 2 * math.log(1 / alpha)))
    return Comparison(rate_a, rate_b, difference, difference - half_width, difference + half_width)


def chi_squared_survival(statistic: float, degrees: int) -> float:
    """P(X >= statistic) for X chi-squared with ``degrees`` (a whole number) degrees of freedom."""
    half = statistic / 2
    if degrees % 2:
        tail, term, k = math.erfc(math.sqrt(half)), math.sqrt(half / math.pi) * 2 * math.exp(-half), 3
        if degrees >= 3:
            tail += term
        # Each further two degrees add the next term of the series (Abramowitz and Stegun 26.4.4).
        while k < degrees:
            term *= half / (k / 2)
            tail += term
            k += 2
        return min(1.0, tail)
    tail, term = math.exp(-half), math.exp(-half)
    for k in range(1, degrees // 2):
        term *= half / k
        tail += term
    return min(1.0, tail)


def sample_ratio_p_value(counts: list[int], weights: list[int]) -> float:
    """How likely arms this far from the configured split are if assignment works (1.0 without customers)."""
    total = sum(counts)
    if total == 0:
        return 1.0
    expected = [total * weight / sum(weights) for weight in weights]
    statistic = sum((count - e) ** 2 / e for count, e in zip(counts, expected, strict=True) if e > 0)
    return chi_squared_survival(statistic, len(counts) - 1)
