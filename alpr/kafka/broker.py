"""The local Kafka broker: Apache Kafka 4.x in single-node KRaft mode on 127.0.0.1, and a
local three-broker cluster beside it for failover tests.

The jars come from Maven Central through `infra/kafka/pom.xml`; the broker runs on the
machine's Java 17 with its data under `<data_dir>/kafka/` (git-ignored). `start` returns only
when the broker answers a metadata request; `stop` returns only when the process is gone.
Tests, the demo and CI all use this broker; with Docker, infra/docker-compose.yml runs the
apache/kafka image instead.

`LocalCluster` (`alpr kafka start --brokers 3`) runs N combined broker+controller nodes that
form one KRaft quorum, on their own ports (`ALPR_KAFKA_CLUSTER_PORT`, 19092 up) and data
directories (`<data_dir>/kafka-cluster/node-<id>/`), so it can run next to the single broker.
Its `start` returns when the metadata lists every broker and every partition has a leader;
`wait_healed` when every partition's in-sync replicas are all its replicas again. With
`--secure` each node is a `SecureClusterNode`: the secure broker below on the node's ports, one
CA, certificate and set of SCRAM users for the cluster, data in `<data_dir>/kafka-cluster-secure/`.

`SecureBroker` (`alpr kafka start --secure`) is the local broker as production runs it: one
SASL_SSL listener (SCRAM-SHA-512) on `ALPR_KAFKA_SECURE_PORT`, the controller on mutual TLS (no
PLAINTEXT listener at all), the StandardAuthorizer with nothing allowed without an ACL, and one
SCRAM user per service plus `admin` (the super user `alpr topics apply` runs as). A second
listener on the port after the controller's takes mutual TLS instead of SCRAM: a service that
presents its client certificate (CN=<service>, signed by the broker's CA) is that service's
principal, under the same ACLs. Its CA, broker certificate, the services' client certificates
and generated passwords live under `<data_dir>/kafka-secure/` (mode 0600); the plaintext broker
beside it is for development only.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
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
    kafka_cluster_port: int = Field(
        19092,
        ge=1024,
        le=65000,
        description="Client port of node 1 of the local cluster (`alpr kafka start --brokers N`); node i listens on "
        "this + i - 1 and its controller on this + 100 + i - 1.",
    )
    kafka_secure_port: int = Field(
        9094,
        ge=1024,
        le=65000,
        description="SASL_SSL port of the secure local broker (`alpr kafka start --secure`); its controller (mutual "
        "TLS) listens on this + 1, its mutual-TLS client listener on this + 2.",
    )


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
            [
                mvn,
                "-q",
                "-B",
                f"-Dmaven.repo.local={self.maven_repo}",
                "-f",
                str(KAFKA_DIR / "pom.xml"),
                "dependency:copy-dependencies",
            ],
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

    def _probe_config(self) -> dict:
        # log_level 0: a probe of a broker that is still starting is expected to be refused.
        return {"bootstrap.servers": self.bootstrap, "socket.connection.setup.timeout.ms": 2000, "log_level": 0}

    def healthy(self, timeout: float = 3.0) -> bool:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(self._probe_config())
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
        self.properties.write_text("\n".join(self._properties()) + "\n")

    def _properties(self) -> list[str]:
        return [
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
        ]

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

    def _cluster_id(self) -> str:
        return new_cluster_id()

    def _format_args(self) -> list[str]:
        return []

    def _format_storage(self) -> None:
        if (self.log_dirs / "meta.properties").exists():
            return
        cluster_id = self._cluster_id()
        proc = subprocess.run(
            # --cluster-id=ID: a base64url id may start with "-", which argparse would take for an option.
            self._java(
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",
                "-c",
                str(self.properties),
                *self._format_args(),
            ),
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
        proc = self.launch()
        self._wait_healthy(proc.pid, proc)
        return self.status()

    def launch(self) -> subprocess.Popen:
        """Start the broker process and return at once (a cluster node cannot answer until a
        majority of the quorum runs, so the cluster launches every node before it waits)."""
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
        return proc

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
            lines = [
                l for l in self.log_file.read_text(errors="replace").splitlines() if "ERROR" in l or "Exception" in l
            ]
        except FileNotFoundError:
            return "no log"
        return lines[-1][-300:] if lines else f"see {self.log_file}"

    def stop(self) -> bool:
        """Stop the broker; True if one was running. Returns only when the process is gone."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._signal_and_wait(pid, signal.SIGTERM, STOP_TIMEOUT_S)
        return True

    def kill(self) -> int | None:
        """SIGKILL the broker (fault injection: no shutdown, no final flush); returns its pid
        once the process is gone, or None when it was not running."""
        pid = self._pid()
        if pid is None:
            return None
        self._signal_and_wait(pid, signal.SIGKILL, STOP_TIMEOUT_S)
        return pid

    def _signal_and_wait(self, pid: int, sig: int, timeout: float) -> None:
        os.kill(pid, sig)
        self._wait_gone(pid, timeout)

    def _wait_gone(self, pid: int, timeout: float) -> None:
        """Wait for the process to exit; SIGKILL it after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.1)  # polling a process exit; there is no portable wait on a non-child
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

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


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


# One SCRAM principal per service (the topic registry's `services/<name>`) and the super user.
ADMIN_USER = "admin"
SERVICE_USERS = ("ingest", "recognizer", "occupancy", "revenue", "audit")
# The broker's certificate subject: the principal of its own controller connection (mutual TLS).
BROKER_DN = "CN=kafka-broker"
CERT_VALIDITY_DAYS = 825
# A client certificate's subject CN=<service> is the principal User:<service> (the SCRAM users'
# names, so one set of ACLs serves both ways in); any other subject keeps its whole DN, which no
# ACL names except the broker's own super user.
PRINCIPAL_MAPPING = f"RULE:^CN=({'|'.join(SERVICE_USERS)})$/$1/,DEFAULT"


class SecureBroker(LocalBroker):
    """The local broker with authentication, encryption and authorization on (see the module doc).

    Layout under `<data_dir>/kafka-secure/`: `tls/` (ca.p12 with the CA key, ca.pem for clients,
    broker.p12, truststore.p12, `clients/<service>.pem|.key`: the services' client certificates),
    `secrets/` (`<user>.password`, `<user>.env`: the variables a client of that principal sets,
    `<service>.mtls.env`: the same by certificate, the keystore password), all 0600 in 0700 folders. Made once,
    at the first start; a restart reuses them (the SCRAM users live in the formatted storage).
    """

    def __init__(self, settings: BrokerSettings) -> None:
        super().__init__(settings)
        self.port = settings.kafka_secure_port
        self.controller_port = self.port + 1
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.home = Path(settings.data_dir) / "kafka-secure"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.properties = self.home / "server.properties"
        self.log_dirs = self.home / "data"
        self.tls = self.home / "tls"
        self.secrets = self.home / "secrets"
        self.ca_pem = self.tls / "ca.pem"
        self.mtls_port = self.port + 2
        self.mtls_bootstrap = f"127.0.0.1:{self.mtls_port}"

    # -- credentials ---------------------------------------------------------------------
    def password_file(self, user: str) -> Path:
        return self.secrets / f"{user}.password"

    def password(self, user: str) -> str:
        return self.password_file(user).read_text().strip()

    def security(self, user: str = ADMIN_USER):
        """The client security of `user` (admin or a service) on this broker."""
        from alpr.kafka.security import KafkaSecurity

        return KafkaSecurity.scram(user, self.password(user), ca_file=self.ca_pem)

    def client_env(self, user: str) -> dict[str, str]:
        """The `ALPR_KAFKA_*` variables of a client that connects as `user` (no password in them: a file)."""
        return {
            "ALPR_KAFKA_BOOTSTRAP": self.bootstrap,
            "ALPR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ALPR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "ALPR_KAFKA_USERNAME": user,
            "ALPR_KAFKA_PASSWORD_FILE": str(self.password_file(user)),
            "ALPR_KAFKA_CA_FILE": str(self.ca_pem),
        }

    def client_certificate(self, user: str) -> tuple[Path, Path]:
        """(certificate, key) PEM files of `user`'s client certificate (a service: CN=<user>)."""
        return self.tls / "clients" / f"{user}.pem", self.tls / "clients" / f"{user}.key"

    def mtls_security(self, user: str):
        """The client security of service `user` on the mutual-TLS listener (no password)."""
        from alpr.kafka.security import KafkaSecurity

        cert, key = self.client_certificate(user)
        return KafkaSecurity("SSL", ca_file=self.ca_pem, cert_file=cert, key_file=key)

    def mtls_env(self, user: str) -> dict[str, str]:
        """The `ALPR_KAFKA_*` variables of a client that connects as `user` by its certificate."""
        cert, key = self.client_certificate(user)
        return {
            "ALPR_KAFKA_BOOTSTRAP": self.mtls_bootstrap,
            "ALPR_KAFKA_SECURITY_PROTOCOL": "SSL",
            "ALPR_KAFKA_CA_FILE": str(self.ca_pem),
            "ALPR_KAFKA_CERT_FILE": str(cert),
            "ALPR_KAFKA_KEY_FILE": str(key),
        }

    @staticmethod
    def _write_secret(path: Path, text: str) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)

    def _ensure_secrets(self) -> None:
        for user in (ADMIN_USER, *SERVICE_USERS, "keystore"):
            if not self.password_file(user).exists():
                # URL-safe characters only: no quote, comma or bracket to break the JAAS or --add-scram syntax.
                self._write_secret(self.password_file(user), secrets.token_urlsafe(24) + "\n")
        for user in (ADMIN_USER, *SERVICE_USERS):
            env = "".join(f"{k}={v}\n" for k, v in self.client_env(user).items())
            self._write_secret(self.secrets / f"{user}.env", env)

    def _keytool(self, *args: str, stdin: str | None = None) -> str:
        keytool = shutil.which("keytool")
        if keytool is None:
            raise BrokerError("keytool (the JDK's) is not installed; the secure broker makes its certificates with it")
        # The store password comes from a file, never the command line (-storepass:file).
        proc = subprocess.run([keytool, *args], input=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BrokerError(f"keytool {args[0]} failed: {(proc.stdout + proc.stderr).strip()[-300:]}")
        return proc.stdout

    def _ensure_certificates(self) -> None:
        """A CA (kept only here) and the broker's certificate for 127.0.0.1/localhost, signed by it."""
        if (self.tls / "broker.p12").exists() and (self.tls / "truststore.p12").exists() and self.ca_pem.exists():
            return
        self.tls.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in ("ca.p12", "broker.p12", "truststore.p12", "ca.pem"):
            (self.tls / name).unlink(missing_ok=True)
        pw = ["-storepass:file", str(self.password_file("keystore")), "-storetype", "PKCS12"]
        ca, broker = str(self.tls / "ca.p12"), str(self.tls / "broker.p12")
        common = ["-keyalg", "EC", "-groupname", "secp256r1", "-validity", str(CERT_VALIDITY_DAYS)]
        self._keytool("-genkeypair", "-alias", "ca", "-dname", "CN=alpr-local-kafka-ca", "-ext", "bc:c", *common,
                      "-keystore", ca, *pw)  # fmt: skip
        ca_cert = self._keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", ca, *pw)
        self._keytool("-genkeypair", "-alias", "broker", "-dname", BROKER_DN, *common, "-keystore", broker, *pw)
        request = self._keytool("-certreq", "-alias", "broker", "-keystore", broker, *pw)
        signed = self._keytool(
            "-gencert", "-rfc", "-alias", "ca", "-keystore", ca, *pw, "-validity", str(CERT_VALIDITY_DAYS),
            "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-ext", "KU=digitalSignature,keyEncipherment",
            "-ext", "EKU=serverAuth,clientAuth", stdin=request,
        )  # fmt: skip
        ca_file = self.tls / "ca-import.pem"
        ca_file.write_text(ca_cert)
        self._keytool("-importcert", "-noprompt", "-alias", "ca", "-file", str(ca_file), "-keystore", broker, *pw)
        self._keytool("-importcert", "-alias", "broker", "-keystore", broker, *pw, stdin=signed)
        self._keytool(
            "-importcert", "-noprompt", "-alias", "ca", "-file", str(ca_file), "-keystore", str(self.tls / "truststore.p12"), *pw
        )  # fmt: skip
        ca_file.rename(self.ca_pem)
        for path in self.tls.iterdir():
            os.chmod(path, 0o600)

    @staticmethod
    def _openssl(*args: str) -> None:
        proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BrokerError(f"openssl {args[0]} failed: {(proc.stdout + proc.stderr).strip()[-300:]}")

    def _ensure_client_certificates(self) -> None:
        """A client certificate per service (CN=<service>, clientAuth), signed by the CA, as PEM
        files librdkafka and Python's ssl both load. keytool cannot write a PEM private key, so
        these are openssl's; without openssl the listener still runs and no service has a
        certificate (SCRAM stays the way in)."""
        if all(all(p.exists() for p in self.client_certificate(u)) for u in SERVICE_USERS):
            return
        if shutil.which("openssl") is None:
            return
        folder = self.tls / "clients"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca_key = folder / "ca.key.tmp"
        # The CA's key leaves its PKCS12 store only for these signatures, in a 0700 folder.
        self._openssl("pkcs12", "-in", str(self.tls / "ca.p12"), "-nocerts", "-nodes",
                      "-passin", f"file:{self.password_file('keystore')}", "-out", str(ca_key))  # fmt: skip
        ext = folder / "client.ext"
        ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        try:
            os.chmod(ca_key, 0o600)
            for user in SERVICE_USERS:
                cert, key = self.client_certificate(user)
                request = folder / f"{user}.csr"
                self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                              "-keyout", str(key), "-out", str(request), "-subj", f"/CN={user}")  # fmt: skip
                self._openssl("x509", "-req", "-in", str(request), "-CA", str(self.ca_pem), "-CAkey", str(ca_key),
                              "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", str(CERT_VALIDITY_DAYS),
                              "-extfile", str(ext), "-out", str(cert))  # fmt: skip
                request.unlink()
                os.chmod(key, 0o600)
                os.chmod(cert, 0o600)
        finally:
            ca_key.unlink(missing_ok=True)
            ext.unlink(missing_ok=True)

    # -- broker ----------------------------------------------------------------------------
    def _probe_config(self) -> dict:
        config = super()._probe_config()
        config.update(self.security(ADMIN_USER).client_config())
        return config

    def _properties(self) -> list[str]:
        store = self.password("keystore")
        admin = self.password(ADMIN_USER)
        changed = {
            "listeners": f"SASL_SSL://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port},"
            f"SSL://127.0.0.1:{self.mtls_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{self.port},SSL://127.0.0.1:{self.mtls_port}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL,SSL:SSL",
        }
        lines = [
            f"{k}={changed[k]}" if (k := line.partition("=")[0]) in changed else line for line in super()._properties()
        ]
        return lines + [
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN_USER}" password="{admin}";',
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={self.tls / 'broker.p12'}",
            f"ssl.keystore.password={store}",
            f"ssl.key.password={store}",
            "ssl.truststore.type=PKCS12",
            f"ssl.truststore.location={self.tls / 'truststore.p12'}",
            f"ssl.truststore.password={store}",
            "ssl.endpoint.identification.algorithm=https",
            # The controller listener takes only the broker's own certificate (mutual TLS).
            "listener.name.controller.ssl.client.auth=required",
            # The client listener SSL is mutual TLS: no certificate from the CA, no connection.
            "listener.name.ssl.ssl.client.auth=required",
            f"ssl.principal.mapping.rules={PRINCIPAL_MAPPING}",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{ADMIN_USER};User:{BROKER_DN}",
        ]

    def _write_properties(self) -> None:
        # The file holds the keystore and admin passwords: 0600, like the secrets.
        self._write_secret(self.properties, "\n".join(self._properties()) + "\n")

    def _format_args(self) -> list[str]:
        # The SCRAM users exist from the first start (KRaft keeps them in the metadata log).
        # Kafka takes them only as arguments of the format command, a short-lived local process.
        return [
            arg
            for user in (ADMIN_USER, *SERVICE_USERS)
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={self.password(user)}]")
        ]

    def launch(self) -> subprocess.Popen:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._ensure_secrets()
        self._ensure_certificates()
        self._ensure_client_certificates()
        for user in SERVICE_USERS:
            if self.client_certificate(user)[0].exists():
                env = "".join(f"{k}={v}\n" for k, v in self.mtls_env(user).items())
                self._write_secret(self.secrets / f"{user}.mtls.env", env)
        ensure_port_free("127.0.0.1", self.mtls_port)
        return super().launch()


