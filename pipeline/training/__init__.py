"""Layer: training runtime. Keras fitting shared by every kind (length-bucketed batches,
checkpoints and resume, schedules) and the devices it runs on (CPU kernels, GPUs, precision).
"""
