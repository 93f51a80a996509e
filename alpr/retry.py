"""Retrying an effect that must happen: the one backoff schedule, and the async loop around it.

A consumer's effects (rows, events, changelog writes, commits) are not optional: when the
store or the broker is away the batch waits and is tried again, instead of being dropped
(docs/style.md 3). Every such loop waits 0.2 s, then twice as long each time, up to 10 s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 10.0

T = TypeVar("T")


def backoffs(first: float = FIRST_BACKOFF_S, most: float = MAX_BACKOFF_S) -> Iterator[float]:
    """The waits between tries: first, doubling, capped at most (without end)."""
    wait = first
    while True:
        yield wait
        wait = min(wait * 2, most)


async def until_done(
    effect: Callable[[], Awaitable[T]], log: logging.Logger, message: str, extra: dict[str, Any] | None = None
) -> T:
    """Await `effect()` until it returns; each failure is logged (`message`, the error, the wait)
    and waited out. Cancellation ends it (a stopping worker), nothing else does."""
    for backoff in backoffs():
        try:
            return await effect()
        except Exception as err:  # asyncio.CancelledError is not an Exception: it ends the loop
            log.warning(message, extra={**(extra or {}), "error": f"{type(err).__name__}: {err}", "backoff_s": backoff})
            await asyncio.sleep(backoff)
    raise AssertionError("unreachable: backoffs() never ends")
