"""The stages of every pipeline, whatever its task kind: ingest -> preprocess -> train -> evaluate ->
register. Each module has one public entry point, ``run_<stage>``; the kind-specific work is
the config's kind (``pipeline.kinds``).
"""
