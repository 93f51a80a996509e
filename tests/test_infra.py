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
        port = env.get(f"ALPR_{name.upper()}_HTTP_PORT")
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

    from prometheus_client import REGISTRY

    import services

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
        names.update(
            {metric.name, f"{metric.name}_total", f"{metric.name}_bucket", f"{metric.name}_count", f"{metric.name}_sum"}
        )
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
    assert {
        "ConsumerLagHigh",
        "DeadLettersFlowing",
        "NoReadRateHigh",
        "CaptureRateDrop",
        "RetentionReportFailed",
    } <= names


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
        port = int(next(e["value"] for e in container["env"] if e["name"] == f"ALPR_{name.upper()}_HTTP_PORT"))
        cls = getattr(importlib.import_module(f"services.{name}.settings"), f"{name.capitalize()}Settings")
        assert cls.model_fields["http_port"].default == port
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
        assert dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        assert docs[("Service", f"alpr-{name}")]["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    gpu = docs[("Deployment", "alpr-recognizer")]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == 1
    scaled = docs[("ScaledObject", "alpr-recognizer")]["spec"]
    from alpr.contracts.registry import Topic, load_registry
    from services.recognizer.settings import RecognizerSettings

    trigger = scaled["triggers"][0]["metadata"]
    assert (
        trigger["topic"] == Topic.FRAMES
        and trigger["consumerGroup"] == RecognizerSettings.model_fields["consumer_group"].default
    )
    assert scaled["maxReplicaCount"] <= load_registry()[Topic.FRAMES].partitions


# Durable state a command keeps under ALPR_DATA_DIR unless a setting moves it to a server:
# chDB tables for every service with a schema folder (and the `alpr db` commands), the
# governance registry (SQLite by default) for audit. faust's data directory holds no table
# (memory store, rebuilt from changelog topics), checked below, so it may sit on an emptyDir.
CHDB_OWNERS = {p.name for p in (INFRA.parent / "schemas" / "clickhouse").iterdir() if p.is_dir()} | {"db"}


def _state_moved_off_the_pod(command: str) -> dict[str, tuple[str, ...]]:
    """setting -> the URL schemes that keep that state off the pod."""
    needs = {}
    if command in CHDB_OWNERS:
        needs["ALPR_CLICKHOUSE_URL"] = ("http://", "https://", "secret")
    if command == "audit":
        needs["ALPR_AUDIT_GOVERNANCE_DB_URL"] = ("postgresql://", "postgres://", "secret")
    return needs


def _workloads():
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = doc.get("spec", {})
            if doc["kind"] in ("Deployment", "StatefulSet"):
                yield path.name, doc, spec["template"]["spec"]
            elif doc["kind"] == "CronJob":
                yield path.name, doc, spec["jobTemplate"]["spec"]["template"]["spec"]


def _env_value(container: dict, name: str) -> str | None:
    for e in container.get("env") or []:
        if e["name"] == name:
            return "secret" if "secretKeyRef" in (e.get("valueFrom") or {}) else e.get("value")
    return None


def test_no_durable_state_lands_on_an_emptydir():
    # A pod restart erases an emptyDir: governance on it would forget every user's written
    # authorization (policy section 5), chDB on it every pass and match.
    checked = set()
    for file, doc, pod in _workloads():
        persistent = {v["name"] for v in pod.get("volumes") or [] if "persistentVolumeClaim" in v}
        persistent |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates") or []}
        for container in pod["containers"]:
            args = container.get("args") or []
            if args[:1] != ["alpr"]:
                continue
            command = args[1]
            data_mounts = [m["name"] for m in container.get("volumeMounts") or [] if m["mountPath"] == "/var/lib/alpr"]
            if data_mounts and all(m in persistent for m in data_mounts):
                continue  # the data directory itself survives restarts
            for setting, schemes in _state_moved_off_the_pod(command).items():
                value = _env_value(container, setting)
                assert value and value.startswith(schemes), (
                    f"{file}: {doc['metadata']['name']} keeps its {setting} state under the data dir, which is not "
                    f"a persistent volume: set {setting} (from a Secret) to a server"
                )
                checked.add((command, setting))
    assert {
        ("audit", "ALPR_AUDIT_GOVERNANCE_DB_URL"),
        ("audit", "ALPR_CLICKHOUSE_URL"),
        ("occupancy", "ALPR_CLICKHOUSE_URL"),
        ("revenue", "ALPR_CLICKHOUSE_URL"),
        ("db", "ALPR_CLICKHOUSE_URL"),
    } <= checked


def test_the_governance_database_is_a_statefulset_on_a_persistent_volume():
    docs = {
        (d["kind"], d["metadata"]["name"]): d
        for p in (INFRA / "k8s").glob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
    }
    db = docs[("StatefulSet", "alpr-governance-db")]["spec"]
    assert db["volumeClaimTemplates"][0]["metadata"]["name"] in {
        m["name"] for m in db["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert not any("emptyDir" in v for v in db["template"]["spec"].get("volumes") or [])
    assert ("Service", "alpr-governance-db") in docs
    audit = compose()["services"]["audit"]["environment"]
    assert (
        audit["ALPR_AUDIT_GOVERNANCE_DB_URL"].startswith("postgresql://")
        and "@governance-db:" in audit["ALPR_AUDIT_GOVERNANCE_DB_URL"]
    )
    assert "governance-data:/var/lib/postgresql/data" in compose()["services"]["governance-db"]["volumes"]


def test_faust_keeps_no_table_on_disk():
    # What allows faust's data directory on an emptyDir: every table is in memory and is
    # rebuilt from its changelog topic on start.
    import inspect

    from services.occupancy.stream import OccupancyStream
    from services.revenue.stream import RevenueStream

    for stream in (OccupancyStream, RevenueStream):
        source = inspect.getsource(stream)
        assert source.count('store="memory://"') == 1 and "rocksdb" not in source, stream.__name__
