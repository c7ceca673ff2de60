"""Layer: text. Text handling shared by training, evaluation and serving: clean -> tokenize -> ids,
and the text spec that carries those settings from the features stage to the served model.
"""
