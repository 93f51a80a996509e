"""What every benchmark stores beside its figures: the machine it ran on, and percentiles."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """A one-line description of this machine, stored next to every figure."""
    try:
        with open("/proc/meminfo") as f:
            mem_gb = round(int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        mem_gb = 0
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{os.cpu_count()}-core {platform.machine()}, {mem_gb} GB, {gpu}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]
