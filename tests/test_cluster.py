"""The secure local three-broker KRaft cluster: the registry's replication and ACLs on it, and
the whole pipeline (`alpr demo --secure`, each service as its own principal) surviving a SIGKILL
of the broker that leads its reads partition.

The cluster (`alpr kafka start --brokers 3 --secure`: SASL_SSL, mutual TLS between the
controllers, the StandardAuthorizer) runs beside the suite's brokers, on free ports and in this
module's own data directory, for the whole module. A clean demo run on it
is the reference; the failover run kills the reads partition's leader 15 s into the replay,
and must end with every frame read and the clean run's frames, passes, occupancy and matches
(nothing lost, nothing counted twice); then the broker returns and every partition's in-sync
replicas are all three brokers again.
"""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

import pytest

from alpr.kafka.broker import CONTROLLER_PORT_OFFSET, MTLS_PORT_OFFSET, BrokerSettings, LocalCluster
from alpr.kafka.config import client_config
from tests.conftest import run_cli
from tests.support.kafka import PLAINTEXT_ENV

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]

BROKERS = 3


def free_block(size: int = BROKERS) -> int:
    """A base port with `size` free client ports and their controller ports above it."""
    for _ in range(200):
        base = random.randrange(20000, 30000)
        ports = [base + offset + i for offset in (0, CONTROLLER_PORT_OFFSET, MTLS_PORT_OFFSET) for i in range(size)]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data = tmp_path_factory.mktemp("cluster")
    env = {
        "ALPR_DATA_DIR": str(data),
        "ALPR_KAFKA_CLUSTER_PORT": str(free_block()),
        "ALPR_KAFKA_HEAP": "384m",
        **PLAINTEXT_ENV,  # the command that starts the cluster is no client of the suite's broker
    }
    started = run_cli("kafka", "start", "--brokers", str(BROKERS), "--secure", env=env, timeout=300)
    local = LocalCluster(
        BrokerSettings(data_dir=data, kafka_cluster_port=int(env["ALPR_KAFKA_CLUSTER_PORT"])), BROKERS, secure=True
    )
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        assert f"SASL_SSL (SCRAM-SHA-512) bootstrap {local.bootstrap}" in started.stdout
        admin = (local.secrets / "admin.env").read_text().split()  # the cluster's administrator, as a person sets it
        yield local, {**env, **dict(line.split("=", 1) for line in admin)}
    finally:
        stopped = run_cli("kafka", "stop", "--brokers", str(BROKERS), "--secure", env=env, timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert all(pid is None for pid in local.health().running.values())


def test_cluster_is_healthy_beside_the_single_broker(cluster, bootstrap):
    local, env = cluster
    status = run_cli("kafka", "status", "--brokers", str(BROKERS), "--secure", "--json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    got = json.loads(status.stdout)
    assert (got["healthy"], got["brokers"], got["leaderless"]) == (True, [1, 2, 3], 0)
    # The shared single broker is another cluster, still answering with its one broker.
    from confluent_kafka.admin import AdminClient

    assert bootstrap not in local.bootstrap.split(",")
    assert len(AdminClient(client_config(bootstrap)).list_topics(timeout=10).brokers) == 1


def test_topics_apply_gives_every_topic_the_registry_replication_and_acls(cluster):
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    local, env = cluster
    applied = run_cli("topics", "apply", env=env)
    assert applied.returncode == 0, applied.stderr
    assert "capped" not in applied.stdout  # three brokers hold what the registry asks
    assert "acls      skipped" not in applied.stdout and " created" in applied.stdout  # an authorizer on every node
    admin = AdminClient({"bootstrap.servers": local.bootstrap, **local.security("admin").client_config()})
    metadata = admin.list_topics(timeout=10)
    from alpr.contracts.registry import load_registry

    for name in load_registry():
        partitions = metadata.topics[name].partitions.values()
        assert {len(p.replicas) for p in partitions} == {3}, name
        resource = ConfigResource(ResourceType.TOPIC, name)
        assert admin.describe_configs([resource])[resource].result(10)["min.insync.replicas"].value == "2", name
    again = run_cli("topics", "apply", env=env)
    topics = [line for line in again.stdout.splitlines() if not line.startswith("acl")]
    assert topics and {line.split()[0] for line in topics} == {"unchanged"}
    assert "acls      0 created" in again.stdout, again.stdout


def test_no_side_door_on_any_node_of_the_secure_cluster(cluster):
    """Every node refuses a client without credentials, and a service's principal reaches only
    its own topics there, as on the single secure broker."""
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    from alpr.contracts.registry import Topic

    local, env = cluster
    run_cli("topics", "apply", env=env)
    for node in local.nodes.values():
        anonymous = AdminClient({"bootstrap.servers": node.bootstrap, "socket.connection.setup.timeout.ms": 2000,
                                 "log_level": 0})  # fmt: skip
        with pytest.raises(KafkaException):
            anonymous.list_topics(timeout=5)  # PLAINTEXT against SASL_SSL: no metadata at all

    def produce_as(user: str, topic: str) -> str | None:
        errors: list[str | None] = []
        p = Producer({"bootstrap.servers": local.bootstrap, **local.security(user).client_config(),
                      "message.timeout.ms": 15000, "log_level": 0})  # fmt: skip
        p.produce(topic, b"{}", on_delivery=lambda err, msg: errors.append(err.name() if err else None))
        p.flush(30)
        return errors[0] if errors else "no delivery report"

    assert produce_as("ingest", Topic.FRAMES.on("")) is None  # its own topic
    assert produce_as("ingest", Topic.VIOLATIONS.on("")) == "TOPIC_AUTHORIZATION_FAILED"  # revenue's


@pytest.fixture(scope="module")
def clean_run(cluster, tmp_path_factory):
    """The reference: the demo on the cluster with no fault."""
    _, env = cluster
    return demo(env, "clean")


def demo(env: dict, label: str, *args: str) -> dict:
    # --secure: each service as its own principal, with only its ACLs (the cluster's admin.env in `env`).
    proc = run_cli("demo", "--secure", "--duration", "420", "--json", *args, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    # Kept beside the run's data and logs (<data dir>/demo/<run>/) for a look after a failure.
    Path(summary["data_dir"], f"summary-{label}.json").write_text(json.dumps(summary, indent=2))
    assert summary["complete"] is True, proc.stderr[-3000:]
    return summary


@pytest.mark.clickhouse
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pipeline_on_three_brokers_matches_the_ground_truth(clean_run):
    s = clean_run
    assert s["frames"] > 0 and s["reads"] > 0 and s["passes"] > 0 and s["sessions"] > 0
    assert s["occupancy"] == s["occupancy_expected"]
    assert s["broker_killed"] is None
    assert s["kafka_principals"] == ["audit", "ingest", "occupancy", "recognizer", "revenue"]  # none as the admin
    assert s["matches_off_plan"] == [], (s["matches_off_plan"], diagnosis(s))
    assert s["departures_off_plan"] == [], (s["departures_off_plan"], diagnosis(s))
    assert s["stream_offset_jumps"] == {"occupancy": 0, "revenue": 0}, diagnosis(s)


def diagnosis(s: dict) -> dict:
    """What tells a loss from a late decision when a run goes wrong on a CI machine, whose data
    directory is gone afterwards: the streams' offset jumps, the dead letters, the payments seen,
    and revenue's warnings."""
    log = Path(s["data_dir"], "logs", "revenue.log")
    warnings = [line[:300] for line in log.read_text().splitlines() if '"level": "warn' in line or '"error"' in line]
    return {
        "stream_offset_jumps": s["stream_offset_jumps"],
        "dead_letters": s["dead_letters"],
        "payments": s["payments"],
        "revenue_warnings": warnings[-15:],
    }


@pytest.mark.clickhouse
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sigkill_of_the_reads_leader_loses_and_doubles_nothing_then_the_cluster_heals(cluster, clean_run):
    local, env = cluster
    s = demo(env, "failover", "--kill-broker-after", "15")
    killed = s["broker_killed"]
    assert killed and killed["node"] in (1, 2, 3) and killed["pid"], s
    # Another broker took the partition over while the pipeline ran on.
    assert killed["leader_after"] not in (killed["node"], -1), killed
    # Every frame has its reads (complete), and the figures are the clean run's: no frame lost,
    # no pass or vehicle counted twice, every departed vehicle's stay decided once, as in the
    # clean run and as its payment plan implies. (Sessions of vehicles still parked are decided
    # as orphans when the stream's clock passes them, which depends on when a run stops: they
    # are not compared.)
    for key in (
        "frames",
        "reads",
        "reads_by_outcome",
        "passes",
        "occupancy",
        "occupancy_expected",
        "payments",
        "departures",
    ):
        assert s[key] == clean_run[key], (key, s[key], clean_run[key])
    assert s["occupancy"] == s["occupancy_expected"] and s["matches_off_plan"] == [], diagnosis(s)
    assert s["departures_off_plan"] == [] and len(s["departures"]) > 0, diagnosis(s)
    # The broker came back and caught up: all partitions, every replica in sync.
    assert killed["healed"] is True
    health = local.health()
    assert health.healed, (health.brokers, health.under_replicated[:5])
    assert all(len(p.isr) == 3 for p in health.partitions if p.topic.startswith(s["topic_prefix"]))
