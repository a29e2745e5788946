"""CSAT and CES figures worked out another way than nps/csat_math.py does, for tests to
compare the bot's figures with: the Wilson bounds as roots of their quadratic, Student's t
from its closed-form distribution function."""

from __future__ import annotations

import math

Z = 1.96


def wilson_percent(k: int, n: int) -> tuple[float, float]:
    """Wilson bounds as the roots of (p̂ − p)² = z²·p(1 − p)/n, in percent."""
    p = k / n
    a, b, c = 1 + Z * Z / n, -(2 * p + Z * Z / n), p * p
    root = math.sqrt(b * b - 4 * a * c)
    return 100 * (-b - root) / (2 * a), 100 * (-b + root) / (2 * a)


def t_two_sided(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer df (Abramowitz & Stegun 26.7.3–4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:
        if df == 1:
            return 2 * theta / math.pi
        term = series = math.cos(theta)
        for k in range(3, df - 1, 2):
            term *= c2 * (k - 1) / k
            series += term
        return 2 / math.pi * (theta + math.sin(theta) * series)
    term = series = 1.0
    for k in range(2, df - 1, 2):
        term *= c2 * (k - 1) / k
        series += term
    return math.sin(theta) * series


def t975(df: int) -> float:
    """Student's t 0.975 quantile by bisection on t_two_sided."""
    low, high = 0.0, 100.0
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if t_two_sided(middle, df) < 0.95 else (low, middle)
    return low
