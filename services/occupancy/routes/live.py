"""The live stream: every occupancy change as a Server-Sent Event, plus heartbeats.

Each message is an SSE `event: occupancy` with the facility's absolute numbers (so a missed
message is repaired by the next), or `event: heartbeat` every `sse_heartbeat_s` with the
service's readiness: a client that hears nothing for longer knows its numbers are stale.
The stream opens with one `occupancy` message per facility (the current state).
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.occupancy.deps import BoardDep, LiveRead, SettingsDep, StreamDep

router = APIRouter(prefix="/v1/occupancy", tags=["occupancy"])


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get("/stream")
async def live(request: Request, access: LiveRead, board: BoardDep, stream: StreamDep, settings: SettingsDep):
    snapshot = board.snapshot()
    await asyncio.to_thread(access.served, row_count=len(snapshot))
    queue = board.subscribe()

    async def messages():
        try:
            for entry in snapshot:
                yield sse("occupancy", entry)
            yield sse("heartbeat", {"ready": stream.ready(), "at": time.time()})
            closing = asyncio.ensure_future(board.closed.wait())
            getting = None
            try:
                while not board.closed.is_set():
                    getting = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getting, closing}, timeout=settings.sse_heartbeat_s, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getting in done:
                        yield sse("occupancy", getting.result())
                        continue
                    getting.cancel()
                    if closing in done or await request.is_disconnected():
                        return
                    yield sse("heartbeat", {"ready": stream.ready(), "at": time.time()})
            finally:
                closing.cancel()
                if getting is not None:
                    getting.cancel()
        finally:
            board.unsubscribe(queue)

    return StreamingResponse(
        messages(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
