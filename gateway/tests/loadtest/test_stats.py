"""Percentiles of a step's samples."""

from __future__ import annotations

import pytest

from gpuchat.loadtest.stats import distribution_ms, percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 99, 3.97),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([7.0], 95, 7.0),
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_distribution_of_nothing_is_empty_not_zero() -> None:
    assert distribution_ms([]) == {"p50": None, "p95": None, "p99": None, "mean": None}
    assert distribution_ms([0.25, 0.75])["p50"] == 500.0
