"""The promotion gate, tested as a statistician would: false promotions at most alpha when the
challenger is no better, power when it is."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.kinds.classification.metrics import classification_metrics
from pipeline.kinds.classification.promotion import (
    _confusions,
    compare_classifiers,
    f1_from_confusions,
)
from pipeline.registry.significance import decide

ALPHA = 0.05
SIMULATIONS = 200


def correlated_predictions(rng, y, accuracy_champion, accuracy_candidate, shared=0.5):
    """Two models' predictions whose errors overlap as real models' do: on a ``shared`` share of
    rows both see the same difficulty (the same uniform draw), elsewhere independent ones."""
    n = len(y)
    u_champion = rng.random(n)
    u_candidate = np.where(rng.random(n) < shared, u_champion, rng.random(n))
    champion = np.where(u_champion < accuracy_champion, y, 1 - y)
    candidate = np.where(u_candidate < accuracy_candidate, y, 1 - y)
    return candidate, champion


def promotion_rate(metric, n, accuracy_champion, accuracy_candidate, seed, samples=400):
    """Share of SIMULATIONS pairs promoted. The bootstrap uses 400 resamples here (the gate 1,000):
    enough to resolve p against 0.05, and 2.5 times faster."""
    rng = np.random.default_rng(seed)
    promoted = 0
    for _ in range(SIMULATIONS):
        y = (rng.random(n) < 0.5).astype(np.int64)
        candidate, champion = correlated_predictions(rng, y, accuracy_champion, accuracy_candidate)
        comparison = compare_classifiers(y, candidate, champion, metric, 2, seed=int(rng.integers(1 << 30)),
                                         samples=samples)
        promoted += decide(comparison, ALPHA, 0.0)[0]
    return promoted / SIMULATIONS


# Three standard errors of a rate of alpha over SIMULATIONS draws.
MARGIN = 3 * np.sqrt(ALPHA * (1 - ALPHA) / SIMULATIONS)


@pytest.mark.parametrize("n", [5000, 50000])
def test_mcnemar_no_better_challenger_is_promoted_at_most_alpha(n, capsys):
    rate = promotion_rate("accuracy", n, 0.85, 0.85, seed=n)
    with capsys.disabled():
        print(f"\nMcNemar, n={n}, equal accuracy 0.85: false promotion rate {rate:.3f} "
              f"(alpha {ALPHA}, limit {ALPHA + MARGIN:.3f}, {SIMULATIONS} simulations)")
    assert rate <= ALPHA + MARGIN


def test_mcnemar_two_points_better_on_5000_is_promoted_at_least_95_percent(capsys):
    rate = promotion_rate("accuracy", 5000, 0.85, 0.87, seed=7)
    with capsys.disabled():
        print(f"\nMcNemar, n=5000, 0.85 -> 0.87: power {rate:.3f} ({SIMULATIONS} simulations)")
    assert rate >= 0.95


def test_mcnemar_a_worse_challenger_is_never_promoted():
    assert promotion_rate("accuracy", 5000, 0.87, 0.85, seed=3) == 0.0


@pytest.mark.slow
def test_bootstrap_macro_f1_false_promotions_and_power(capsys):
    null = promotion_rate("macro_f1", 5000, 0.85, 0.85, seed=11)
    power = promotion_rate("macro_f1", 5000, 0.85, 0.87, seed=12)
    with capsys.disabled():
        print(f"\nbootstrap macro-F1, n=5000: false promotion rate {null:.3f}, power (+2 points) {power:.3f}")
    assert null <= ALPHA + MARGIN and power >= 0.95


def test_resampled_f1_matches_the_reported_metric():
    rng = np.random.default_rng(0)
    for classes in (2, 4):
        y = rng.integers(0, classes, 300)
        pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, classes, 300))
        pred[:5] = -1  # a label this run does not know
        confusions = _confusions(y, pred, np.arange(300)[None, :], classes)
        expected = classification_metrics(y, pred, classes)
        assert f1_from_confusions(confusions, "macro_f1")[0] == pytest.approx(expected["macro_f1"])
        assert f1_from_confusions(confusions, "f1")[0] == pytest.approx(expected["f1"])


def test_decision_reasons_name_the_figures():
    y = np.array([0, 1] * 500)
    same = y.copy()
    promote, reason = decide(compare_classifiers(y, same, same, "accuracy", 2), ALPHA, 0.0)
    assert not promote and reason.startswith("not better") and "p = 1" in reason
    better = y.copy()
    worse = np.where(np.arange(1000) < 200, 1 - y, y)
    promote, reason = decide(compare_classifiers(y, better, worse, "accuracy", 2), ALPHA, 0.0)
    assert promote and "exact McNemar" in reason and "95% CI" in reason
    promote, reason = decide(compare_classifiers(y, better, worse, "accuracy", 2), ALPHA, 0.5)
    assert not promote and "below min_improvement 0.5" in reason
