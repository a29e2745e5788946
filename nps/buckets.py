"""Day histograms summed into the buckets of a chart (a day, week or month each)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from nps.nps_math import Histogram, add_histograms, empty_histogram
from nps.periods import Period, Unit, iter_buckets


def bucket_histograms(
    daily: Mapping[date, Sequence[int]], period: Period, unit: Unit
) -> tuple[list[tuple[Period, Histogram]], Histogram]:
    """Each bucket of the period with the sum of its days' histograms, and the whole period's.

    `daily` is what StatsRepo.daily returns per day: invited, then the counts of scores 0..10.
    """
    buckets: list[tuple[Period, Histogram]] = []
    overall = empty_histogram()
    for bucket in iter_buckets(period, unit):
        histogram = empty_histogram()
        day = bucket.start
        while day <= bucket.end:
            counts = daily.get(day)
            if counts is not None:
                histogram = add_histograms(histogram, tuple(counts[1:]))
            day += timedelta(days=1)
        overall = add_histograms(overall, histogram)
        buckets.append((bucket, histogram))
    return buckets, overall
