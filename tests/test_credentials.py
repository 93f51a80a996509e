"""Secrets from files, placeholders refused, and the logins of the stores (issue 20).

The ClickHouse CA is checked against a real TLS server (Python's, with a certificate signed by
a CA made here with openssl); the governance password against a real PostgreSQL server that
takes SCRAM passwords only."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from alpr.credentials import SecretFileError, read_secret
from alpr.errors import ConfigError, StoreError
from alpr.settings import CommonSettings, load_settings

AUTH = "a-test-auth-secret-of-forty-characters-xx"


def _scram_env(monkeypatch, tmp_path: Path, password: str, ca: str = "-----BEGIN CERTIFICATE-----\n") -> None:
    (tmp_path / "kafka.password").write_text(password + "\n")
    (tmp_path / "ca.pem").write_text(ca)
    for key, value in {
        "ALPR_AUTH_SECRET": AUTH,
        "ALPR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ALPR_KAFKA_USERNAME": "ingest",
        "ALPR_KAFKA_PASSWORD_FILE": str(tmp_path / "kafka.password"),
        "ALPR_KAFKA_CA_FILE": str(tmp_path / "ca.pem"),
    }.items():
        monkeypatch.setenv(key, value)


def test_a_secret_file_is_read_once_and_its_faults_name_the_setting_not_the_value(tmp_path):
    good = tmp_path / "good"
    good.write_text("s3cret-value-of-the-file\n")
    assert read_secret(good, "ALPR_X_FILE").get_secret_value() == "s3cret-value-of-the-file"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    placeholder = tmp_path / "placeholder"
    placeholder.write_text("REPLACE-ME-scram-password-of-User:ingest\n")
    for path, why in ((tmp_path / "missing", "cannot be read"), (empty, "is empty"), (placeholder, "placeholder")):
        with pytest.raises(SecretFileError) as err:
            read_secret(path, "ALPR_X_FILE")
        assert "ALPR_X_FILE" in str(err.value) and str(path) in str(err.value) and why in str(err.value)
        assert "scram-password-of" not in str(err.value)  # the file's text is never repeated


def test_kafka_settings_refuse_the_placeholder_password_and_ca_of_the_deployment_files(monkeypatch, tmp_path):
    _scram_env(monkeypatch, tmp_path, "a-real-password-of-24-chars")
    assert load_settings(CommonSettings).kafka_username == "ingest"

    _scram_env(monkeypatch, tmp_path, "REPLACE-ME-scram-password-of-User:ingest")
    with pytest.raises(ConfigError, match="ALPR_KAFKA_PASSWORD_FILE .* placeholder"):
        load_settings(CommonSettings)

    # secrets.yaml's CA, unchanged: refused at start, not as a TLS failure later.
    _scram_env(monkeypatch, tmp_path, "a-real-password-of-24-chars", ca="REPLACE-ME-the-CA-certificate\n")
    with pytest.raises(ConfigError, match="ALPR_KAFKA_CA_FILE .* placeholder"):
        load_settings(CommonSettings)

    _scram_env(monkeypatch, tmp_path, "a-real-password-of-24-chars")
    monkeypatch.delenv("ALPR_KAFKA_PASSWORD_FILE")
    monkeypatch.setenv("ALPR_KAFKA_PASSWORD", "REPLACE-ME-scram-password")
    with pytest.raises(ConfigError, match="ALPR_KAFKA_PASSWORD .*placeholder"):
        load_settings(CommonSettings)


def test_a_placeholder_auth_secret_is_refused_in_every_environment(monkeypatch):
    monkeypatch.setenv("ALPR_AUTH_SECRET", "REPLACE-ME-an-hmac-key-of-32-bytes")
    with pytest.raises(ConfigError, match="ALPR_AUTH_SECRET.*placeholder"):
        load_settings(CommonSettings)


def test_a_clickhouse_login_with_a_placeholder_password_does_not_start(monkeypatch, tmp_path):
    from services.occupancy.settings import OccupancySettings

    (tmp_path / "pw").write_text("REPLACE-ME-password-of-alpr_occupancy\n")
    monkeypatch.setenv("ALPR_CLICKHOUSE_URL", "https://clickhouse.example:8443")
    monkeypatch.setenv("ALPR_OCCUPANCY_CLICKHOUSE_USER", "alpr_occupancy")
    monkeypatch.setenv("ALPR_OCCUPANCY_CLICKHOUSE_PASSWORD_FILE", str(tmp_path / "pw"))
    settings = load_settings(OccupancySettings)
    with pytest.raises(ConfigError, match="alpr_occupancy .* placeholder"):
        settings.clickhouse_login()


# -- the ClickHouse server's certificate, checked against ALPR_CLICKHOUSE_CA_FILE --------------


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate a fresh CA signed; yields (port, ca.pem, requests)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path / "tls"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "2",
             "-subj", "/CN=test-clickhouse-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    _openssl("req", *ec, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"), "-subj", "/CN=127.0.0.1")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
             "-CAcreateserial", "-out", str(d / "server.pem"), "-days", "2", "-extfile", str(d / "ext"))  # fmt: skip
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            requests.append(self.path)
            body = b"Code: 516. DB::Exception: test server: Authentication failed. (AUTHENTICATION_FAILED)"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(d / "server.pem"), str(d / "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], d / "ca.pem", requests
    server.shutdown()
    server.server_close()


def test_the_clickhouse_client_trusts_the_ca_of_its_setting_and_no_other(tls_server):
    from alpr.store.server import ClickHouseServerStore

    port, ca, requests = tls_server
    # Without the CA the system store does not know the server: the TLS handshake fails and no
    # request reaches it.
    with pytest.raises(StoreError, match="cannot reach ClickHouse"):
        ClickHouseServerStore(f"https://127.0.0.1:{port}", "alpr", login=("u", "p"), create_database=False)
    assert requests == []
    # With it the handshake passes and the request is the server's to answer (here: refused).
    with pytest.raises(StoreError):
        ClickHouseServerStore(f"https://127.0.0.1:{port}", "alpr", login=("u", "p"), create_database=False, ca_file=ca)
    assert requests, "the client never got past TLS with the CA of ALPR_CLICKHOUSE_CA_FILE"


def test_a_clickhouse_ca_without_https_is_refused(tmp_path):
    from alpr.store.server import ClickHouseServerStore

    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(StoreError, match="ALPR_CLICKHOUSE_CA_FILE is set but ALPR_CLICKHOUSE_URL is not https"):
        ClickHouseServerStore("http://127.0.0.1:1", "alpr", ca_file=tmp_path / "ca.pem")


# -- the governance PostgreSQL login, from a password file -------------------------------------


@pytest.fixture
def password_postgres():
    from tests.support.postgres import PostgresServer

    try:
        server = PostgresServer(password="governance-password-of-the-test")
    except RuntimeError as err:
        pytest.skip(f"no PostgreSQL server: {err}")
    yield server
    server.stop()


def test_the_governance_database_logs_in_with_its_password_file(password_postgres, tmp_path, monkeypatch):
    from services.audit.settings import AuditSettings

    url = password_postgres.new_database()  # postgresql://alpr@127.0.0.1:<port>/<db>: no password in it
    (tmp_path / "pw").write_text("governance-password-of-the-test\n")
    monkeypatch.setenv("ALPR_AUTH_SECRET", AUTH)
    monkeypatch.setenv("ALPR_AUDIT_GOVERNANCE_DB_URL", url)

    with pytest.raises(StoreError, match="cannot reach the governance database"):
        load_settings(AuditSettings).governance_db()  # the server wants a password

    monkeypatch.setenv("ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE", str(tmp_path / "pw"))
    db = load_settings(AuditSettings).governance_db()
    assert db.one("SELECT current_user AS u")["u"] == "alpr"
    db.close()

    (tmp_path / "pw").write_text("REPLACE-ME-governance-db-password\n")
    with pytest.raises(ConfigError, match="ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE .* placeholder"):
        load_settings(AuditSettings).governance_db()


def test_production_refuses_a_password_in_the_governance_url_and_a_password_file_beside_sqlite(monkeypatch, tmp_path):
    from services.audit.settings import AuditSettings

    monkeypatch.setenv("ALPR_AUTH_SECRET", AUTH)
    monkeypatch.setenv("ALPR_AUDIT_GOVERNANCE_DB_URL", "postgresql://alpr:hunter2@db.example:5432/governance")
    assert load_settings(AuditSettings).governance_db_url  # development: allowed (a local database)
    (tmp_path / "pw").write_text("x" * 24)
    _scram_env(monkeypatch, tmp_path, "a-real-password-of-24-chars")
    monkeypatch.setenv("ALPR_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="GOVERNANCE_DB_URL carries a password") as err:
        load_settings(AuditSettings)
    assert "hunter2" not in str(err.value)

    monkeypatch.delenv("ALPR_ENVIRONMENT")
    monkeypatch.setenv("ALPR_AUDIT_GOVERNANCE_DB_URL", f"sqlite:///{tmp_path / 'g.sqlite3'}")
    monkeypatch.setenv("ALPR_AUDIT_GOVERNANCE_DB_PASSWORD_FILE", str(tmp_path / "pw"))
    with pytest.raises(ConfigError, match="needs a postgresql://"):
        load_settings(AuditSettings)
