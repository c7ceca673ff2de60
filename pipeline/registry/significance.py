"""Is the candidate really better than the champion? Paired tests on the same test split.

A weekly retrain of the same config differs from the champion by seed noise alone; a point
comparison moves ``@champion`` back and forth on that noise. The gate here is one-sided: the
candidate is promoted only when its score is higher, the difference is significant at ``alpha``
and at least ``min_improvement``.

- accuracy: the exact McNemar test (a binomial test on the discordant pairs: the rows one model
  gets right and the other wrong);
- any other metric (F1, macro-F1, BLEU, chrF): a paired bootstrap over test rows, the p-value the
  share of resampled differences at least twice the observed one (Koehn 2004; Berg-Kirkpatrick et
  al. 2012), with a percentile confidence interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """Candidate against champion on one test split: both scores, the difference with its
    confidence interval, the one-sided p-value, and which test produced it."""

    metric: str
    test: str
    n: int
    candidate: float
    champion: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float

    def to_dict(self) -> dict:
        return {key: (round(value, 6) if isinstance(value, float) else value) for key, value in asdict(self).items()}


def mcnemar(metric: str, candidate_correct: np.ndarray, champion_correct: np.ndarray) -> Comparison:
    """Exact one-sided McNemar test of "the candidate is more accurate"."""
    from scipy.stats import binomtest

    candidate_correct = np.asarray(candidate_correct, dtype=bool)
    champion_correct = np.asarray(champion_correct, dtype=bool)
    n = len(candidate_correct)
    only_candidate = int((candidate_correct & ~champion_correct).sum())
    only_champion = int((~candidate_correct & champion_correct).sum())
    discordant = only_candidate + only_champion
    p_value = binomtest(only_candidate, discordant, 0.5, alternative="greater").pvalue if discordant else 1.0
    difference = (only_candidate - only_champion) / n
    # Wald interval of a paired difference of proportions.
    spread = math.sqrt(max(discordant - (only_candidate - only_champion) ** 2 / n, 0.0)) / n
    z = 1.959963984540054
    return Comparison(metric, "exact McNemar (one-sided)", n, float(candidate_correct.mean()),
                      float(champion_correct.mean()), difference, difference - z * spread, difference + z * spread,
                      float(p_value))


def paired_bootstrap(metric: str, n: int, scores: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                     samples: int = BOOTSTRAP_SAMPLES, seed: int = 0, chunk: int = 100) -> Comparison:
    """One-sided paired bootstrap. ``scores(indices)`` takes a (k, n) array of resampled row
    indices (row 0 of a call may be the identity) and returns the candidate's and the champion's
    score for each of the k samples."""
    identity = np.arange(n)[None, :]
    candidate, champion = (float(values[0]) for values in scores(identity))
    observed = candidate - champion
    rng = np.random.default_rng(seed)
    differences = []
    for start in range(0, samples, chunk):
        indices = rng.integers(0, n, size=(min(chunk, samples - start), n))
        cand, champ = scores(indices)
        differences.append(np.asarray(cand) - np.asarray(champ))
    differences = np.concatenate(differences)
    # Under H0 the resampled differences centre on 0: shift them by the observed one.
    exceed = int((differences - observed >= observed).sum()) if observed > 0 else samples
    p_value = (exceed + 1) / (samples + 1)
    low, high = np.quantile(differences, [(1 - CONFIDENCE) / 2, 1 - (1 - CONFIDENCE) / 2])
    return Comparison(metric, f"paired bootstrap ({samples} resamples, one-sided)", n, candidate, champion,
                      observed, float(low), float(high), float(min(p_value, 1.0)))


def decide(comparison: Comparison, alpha: float, min_improvement: float) -> tuple[bool, str]:
    """(promote?, the reason in words)."""
    figures = (f"test {comparison.metric} {comparison.candidate:.4f} against the champion's "
               f"{comparison.champion:.4f}: difference {comparison.difference:+.4f} "
               f"(95% CI {comparison.ci_low:+.4f} to {comparison.ci_high:+.4f}), p = {comparison.p_value:.3g} "
               f"by {comparison.test} on {comparison.n:,} test rows")
    if comparison.difference <= 0:
        return False, f"not better: {figures}"
    if comparison.p_value >= alpha:
        return False, f"not significant at alpha {alpha:g}: {figures}"
    if comparison.difference < min_improvement:
        return False, f"significant but below min_improvement {min_improvement:g}: {figures}"
    return True, f"significantly better at alpha {alpha:g}: {figures}"
