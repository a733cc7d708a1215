"""Paired differences over draws and their 95% intervals, for ci/bench-tables and
ci/simulate.d/report.py (the same costs under two strategies, one difference per draw)."""
import math

# Student's t, 97.5% quantile, by degrees of freedom (1 to 30); beyond, the normal's.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    """The 97.5% quantile of Student's t with df degrees of freedom (df >= 1)."""
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def interval(diffs):
    """(mean, half width of its 95% interval) of the per-draw differences;
    the half width is None for fewer than two draws."""
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / (n - 1))
    return mean, t975(n - 1) * sd / math.sqrt(n)
