"""Ports for the service processes a test starts, and an app served in-process by real uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

from alpr.net import free_port

__all__ = ["broker_ports", "free_port", "served"]


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


@contextlib.contextmanager
def served(app, trusted_proxies: str = "") -> Iterator[str]:
    """`app` under uvicorn as the services run it (alpr.runtime.ApiServer) on a free port, on a
    loop in a thread of its own; yields the base URL and stops the server on exit."""
    from alpr.runtime import ApiServer

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="served-api", daemon=True)
    thread.start()

    async def start() -> ApiServer:
        server = ApiServer(app, "127.0.0.1", 0, "warning", [], trusted_proxies)
        await server.on_start()
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield f"http://127.0.0.1:{server.server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        asyncio.run_coroutine_threadsafe(server.on_stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
