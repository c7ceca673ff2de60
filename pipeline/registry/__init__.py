"""Layer: registry. The promotion gate's statistics (paired significance tests) and the lock
that lets one process at a time move a registered model's aliases.
"""
