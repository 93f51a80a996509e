"""Ports for the service processes a test starts."""

from __future__ import annotations

import socket

from alpr.net import free_port

__all__ = ["broker_ports", "free_port"]


def broker_ports() -> int:
    """A port p with p, p + 1 and p + 2 free (a secure broker's SASL_SSL, controller and
    mutual-TLS listeners)."""
    for _ in range(50):
        port = free_port()
        if port >= 65000:
            continue
        if all(_bindable(port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no three adjacent free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
