"""Layer: tracking. Every MLflow write the stages make: the store, parent and child runs, the
records logged on them, the markdown the MLflow UI shows, model comparisons, and lineage (the tags
that say where a run came from, and ``rnnflow lineage``, which checks each link).
"""