# What the cluster promises every topic it creates itself (consumer offsets, transactions,
# topics without an explicit setting): three copies, an acknowledged write on at least two.
CLUSTER_REPLICATION = 3
CLUSTER_MIN_INSYNC = 2
CLUSTER_START_TIMEOUT_S = 180
CONTROLLER_PORT_OFFSET = 100
# The secure cluster's mutual-TLS listeners, above the controllers' ports.
MTLS_PORT_OFFSET = 200
CLUSTER_SIZES = (3, 4, 5)


class ClusterNode(LocalBroker):
    """One node of the local cluster: a broker and a controller in one process (combined mode),
    one of the quorum's voters, with its own ports, data and log."""

    def __init__(self, settings: BrokerSettings, cluster: LocalCluster, node_id: int) -> None:
        self.node_id = node_id
        self.cluster = cluster
        self.port = settings.kafka_cluster_port + node_id - 1
        self.controller_port = settings.kafka_cluster_port + CONTROLLER_PORT_OFFSET + node_id - 1
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.heap = settings.kafka_heap
        self.home = cluster.home / f"node-{node_id}"
        self.pid_file = self.home / "broker.pid"
        self.log_file = self.home / "broker.log"
        self.properties = self.home / "server.properties"
        self.log_dirs = self.home / "data"
        self.maven_repo = Path(settings.data_dir) / "lib" / "maven"

    def _properties(self) -> list[str]:
        replication = str(min(CLUSTER_REPLICATION, self.cluster.size))
        min_isr = str(min(CLUSTER_MIN_INSYNC, self.cluster.size))
        changed = {
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.cluster.voters,
            "offsets.topic.replication.factor": replication,
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replication,
            "share.coordinator.state.topic.min.isr": min_isr,
        }
        lines = [
            f"{k}={changed[k]}" if (k := line.partition("=")[0]) in changed else line for line in super()._properties()
        ]
        return lines + [
            f"default.replication.factor={replication}",
            f"min.insync.replicas={min_isr}",
            # An acknowledged write must survive the loss of its leader: never elect a replica
            # that was out of sync (Kafka's default, said here because failover relies on it).
            "unclean.leader.election.enable=false",
        ]

    def _cluster_id(self) -> str:
        return self.cluster.cluster_id()


