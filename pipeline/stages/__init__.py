"""Layer: stages. The stages of every pipeline, whatever its task kind: ingest -> validate ->
preprocess -> [tune] -> train -> evaluate -> register. Each module has one public entry point,
``run_<stage>``; the kind-specific work is the config's kind (``pipeline.kinds``).
"""
