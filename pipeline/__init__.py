"""rnnflow's library: stages, tasks and the DAG factory (see the README's "Architecture").

Importing it sets one environment default that TensorFlow reads when it is first imported, so
every process that runs rnnflow code (the CLI, Airflow tasks and Celery workers, served models,
benchmarks) trains and predicts with the same CPU kernels whatever the CPU.
"""

import os

# TensorFlow turns its oneDNN CPU kernels on by itself only on CPUs with AVX512-VNNI, AVX512-BF16 or
# AMX, and leaves AVX2-only CPUs on Eigen. On an AVX2 AMD EPYC (2 cores) oneDNN trains the default
# NSMC LSTM 1.15x faster (benchmarks/classifier_training.py, bucketed: median of 7 interleaved pairs
# of processes, 6 of them faster) and the fra-eng Luong seq2seq 1.65x (benchmarks/
# seq2seq_train_step.py); serving throughput and test accuracy are unchanged. A value the user set
# (0 to keep Eigen) is left alone.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
