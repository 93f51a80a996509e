"""The demo tariff file the revenue tests price against."""

from __future__ import annotations

from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "infra" / "tariff.demo.yaml"
