"""The live board: every facility's latest occupancy, and the subscribers of the live stream.

The stream updates the board after an event is on Kafka; the API serves current occupancy
from it and fans each change out to Server-Sent-Events subscribers. It lives in the faust
worker's event loop, so no locking is needed. A slow subscriber loses its oldest updates
(each carries absolute numbers, so the next one repairs the view) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from services.occupancy.facilities import Facility

SUBSCRIBER_QUEUE = 256


class Board:
    def __init__(self, facilities: dict[str, Facility]) -> None:
        self.facilities = facilities
        self.current: dict[str, dict[str, Any]] = {
            f.facility_id: {
                "facility_id": f.facility_id,
                "name": f.name,
                "occupied": 0,
                "capacity": f.capacity,
                "available": f.capacity,
                "as_of": None,
                "reason": None,
                "last_pass_id": None,
            }
            for f in facilities.values()
        }
        self.updated_monotonic = time.monotonic()
        self._subscribers: set[asyncio.Queue] = set()
        self.closed = asyncio.Event()

    def update(self, event: dict[str, Any]) -> None:
        """Take an OccupancyEvent (JSON form) and tell every subscriber."""
        fid = event["facility_id"]
        entry = self.current.setdefault(fid, {"facility_id": fid, "name": fid})
        entry.update(
            {k: event.get(k) for k in ("occupied", "capacity", "available", "as_of", "reason", "last_pass_id")}
        )
        self.updated_monotonic = time.monotonic()
        message = dict(entry)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(v) for _, v in sorted(self.current.items())]

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """End every live stream (service stopping), so the HTTP server can shut down promptly."""
        self.closed.set()