class SecureClusterNode(ClusterNode, SecureBroker):
    """A node of the secure local cluster (`alpr kafka start --brokers 3 --secure`): the secure
    broker's listeners (SASL_SSL, mutual TLS for the controllers and on its own SSL port) and
    authorizer, on the node's ports, with the cluster's one CA, broker certificate (a SAN of
    127.0.0.1 serves every node), passwords and SCRAM users, under `<cluster home>/tls|secrets`.
    Inter-broker traffic is SASL_SSL as the admin, controller traffic mutual TLS by the broker's
    certificate: both super users, so replication needs no ACL."""

    def __init__(self, settings: BrokerSettings, cluster: LocalCluster, node_id: int) -> None:
        ClusterNode.__init__(self, settings, cluster, node_id)
        self.tls = cluster.home / "tls"
        self.secrets = cluster.home / "secrets"
        self.ca_pem = self.tls / "ca.pem"
        self.mtls_port = settings.kafka_cluster_port + MTLS_PORT_OFFSET + node_id - 1
        self.mtls_bootstrap = f"127.0.0.1:{self.mtls_port}"

    # A client of the cluster bootstraps from every node, not from this one.
    def client_env(self, user: str) -> dict[str, str]:
        return {**SecureBroker.client_env(self, user), "ALPR_KAFKA_BOOTSTRAP": self.cluster.bootstrap}

    def mtls_env(self, user: str) -> dict[str, str]:
        return {**SecureBroker.mtls_env(self, user), "ALPR_KAFKA_BOOTSTRAP": self.cluster.mtls_bootstrap}


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(frozen=True)
class ClusterHealth:
    """What the cluster's metadata says: the brokers it lists, and each partition's leader and ISR."""

    size: int
    running: dict[int, int | None]  # node id -> pid (None: not running)
    brokers: tuple[int, ...]  # node ids the metadata lists (registered, not fenced)
    partitions: tuple[PartitionState, ...]
    bootstrap: str

    @property
    def leaderless(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.leader < 0]

    @property
    def under_replicated(self) -> list[PartitionState]:
        return [p for p in self.partitions if set(p.isr) != set(p.replicas)]

    @property
    def healthy(self) -> bool:
        """Every node runs and is listed, and every partition has a leader."""
        return (
            all(pid is not None for pid in self.running.values())
            and len(self.brokers) == self.size
            and not self.leaderless
        )

    @property
    def healed(self) -> bool:
        """Healthy, and every partition's in-sync replicas are all of its replicas."""
        return self.healthy and not self.under_replicated


