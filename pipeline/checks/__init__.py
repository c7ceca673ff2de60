"""Layer: data checks. Limits, drift (PSI) and the report that warns or stops a run; the checks
that depend on the task kind live with the kind (``pipeline/kinds/<kind>/checks.py``).
"""
