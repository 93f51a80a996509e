"""How a Kafka client proves who it is and encrypts its traffic: one value for every client.

`KafkaSecurity` is built from the validated settings (`ALPR_KAFKA_SECURITY_PROTOCOL`,
`ALPR_KAFKA_USERNAME`, `ALPR_KAFKA_PASSWORD_FILE` or `ALPR_KAFKA_PASSWORD`, `ALPR_KAFKA_CA_FILE`,
`ALPR_KAFKA_CERT_FILE`/`ALPR_KAFKA_KEY_FILE`) and turned into librdkafka's keys
(`client_config`, merged by every function of `alpr.kafka.config`) or into what `faust.App`
takes (`faust_credentials`).

Every client of the platform gets it in one place: `alpr.kafka.config` uses the process-wide
value (`configure(...)` at service start, else built once from the environment, whose
`ALPR_KAFKA_*` variables every service reads alike), and a caller that needs another principal
(a test, an admin command) passes `security=` explicitly. The password lives in a `SecretStr`:
its repr and str are masked, and `client_config` is the only place it is revealed, to librdkafka.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from alpr.credentials import read_secret, refuse_placeholder, refuse_placeholder_file

Protocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
PROTOCOLS: tuple[str, ...] = ("PLAINTEXT", "SSL", "SASL_SSL")
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaSecurity:
    """A client's security: PLAINTEXT (development only), SSL (TLS, mutual with a client
    certificate) or SASL_SSL (TLS plus a SCRAM user). Validated at construction."""

    protocol: Protocol = "PLAINTEXT"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    mechanism: str = MECHANISM

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"ALPR_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, not {self.protocol}")
        if self.mechanism != MECHANISM:
            raise ValueError(f"ALPR_KAFKA_SASL_MECHANISM must be {MECHANISM}, not {self.mechanism}")
        if self.protocol == "PLAINTEXT":
            given = [
                name
                for name, value in (
                    ("ALPR_KAFKA_USERNAME", self.username),
                    ("ALPR_KAFKA_PASSWORD(_FILE)", self.password),
                    ("ALPR_KAFKA_CA_FILE", self.ca_file),
                    ("ALPR_KAFKA_CERT_FILE", self.cert_file),
                    ("ALPR_KAFKA_KEY_FILE", self.key_file),
                )
                if value is not None
            ]
            if given:
                # Credentials with PLAINTEXT would be silently unused: a client that believes
                # it authenticates while it does not.
                raise ValueError(
                    f"{', '.join(given)} set but ALPR_KAFKA_SECURITY_PROTOCOL is PLAINTEXT; set it to SASL_SSL or SSL"
                )
            return
        if self.protocol == "SASL_SSL" and (not self.username or self.password is None):
            raise ValueError("SASL_SSL needs ALPR_KAFKA_USERNAME and ALPR_KAFKA_PASSWORD_FILE (or ALPR_KAFKA_PASSWORD)")
        if self.protocol == "SSL" and (self.username or self.password is not None):
            raise ValueError("SSL authenticates by certificate; ALPR_KAFKA_USERNAME/PASSWORD belong to SASL_SSL")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("mutual TLS needs both ALPR_KAFKA_CERT_FILE and ALPR_KAFKA_KEY_FILE")
        if self.protocol == "SSL" and self.cert_file is None:
            raise ValueError("SSL needs a client certificate (ALPR_KAFKA_CERT_FILE, ALPR_KAFKA_KEY_FILE)")
        for name, path in (
            ("ALPR_KAFKA_CA_FILE", self.ca_file),
            ("ALPR_KAFKA_CERT_FILE", self.cert_file),
            ("ALPR_KAFKA_KEY_FILE", self.key_file),
        ):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name} {path} is not a readable file")
            if path is not None:
                refuse_placeholder_file(Path(path), name)  # the CA of infra/k8s/secrets.yaml, unchanged
        if self.password is not None:
            refuse_placeholder("ALPR_KAFKA_PASSWORD", self.password.get_secret_value())

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Any) -> KafkaSecurity:
        """From `CommonSettings` (any object with its `kafka_*` fields); raises ValueError
        naming the variable to set. Production refuses PLAINTEXT."""
        password = settings.kafka_password
        if settings.kafka_password_file is not None:
            if password is not None:
                raise ValueError("set ALPR_KAFKA_PASSWORD_FILE or ALPR_KAFKA_PASSWORD, not both")
            password = read_password(Path(settings.kafka_password_file))
        if settings.environment == "production" and settings.kafka_security_protocol == "PLAINTEXT":
            raise ValueError(
                "ALPR_KAFKA_SECURITY_PROTOCOL is PLAINTEXT (development only): production needs SASL_SSL or SSL"
            )
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=password,
            ca_file=settings.kafka_ca_file,
            cert_file=settings.kafka_cert_file,
            key_file=settings.kafka_key_file,
        )

    @classmethod
    def scram(cls, username: str, password: str, ca_file: Path | None = None) -> KafkaSecurity:
        return cls("SASL_SSL", username=username, password=SecretStr(password), ca_file=ca_file)

    @property
    def plaintext(self) -> bool:
        return self.protocol == "PLAINTEXT"

    # -- what clients take ---------------------------------------------------------------
    def client_config(self) -> dict[str, Any]:
        """librdkafka's keys (confluent-kafka Producer, Consumer, AdminClient)."""
        if self.plaintext:
            return {}
        config: dict[str, Any] = {
            "security.protocol": self.protocol,
            # The broker's certificate must name the host the client dialled (librdkafka's default, said here).
            "ssl.endpoint.identification.algorithm": "https",
        }
        if self.ca_file is not None:
            config["ssl.ca.location"] = str(self.ca_file)
        if self.cert_file is not None and self.key_file is not None:
            config["ssl.certificate.location"] = str(self.cert_file)
            config["ssl.key.location"] = str(self.key_file)
        if self.protocol == "SASL_SSL":
            assert self.password is not None  # checked in __post_init__
            config["sasl.mechanism"] = self.mechanism
            config["sasl.username"] = self.username
            config["sasl.password"] = self.password.get_secret_value()
        return config

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context (hostname checked) for aiokafka/faust."""
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None
        )
        if self.cert_file is not None and self.key_file is not None:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def read_password(path: Path) -> SecretStr:
    return read_secret(path, "ALPR_KAFKA_PASSWORD_FILE")


def faust_credentials(security: KafkaSecurity) -> Any:
    """What `faust.App(broker_credentials=...)` takes for `security`: `faust.SASLCredentials`
    (SCRAM over TLS), `faust.SSLCredentials` (mutual TLS), or None for PLAINTEXT. faust hands
    the same credentials to its consumer, producer and admin client (aiokafka)."""
    if security.plaintext:
        return None
    import faust

    if security.protocol == "SSL":
        return faust.SSLCredentials(security.ssl_context())
    assert security.password is not None
    return faust.SASLCredentials(
        username=security.username,
        password=security.password.get_secret_value(),
        ssl_context=security.ssl_context(),
        mechanism=security.mechanism,
    )


# -- the process-wide value ---------------------------------------------------------------
_lock = threading.Lock()
_current: KafkaSecurity | None = None


def configure(security: KafkaSecurity | Any) -> KafkaSecurity:
    """Set the security every client of this process uses by default: a `KafkaSecurity`, or
    settings (`CommonSettings`) to build it from. Called once at service start."""
    global _current
    value = security if isinstance(security, KafkaSecurity) else KafkaSecurity.from_settings(security)
    with _lock:
        _current = value
    return value


def current() -> KafkaSecurity:
    """The process-wide security: what `configure` set, else built once from the environment
    (the same shared `ALPR_KAFKA_*` variables every service's settings read)."""
    global _current
    with _lock:
        if _current is None:
            from alpr.settings import CommonSettings, load_settings

            _current = KafkaSecurity.from_settings(load_settings(CommonSettings))
        return _current


def reset() -> None:
    """Forget the process-wide value (tests)."""
    global _current
    with _lock:
        _current = None


# The variables that carry a client's security (alpr.settings.CommonSettings); a child process
# started with a clean ALPR_* environment gets these to connect as its parent does.
SECURITY_VARIABLES = (
    "ALPR_KAFKA_SECURITY_PROTOCOL",
    "ALPR_KAFKA_SASL_MECHANISM",
    "ALPR_KAFKA_USERNAME",
    "ALPR_KAFKA_PASSWORD",
    "ALPR_KAFKA_PASSWORD_FILE",
    "ALPR_KAFKA_CA_FILE",
    "ALPR_KAFKA_CERT_FILE",
    "ALPR_KAFKA_KEY_FILE",
)


def inherited_environment() -> dict[str, str]:
    """This process's Kafka security variables, for a service process it starts (a bench)."""
    import os

    return {k: os.environ[k] for k in SECURITY_VARIABLES if k in os.environ}
