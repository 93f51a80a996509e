"""Settings: one frozen, validated class per service, read from `ALPR_*` environment variables.

`CommonSettings` holds what every service needs (where Kafka and ClickHouse are, where local
data lives, the token secret); each service subclasses it and adds its own fields. Settings
are loaded once through `load_settings(cls)`, which turns every validation problem into a
one-line `ConfigError`:

- an `ALPR_*` variable that no settings class knows (a typo) is refused, not ignored;
- placeholder secrets are refused outside `environment=development|test`;
- a ClickHouse URL must be a plain http(s) URL;
- Kafka security (`ALPR_KAFKA_SECURITY_PROTOCOL` and the credentials) must be complete, and
  production refuses PLAINTEXT (`alpr.kafka.security.KafkaSecurity` is what clients receive).
"""

from __future__ import annotations

import functools
import importlib
import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alpr.credentials import SecretFileError, read_secret, refuse_placeholder, refuse_placeholder_file
from alpr.errors import ConfigError

ENV_PREFIX = "ALPR_"
# Variables with the prefix that are not settings fields but are read by tooling.
RESERVED_ENV = {"ALPR_DATASETS"}
PLACEHOLDER_SECRET = "change-me-development-only-not-a-secret"

# Entry-point group naming every module that defines settings classes (pyproject.toml).
SETTINGS_ENTRY_POINTS = "alpr.settings"

from alpr.libstate import REPO_ROOT  # noqa: E402  (one definition of the checkout's root)


def shared(name: str) -> str:
    """The variable of a setting read alike by every service that has it (a `validation_alias`):
    `ALPR_<NAME>`, not namespaced."""
    return ENV_PREFIX + name.upper()


