"""`alpr demo`: the whole pipeline on the embedded defaults, on synthetic garage footage.

It renders the demo facility's footage once (with ground truth), applies topics under a
fresh prefix (each run is isolated), starts every service that exists as its own process
(two recognizer replicas), creates a demo user and prints its one-time password, lets ingest
replay the lanes, and reports what came out: frames, reads, passes, occupancy, sessions,
matches, violations, audit events, and the accuracy of the reads against the ground truth.
Ctrl-C (or --duration) stops every process it started.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alpr.contracts.registry import Topic
from alpr.kafka.config import client_config
from alpr.output import emit
from alpr.settings import REPO_ROOT

FOOTAGE = REPO_ROOT / "var" / "footage"
# The revenue service on the demo's compressed day: a session is decided one minute (of stream
# time) after its exit instead of an hour, and once the passes stop, revenue's clock follows the
# wall clock 5 s behind (services/revenue/clock.py) instead of waiting for the next vehicle.
DEMO_PAYMENT_LATE = timedelta(minutes=1)
DEMO_IDLE_LAG = timedelta(seconds=5)
PORTS = {"ingest": 8001, "recognizer": 8002, "recognizer-2": 8012, "occupancy": 8003, "revenue": 8004, "audit": 8005}


def _exists(service: str) -> bool:
    try:
        return importlib.util.find_spec(f"services.{service}.cli") is not None
    except ModuleNotFoundError:
        return False


def _footage(say) -> None:
    if (FOOTAGE / "ground_truth.jsonl").exists():
        return
    import subprocess

    say("demo: rendering the demo facility's footage (once)...")
    proc = subprocess.run(
        [sys.executable, "-m", "alpr_app.cli", "demo-footage", "--out", str(FOOTAGE)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        from alpr.errors import AlprError

        raise AlprError(f"demo-footage failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")


class _DemoApi:
    """The demo user's session with the services' APIs: login, payments, a look at the results."""

    def __init__(self, services: list[str], user: str, password: str, say, reviewer: tuple[str, str]) -> None:
        import httpx

        self.services, self.say = services, say
        self.http = httpx.Client(timeout=30)
        self.swept = False
        self.token = self.reviewer_token = None
        self.reviewed: dict[str, str] = {}  # review id -> decision taken
        self.accepted = 0  # payments the finance feed got accepted
        if "audit" in services:
            self.token = self._login(user, password)
            self.reviewer_token = self._login(*reviewer)

    def _login(self, user: str, password: str) -> str:
        r = self.http.post(
            f"http://127.0.0.1:{PORTS['audit']}/v1/auth/login", json={"username": user, "password": password}
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def review(self, truth) -> None:
        """The demo's reviewer: every queued task decided against the footage's ground truth, as a
        person reading the crop would (confirmed, or corrected to the true plate)."""
        from alpr_app.demo.truth import true_plate

        if "revenue" not in self.services or not self.reviewer_token:
            return
        base, auth = (
            f"http://127.0.0.1:{PORTS['revenue']}/v1/reviews",
            {"Authorization": f"Bearer {self.reviewer_token}"},
        )
        tasks = self.http.get(base, params={"state": "queued"}, headers=auth).json().get("tasks", [])
        start, fps = _replay_clock()
        for task in tasks:
            if task["review_id"] in self.reviewed:
                continue
            detail = self.http.get(f"{base}/task", params={"review_id": task["review_id"]}, headers=auth).json()
            plate = true_plate(truth, detail.get("passes", []), start, fps)
            if plate is None:
                continue  # not a vehicle of the footage (the closing patrol's): left for a person
            body = {"review_id": task["review_id"], "decision": "confirmed"}
            if plate != task["plate"]:
                body = {**body, "decision": "corrected", "plate": plate}
            r = self.http.post(f"{base}/decisions", json=body, headers=auth)
            if r.status_code == 202:
                self.reviewed[task["review_id"]] = body["decision"]

    def finish_reviews(self, truth, timeout_s: float = 60.0) -> None:
        """Once the run is complete: decide what is still queued and wait until revenue applied every
        decision (no task the reviewer decided still queued), so the accuracy figures are final."""
        if "revenue" not in self.services or not self.reviewer_token:
            return
        base, auth = (
            f"http://127.0.0.1:{PORTS['revenue']}/v1/reviews",
            {"Authorization": f"Bearer {self.reviewer_token}"},
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.review(truth)
            queued = {
                t["review_id"] for t in self.http.get(base, params={"state": "queued"}, headers=auth).json()["tasks"]
            }
            if not queued & set(self.reviewed):
                return
            time.sleep(0.5)  # revenue applies the decisions through Kafka; polled like the summary
        self.say("demo: some review decisions were not applied in time; accuracy_by_camera is partial")

    def accuracy(self) -> dict[str, dict] | None:
        """Each camera's rates from the review sample (revenue's GET /v1/accuracy)."""
        if "revenue" not in self.services or not self.token:
            return None
        r = self.http.get(f"http://127.0.0.1:{PORTS['revenue']}/v1/accuracy", headers=self.auth)
        if r.status_code != 200:
            return None
        return {
            c["camera_id"]: {"perfect_read": c["perfect_read"], "capture": c["capture"]} for c in r.json()["cameras"]
        }

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def pay(self, truth) -> dict[str, str]:
        from alpr_app.demo.payments import demo_payments

        payments, plan = demo_payments(truth)
        if "revenue" in self.services and payments:
            r = self.http.post(
                f"http://127.0.0.1:{PORTS['revenue']}/v1/payments", json={"payments": payments}, headers=self.auth
            )
            r.raise_for_status()
            self.accepted = r.json()["accepted"]
            self.say(f"demo: finance feed: {r.json()['accepted']} payments accepted, {r.json()['refused']} refused")
        return plan

    def wait_payments_matched(self, timeout_s: float = 120.0) -> None:
        """Until revenue's matcher has taken every accepted payment (its alpr_messages_total on the
        payments-by-plate topic); AlprError after `timeout_s` (a payment lost, not late)."""
        from prometheus_client.parser import text_string_to_metric_families

        from alpr.errors import AlprError

        if "revenue" not in self.services or not self.accepted:
            return
        seen = 0.0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.http.get(f"http://127.0.0.1:{PORTS['revenue']}/metrics").text
            seen = sum(
                s.value
                for f in text_string_to_metric_families(text)
                if f.name == "alpr_messages"
                for s in f.samples
                if s.name.endswith("_total")
                and s.labels.get("topic", "").endswith("payments-by-plate")
                and s.labels.get("outcome") == "ok"
            )
            if seen >= self.accepted:
                self.say(f"demo: revenue's matcher holds the {self.accepted} payments")
                return
            time.sleep(0.2)  # polling another process's metrics
        raise AlprError(f"demo: revenue's matcher took {seen:.0f} of {self.accepted} payments in {timeout_s:.0f}s")

    def sweep(self, truth) -> None:
        """The closing patrol (see alpr_app.demo.payments.patrol_sweep), uploaded by the patrol camera."""
        from alpr_app.demo.payments import patrol_sweep

        self.swept = True
        if "ingest" not in self.services:
            return
        for _plate, jpeg, at in patrol_sweep(truth):
            self.http.post(
                f"http://127.0.0.1:{PORTS['ingest']}/v1/frames",
                content=jpeg,
                headers={
                    "X-Camera-Id": "cam-g1-patrol-1",
                    "Authorization": "Bearer demo-patrol-token-not-a-secret",
                    "Content-Type": "image/jpeg",
                    "X-Captured-At": at,
                },
            )
        self.say("demo: closing patrol uploaded")

    def settled(self, observer, truth) -> bool:
        """Revenue has decided the session of every vehicle that left (or revenue is not running);
        vehicles still parked have open sessions, which are not decided yet."""
        if "revenue" not in self.services:
            return True
        left = {t.plate for t in truth if t.direction == "exit"}
        with observer.lock:
            decided = {m["plate"] for m in observer.matches.values() if m.get("plate") and m.get("exit_at")}
        return left <= decided

    def look(self) -> None:
        for name, path in (("occupancy", "/v1/facilities"), ("revenue", "/v1/revenue/reconciliation")):
            if name in self.services and self.token:
                try:
                    self.http.get(f"http://127.0.0.1:{PORTS[name]}{path}", headers=self.auth)
                except Exception:
                    pass


# What revenue must decide for a vehicle that left, by what its driver did (alpr_app.demo.payments):
# a stay of minutes costs the first hour, which "paid" pays in full and "underpaid" half.
STATUS_BY_PLAN = {"paid": "matched", "underpaid": "underpaid", "permit": "permit", "unpaid": "unpaid"}


def off_plan(plan: dict[str, str], matches: list[dict]) -> list[dict]:
    """Decided sessions of vehicles that left whose status is not what their plan implies (a
    clean run gives none). Plates are compared by confusable key: the session carries the read."""
    from alpr.plates import confusable_key

    by_key = {confusable_key(plate): what for plate, what in plan.items()}
    out = []
    for m in matches:
        if not (m.get("plate") and m.get("exit_at") and m.get("entry_at")):
            continue
        what = by_key.get(confusable_key(m["plate"]))
        if what is None or STATUS_BY_PLAN[what] != m["status"]:
            out.append({"plate": m["plate"], "plan": what, "status": m["status"]})
    return sorted(out, key=lambda o: o["plate"])


def sessions_undecided(store, clock: datetime | None) -> int:
    """Sessions whose exit is older than the payment window plus the idle lag at the demo's clock
    and that have no decision (revenue's store): each should have been decided by then, traffic
    or not (0 in every run)."""
    if clock is None:
        return 0
    rows = store.query(
        f"SELECT count() AS n FROM {store.database}.sessions FINAL WHERE exit_at IS NOT NULL "
        "AND exit_at < {cutoff:DateTime64(3, 'UTC')} "
        f"AND session_id NOT IN (SELECT session_id FROM {store.database}.matches)",
        {"cutoff": clock - DEMO_PAYMENT_LATE - DEMO_IDLE_LAG},
    )
    return int(rows[0]["n"])


def review_counts(store) -> dict[str, int]:
    """The review queue at the end (issue #16): sessions queued for a person, and those decided."""
    rows = store.query(f"SELECT state, count() AS n FROM {store.database}.reviews FINAL GROUP BY state")
    got = {r["state"]: int(r["n"]) for r in rows}
    return {state: got.get(state, 0) for state in ("queued", "confirmed", "corrected", "dismissed")}


def _from_revenue_store(settings, data_dir: Path, clock: datetime | None) -> tuple[int, dict[str, int]]:
    """`sessions_undecided` and `review_counts` from revenue's store, opened once the service has
    stopped (chDB: one process per directory)."""
    from alpr.store import open_store

    store = open_store(
        "revenue", clickhouse_url=settings.clickhouse_url, data_dir=data_dir, ca_file=settings.clickhouse_ca_file
    )
    try:
        return sessions_undecided(store, clock), review_counts(store)
    finally:
        store.close()


def departures(truth, matches: list[dict]) -> dict[str, str]:
    """How revenue decided the stay of each vehicle that left: its plan's status once, from one
    session with both its entry and its exit. A stay split by lanes that arrived out of order
    shows as two decisions ('matched, no entry + unpaid, no exit'); one not decided yet as
    'undecided'. Plates are compared by confusable key (the session carries the read)."""
    from alpr.plates import confusable_key

    left = {confusable_key(t.plate): t.plate for t in truth if t.direction == "exit"}
    found: dict[str, list[str]] = {plate: [] for plate in left.values()}
    for m in matches:
        plate = left.get(confusable_key(m.get("plate") or ""))
        if plate is not None:
            found[plate].append(
                m["status"] + ("" if m.get("entry_at") else ", no entry") + ("" if m.get("exit_at") else ", no exit")
            )
    return {plate: " + ".join(sorted(got)) or "undecided" for plate, got in sorted(found.items())}


def departures_off_plan(plan: dict[str, str], departed: dict[str, str]) -> list[dict]:
    """Vehicles that left whose stay was not decided once, as their payment plan implies."""
    return [
        {"plate": plate, "plan": plan.get(plate), "decided": got}
        for plate, got in departed.items()
        if plan.get(plate) is None or got != STATUS_BY_PLAN[plan[plate]]
    ]


POISONED = (Topic.FRAMES, Topic.READS, Topic.PASSES, Topic.PAYMENTS, Topic.AUDIT, Topic.HOLDS)


def _offset_jumps(services: list[str]) -> dict[str, float | None]:
    """Each faust service's `alpr_stream_offset_jumps_total` (all topics), read before the stack
    stops: a jump is a loss (alpr.kafka.faust_fixes), so a clean demo reports 0 for each (None:
    its /metrics did not answer)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float | None] = {}
    for name in ("occupancy", "revenue"):
        if name not in services:
            continue
        try:
            text = httpx.get(f"http://127.0.0.1:{PORTS[name]}/metrics", timeout=5).text
        except httpx.HTTPError:
            out[name] = None
            continue
        out[name] = sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "alpr_stream_offset_jumps_total"
        )
    return out


def _poison(bootstrap: str, prefix: str, n: int) -> None:
    """Malformed messages on every consumed topic: each must end in its DLQ, nothing may stall."""
    from confluent_kafka import Producer

    producer = Producer(client_config(bootstrap))
    for topic in POISONED:
        for i in range(n):
            producer.produce(prefix + topic, key=b"garage-1", value=b"\x00{not json, not a jpeg %d" % i)
    producer.flush(30)


def _restart_local_broker(say, secure: bool = False) -> None:
    """Fault injection (--restart-broker-after): stop the local broker (the secure one with
    --secure) and start it again with its data, while every service is mid-stream."""
    from alpr.kafka.broker import BrokerSettings, LocalBroker, SecureBroker
    from alpr.settings import load_settings

    broker = (SecureBroker if secure else LocalBroker)(load_settings(BrokerSettings))
    say("demo: restarting the Kafka broker mid-stream...")
    broker.stop()
    broker.start()
    say("demo: broker back")


class _Failover:
    """Fault injection (--kill-broker-after): SIGKILL the local cluster's broker that leads the
    partition the demo's reads flow through, mid-stream; once the run is complete, start it
    again and wait until every partition's in-sync replicas are all its replicas (healed)."""

    def __init__(self, bootstrap: str, prefix: str, say, secure: bool = False) -> None:
        from confluent_kafka.admin import AdminClient

        from alpr.kafka.broker import BrokerSettings, LocalCluster
        from alpr.kafka.config import admin_config
        from alpr.settings import load_settings

        self.admin = AdminClient(admin_config(bootstrap))
        self.bootstrap, self.topic, self.say = bootstrap, Topic.READS.on(prefix), say
        brokers = len(self.admin.list_topics(timeout=10).brokers)
        self.cluster = LocalCluster(load_settings(BrokerSettings), brokers, secure=secure)  # refuses a single broker
        self.killed: dict | None = None

    def busiest_partition(self) -> int | None:
        """The reads partition holding the most messages so far (the demo's one facility keys
        every read to one partition), or None before the first read."""
        from confluent_kafka import Consumer, TopicPartition

        probe = Consumer(client_config(self.bootstrap, **{"group.id": "demo-failover-probe", "log_level": 0}))
        try:
            partitions = self.admin.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            ends = {p: probe.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1] for p in partitions}
        finally:
            probe.close()
        busiest = max(ends, key=ends.get)
        return busiest if ends[busiest] > 0 else None

    def kill(self) -> bool:
        partition = self.busiest_partition()
        if partition is None:
            return False
        node = self.cluster.leader(self.topic, partition)
        self.say(f"demo: SIGKILL of broker {node}, leader of {self.topic} partition {partition}...")
        pid = self.cluster.kill(node)
        self.killed = {"node": node, "pid": pid, "partition": partition, "at_s": None}
        return True

    def heal(self) -> dict:
        """Who leads the partition now, then the killed broker back and the cluster healed."""
        leader_after = self.cluster.leader(self.topic, self.killed["partition"])
        started = time.monotonic()
        self.say(f"demo: starting broker {self.killed['node']} again...")
        self.cluster.start()
        health = self.cluster.wait_healed()
        self.say(f"demo: cluster healed: {len(health.partitions)} partitions, every in-sync replica set full")
        return {
            **self.killed,
            "leader_after": leader_after,
            "healed": health.healed,
            "healed_after_s": round(time.monotonic() - started, 1),
        }


def _replay_clock() -> tuple[datetime, float]:
    """When frame 0 of the demo footage was captured, and the footage's frame rate."""
    from alpr.cameras import load_registry
    from services.ingest.settings import IngestSettings

    registry = load_registry(IngestSettings().cameras_file)
    lane = next(c for c in registry.cameras if c.source)
    meta = json.loads((FOOTAGE / "footage.json").read_text()) if (FOOTAGE / "footage.json").exists() else {}
    return lane.replay_start, float(meta.get("fps", 4.0))


def _demo_user(env: dict, say, name: str = "demo", role: str = "parking_management") -> tuple[str, str]:
    """A demo user with a written authorization and training on record (policy section 5)."""
    from datetime import date, timedelta

    from services.audit.passwords import hash_password, one_time_password
    from services.audit.registry import UserRegistry
    from services.audit.settings import AuditSettings

    registry = UserRegistry(AuditSettings(data_dir=env["ALPR_DATA_DIR"]).governance_db())
    password = one_time_password()
    registry.create_user(name, f"Demo {role}", role, hash_password(password), "alpr demo")
    registry.authorize(name, "Demo setup (alpr demo)", date.today(), f"DEMO-AUTH-{name}")
    registry.record_training(
        name, "ALPR access and privacy (demo)", date.today(), date.today() + timedelta(days=30), "alpr demo"
    )
    registry.close()
    return name, password


def _names_the_cluster(bootstrap: str) -> bool:
    from alpr.kafka.broker import BrokerSettings
    from alpr.settings import load_settings

    port = load_settings(BrokerSettings).kafka_cluster_port
    return bootstrap.split(",")[0].strip() in (f"127.0.0.1:{port}", f"localhost:{port}")


def _secure_cluster():
    """The secure local cluster (`alpr kafka start --brokers N --secure`), of the size it was made with."""
    from alpr.errors import ConfigError
    from alpr.kafka.broker import BrokerSettings, LocalCluster
    from alpr.settings import load_settings

    settings = load_settings(BrokerSettings)
    meta = LocalCluster(settings, 3, secure=True).meta_file
    if not meta.exists():
        raise ConfigError("the secure local cluster was never started: `alpr kafka start --brokers 3 --secure`")
    cluster = LocalCluster(settings, json.loads(meta.read_text())["brokers"], secure=True)
    if not cluster.health().healthy:
        raise ConfigError("the secure local cluster is not healthy: `alpr kafka start --brokers 3 --secure`")
    return cluster


def _secure_broker(prefix: str, say, cluster: bool = False) -> tuple[str, dict[str, dict[str, str]]]:
    """`--secure`: the demo on the secure local broker (`alpr kafka start --secure`), or with
    `cluster` on the secure local cluster. The demo's own clients (topics, ACLs, the observer,
    fault injection) are the administrator; each service connects as its own principal, so
    every ACL of the registry is in force."""
    from alpr.errors import ConfigError
    from alpr.kafka import security as kafka_security
    from alpr.kafka.acls import apply_acls
    from alpr.kafka.broker import SERVICE_USERS, BrokerSettings, LocalCluster, SecureBroker
    from alpr.kafka.topics import apply_topics
    from alpr.settings import load_settings

    target: SecureBroker | LocalCluster
    if cluster:
        target = _secure_cluster()
    else:
        target = SecureBroker(load_settings(BrokerSettings))
        if not target.healthy():
            raise ConfigError("the secure broker is not running: start it with `alpr kafka start --secure`")
    admin = kafka_security.configure(target.security("admin"))
    apply_topics(target.bootstrap, prefix=prefix)
    changes = apply_acls(target.bootstrap, prefix=prefix, security=admin)
    say(
        f"demo: secure {'cluster' if cluster else 'broker'} {target.bootstrap} (SASL_SSL, SCRAM); ACLs: "
        f"{len(changes.created)} created, {len(changes.unchanged)} unchanged"
    )
    return target.bootstrap, {service: target.client_env(service) for service in SERVICE_USERS}


def _demo(args) -> int:
    import httpx

    from alpr.kafka.topics import apply_topics
    from alpr.settings import CommonSettings, load_settings
    from alpr_app.demo.observer import Observer
    from alpr_app.demo.stack import Stack
    from alpr_app.demo.truth import accuracy, accuracy_by_camera, expected_occupancy, load_truth

    settings = load_settings(CommonSettings)
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    prefix = f"demo.{run}."
    data_dir = Path(settings.data_dir) / "demo" / run
    bootstrap = settings.kafka_bootstrap
    principals: dict[str, dict[str, str]] = {}  # service -> its ALPR_KAFKA_* login on the secure broker
    if args.secure:
        # The secure local cluster when the fault needs a cluster, or when ALPR_KAFKA_BOOTSTRAP names
        # it (its admin.env sets that); else the single secure broker.
        on_cluster = bool(args.kill_broker_after) or _names_the_cluster(bootstrap)
        bootstrap, principals = _secure_broker(prefix, say, cluster=on_cluster)
    env = {
        "ALPR_DATA_DIR": str(data_dir),
        "ALPR_TOPIC_PREFIX": prefix,
        "ALPR_KAFKA_BOOTSTRAP": bootstrap,
    }
    # The revenue service on the demo's compressed day (no grace period; DEMO_PAYMENT_LATE, DEMO_IDLE_LAG).
    revenue_env = {
        # Every stay is in the accuracy sample: the demo's reviewer checks them all against the
        # footage's ground truth, so accuracy_by_camera is measured on every run.
        "ALPR_REVENUE_REVIEW_SAMPLE_RATE": "1.0",
        "ALPR_REVENUE_ACCURACY_WINDOW_H": "24",
        "ALPR_REVENUE_TARIFF_FILE": str(REPO_ROOT / "infra" / "tariff.demo-day.yaml"),
        "ALPR_REVENUE_PAYMENT_LATE_MIN": str(DEMO_PAYMENT_LATE / timedelta(minutes=1)),
        "ALPR_REVENUE_IDLE_LAG_S": str(DEMO_IDLE_LAG.total_seconds()),
        "ALPR_REVENUE_ORPHAN_AFTER_H": "0.05",
    }
    _footage(say)
    truth = load_truth(FOOTAGE / "ground_truth.jsonl")
    if not args.secure:
        apply_topics(bootstrap, prefix=prefix)  # --secure: applied with the ACLs by _secure_broker
    user, password = _demo_user(env, say)
    reviewer = _demo_user(env, say, "demo-reviewer", "reviewer")
    console_user = _demo_user(env, say, "demo-console")
    if args.inject_misreads:
        env["ALPR_RECOGNIZER_INJECT_MISREADS"] = str(args.inject_misreads)

    wanted = args.services.split(",") if args.services else None
    services = [
        s
        for s in ("audit", "recognizer", "occupancy", "revenue", "ingest")
        if _exists(s) and (wanted is None or s in wanted)
    ]
    missing = [s for s in ("ingest", "recognizer", "occupancy", "revenue", "audit") if s not in services]
    if missing:
        say(f"demo: not built yet, skipped: {', '.join(missing)}")
    failover = _Failover(bootstrap, prefix, say, secure=args.secure) if args.kill_broker_after else None
    observer = Observer(bootstrap, prefix).start()
    started = time.monotonic()
    deadline = started + args.duration if args.duration else None
    complete = False
    with Stack(env, data_dir / "logs") as stack:
        for name in services:
            if name == "ingest":
                continue  # started once revenue holds the finance feed (below)
            if name == "recognizer":
                for replica in ("recognizer", "recognizer-2"):
                    stack.start(
                        replica, PORTS[replica], "recognizer", "serve", timeout=300, extra_env=principals.get(name)
                    )
                    say(f"demo: {replica} healthy on :{PORTS[replica]}")
                continue
            extra = {**(revenue_env if name == "revenue" else {}), **principals.get(name, {})}
            stack.start(name, PORTS[name], name, "serve", timeout=300, extra_env=extra)
            say(f"demo: {name} healthy on :{PORTS[name]}")
            if name == "audit":
                # A person's own login (the demo's clients use theirs): it changes its password
                # at first login, which must not lock the demo's own API calls out.
                who, once = console_user
                say(
                    f"demo: console: http://127.0.0.1:{PORTS['audit']}/console/  "
                    f"(user '{who}', parking management; one-time password: {once})"
                )
        if args.poison:
            _poison(bootstrap, prefix, args.poison)
            say(f"demo: published {args.poison} malformed messages to every consumed topic")
        say(f"demo: user '{user}' (parking management), one-time password: {password}")
        api = _DemoApi(services, user, password, say, reviewer)
        plan = api.pay(truth)
        # The footage's drivers paid before they left: the replay starts only once revenue's matcher
        # holds every accepted payment, so no exit is decided before its payment arrived (two CI runs
        # under load decided paid stays unpaid when the feed raced the replay).
        api.wait_payments_matched()
        if "ingest" in services:
            stack.start(
                "ingest", PORTS["ingest"], "ingest", "serve", timeout=300, extra_env=principals.get("ingest", {})
            )
            say(f"demo: ingest healthy on :{PORTS['ingest']}")
        restarted, replay_started = False, time.monotonic()
        try:
            with httpx.Client(timeout=5) as client:
                while deadline is None or time.monotonic() < deadline:
                    sources = (
                        client.get(f"http://127.0.0.1:{PORTS['ingest']}/v1/sources", headers=api.auth).json()["sources"]
                        if "ingest" in services
                        else []
                    )
                    replayed = all(s["state"] in ("finished", "failed") for s in sources if s["kind"] != "upload")
                    with observer.lock:
                        line = (
                            f"demo: {time.monotonic() - started:5.0f}s frames={len(observer.frames)} "
                            f"reads={len(observer.reads)} passes={len(observer.passes)} "
                            f"occupancy={ {k: v['occupied'] for k, v in observer.occupancy.items()} } "
                            f"matches={len(observer.matches)} violations={len(observer.violations)}"
                        )
                    say(line)
                    if (
                        args.restart_broker_after
                        and not restarted
                        and time.monotonic() - replay_started >= args.restart_broker_after
                    ):
                        restarted = True
                        _restart_local_broker(say, args.secure)
                    if (
                        failover
                        and failover.killed is None
                        and time.monotonic() - replay_started >= args.kill_broker_after
                        and failover.kill()
                    ):
                        failover.killed["at_s"] = round(time.monotonic() - replay_started, 1)
                    if replayed and observer.all_frames_read() and not api.swept:
                        api.sweep(truth)
                    api.review(truth)  # the reviewer works through the queue as it fills
                    if replayed and observer.all_frames_read() and api.settled(observer, truth):
                        complete = True
                        if args.duration:
                            break
                    time.sleep(2.0)  # the live summary's refresh interval
        except KeyboardInterrupt:
            say("demo: stopping...")
        healed = failover.heal() if failover and failover.killed else None
        api.look()  # what an operator and finance would open: occupancy, reconciliation (audited)
        if complete:
            api.finish_reviews(truth)
        by_review = api.accuracy() if complete else None
        offset_jumps = _offset_jumps(services)
        time.sleep(1.0)  # let the last audit events reach the observer
    ended = observer.clock()  # the services have stopped: nothing is decided after this
    observer.stop()
    undecided, review = _from_revenue_store(settings, data_dir, ended) if "revenue" in services else (None, None)
    acc = accuracy(truth, list(observer.reads.values()), *_replay_clock())
    by_truth = accuracy_by_camera(truth, list(observer.reads.values()), *_replay_clock())
    summary = {
        "complete": complete,
        "seconds": round(time.monotonic() - started, 1),
        "services": services,
        "frames": len(observer.frames),
        "reads": len(observer.reads),
        "reads_by_outcome": {
            o: sum(r["outcome"] == o for r in observer.reads.values()) for o in ("read", "unreadable", "no_plate")
        },
        "passes": len(observer.passes),
        "occupancy": {k: v["occupied"] for k, v in observer.occupancy.items()},
        "occupancy_expected": expected_occupancy(truth),
        "sessions": len(observer.matches),
        "sessions_undecided": undecided,
        "matches_by_status": dict(sorted(Counter(m["status"] for m in observer.matches.values()).items())),
        "matches_off_plan": off_plan(plan, list(observer.matches.values())),
        "departures": (departed := departures(truth, list(observer.matches.values()))),
        "departures_off_plan": departures_off_plan(plan, departed),
        "violations": len(observer.violations),
        # Citations only on verified reads: a violation issued with no reason to trust its read (0).
        "violations_unverified": sum(
            1 for v in observer.violations.values() if v.get("state", "issued") == "issued" and not v.get("verified_by")
        ),
        "review": review,
        # Policy section 9 measured live: each camera's rates from the review sample, beside the
        # footage's ground truth (issue #16).
        "accuracy_by_camera": {
            camera: {"truth": t, "review": (by_review or {}).get(camera)} for camera, t in sorted(by_truth.items())
        },
        "payments": len(observer.payments),
        "payment_plan": dict(sorted(Counter(plan.values()).items())),
        "audit_events": dict(observer.audit),
        "dead_letters": dict(sorted(observer.dead_letters.items())),
        "broker_restarted": bool(args.restart_broker_after) and restarted,
        "kafka_principals": sorted(principals) if args.secure else [],  # --secure: each service its own login
        "stream_offset_jumps": offset_jumps,
        "broker_killed": healed,
        "accuracy": acc,
        "topic_prefix": prefix,
        "data_dir": str(data_dir),
    }
    if args.json:
        emit(summary)
    else:
        say(json.dumps(summary, indent=2))
        say("demo: stopped every service")
    return 0 if complete or not args.duration else 1


def register(sub) -> None:
    demo = sub.add_parser("demo", help="run the whole pipeline on synthetic garage footage and report")
    demo.add_argument(
        "--duration", type=float, default=0, help="stop after this many seconds (or when done) and report"
    )
    demo.add_argument("--json", action="store_true", help="print one JSON summary (progress goes to stderr)")
    demo.add_argument("--services", help="comma-separated subset to run (default: every service)")
    demo.add_argument("--poison", type=int, default=0, help="also publish N malformed messages to every consumed topic")
    demo.add_argument(
        "--restart-broker-after",
        type=float,
        default=0,
        help="fault injection: restart the local broker this many seconds into the replay",
    )
    demo.add_argument(
        "--kill-broker-after",
        type=float,
        default=0,
        help="fault injection on the local cluster (alpr kafka start --brokers 3, with --secure the secure one): "
        "SIGKILL the broker leading the reads partition this many seconds into the replay, start it again at the end",
    )
    demo.add_argument(
        "--inject-misreads",
        type=float,
        default=0.0,
        help="fault injection: the recognizer misreads this share of (camera, plate) pairs (one character), "
        "to show the review sample's accuracy estimate finds them",
    )
    demo.add_argument(
        "--secure",
        action="store_true",
        help="run on the secure local broker (alpr kafka start --secure), or with --kill-broker-after on the secure "
        "local cluster (alpr kafka start --brokers 3 --secure): TLS, SCRAM, one principal and its ACLs per service",
    )
    demo.set_defaults(handler=_demo)
