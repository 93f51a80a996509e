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


def exported_metrics() -> set[str]:
    """Every metric name the code registers: the shared ones and each service's."""
    import importlib
    import pkgutil

    import services
    from prometheus_client import REGISTRY

    importlib.import_module("alpr.metrics")
    for mod in pkgutil.iter_modules(services.__path__):
        try:
            importlib.import_module(f"services.{mod.name}.metrics")
        except ModuleNotFoundError:
            pass
    names = set()
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            names.add(sample.name)
        names.update({metric.name, f"{metric.name}_total", f"{metric.name}_bucket", f"{metric.name}_count", f"{metric.name}_sum"})
    return names


def test_alert_rules_use_metrics_the_code_exports():
    exported = exported_metrics()
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    names = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
            used = set(re.findall(r"\balpr_[a-z0-9_]+", rule["expr"]))
            assert used <= exported, f"{rule['alert']}: {used - exported}"
            names.add(rule["alert"])
    assert {"ConsumerLagHigh", "DeadLettersFlowing", "NoReadRateHigh", "CaptureRateDrop", "RetentionReportFailed"} <= names


def test_grafana_dashboards_query_exported_metrics():
    import json

    exported = exported_metrics()
    for path in (INFRA / "grafana" / "dashboards").glob("*.json"):
        dash = json.loads(path.read_text())
        assert dash["uid"] and dash["panels"]
        for panel in dash["panels"]:
            for target in panel["targets"]:
                used = set(re.findall(r"\balpr_[a-z0-9_]+", target["expr"]))
                assert used and used <= exported, f"{path.name} {panel['title']}: {used - exported}"


def test_kubernetes_manifests_are_complete_and_match_the_services():
    import importlib

    docs = {}
    for path in (INFRA / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path.name
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    known = known_env_names()
    for key in docs[("ConfigMap", "alpr-config")]["data"]:
        assert key in known, key
    for name in ("ingest", "recognizer", "occupancy", "revenue", "audit"):
        dep = docs[("Deployment", f"alpr-{name}")]
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["alpr", name, "serve"]
        port = int(next(e["value"] for e in container["env"] if e["name"] == "ALPR_HTTP_PORT"))
        cls = getattr(importlib.import_module(f"services.{name}.settings"), f"{name.capitalize()}Settings")
        assert cls.model_fields["http_port"].default == port
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
        assert dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        assert docs[("Service", f"alpr-{name}")]["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    gpu = docs[("Deployment", "alpr-recognizer")]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == 1
    scaled = docs[("ScaledObject", "alpr-recognizer")]["spec"]
    from alpr.contracts.registry import load_registry
    from services.recognizer.settings import RecognizerSettings

    trigger = scaled["triggers"][0]["metadata"]
    assert trigger["topic"] == "alpr.frames.v1" and trigger["consumerGroup"] == RecognizerSettings.model_fields["consumer_group"].default
    assert scaled["maxReplicaCount"] <= load_registry()["alpr.frames.v1"].partitions
