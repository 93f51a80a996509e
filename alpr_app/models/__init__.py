"""The model workshop: synthetic data, training, fine-tuning, evaluation, calibration fits and
model benchmarks (`alpr synth`, `alpr train`, `alpr eval`, `alpr models`, `alpr bench models`).

The recognizer service (services/recognizer/models/) serves models; this package makes and
measures them, and may import the service's model code to do it.
"""