class LocalCluster:
    """A local KRaft cluster of `brokers` combined nodes on 127.0.0.1, for failover tests.

    Every node is a voter of the controller quorum and a broker (see docs/architecture.md for
    why combined mode is fine here and not in production). Ports come from
    `ALPR_KAFKA_CLUSTER_PORT`; data lives in `<data_dir>/kafka-cluster/`, apart from the single
    broker's `<data_dir>/kafka/`, so both can run at once.
    """

    def __init__(self, settings: BrokerSettings, brokers: int = 3, secure: bool = False) -> None:
        if brokers not in CLUSTER_SIZES:
            raise BrokerError(
                f"a local cluster has {', '.join(map(str, CLUSTER_SIZES))} brokers, not {brokers}: every node is a "
                "controller, and a quorum of two voters stops when either is lost (use --brokers 1 for the single broker)"
            )
        self.size = brokers
        self.secure = secure
        # The secure cluster has its own data (its storage holds the SCRAM users), same ports.
        self.home = Path(settings.data_dir) / ("kafka-cluster-secure" if secure else "kafka-cluster")
        self.meta_file = self.home / "cluster.json"
        self.base_port = settings.kafka_cluster_port
        node = SecureClusterNode if secure else ClusterNode
        self.nodes = {i: node(settings, self, i) for i in range(1, brokers + 1)}
        self.bootstrap = ",".join(n.bootstrap for n in self.nodes.values())
        self.mtls_bootstrap = ",".join(getattr(n, "mtls_bootstrap", "") for n in self.nodes.values())
        self.voters = ",".join(f"{i}@127.0.0.1:{n.controller_port}" for i, n in self.nodes.items())

    @property
    def secrets(self) -> Path:
        """The secure cluster's `<user>.env` and password files (see SecureBroker)."""
        return self.home / "secrets"

    def first(self) -> SecureClusterNode:
        node = self.nodes[1]
        if not isinstance(node, SecureClusterNode):
            raise BrokerError("the plaintext local cluster has no credentials (alpr kafka start --brokers N --secure)")
        return node

    def security(self, user: str = ADMIN_USER):
        """The client security of `user` (admin or a service) on the secure cluster."""
        return self.first().security(user)

    def client_env(self, user: str) -> dict[str, str]:
        """The `ALPR_KAFKA_*` variables of a client of the secure cluster that connects as `user`."""
        return self.first().client_env(user)

    def cluster_id(self) -> str:
        """The id every node's storage is formatted with; written once, checked at each start."""
        if self.meta_file.exists():
            return json.loads(self.meta_file.read_text())["cluster_id"]
        self.home.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        self.meta_file.write_text(
            json.dumps({"cluster_id": cluster_id, "brokers": self.size, "port": self.base_port}) + "\n"
        )
        return cluster_id

    def _check_layout(self) -> None:
        if not self.meta_file.exists():
            return
        meta = json.loads(self.meta_file.read_text())
        if (meta["brokers"], meta["port"]) != (self.size, self.base_port):
            raise BrokerError(
                f"the local cluster in {self.home} has {meta['brokers']} brokers from port {meta['port']}; "
                f"stop it and remove that folder to make one of {self.size} from port {self.base_port}"
            )

    # -- life cycle ----------------------------------------------------------------------
    def start(self, timeout: float = CLUSTER_START_TIMEOUT_S) -> ClusterHealth:
        """Start every node that is not running (all of them, or one that was stopped or
        killed) and return once the cluster is healthy: every broker listed, every partition
        led. A node cannot answer before a majority of voters runs, so all are launched first."""
        self._check_layout()
        procs = {i: n.launch() for i, n in self.nodes.items() if n._pid() is None}
        return self.wait_healthy(timeout, procs)

    def stop(self) -> list[int]:
        """Stop every node (SIGTERM to all at once: a node stopping alone would wait for a
        quorum the others are leaving); returns the ids that were running."""
        running = {i: pid for i, n in self.nodes.items() if (pid := n._pid()) is not None}
        for pid in running.values():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for i, pid in running.items():
            self.nodes[i]._wait_gone(pid, max(1.0, deadline - time.monotonic()))
        return sorted(running)

    def stop_node(self, node_id: int) -> bool:
        return self._node(node_id).stop()

    def kill(self, node_id: int) -> int | None:
        """SIGKILL one node (fault injection); returns its pid once it is gone."""
        return self._node(node_id).kill()

    def _node(self, node_id: int) -> ClusterNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise BrokerError(f"the local cluster has nodes {', '.join(map(str, self.nodes))}, not {node_id}") from None

    # -- health --------------------------------------------------------------------------
    def health(self, timeout: float = 5.0) -> ClusterHealth:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        running = {i: n._pid() for i, n in self.nodes.items()}
        live = ",".join(n.bootstrap for i, n in self.nodes.items() if running[i] is not None)
        brokers: tuple[int, ...] = ()
        partitions: list[PartitionState] = []
        if live:
            # log_level 0: a node that is starting or was just killed is expected to refuse.
            config: dict[str, str | int | float | bool] = {
                "bootstrap.servers": live,
                "socket.connection.setup.timeout.ms": 2000,
                "log_level": 0,
            }
            if self.secure:
                config.update(self.security(ADMIN_USER).client_config())
            admin = AdminClient(config)
            try:
                md = admin.list_topics(timeout=timeout)
            except KafkaException:
                md = None
            if md is not None:
                brokers = tuple(sorted(md.brokers))
                for t in md.topics.values():
                    for p in t.partitions.values():
                        partitions.append(
                            PartitionState(str(t.topic), p.id, p.leader, tuple(p.replicas), tuple(p.isrs))
                        )
        return ClusterHealth(self.size, running, brokers, tuple(partitions), self.bootstrap)

    def wait_healthy(
        self, timeout: float = CLUSTER_START_TIMEOUT_S, procs: dict[int, subprocess.Popen] | None = None
    ) -> ClusterHealth:
        return self._wait(lambda h: h.healthy, "every broker listed and every partition led", timeout, procs)

    def wait_healed(self, timeout: float = CLUSTER_START_TIMEOUT_S) -> ClusterHealth:
        return self._wait(lambda h: h.healed, "every partition's in-sync replicas back to all its replicas", timeout)

    def _wait(self, done, what: str, timeout: float, procs: dict[int, subprocess.Popen] | None = None) -> ClusterHealth:
        deadline = time.monotonic() + timeout
        health = self.health()
        while not done(health):
            for i, proc in (procs or {}).items():
                if proc.poll() is not None:
                    raise BrokerError(
                        f"cluster node {i} exited with code {proc.returncode}: {self.nodes[i]._log_tail()}"
                    )
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"the local cluster did not reach '{what}' within {timeout:.0f}s: brokers {list(health.brokers)} of "
                    f"{self.size}, {len(health.leaderless)} partitions without a leader, "
                    f"{len(health.under_replicated)} under-replicated"
                )
            time.sleep(0.2)  # polling the metadata between requests, not waiting for an outcome
            health = self.health(timeout=2.0)
        return health

    def leader(self, topic: str, partition: int) -> int:
        for p in self.health().partitions:
            if (p.topic, p.partition) == (topic, partition):
                return p.leader
        raise BrokerError(f"no partition {partition} of {topic} in the cluster's metadata")
