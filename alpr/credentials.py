"""Secrets the platform is given: one reader for every password file, and one test for the
placeholders that the deployment files carry.

Every password reaches a process as a file (a mounted Secret, a Docker secret, the local
broker's `secrets/`), never a command line or a URL that could be logged. `read_secret` is the
only place such a file is read: the Kafka SCRAM password, the ClickHouse logins and the
governance PostgreSQL login all go through it, so they fail alike and say which setting to fix.

`infra/k8s/secrets.yaml` documents the Secrets with values marked `REPLACE-ME-...`. A pod
started from that file unchanged must not run with a known credential, nor fail later with
the broker's "authentication failed": a placeholder is refused at start, in every environment
(no real secret contains the mark).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

PLACEHOLDER_MARK = "REPLACE-ME"


class SecretFileError(ValueError):
    """A secret file cannot be used. A ValueError, so that a settings validator reports it as the
    setting's own error (pydantic); `str()` names the setting and the file, never the value."""


def is_placeholder(value: str) -> bool:
    return PLACEHOLDER_MARK in value


def refuse_placeholder(setting: str, value: str, where: str = "") -> None:
    if is_placeholder(value):
        raise SecretFileError(
            f"{setting}{where} holds a placeholder ({PLACEHOLDER_MARK}-...) from infra/k8s/secrets.yaml: "
            "put the real secret there"
        )


def read_secret(path: Path, setting: str) -> SecretStr:
    """The secret in `path` (its surrounding newlines dropped), for the setting `setting`.

    Raises SecretFileError when the file cannot be read, is empty or holds a placeholder."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise SecretFileError(f"{setting} {path} cannot be read ({err.strerror})") from None
    value = text.strip("\r\n")
    if not value.strip():
        raise SecretFileError(f"{setting} {path} is empty")
    refuse_placeholder(setting, value, f" {path}")
    return SecretStr(value)


def refuse_placeholder_file(path: Path, setting: str) -> None:
    """For files that are not secret but come from the same Secrets (a CA certificate)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as err:
        raise SecretFileError(f"{setting} {path} cannot be read ({err.strerror})") from None
    refuse_placeholder(setting, text, f" {path}")
