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
            if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
                yield path.name, doc, spec["template"]["spec"]
            elif doc["kind"] == "CronJob":
                yield path.name, doc, spec["jobTemplate"]["spec"]["template"]["spec"]


def _k8s_docs() -> dict:
    return {
        (d["kind"], d["metadata"]["name"]): d
        for p in sorted((INFRA / "k8s").glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
    }


def _env_value(container: dict, name: str) -> str | None:
    for e in container.get("env") or []:
        if e["name"] == name:
            source = e.get("valueFrom") or {}
            if "secretKeyRef" in source:
                return "secret"
            if "configMapKeyRef" in source:  # a required key of a ConfigMap: its value
                ref = source["configMapKeyRef"]
                return _k8s_docs()[("ConfigMap", ref["name"])]["data"][ref["key"]]
            return e.get("value")
    return None


def test_no_durable_state_lands_on_an_emptydir():
    # A pod restart erases an emptyDir: governance on it would forget every user's written
    # authorization (policy section 5), chDB on it every pass and match.
    checked = set()
    for file, doc, pod in _workloads():
        persistent = {v["name"] for v in pod.get("volumes") or [] if "persistentVolumeClaim" in v}
        persistent |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates") or []}
        for container in pod.get("initContainers", []) + pod["containers"]:
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


# -- credentials (issue 20): one principal per service, passwords as files, production accepts it
SERVICES = ("ingest", "recognizer", "occupancy", "revenue", "audit")
TABLE_OWNERS = CHDB_OWNERS - {"db"}
COMPOSE_VARS = {
    "ALPR_AUTH_SECRET": "a-test-auth-secret-of-forty-characters-xx",
    "GRAFANA_ADMIN_PASSWORD": "grafana-test-password",
}


def _interpolate(value) -> str:
    """Compose's ${VAR:?msg} / ${VAR:-default} with the test's values."""

    def one(m):
        name, _, rest = m.group(1).partition(":")
        if rest.startswith("-"):  # a default
            return COMPOSE_VARS.get(name) or rest[1:]
        return COMPOSE_VARS[name]

    return re.sub(r"\$\{([^}]+)\}", one, str(value))


def _password_in_url(value: str) -> bool:
    from urllib.parse import urlparse

    return "://" in value and bool(urlparse(value.strip()).password)


def _alpr_services():
    """Compose services that run `alpr`: name -> service."""
    return {n: s for n, s in compose()["services"].items() if "init" == n or (s.get("command") or [""])[0] == "alpr"}


def test_compose_kafka_requires_sasl_ssl_acls_and_creates_every_principal():
    from alpr.kafka.acls import SERVICES as ACL_PRINCIPALS
    from alpr.kafka.broker import ADMIN_USER

    kafka = compose()["services"]["kafka"]
    env = kafka["environment"]
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert f"User:{ADMIN_USER}" in env["KAFKA_SUPER_USERS"].split(";")
    listeners = dict(p.split(":", 1) for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert "PLAINTEXT" not in listeners.values() and "SASL_PLAINTEXT" not in listeners.values(), listeners
    assert listeners["CONTROLLER"] == "SSL" and env["KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH"] == "required"
    assert (
        env["KAFKA_ADVERTISED_LISTENERS"].startswith("SASL_SSL://")
        and env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    )
    # The broker script creates a SCRAM user for the admin and for every principal the ACLs name.
    script = (INFRA / "kafka-compose-broker.sh").read_text()
    users = re.search(r"^users=\(([^)]*)\)", script, re.M).group(1).split()
    assert sorted(users) == sorted([ADMIN_USER, *ACL_PRINCIPALS])
    assert {f"kafka_{u}" for u in users} <= set(kafka["secrets"])


def test_kafka_compose_broker_script_renders_properties_and_formats_with_scram(tmp_path):
    # The script with stand-ins for kafka-storage.sh and kafka-server-start.sh: what it would
    # hand to the real ones (the image itself is not run here: no Docker engine).
    import os
    import subprocess

    bin_dir, secrets, work = tmp_path / "bin", tmp_path / "secrets", tmp_path / "work"
    bin_dir.mkdir()
    secrets.mkdir()
    (bin_dir / "kafka-storage.sh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/format.args\n')
    (bin_dir / "kafka-server-start.sh").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/started.properties\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    for name in ("keystore_password", "admin", "ingest", "recognizer", "occupancy", "revenue", "audit"):
        (secrets / f"kafka_{name}").write_text(f"pw-of-{name}\n")
    env = {k: str(v) for k, v in compose()["services"]["kafka"]["environment"].items()}
    env["CLUSTER_ID"] = _interpolate(env["CLUSTER_ID"])
    env.update(PATH=os.environ["PATH"], KAFKA_HOME_BIN=str(bin_dir), ALPR_SECRETS_DIR=str(secrets),
               ALPR_KAFKA_WORK_DIR=str(work))  # fmt: skip
    done = subprocess.run(["bash", str(INFRA / "kafka-compose-broker.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    props = dict(
        line.split("=", 1) for line in (tmp_path / "started.properties").read_text().splitlines() if "=" in line
    )
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["ssl.keystore.password"] == "pw-of-keystore_password"
    assert 'username="admin" password="pw-of-admin";' in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert "home.bin" not in " ".join(props), "the script's own variables are not broker properties"
    args = (tmp_path / "format.args").read_text().splitlines()
    assert args[:4] == ["format", "--ignore-formatted", "--cluster-id", env["CLUSTER_ID"]]
    scram = [args[i + 1] for i, a in enumerate(args) if a == "--add-scram"]
    assert "SCRAM-SHA-512=[name=ingest,password=pw-of-ingest]" in scram and len(scram) == 6
    assert (work / "server.properties").stat().st_mode & 0o077 == 0, "the properties hold passwords: 0600"


def test_compose_every_service_has_its_own_principal_and_password_files():
    doc = compose()
    declared = doc["secrets"]
    for name in SERVICES:
        service = doc["services"][name]
        env, mounted = service["environment"], set(service.get("secrets") or [])
        assert env["ALPR_KAFKA_USERNAME"] == name, name
        assert env["ALPR_KAFKA_PASSWORD_FILE"] == f"/run/secrets/kafka_{name}" and f"kafka_{name}" in mounted
        assert declared[f"kafka_{name}"]["file"] == f"./secrets/kafka/{name}.password"
        assert "kafka_admin" not in mounted, f"{name} must not hold the Kafka super user's password"
        assert not any(m.startswith("kafka_") and m not in (f"kafka_{name}", "kafka_ca") for m in mounted), name
        up = name.upper()
        if name in TABLE_OWNERS:
            assert env[f"ALPR_{up}_CLICKHOUSE_USER"] == f"alpr_{name}"
            assert env[f"ALPR_{up}_CLICKHOUSE_API_USER"] == f"alpr_{name}_api"
            for var, user in ((f"ALPR_{up}_CLICKHOUSE_PASSWORD_FILE", f"alpr_{name}"),
                              (f"ALPR_{up}_CLICKHOUSE_API_PASSWORD_FILE", f"alpr_{name}_api")):  # fmt: skip
                assert env[var] == f"/run/secrets/{user}" and user in mounted, (name, var)
        else:
            assert "ALPR_CLICKHOUSE_URL" not in env, f"{name} has no tables: production would want a login"
    for name, service in doc["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert key != "ALPR_KAFKA_PASSWORD", f"{name}: the password belongs in a file (ALPR_KAFKA_PASSWORD_FILE)"
            assert not _password_in_url(_interpolate(value)), f"{name}: {key} carries a password"
        for secret in service.get("secrets") or []:
            assert secret in declared, f"{name} mounts the undeclared secret {secret}"


def test_compose_init_applies_topics_then_grants_then_migrations():
    from alpr.store.grants import principals

    init = compose()["services"]["init"]
    script = init["command"][-1]
    steps = [
        script.index(s)
        for s in ("alpr topics apply", "alpr db grants --passwords /run/secrets --apply", "alpr db migrate")
    ]
    assert steps == sorted(steps), script
    assert init["environment"]["ALPR_KAFKA_USERNAME"] == "admin"
    # `grants --passwords /run/secrets` reads one file per user, named after it.
    assert {p.user for p in principals()} <= set(init["secrets"])
    for name in (n for n in _alpr_services() if n != "init"):
        assert "depends_on" in compose()["services"][name] and compose()["services"][name]["depends_on"]["init"] == {
            "condition": "service_completed_successfully"
        }


def _settings_classes(args: list[str]):
    import importlib

    from alpr.settings import CommonSettings
    from alpr.store.migrate import services_with_migrations

    command = args[1]
    if command in SERVICES:
        return [getattr(importlib.import_module(f"services.{command}.settings"), f"{command.capitalize()}Settings")]
    if command == "db" and args[2] != "grants":  # migrate, retention-report: every service's settings too
        return [CommonSettings] + [c for s in services_with_migrations() for c in _settings_classes(["alpr", s])]
    return [CommonSettings]


def _check_production_settings(env: dict[str, str], classes, monkeypatch, where: str) -> None:
    import os

    from alpr.kafka import security
    from alpr.settings import load_settings

    for name in [k for k in os.environ if k.startswith("ALPR_")]:
        monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert env["ALPR_ENVIRONMENT"] == "production", where
    for cls in classes:
        settings = load_settings(cls)  # raises ConfigError with the variable to set
        sec = security.KafkaSecurity.from_settings(settings)
        assert sec.protocol == "SASL_SSL" and sec.username and sec.password is not None, where
        if settings.clickhouse_url:
            assert settings.clickhouse_login() is not None, where


def test_compose_production_settings_validate(tmp_path, monkeypatch):
    # Each service's compose environment, its /run/secrets files replaced by temporary ones.
    for name, service in _alpr_services().items():
        env = {}
        for key, value in service["environment"].items():
            value = _interpolate(value)
            if value.startswith("/run/secrets/"):
                secret = value.removeprefix("/run/secrets/")
                assert secret in (service.get("secrets") or []), f"{name}: {key} names an unmounted secret"
                path = tmp_path / name / secret
                path.parent.mkdir(exist_ok=True)
                path.write_text("a-password-of-24-characters\n")
                value = str(path)
            env[key] = value
        args = service["command"] if name != "init" else ["alpr", "db", "migrate"]
        _check_production_settings(env, _settings_classes(args), monkeypatch, f"compose {name}")


def _container_env(container: dict, pod: dict, docs: dict, tmp_path: Path, where: str) -> dict[str, str]:
    """The container's ALPR environment as Kubernetes would build it, each file of a mounted
    Secret written under tmp_path (the Secret and key must exist in secrets.yaml)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(docs[("ConfigMap", source["configMapRef"]["name"])]["data"])
        else:
            env.update(docs[("Secret", source["secretRef"]["name"])]["stringData"])
    for e in container.get("env") or []:
        ref = e.get("valueFrom") or {}
        if "configMapKeyRef" in ref:
            env[e["name"]] = docs[("ConfigMap", ref["configMapKeyRef"]["name"])]["data"][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            env[e["name"]] = docs[("Secret", ref["secretKeyRef"]["name"])]["stringData"][ref["secretKeyRef"]["key"]]
        else:
            env[e["name"]] = e["value"]
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts") or []}
    for key, value in list(env.items()):
        if not value.startswith("/run/secrets/"):
            continue
        folder, _, file = value.rpartition("/")
        assert folder in mounts, f"{where}: {key}={value} is under no volume mount"
        mount = mounts[folder]
        secret_name = volumes[mount["name"]]["secret"]["secretName"]
        assert mount.get("readOnly") is True, f"{where}: {folder} must be mounted read-only"
        secret = docs.get(("Secret", secret_name))
        assert secret is not None, f"{where}: the Secret {secret_name} is not in secrets.yaml"
        assert file in secret["stringData"], f"{where}: the Secret {secret_name} has no key {file}"
        path = tmp_path / secret_name / file
        path.parent.mkdir(exist_ok=True)
        path.write_text("a-password-of-24-characters\n")
        env[key] = str(path)
    # Placeholder secrets are refused in production by design; the test stands in a real one.
    env["ALPR_AUTH_SECRET"] = COMPOSE_VARS["ALPR_AUTH_SECRET"]
    return {k: v for k, v in env.items() if k.startswith("ALPR_")}


def test_kubernetes_services_have_their_own_principal_secret_and_production_settings(tmp_path, monkeypatch):
    docs = _k8s_docs()
    for name in SERVICES:
        pod = docs[("Deployment", f"alpr-{name}")]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["ALPR_KAFKA_USERNAME"] == name
        credentials = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}["/run/secrets/alpr"]
        secret_name = next(v for v in pod["volumes"] if v["name"] == credentials)["secret"]["secretName"]
        assert secret_name == f"alpr-{name}", f"{name} mounts another workload's Secret"
        assert env["ALPR_KAFKA_PASSWORD_FILE"] == "/run/secrets/alpr/kafka-password"
        keys = set(docs[("Secret", secret_name)]["stringData"])
        if name in TABLE_OWNERS:
            up = name.upper()
            assert env[f"ALPR_{up}_CLICKHOUSE_USER"] == f"alpr_{name}"
            assert env[f"ALPR_{up}_CLICKHOUSE_API_USER"] == f"alpr_{name}_api"
            assert {"kafka-password", "clickhouse-password", "clickhouse-api-password"} <= keys
        else:
            assert "ALPR_CLICKHOUSE_URL" not in env and keys <= {"kafka-password", "kafka-username"}
    checked = set()
    for file, doc, pod in _workloads():
        for container in pod.get("initContainers", []) + pod["containers"]:
            args = container.get("args") or []
            if args[:1] != ["alpr"]:
                continue
            where = f"{file}: {doc['metadata']['name']}/{container['name']}"
            env = _container_env(container, pod, docs, tmp_path, where)
            _check_production_settings(env, _settings_classes(args), monkeypatch, where)
            checked.add(tuple(args[1:3]))
    assert {("topics", "apply"), ("db", "grants"), ("db", "migrate"), ("db", "retention-report")} <= checked
    assert {(s, "serve") for s in SERVICES} <= checked


def test_kubernetes_keeps_credentials_out_of_configmaps_urls_and_env():
    docs = _k8s_docs()
    for (kind, name), doc in docs.items():
        if kind == "ConfigMap":
            for key, value in doc["data"].items():
                assert "PASSWORD" not in key.upper() or key.endswith("_FILE"), f"{name}: {key}"
                assert not _password_in_url(str(value)), f"ConfigMap {name}: {key} carries a password"
    for file, _doc, pod in _workloads():
        for container in pod.get("initContainers", []) + pod["containers"]:
            for e in container.get("env") or []:
                assert e["name"] not in ("ALPR_KAFKA_PASSWORD",), f"{file}: the password belongs in a file"
                assert not _password_in_url(str(e.get("value", ""))), f"{file}: {e['name']} carries a password"
                if "PASSWORD_FILE" in e["name"]:
                    assert e["value"].startswith("/run/secrets/"), f"{file}: {e['name']} is not a mounted Secret"
    # Placeholders are marked as such, and the auth secret's is one production refuses.
    from alpr.settings import PLACEHOLDER_SECRET

    for (kind, name), doc in docs.items():
        if kind == "Secret":
            for key, value in doc["stringData"].items():
                if key == "ALPR_AUTH_SECRET":
                    assert value == PLACEHOLDER_SECRET
                elif key != "kafka-username":
                    assert "REPLACE-ME" in value, f"Secret {name}: {key} is not a marked placeholder"


def test_kubernetes_init_job_orders_topics_grants_migrate_with_the_admin_logins():
    from alpr.store.grants import principals

    docs = _k8s_docs()
    pod = docs[("Job", "alpr-init")]["spec"]["template"]["spec"]
    steps = [c["args"] for c in pod["initContainers"] + pod["containers"]]
    assert [s[1:3] for s in steps] == [["topics", "apply"], ["db", "grants"], ["db", "migrate"]]
    assert "--apply" in steps[1] and steps[1][steps[1].index("--passwords") + 1] == "/run/secrets/alpr"
    keys = set(docs[("Secret", "alpr-init")]["stringData"])
    assert {p.user for p in principals()} <= keys, "grants reads one password file per user"
    by_name = {
        c["name"]: {e["name"]: e.get("value") for e in c["env"]} for c in pod["initContainers"] + pod["containers"]
    }
    assert by_name["topics"]["ALPR_KAFKA_USERNAME"] == "admin"
    assert by_name["grants"]["ALPR_CLICKHOUSE_USER"] == "admin"
    assert by_name["migrate"]["ALPR_CLICKHOUSE_USER"] == "alpr_migrate"
    # The services' Secrets hold the same logins the init Job creates.
    for name in TABLE_OWNERS:
        assert {"clickhouse-password", "clickhouse-api-password"} <= set(docs[("Secret", f"alpr-{name}")]["stringData"])


def test_make_dev_certs_makes_every_file_compose_mounts(tmp_path):
    import shutil
    import subprocess

    import pytest

    if shutil.which("keytool") is None:
        pytest.skip("no keytool (the script would run itself in the apache/kafka image)")
    out = tmp_path / "secrets"
    done = subprocess.run([str(INFRA / "make-dev-certs.sh"), str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name, secret in compose()["secrets"].items():
        path = out / secret["file"].removeprefix("./secrets/")
        assert path.is_file() and path.stat().st_size > 0, f"{name}: {path} not made"
    assert (out / "kafka" / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert all(len((out / "clickhouse" / u).read_text().strip()) >= 16 for u in ("alpr_migrate", "alpr_audit"))
    assert out.stat().st_mode & 0o077 == 0
    listing = subprocess.run(
        ["keytool", "-list", "-v", "-keystore", str(out / "kafka" / "broker.p12"),
         "-storepass:file", str(out / "kafka" / "keystore.password")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "DNSName: kafka" in listing.stdout and "CN=kafka-broker" in listing.stdout
    before = (out / "kafka" / "admin.password").read_text()
    assert subprocess.run([str(INFRA / "make-dev-certs.sh"), str(out)], capture_output=True).returncode == 0
    assert (out / "kafka" / "admin.password").read_text() == before, "a second run keeps the passwords"


def test_the_image_has_every_package_the_cli_needs():
    # `alpr` is alpr_app.cli:main: an image without alpr_app has no working command at all.
    import tomllib

    dockerfile = (INFRA / "Dockerfile").read_text()
    packages = tomllib.loads((INFRA.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for package in (p for p in packages["include"] if "*" not in p):
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), f"the image lacks {package}"


def test_db_grants_apply_connects_with_the_administrator_login_of_the_init_job(tmp_path, monkeypatch):
    # The init Job's grants step names the ClickHouse administrator with ALPR_CLICKHOUSE_USER
    # and its password file (production refuses a password in the URL). This checks that
    # `alpr db grants --apply` connects with that login rather than the URL's own.
    import argparse

    from alpr.store import grants, server
    from alpr_app import db_cli

    seen = {}

    class FakeServer:
        def __init__(self, url, database, cluster=None, login=None, create_database=True, ca_file=None):
            seen.update(url=url, login=login)

        def command(self, sql, params=None):
            seen["statements"] = seen.get("statements", 0) + 1

        def close(self):
            pass

    folder = tmp_path / "alpr"
    grants.new_passwords(folder)
    (folder / "clickhouse-admin-password").write_text("the-administrators-password\n")
    (folder / "kafka-password").write_text("the-kafka-admin-password\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    env = {
        "ALPR_ENVIRONMENT": "production",
        "ALPR_AUTH_SECRET": COMPOSE_VARS["ALPR_AUTH_SECRET"],
        "ALPR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ALPR_KAFKA_USERNAME": "admin",
        "ALPR_KAFKA_PASSWORD_FILE": str(folder / "kafka-password"),
        "ALPR_KAFKA_CA_FILE": str(tmp_path / "ca.pem"),
        "ALPR_CLICKHOUSE_URL": "https://clickhouse.alpr.svc:8443",
        "ALPR_CLICKHOUSE_USER": "admin",
        "ALPR_CLICKHOUSE_PASSWORD_FILE": str(folder / "clickhouse-admin-password"),
    }
    import os

    for name in [k for k in os.environ if k.startswith("ALPR_")]:
        monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(server, "ClickHouseServerStore", FakeServer)
    db_cli._grants(argparse.Namespace(passwords=str(folder), make_passwords=False, apply=True))
    assert seen["statements"] > 0 and "@" not in seen["url"]
    assert seen["login"] == ("admin", "the-administrators-password")  # the init job's admin, not the URL's
