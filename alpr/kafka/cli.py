"""`alpr kafka start|stop|status`: the local broker, with `--brokers 3` the local cluster, with
`--secure` the secure broker (SASL_SSL, ACLs) on its own port and data, or with both the secure
local cluster."""

from __future__ import annotations

from alpr.output import emit


def _settings():
    from alpr.kafka.broker import BrokerSettings
    from alpr.settings import load_settings

    return load_settings(BrokerSettings)


def _broker(args=None):
    from alpr.kafka.broker import LocalBroker, SecureBroker

    if args is not None and getattr(args, "secure", False):
        return SecureBroker(_settings())
    return LocalBroker(_settings())


def _cluster(args):
    from alpr.kafka.broker import LocalCluster

    return LocalCluster(_settings(), args.brokers, secure=getattr(args, "secure", False))


def _describe(health) -> str:
    nodes = ", ".join(f"{i}: pid {pid}" if pid else f"{i}: stopped" for i, pid in health.running.items())
    return (
        f"brokers {len(health.brokers)}/{health.size} ({nodes}), {len(health.leaderless)} partitions without a "
        f"leader, {len(health.under_replicated)} under-replicated, bootstrap {health.bootstrap}"
    )


def _start(args) -> int:
    if args.brokers > 1:
        cluster = _cluster(args)
        health = cluster.start()
        print(f"kafka cluster: running, {_describe(health)}, data {cluster.home}")
        if not args.secure:
            print(f"kafka cluster: use it with ALPR_KAFKA_BOOTSTRAP={health.bootstrap}")
            print("kafka cluster: PLAINTEXT, no authentication: for development only (--secure for SASL_SSL)")
            return 0
        from alpr.kafka.broker import SERVICE_USERS

        print(f"kafka cluster (secure): SASL_SSL (SCRAM-SHA-512) bootstrap {health.bootstrap}")
        print(
            f"kafka cluster (secure): a client of principal <user> (admin, {', '.join(SERVICE_USERS)}) sets the "
            f"variables of {cluster.secrets}/<user>.env; then `alpr topics apply` as admin applies topics and ACLs"
        )
        return 0
    broker = _broker(args)
    status = broker.start()
    if args.secure:
        from alpr.kafka.broker import SERVICE_USERS, SecureBroker

        print(f"kafka (secure): running, pid {status.pid}, SASL_SSL bootstrap {status.bootstrap}, log {status.log}")
        print(
            f"kafka (secure): a client of principal <user> (admin, {', '.join(SERVICE_USERS)}) sets the "
            f"variables of {broker.secrets}/<user>.env; then `alpr topics apply` as admin applies topics and ACLs"
        )
        assert isinstance(broker, SecureBroker)
        cert, _ = broker.client_certificate("ingest")
        if cert.exists():
            print(
                f"kafka (secure): mutual TLS on {broker.mtls_bootstrap}: a service presents "
                f"{cert.parent}/<service>.pem and .key (ALPR_KAFKA_SECURITY_PROTOCOL=SSL), same ACLs"
            )
        return 0
    print(f"kafka: running, pid {status.pid}, bootstrap {status.bootstrap}, log {status.log}")
    print("kafka: PLAINTEXT, no authentication: for development only (`alpr kafka start --secure` for SASL_SSL)")
    return 0


def _stop(args) -> int:
    if args.brokers > 1:
        cluster = _cluster(args)
        if args.node:
            stopped = cluster.stop_node(args.node)
            print(f"kafka cluster: node {args.node} {'stopped' if stopped else 'was not running'}")
            return 0
        stopped = cluster.stop()
        print(
            f"kafka cluster: stopped nodes {', '.join(map(str, stopped))}"
            if stopped
            else "kafka cluster: was not running"
        )
        return 0
    if args.node:
        print("kafka: --node needs --brokers N (a node of the local cluster)")
        return 2
    stopped = _broker(args).stop()
    print("kafka: stopped" if stopped else "kafka: was not running")
    return 0


def _status(args) -> int:
    if args.brokers > 1:
        h = _cluster(args).health()
        if args.json:
            emit(
                {
                    "healthy": h.healthy,
                    "healed": h.healed,
                    "brokers": list(h.brokers),
                    "size": h.size,
                    "running": {str(i): pid for i, pid in h.running.items()},
                    "leaderless": len(h.leaderless),
                    "under_replicated": len(h.under_replicated),
                    "bootstrap": h.bootstrap,
                }
            )
        else:
            print(f"kafka cluster: {'healthy' if h.healthy else 'not healthy'}, {_describe(h)}")
        return 0 if h.healthy else 1
    s = _broker(args).status()
    if args.json:
        emit({"running": s.running, "healthy": s.healthy, "pid": s.pid, "bootstrap": s.bootstrap})
    else:
        print(
            f"kafka: {'running' if s.running else 'stopped'}{', healthy' if s.healthy else ''}"
            f"{f', pid {s.pid}' if s.pid else ''}, bootstrap {s.bootstrap}"
        )
    return 0 if s.healthy else 1


def register(sub) -> None:
    kafka = sub.add_parser(
        "kafka", help="start, stop or check the local Kafka broker or cluster (KRaft, Maven Central jars)"
    )
    ops = kafka.add_subparsers(dest="op", required=True)
    brokers_help = (
        "1: the single broker on ALPR_KAFKA_BOOTSTRAP (default); 3-5: the local cluster on its own ports "
        "from ALPR_KAFKA_CLUSTER_PORT (19092) and data in <data dir>/kafka-cluster/"
    )
    secure_help = (
        "the secure broker: SASL_SSL (SCRAM-SHA-512) on ALPR_KAFKA_SECURE_PORT (9094), controller on mutual TLS, "
        "service clients by certificate (mutual TLS) on the port + 2, ACLs enforced; certificates and passwords in "
        "<data dir>/kafka-secure/; with --brokers N, the secure local cluster (the same on every node, mutual TLS "
        "on the cluster port + 200; data in <data dir>/kafka-cluster-secure/)"
    )
    start = ops.add_parser("start", help="fetch jars if needed, start (every node not running), wait until healthy")
    start.add_argument("--brokers", type=int, default=1, help=brokers_help)
    start.add_argument("--secure", action="store_true", help=secure_help)
    start.set_defaults(handler=_start)
    stop = ops.add_parser("stop", help="stop the broker (or cluster, or one --node of it) and wait until gone")
    stop.add_argument("--brokers", type=int, default=1, help=brokers_help)
    stop.add_argument("--secure", action="store_true", help=secure_help)
    stop.add_argument(
        "--node", type=int, default=0, help="only this node of the cluster (a failover try: start brings it back)"
    )
    stop.set_defaults(handler=_stop)
    st = ops.add_parser("status", help="running/healthy; exit 1 when not healthy")
    st.add_argument("--brokers", type=int, default=1, help=brokers_help)
    st.add_argument("--secure", action="store_true", help=secure_help)
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=_status)
