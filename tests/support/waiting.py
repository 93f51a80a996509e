"""Waiting in tests: poll a condition (a health check, a row count, a consumed message) until it
holds or a deadline passes. Never a fixed sleep standing in for an outcome."""

from __future__ import annotations

import time

import pytest


def wait_for(predicate, timeout: float = 20.0, what: str = "condition", every: float = 0.05, describe=None):
    """Return the first truthy value of `predicate()`, or fail naming `what` at the deadline
    (with `describe()`, when given, saying what was seen instead)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)  # polling interval, not a wait for an outcome
    seen = describe() if describe else repr(last)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {seen})")


def deadline_loop(timeout: float, what: str, every: float = 0.05):
    """Yield until the caller breaks out, or fail after `timeout` seconds (multi-step waits)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        yield
        time.sleep(every)  # polling interval
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
