"""Bag-of-words baselines (scikit-learn): space-joined tokens -> class probabilities. One file each."""
