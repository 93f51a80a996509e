"""Deployment files stay consistent with the code: settings names, ports, metric names."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from alpr.settings import known_env_names

INFRA = Path(__file__).resolve().parents[1] / "infra"


def compose():
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


def test_compose_uses_only_real_settings_and_default_ports():
    doc = compose()
    known = known_env_names()
    for name, service in doc["services"].items():
        env = service.get("environment") or {}
        for key in env:
            if key.startswith("ALPR_"):
                assert key in known, f"{name}: {key} is not a setting any service reads"
        port = env.get("ALPR_HTTP_PORT")
        if port:
            import importlib

            module = importlib.import_module(f"services.{name}.settings")
            cls = getattr(module, f"{name.capitalize()}Settings")
            assert cls.model_fields["http_port"].default == int(port), f"{name}: compose port differs from the default"


def test_prometheus_scrapes_every_service_on_its_port():
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in ("ingest", "recognizer", "occupancy", "revenue", "audit"):
        assert name in jobs
        ports = re.findall(r":(\d{4})\b|port': (\d{4})", str(jobs[name]))
        import importlib

        cls = getattr(importlib.import_module(f"services.{name}.settings"), f"{name.capitalize()}Settings")
        assert str(cls.model_fields["http_port"].default) in str(jobs[name]), (name, ports)


def test_alert_rules_use_metrics_the_code_exports():
    import alpr.metrics as metrics
    from prometheus_client import Counter, Gauge, Histogram

    exported = set()
    for value in vars(metrics).values():
        if isinstance(value, (Counter, Gauge, Histogram)):
            name = value._name
            exported.update({name, f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"})
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = set(re.findall(r"\balpr_[a-z_]+", rule["expr"]))
            assert used and used <= exported, f"{rule['alert']}: {used - exported}"
