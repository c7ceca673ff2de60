"""Text classifiers: token ids -> class probabilities. One file per architecture; the file name is its name."""
