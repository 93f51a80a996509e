"""Ports for the service processes a test starts."""

from __future__ import annotations

import socket

from alpr.net import free_port

__all__ = ["free_port", "two_free_ports"]


def two_free_ports() -> int:
    """A port p with p and p + 1 free (a broker's client and controller listeners)."""
    for _ in range(50):
        port = free_port()
        if port >= 65000:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")
