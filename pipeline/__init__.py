"""rnnflow's library, in layer bands from foundations up to the CLI (``docs/architecture.md``).

Importing it sets one environment default that TensorFlow reads when it is first imported, so
every process that runs rnnflow code (the CLI, Airflow tasks and Celery workers, served models,
benchmarks) trains and predicts with the same CPU kernels whatever the CPU.
"""

import os

from pipeline import legacy

# TensorFlow turns its oneDNN CPU kernels on by itself only on CPUs with AVX512-VNNI, AVX512-BF16 or
# AMX; AVX2-only CPUs train faster on them too (benchmarks/README.md). A value the user set is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
legacy.install()
