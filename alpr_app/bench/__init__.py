"""Benchmarks (`alpr bench …`): measured figures with the machine they ran on (alpr.measure), never timed tests."""
