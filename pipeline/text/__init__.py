"""Text handling shared by training, evaluation and serving: clean -> tokenize -> ids."""
