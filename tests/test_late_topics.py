"""A topic that did not exist at a faust worker's first assignment is assigned seconds later
(`alpr.kafka.faust_fixes`, fix 4), against the real development broker.

The broker does not create topics on demand, so a worker whose agent reads a topic created
only after the worker joined its group has that topic skipped by the assignor ("Ignoring
missing topic"), as revenue's ledger changelog was once in CI. With aiokafka's default metadata
age the worker would get its partitions after five minutes; with the services'
`CONSUMER_METADATA_MAX_AGE_MS` the message produced to it arrives well within the deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from alpr.kafka import faust_fixes
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

WORKER = """
import os, faust
from alpr.kafka import faust_fixes

faust_fixes.install()
app = faust.App(
    os.environ["APP_ID"],
    broker="kafka://" + os.environ["BOOTSTRAP"],
    store="memory://",
    web_enabled=False,
    autodiscover=False,
    datadir=os.environ["DATA_DIR"],
    consumer_auto_offset_reset="earliest",
    topic_disable_leader=True,
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    consumer_metadata_max_age_ms=faust_fixes.CONSUMER_METADATA_MAX_AGE_MS,
)
late = app.topic(os.environ["TOPIC"], key_serializer="raw", value_serializer="raw")


@app.agent(late)
async def show(stream):
    async for value in stream:
        print(f"GOT {value.decode()}", flush=True)


faust.Worker(app, loglevel="INFO", quiet=True).execute_from_commandline()
"""


def test_a_topic_created_after_the_worker_joined_is_assigned_within_seconds(dev_bootstrap, unique, tmp_path):
    topic = f"test.{unique}.late"
    env = {
        **os.environ,
        "ALPR_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "APP_ID": f"test-{unique}-late",
        "BOOTSTRAP": dev_bootstrap,
        "TOPIC": topic,
        "DATA_DIR": str(tmp_path / "faust"),
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(worker.stdout.readline, "")), daemon=True)
    reader.start()
    admin = AdminClient({"bootstrap.servers": dev_bootstrap, "log_level": 0})
    try:
        # The worker has joined and been assigned without the topic: the condition of fix 4.
        wait_for(
            lambda: any("Ignoring missing topic" in line and topic in line for line in lines),
            timeout=60,
            what="the worker's first assignment, without the topic",
            describe=lambda: "".join(lines[-20:]),
        )
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
        producer = Producer({"bootstrap.servers": dev_bootstrap, "enable.idempotence": True})
        producer.produce(topic, value=b"hello")
        assert producer.flush(30) == 0
        # Five metadata ages and a rebalance; aiokafka's default would be 300 s.
        assert faust_fixes.CONSUMER_METADATA_MAX_AGE_MS <= 10_000
        wait_for(
            lambda: any("GOT hello" in line for line in lines),
            timeout=60,
            what="the message on the topic created after the assignment",
            describe=lambda: "".join(lines[-20:]),
        )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)
        for future in admin.delete_topics([topic]).values():
            try:
                future.result(timeout=30)
            except Exception:
                pass
