"""The local Kafka broker: Apache Kafka 4.x in single-node KRaft mode on 127.0.0.1.

The jars come from Maven Central through `infra/kafka/pom.xml`; the broker runs on the
machine's Java 17 with its data under `<data_dir>/kafka/` (git-ignored). `start` returns only
when the broker answers a metadata request; `stop` returns only when the process is gone.
Tests, the demo and CI all use this broker; with Docker, infra/docker-compose.yml runs the
apache/kafka image instead.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from alpr.errors import BrokerError
from alpr.settings import REPO_ROOT, CommonSettings, ensure_port_free

KAFKA_DIR = REPO_ROOT / "infra" / "kafka"
JARS_DIR = KAFKA_DIR / "target" / "dependency"
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30


class BrokerSettings(CommonSettings):
    """The local broker's own settings; its client port is the port of ALPR_KAFKA_BOOTSTRAP."""

    kafka_controller_port: int = Field(0, ge=0, le=65535, description="KRaft controller port; 0: client port + 1.")
    kafka_heap: str = Field("512m", pattern=r"^\d+[mg]$", description="JVM heap of the local broker (-Xmx).")


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    healthy: bool
    pid: int | None
    bootstrap: str
    log: Path


class LocalBroker:
    def __init__(self, settings: BrokerSettings) -> None:
        first = settings.kafka_bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            raise BrokerError(f"the local broker listens on 127.0.0.1 only; ALPR_KAFKA_BOOTSTRAP is {first}")
        self.port = int(port)
        self.controller_port = settings.kafka_controller_port or self.port + 1
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.heap = settings.kafka_heap
        self.home = Path(settings.data_dir) / "kafka"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.properties = self.home / "server.properties"
        self.log_dirs = self.home / "data"
        # Maven's download cache, under the data directory like every library's state (never ~/.m2).
        self.maven_repo = Path(settings.data_dir) / "lib" / "maven"

    # -- jars --------------------------------------------------------------------------
    def ensure_jars(self) -> None:
        if JARS_DIR.is_dir() and any(JARS_DIR.glob("kafka_2.13-*.jar")):
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("Maven (mvn) is not installed; it fetches the Kafka jars from Maven Central")
        print("fetching Kafka broker jars from Maven Central (once)...", file=sys.stderr)
        proc = subprocess.run(
            [mvn, "-q", "-B", f"-Dmaven.repo.local={self.maven_repo}", "-f", str(KAFKA_DIR / "pom.xml"),
             "dependency:copy-dependencies"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
            raise BrokerError(f"mvn could not fetch the Kafka jars: {tail[0]}")

    # -- process -----------------------------------------------------------------------
    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A recycled pid is not our broker: check its command line.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"kafka.Kafka" in cmdline else None

    def healthy(self, timeout: float = 3.0) -> bool:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        # log_level 0: a probe of a broker that is still starting is expected to be refused.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.connection.setup.timeout.ms": 2000, "log_level": 0})
        try:
            admin.list_topics(timeout=timeout)
            return True
        except KafkaException:
            return False

    def status(self) -> BrokerStatus:
        pid = self._pid()
        return BrokerStatus(pid is not None, pid is not None and self.healthy(), pid, self.bootstrap, self.log_file)

    def _write_properties(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            "\n".join(
                [
                    "# Written by `alpr kafka start`; edit the settings, not this file.",
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.log_dirs}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=12",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    # Tests create a fresh group each time; no reason to wait for more members.
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "message.max.bytes=8388608",
                    "",
                ]
            )
        )

    def _java(self, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java is not installed; the local Kafka broker needs Java 17+")
        return [
            java,
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
            "-cp",
            str(JARS_DIR / "*"),
            *args,
        ]

    def _format_storage(self) -> None:
        if (self.log_dirs / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        proc = subprocess.run(
            # --cluster-id=ID: a base64url id may start with "-", which argparse would take for an option.
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(self.properties)),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed: {(proc.stdout + proc.stderr).strip()[-300:]}")

    def start(self) -> BrokerStatus:
        current = self.status()
        if current.running:
            if current.healthy:
                return current
            self._wait_healthy(current.pid)
            return self.status()
        self.ensure_jars()
        ensure_port_free("127.0.0.1", self.port)
        ensure_port_free("127.0.0.1", self.controller_port)
        self._write_properties()
        self._format_storage()
        log = open(self.log_file, "ab")
        # A new session: the broker outlives the command that started it and is not hit by
        # the terminal's Ctrl-C; `alpr kafka stop` ends it.
        proc = subprocess.Popen(
            self._java("kafka.Kafka", str(self.properties)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid_file.write_text(str(proc.pid))
        self._wait_healthy(proc.pid, proc)
        return self.status()

    def _wait_healthy(self, pid: int | None, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(f"broker exited with code {proc.returncode}: {self._log_tail()}")
            if self.healthy(timeout=2.0):
                return
        raise BrokerError(f"broker did not answer metadata requests within {START_TIMEOUT_S}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = [l for l in self.log_file.read_text(errors="replace").splitlines() if "ERROR" in l or "Exception" in l]
        except FileNotFoundError:
            return "no log"
        return lines[-1][-300:] if lines else f"see {self.log_file}"

    def stop(self) -> bool:
        """Stop the broker; True if one was running. Returns only when the process is gone."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.1)  # polling a process exit; there is no portable wait on a non-child
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"
