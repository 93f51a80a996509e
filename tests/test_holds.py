"""Legal holds on the real engine: held rows survive the 365-day TTL; released rows are purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alpr.contracts.models import Hold
from alpr.holds import HeldTable, HoldKeeper
from alpr.store.migrate import migrate

pytestmark = pytest.mark.clickhouse
NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
TABLES = [HeldTable("passes", "plate", "first_seen"), HeldTable("occupancy_history", None, "as_of")]


def hold(hold_id, action="place", plates=("8ABC123",), **kw):
    return Hold(
        hold_id=hold_id,
        action=action,
        basis="subpoena",
        case_ref="LASC 26-CV-1",
        plates=list(plates),
        by="pmanager",
        at=NOW,
        **kw,
    )


def plates_left(store):
    store.command(f"OPTIMIZE TABLE {store.database}.passes FINAL")
    return sorted(r["pass_id"] for r in store.query(f"SELECT pass_id FROM {store.database}.passes"))


def test_hold_keeps_rows_past_a_year_and_release_lets_them_go(store_factory):
    store = store_factory("occupancy")
    migrate(store, "occupancy")
    # In production a hold arrives before the data turns a year old. Here the rows are born
    # 400 days old, so background TTL merges are paused until the holds are in place.
    store.command(f"SYSTEM STOP TTL MERGES {store.database}.passes")
    store.insert(
        "passes",
        [
            {"pass_id": "held-old", "plate": "8ABC123", "first_seen": OLD, "last_seen": OLD, "direction": "entry"},
            {"pass_id": "other-old", "plate": "7XYZ987", "first_seen": OLD, "last_seen": OLD, "direction": "entry"},
            {"pass_id": "both-old", "plate": "5DEF456", "first_seen": OLD, "last_seen": OLD, "direction": "exit"},
            {"pass_id": "young", "plate": "7XYZ987", "first_seen": NOW, "last_seen": NOW, "direction": "entry"},
        ],
    )
    keeper = HoldKeeper(store, TABLES)
    keeper.apply(hold("h1", plates=["8ABC123", "5DEF456"]))
    keeper.apply(hold("h2", plates=["5DEF456"], time_from=OLD - timedelta(days=1), time_to=OLD + timedelta(days=1)))
    keeper.apply(hold("h1", plates=["8ABC123", "5DEF456"]))  # a redelivered message changes nothing
    store.command(f"SYSTEM START TTL MERGES {store.database}.passes")
    assert plates_left(store) == ["both-old", "held-old", "young"]

    # A new keeper (service restart) knows the active holds from the store.
    keeper = HoldKeeper(store, TABLES)
    assert set(keeper.active) == {"h1", "h2"}
    assert keeper.is_held("8ABC123", NOW) and not keeper.is_held("7XYZ987", NOW)
    assert keeper.is_held("5DEF456", OLD) and keeper.is_held("5DEF456", NOW)  # h1 has no time bound

    keeper.apply(hold("h1", action="release", plates=["8ABC123", "5DEF456"]))
    # 5DEF456 is still covered by h2; 8ABC123 is free and past a year: purged.
    assert plates_left(store) == ["both-old", "young"]
    keeper.apply(
        hold(
            "h2",
            action="release",
            plates=["5DEF456"],
            time_from=OLD - timedelta(days=1),
            time_to=OLD + timedelta(days=1),
        )
    )
    assert plates_left(store) == ["young"]
    assert HoldKeeper(store, TABLES).active == {}


def test_hostile_plate_values_cannot_escape_the_hold_scope(store_factory):
    store = store_factory("occupancy")
    migrate(store, "occupancy")
    store.command(f"SYSTEM STOP TTL MERGES {store.database}.passes")
    store.insert(
        "passes", [{"pass_id": "p", "plate": "7XYZ987", "first_seen": OLD, "last_seen": OLD, "direction": "entry"}]
    )
    keeper = HoldKeeper(store, TABLES)
    # The contract refuses such a plate outright; the store would take it only as a parameter.
    with pytest.raises(ValidationError):
        hold("h3", plates=["X') OR 1=1 --"])
    h = Hold.model_construct(**{**hold("h3").model_dump(), "plates": ["X') OR (1=1"]})
    keeper.apply(h)
    store.command(f"SYSTEM START TTL MERGES {store.database}.passes")
    assert plates_left(store) == []
