"""The report's statistics against values computed by hand (and published tables)."""

import pytest

from metrics.significance import mcnemar_exact, paired_comparison, wilson_interval


def test_wilson_interval_of_30_in_100():
    # z = 1.959964: centre 0.3 + z^2/200, half-width z*sqrt(0.0021 + z^2/40000), over 1 + z^2/100
    low, high = wilson_interval(30, 100)
    assert low == pytest.approx(0.21895, abs=1e-5)
    assert high == pytest.approx(0.39584, abs=1e-5)


def test_wilson_interval_at_zero_stays_inside_the_unit_interval():
    # the normal approximation would give [0, 0]; Wilson's upper end is 2z^2/20 / (1 + z^2/10)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.27753, abs=1e-5)


def test_wilson_interval_narrows_with_n_and_widens_with_confidence():
    assert wilson_interval(150, 500)[1] - wilson_interval(150, 500)[0] < 0.09
    assert wilson_interval(30, 100, 0.99)[0] < wilson_interval(30, 100)[0]


def test_wilson_interval_refuses_impossible_counts():
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(11, 10)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (1, 9, 2 * (1 + 10) / 2**10),  # 0.0215
        (9, 1, 2 * (1 + 10) / 2**10),  # symmetric
        (2, 8, 2 * (1 + 10 + 45) / 2**10),  # 0.109
        (0, 5, 2 / 2**5),  # 0.0625: five of five cannot reach 0.05
        (0, 0, 1.0),  # no disagreement, no evidence
        (5, 5, 1.0),  # the doubled tail passes 1 and is capped
    ],
)
def test_mcnemar_exact_is_the_doubled_binomial_tail(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_paired_comparison_counts_only_the_shared_problems():
    first = {"a": True, "b": True, "c": False, "d": False, "only_first": True}
    second = {"a": True, "b": False, "c": True, "d": True, "only_second": False}
    result = paired_comparison(first, second)
    assert (result.n, result.b, result.c) == (4, 1, 2)
    assert result.p == pytest.approx(mcnemar_exact(1, 2))