class CommonSettings(BaseSettings):
    """What every service reads, under one name for all of them (`ALPR_KAFKA_BOOTSTRAP`). A
    service's own settings are namespaced by its class's `env_prefix` (`ALPR_OCCUPANCY_BATCH_MAX`),
    so one environment (compose, a ConfigMap) configures every service and no two services
    share a variable by accident; a field every service must read alike names its variable
    with `validation_alias` (`shared`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True, populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="Deployment stage; production refuses placeholder secrets.",
        validation_alias="ALPR_ENVIRONMENT",
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        description="Kafka bootstrap servers, host:port[,host:port].",
        validation_alias="ALPR_KAFKA_BOOTSTRAP",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every Kafka client connects: PLAINTEXT (development only; refused in production), SSL "
        "(TLS; mutual TLS with ALPR_KAFKA_CERT_FILE/KEY_FILE) or SASL_SSL (TLS plus a SCRAM user).",
        validation_alias=shared("kafka_security_protocol"),
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512",
        description="SASL mechanism of SASL_SSL.",
        validation_alias=shared("kafka_sasl_mechanism"),
    )
    kafka_username: str | None = Field(
        None,
        min_length=1,
        description="SCRAM user of this service's Kafka principal (SASL_SSL).",
        validation_alias=shared("kafka_username"),
    )
    kafka_password: SecretStr | None = Field(
        None,
        description="SCRAM password from the environment (a Secret); prefer ALPR_KAFKA_PASSWORD_FILE.",
        validation_alias=shared("kafka_password"),
    )
    kafka_password_file: Path | None = Field(
        None,
        description="File holding the SCRAM password (one line; a mounted Secret). Never on a command line.",
        validation_alias=shared("kafka_password_file"),
    )
    kafka_ca_file: Path | None = Field(
        None,
        description="PEM CA certificate(s) that sign the brokers' certificates (SSL, SASL_SSL). Empty: system CAs.",
        validation_alias=shared("kafka_ca_file"),
    )
    kafka_cert_file: Path | None = Field(
        None,
        description="PEM client certificate for mutual TLS (with ALPR_KAFKA_KEY_FILE).",
        validation_alias=shared("kafka_cert_file"),
    )
    kafka_key_file: Path | None = Field(
        None,
        description="PEM private key (unencrypted, mode 0600) of ALPR_KAFKA_CERT_FILE.",
        validation_alias=shared("kafka_key_file"),
    )
    clickhouse_url: str | None = Field(
        None,
        description="ClickHouse server URL (http://user:pass@host:8123). Empty: embedded chDB.",
        validation_alias="ALPR_CLICKHOUSE_URL",
    )
    clickhouse_ca_file: Path | None = Field(
        None,
        description="PEM CA that signs the ClickHouse server's certificate (an https:// URL). Empty: the system's CAs.",
        validation_alias="ALPR_CLICKHOUSE_CA_FILE",
    )
    clickhouse_cluster: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$",
        description="ClickHouse cluster (remote_servers) for migrations ON CLUSTER: Replicated tables, Distributed "
        "for reads. Needs ALPR_CLICKHOUSE_URL. Empty: plain tables on one server or chDB.",
        validation_alias="ALPR_CLICKHOUSE_CLUSTER",
    )
    # Logins of the ClickHouse server (alpr.store.grants makes them). Not shared: each service
    # has its own (`ALPR_OCCUPANCY_CLICKHOUSE_USER`); plain `ALPR_CLICKHOUSE_USER` is the
    # migrator's, for `alpr db migrate`. Passwords are read from files (a mounted Secret), never
    # from a URL that could be logged. With a user set, a service runs no DDL: it checks that
    # `alpr db migrate` ran, and its API reads through the read-only `api` login.
    clickhouse_user: str | None = Field(
        None, pattern=r"^[a-z_][a-z0-9_]*$", description="ClickHouse login of this service's writer (or the migrator)."
    )
    clickhouse_password_file: Path | None = Field(None, description="File holding clickhouse_user's password.")
    clickhouse_api_user: str | None = Field(
        None, pattern=r"^[a-z_][a-z0-9_]*$", description="Read-only ClickHouse login of this service's API."
    )
    clickhouse_api_password_file: Path | None = Field(None, description="File holding clickhouse_api_user's password.")
    data_dir: Path = Field(
        REPO_ROOT / "var",
        description="Local state: chDB directories (one per service), broker data, faust tables.",
        validation_alias="ALPR_DATA_DIR",
    )
    auth_secret: SecretStr = Field(
        SecretStr(PLACEHOLDER_SECRET),
        description="HMAC secret that signs access tokens; shared by every service.",
        validation_alias="ALPR_AUTH_SECRET",
    )
    access_purposes_file: Path | None = Field(
        None,
        description="YAML list of the purposes a plate search, image view or evidence download may state "
        "({code, label, needs_case}; alpr.purposes). Empty: the authorized uses of policy section 4.",
        validation_alias="ALPR_ACCESS_PURPOSES_FILE",
    )
    topic_prefix: str = Field(
        "",
        pattern=r"^[a-z0-9._-]*$",
        description="Prefix of every topic name (isolated demo or test runs on a shared broker).",
        validation_alias="ALPR_TOPIC_PREFIX",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="Log level of the JSON-lines logs.",
        validation_alias="ALPR_LOG_LEVEL",
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_is_host_port(cls, value: str) -> str:
        for part in value.split(","):
            host, _, port = part.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{part!r} is not host:port")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_url_shape(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _cluster_needs_a_server(self):
        if self.clickhouse_cluster and not self.clickhouse_url:
            raise ValueError("clickhouse_cluster needs clickhouse_url: embedded chDB has no cluster")
        return self

    @model_validator(mode="after")
    def _clickhouse_logins(self):
        from urllib.parse import urlparse

        for user, path in (
            (self.clickhouse_user, self.clickhouse_password_file),
            (self.clickhouse_api_user, self.clickhouse_api_password_file),
        ):
            if user and not path:
                raise ValueError(f"ClickHouse user {user} needs its password file (…_PASSWORD_FILE)")
        if self.clickhouse_ca_file is not None:
            refuse_placeholder_file(Path(self.clickhouse_ca_file), "ALPR_CLICKHOUSE_CA_FILE")
        if self.clickhouse_url and self.environment == "production":
            if urlparse(self.clickhouse_url).password:
                raise ValueError("the ClickHouse URL carries a password: use the *_CLICKHOUSE_PASSWORD_FILE settings")
            if not self.clickhouse_user:
                raise ValueError("production needs a ClickHouse login of the service's own (…_CLICKHOUSE_USER)")
        return self

    def clickhouse_login(self, purpose: str = "write") -> tuple[str, str] | None:
        """(user, password) for `purpose` ("write": the service's writer or the migrator; "api":
        the read-only login, falling back to the writer's); None: the URL's own login."""
        user, path = self.clickhouse_user, self.clickhouse_password_file
        if purpose == "api" and self.clickhouse_api_user:
            user, path = self.clickhouse_api_user, self.clickhouse_api_password_file
        if not user or path is None:
            return None
        try:
            return user, read_secret(Path(path), f"the ClickHouse password file of {user}").get_secret_value()
        except SecretFileError as err:
            raise ConfigError(str(err)) from None

    @model_validator(mode="after")
    def _no_placeholder_secret_in_production(self):
        if self.environment == "production" and self.auth_secret.get_secret_value() == PLACEHOLDER_SECRET:
            raise ValueError("auth_secret is the development placeholder; set ALPR_AUTH_SECRET")
        refuse_placeholder("ALPR_AUTH_SECRET", self.auth_secret.get_secret_value())
        if len(self.auth_secret.get_secret_value()) < 16:
            raise ValueError("auth_secret must be at least 16 characters")
        return self

    @model_validator(mode="after")
    def _kafka_security_is_complete(self):
        from alpr.kafka.security import KafkaSecurity

        # Raises ValueError with the variable to set; production refuses PLAINTEXT there.
        KafkaSecurity.from_settings(self)
        return self


class ServiceSettings(CommonSettings):
    """Common settings plus the HTTP listener that every service runs. A service's class sets
    `model_config = SettingsConfigDict(env_prefix="ALPR_<SERVICE>_")`: its own fields, the
    listener's included, are read as `ALPR_<SERVICE>_<FIELD>`."""

    http_host: str = Field("127.0.0.1", description="Address of the service's HTTP API.")
    http_port: int = Field(8000, ge=0, le=65535, description="Port of the service's HTTP API (0: any free port).")
    trusted_proxies: str = Field(
        "",
        description="Addresses or networks (comma-separated) whose X-Forwarded-For header names the client that "
        "the audit trail records: the governance host that forwards the console's calls, a reverse proxy. "
        "Empty (default): no forwarded address is believed, the connecting address is recorded.",
        validation_alias=shared("trusted_proxies"),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        # uvicorn would also take "*" and names; an audit trail that any caller can point elsewhere
        # (or a name resolved later) is not one, so only literal addresses and networks are taken.
        entries = [v.strip() for v in value.split(",") if v.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.4.7, 10.0.4.0/24)") from None
        return ",".join(entries)


S = TypeVar("S", bound=CommonSettings)


def env_names(cls: type[CommonSettings]) -> dict[str, str]:
    """Field -> the environment variable that sets it in `cls`."""
    prefix = cls.model_config.get("env_prefix", ENV_PREFIX)
    return {
        name: field.validation_alias if isinstance(field.validation_alias, str) else prefix + name.upper()
        for name, field in cls.model_fields.items()
    }


def _all_settings_classes() -> list[type[CommonSettings]] | None:
    """Every settings class of every service, so the unknown-variable check knows every field
    (one environment configures all services). The modules are named by the package's
    `alpr.settings` entry points, so this kernel imports no service by name; None when the
    package is not installed (no entry points: the check cannot know the fields)."""
    from importlib.metadata import entry_points

    modules = [ep.value for ep in entry_points(group=SETTINGS_ENTRY_POINTS)]
    if not modules:
        return None
    for name in modules:
        importlib.import_module(name)
    seen: list[type[CommonSettings]] = []
    stack: list[type[CommonSettings]] = [CommonSettings]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


def known_env_names() -> set[str] | None:
    """Every `ALPR_*` name some setting reads (None: unknown, the package is not installed)."""
    classes = _all_settings_classes()
    if classes is None:
        return None
    names = set(RESERVED_ENV)
    for cls in classes:
        if cls is not ServiceSettings:  # a base: its fields are read under each service's prefix
            names.update(env_names(cls).values())
    return names


def check_unknown_env(environ: dict[str, str] | None = None) -> None:
    environ = dict(os.environ if environ is None else environ)
    known = known_env_names()
    if known is None:  # run from a checkout that `make venv` did not install: nothing to check against
        return
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        # A name from before the settings were namespaced: say which services' names it became.
        hints = []
        for k in unknown:
            rest = k[len(ENV_PREFIX) :]
            now = sorted(n for n in known if n.endswith("_" + rest) and n != k)
            if now:
                hints.append(f"{k} is now {' or '.join(now)}")
        hint = f"; {'; '.join(hints)}" if hints else ""
        raise ConfigError(f"unknown setting {', '.join(unknown)} (no ALPR setting has that name{hint})")


def load_settings(cls: type[S], **overrides) -> S:
    """Validate the environment (plus explicit overrides) into `cls`, or raise one-line ConfigError."""
    check_unknown_env()
    try:
        return cls(**overrides)
    except ValidationError as err:
        problems = []
        names = env_names(cls)
        for e in err.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            name = names.get(field, ENV_PREFIX + field.upper()) if e["loc"] else cls.__name__
            problems.append(f"{name}: {e['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@functools.cache
def cached_settings(cls: type[S]) -> S:
    """The process-wide settings of `cls`, for FastAPI dependencies (`Depends(...)`)."""
    return load_settings(cls)


def ensure_port_free(host: str, port: int) -> None:
    """Fail at start, with one line, when the listening port is already taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise ConfigError(f"port {host}:{port} is not available ({err.strerror})") from None
