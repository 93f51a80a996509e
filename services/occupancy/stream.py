"""The faust application: alpr.reads.v1 -> alpr.occupancy.v1, alpr.passes.v1 and ClickHouse.

One agent consumes reads in small batches (`take_events`: at most `batch_max` reads or
`batch_within_s`). Per batch, in this order:

1. decode every read (a bad one goes to `alpr.reads.dlq` with the reason; the partition
   moves on) and apply it to its facility's state, purely (`Occupancy.apply`);
2. publish the occupancy events, then every confirmed pass the batch touched (at its latest
   version, on alpr.passes.v1, for revenue), and wait for Kafka's acknowledgement (before the
   rows: events are what the operations center waits for);
3. write pass and history rows to ClickHouse (idempotent: ReplacingMergeTree by pass_id /
   event_id, deterministic versions), in a worker thread (chDB releases the GIL);
4. store each touched facility's state in the table, one changelog message per facility,
   and wait for the broker's acknowledgement of each (`alpr.kafka.state.save_state`, as
   revenue does);
5. faust acks the batch, and only then can its offsets be committed: a committed offset
   never runs ahead of the state.

A crash anywhere repeats at most steps 1-4 for reads the state has not recorded, and the
guards in `FacilityState` make the repetition change nothing. The table lives in memory
(`memory://`, RocksDB is not installed); its changelog topic is the durable copy, read back
at start (a compacted topic: one message per facility).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust

from alpr.contracts.models import OccupancyEvent
from alpr.contracts.registry import Topic, decode
from alpr.errors import ContractError
from alpr.holds import HoldKeeper
from alpr.kafka import faust_fixes
from alpr.kafka import security as kafka_security
from alpr.kafka.dlq import FaustDeadLetters
from alpr.kafka.security import faust_credentials
from alpr.kafka.state import faust_data_dir, save_state
from alpr.metrics import BATCH_SECONDS, BATCH_SIZE, MESSAGES
from alpr.store import Store
from services.occupancy.board import Board
from services.occupancy.facilities import Facility
from services.occupancy.metrics import OCCUPIED, READS
from services.occupancy.occupancy import Effects, FacilityState, Occupancy
from services.occupancy.passes import PassFolder
from services.occupancy.settings import OccupancySettings
from services.occupancy.writer import EffectsWriter

log = logging.getLogger(__name__)
SERVICE = "occupancy"
TABLE = "facility-state"
STATE_MAX_BYTES = 4 * 1024 * 1024


@dataclass
class Topics:
    reads: str
    occupancy: str
    passes: str
    dlq: str

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(
            Topic.READS.on(prefix), Topic.OCCUPANCY.on(prefix), Topic.PASSES.on(prefix), Topic.READS_DLQ.on(prefix)
        )


class OccupancyStream:
    """The faust app, its facility-state table and the agent: decode, apply (pure), write, save."""

    def __init__(
        self,
        settings: OccupancySettings,
        facilities: dict[str, Facility],
        store: Store,
        keeper: HoldKeeper,
        board: Board,
        reads_partitions: int,
        topic_prefix: str = "",
        replication: int = 1,
    ) -> None:
        self.settings = settings
        self.facilities = facilities
        self.store = store
        self.keeper = keeper
        self.board = board
        self.topics = Topics.with_prefix(topic_prefix)
        self.reads_contract = Topic.READS.contract
        self.occupancy = Occupancy(
            PassFolder(
                gap_ms=int(settings.pass_gap_s * 1000),
                horizon_ms=int(settings.pass_horizon_s * 1000),
                max_distance=settings.plate_max_distance,
                no_plate_min_reads=settings.no_plate_min_reads,
                crop_max_bytes=settings.state_crop_max_bytes,
                context_max_bytes=settings.state_context_max_bytes,
            ),
            {f.facility_id: f.capacity for f in facilities.values()},
            settings.overflow_tolerance,
            settings.recent_ids,
        )
        self.reads_partitions = reads_partitions
        datadir = faust_data_dir(settings.data_dir, topic_prefix + settings.faust_app_id)
        faust_fixes.install()  # a partition without a commit must not skip what recovery fetched
        self.app = faust.App(
            topic_prefix + settings.faust_app_id,
            # Every bootstrap server: on a cluster the worker must (re)connect while one is down.
            broker=f"kafka://{settings.kafka_bootstrap}",
            # TLS and the service's SCRAM user (None on the PLAINTEXT development broker): the same
            # process-wide security as every confluent-kafka client of the service.
            broker_credentials=faust_credentials(kafka_security.current()),
            store="memory://",
            # Reads are decoded here (contract + DLQ), not by faust: a bad message must not crash the agent.
            key_serializer="raw",
            value_serializer="raw",
            # The changelog is partitioned like the source topic: a facility's state sits in the
            # changelog partition of its reads' partition, and recovers with it.
            topic_partitions=reads_partitions,
            # The changelog is replicated like the reads (1 on a single broker, 3 on a cluster):
            # a state that lives on one broker would stop the service when that broker goes.
            topic_replication_factor=replication,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            web_enabled=False,
            autodiscover=False,
            datadir=str(datadir),
            broker_commit_interval=settings.commit_interval_s,
            # A restarted (or SIGKILLed) worker waits for the dead member's session to expire
            # before the group rebalances: 10 s, like the shared confluent-kafka consumers.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=1.0,
            table_standby_replicas=0,
            producer_max_request_size=STATE_MAX_BYTES,
            # A topic created just before the group's first assignment is assigned seconds later,
            # not after aiokafka's 5-minute metadata refresh (alpr.kafka.faust_fixes, fix 4).
            consumer_metadata_max_age_ms=faust_fixes.CONSUMER_METADATA_MAX_AGE_MS,
        )
        self.table = self.app.Table(
            TABLE,
            default=None,
            partitions=reads_partitions,
            # A facility's state holds an open pass per lane with its crop: room above the 1 MB default.
            extra_topic_configs={"max.message.bytes": str(STATE_MAX_BYTES)},
        )
        self.reads_topic = self.app.topic(self.topics.reads, partitions=reads_partitions)
        dead_letters = FaustDeadLetters(self.app, SERVICE, topic_prefix)
        self.writer = EffectsWriter(
            store,
            keeper,
            board,
            self.app.topic(self.topics.occupancy),
            self.app.topic(self.topics.passes),
            dead_letters,
        )
        self.lock = asyncio.Lock()
        self.batches = 0
        self._ready = False
        self.continuity = faust_fixes.Continuity(self.app, SERVICE)
        self.app.agent(self.reads_topic, name="occupancy")(self._agent)

        @self.app.on_partitions_revoked.connect
        async def _revoked(app, revoked, **kwargs) -> None:  # noqa: ANN001
            self._ready = False

        @self.app.on_rebalance_complete.connect
        async def _recovered(app, **kwargs) -> None:  # noqa: ANN001
            self.warm_board()
            self._ready = True

    # -- readiness ------------------------------------------------------------------------
    def ready(self) -> bool:
        """Recovered and consuming: set when faust reports the rebalance (and table recovery)
        complete, cleared when partitions are revoked. A plain flag on purpose: /healthz runs in
        a worker thread, and touching faust's services from there (app.tables.recovery creates
        the Recovery service lazily) hung the worker's start."""
        return self._ready

    def warm_board(self) -> None:
        """After recovery: put each facility's last published occupancy on the board."""
        for key, value in list(self.table.data.items()):
            if value and value.get("last_event"):
                self.board.update(value["last_event"])
                OCCUPIED.labels(key).set(value["occupied"])

    # -- state -----------------------------------------------------------------------------
    def load(self, facility_id: str) -> FacilityState:
        data = self.table.data.get(facility_id)
        return FacilityState.from_state(data) if data else FacilityState(facility_id)

    async def save(self, states) -> None:
        """Each facility in its own source partition's changelog (a batch mixes partitions; faust's
        table[key] = value would use the partition of the batch's last event), returning once the
        broker has acknowledged every message: the batch's offsets cannot be committed before
        the state they produced is durable (the rule revenue follows, `alpr.kafka.state`).

        Occupancy did not wait until faust_fixes closed the recovery-end race (its item 2): the
        wait kept reads queued in the agent's channel, where faust's resume cleared them (2
        SIGKILL runs in 5 lost events). The wait caused no loss itself."""
        await save_state(self.table, ((s.partition, s.facility_id, s.to_state()) for s in states))

    # -- the agent -------------------------------------------------------------------------
    async def _agent(self, stream) -> None:
        async for events in stream.take_events(self.settings.batch_max, within=self.settings.batch_within_s):
            self.continuity.watch(events)
            await self.handle(events)

    async def handle(self, events) -> None:
        started = time.perf_counter()
        async with self.lock:
            effects = Effects()
            states: dict[str, FacilityState] = {}
            dead: list[tuple[Any, str]] = []
            for event in events:
                message = event.message
                try:
                    read = decode(self.reads_contract, message.value)
                    if read.facility_id not in self.facilities:
                        raise ContractError(
                            f"facility {read.facility_id!r} is not in the facility registry (ALPR_CAMERAS_FILE)"
                        )
                except Exception as err:
                    dead.append((message, f"{type(err).__name__}: {err}"))
                    MESSAGES.labels(SERVICE, message.topic, "dlq").inc()
                    continue
                MESSAGES.labels(SERVICE, message.topic, "ok").inc()
                state = states.get(read.facility_id) or states.setdefault(read.facility_id, self.load(read.facility_id))
                self.occupancy.apply(state, read, message.partition, message.offset, effects)
            for why, n in effects.skipped.items():
                READS.labels(why).inc(n)
            await self.writer.write(effects, dead)
            await self.save(states.values())
            self.batches += 1
        BATCH_SIZE.labels(SERVICE).observe(len(events))
        BATCH_SECONDS.labels(SERVICE).observe(time.perf_counter() - started)

    # -- adjustments -----------------------------------------------------------------------
    async def adjust(self, facility_id: str, occupied: int, actor: str, note: str, event_id: str) -> OccupancyEvent:
        """Replace a facility's count by a manual one; durable (row, event, changelog) on return."""
        async with self.lock:
            state = self.load(facility_id)
            if state.partition < 0:
                state.partition = partition_of(facility_id, self.reads_partitions)
            row, event = self.occupancy.adjust(state, occupied, actor, note, datetime.now(UTC), event_id)
            await asyncio.to_thread(self.store.insert, "occupancy_history", [dict(row, held=0)])
            await self.writer.send_events([event])
            await self.save([state])  # acknowledged, like the event: recorded when the operator is told
            self.writer.publish_to_board([event])
            return event


def partition_of(key: str, partitions: int) -> int:
    """The partition the platform's partitioner (murmur2, alpr.kafka.config.producer_config)
    gives a key: where the recognizer's reads of a facility land, for a facility that has sent
    none yet."""
    from aiokafka.partitioner import murmur2

    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
