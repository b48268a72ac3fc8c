"""The statistics module against known results: simulated A/A tests looked at after every batch of customers keep
the false-positive rate at or below the nominal 5 %, a real lift is found, and the chi-squared tail is right."""

import random

import pytest

from apps.experiments import statistics

PEEK_EVERY, MOST = 50, 4000
MINIMUM = 200  # the page compares nothing before each arm has this many


def run(rate_a: float, rate_b: float, rng: random.Random) -> statistics.Comparison | None:
    """One simulated experiment, looked at after every ``PEEK_EVERY`` customers per arm; the first decision."""
    s_a = s_b = 0
    for n in range(PEEK_EVERY, MOST + 1, PEEK_EVERY):
        s_a += sum(rng.random() < rate_a for _ in range(PEEK_EVERY))
        s_b += sum(rng.random() < rate_b for _ in range(PEEK_EVERY))
        if n >= MINIMUM:
            comparison = statistics.compare((s_a, n), (s_b, n))
            if comparison.decided:
                return comparison
    return None


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_a_and_a_looked_at_eighty_times_declare_a_difference_at_most_five_percent_of_the_time(rate):
    rng = random.Random(16)
    runs = 300
    false_positives = sum(run(rate, rate, rng) is not None for _ in range(runs))
    assert false_positives / runs <= statistics.ALPHA


def test_a_six_point_lift_is_found_with_an_interval_that_covers_it():
    rng = random.Random(4)
    found = [run(0.30, 0.36, rng) for _ in range(60)]
    decided = [comparison for comparison in found if comparison is not None]
    assert len(decided) >= 0.9 * len(found)
    assert all(comparison.difference > 0 for comparison in decided)
    assert sum(comparison.low <= 0.06 <= comparison.high for comparison in decided) >= 0.9 * len(decided)


def test_equal_arms_are_not_a_difference():
    assert not statistics.compare((300, 1000), (300, 1000)).decided


def test_the_interval_narrows_as_customers_come():
    small = statistics.compare((30, 100), (40, 100))
    large = statistics.compare((3000, 10000), (4000, 10000))
    assert large.high - large.low < small.high - small.low
    assert large.low > 0


def test_an_arm_where_nothing_happened_still_has_an_interval():
    comparison = statistics.compare((0, 500), (0, 500))
    assert comparison.low < 0 < comparison.high


@pytest.mark.parametrize(
    ("statistic", "degrees", "tail"),
    [(3.841459, 1, 0.05), (5.991465, 2, 0.05), (7.814728, 3, 0.05), (11.34487, 3, 0.01), (0.0, 2, 1.0)],
)
def test_the_chi_squared_tail_matches_the_tables(statistic, degrees, tail):
    assert statistics.chi_squared_survival(statistic, degrees) == pytest.approx(tail, abs=1e-5)


def test_arms_on_their_split_are_no_sample_ratio_mismatch():
    assert statistics.sample_ratio_p_value([5020, 4980], [50, 50]) > statistics.SRM_ALPHA


def test_arms_far_from_their_split_are_a_sample_ratio_mismatch():
    assert statistics.sample_ratio_p_value([5500, 4500], [50, 50]) < statistics.SRM_ALPHA
    assert statistics.sample_ratio_p_value([2500, 2500, 5000], [25, 25, 50]) > statistics.SRM_ALPHA
