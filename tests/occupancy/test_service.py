"""The service end to end on the real broker and chDB: the scripted day, the DLQ, the API's
access rules and audit trail, the live stream, adjustments, and a clean SIGTERM stop."""

from __future__ import annotations

import json
from datetime import UTC

import httpx
import pytest

from alpr.contracts.registry import Topic
from tests.occupancy.conftest import SECRET, open_service_store, token
from tests.support.scripted_reads import EXPECTED_A_HISTORY, EXPECTED_OCCUPIED, EXPECTED_PASSES, scripted_reads
from tests.support.waiting import deadline_loop

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


@pytest.fixture(scope="module")
def day(kafka, service_factory):
    """One service run over the scripted day (with two bad messages slipped in)."""
    service = service_factory(ALPR_OCCUPANCY_SSE_HEARTBEAT_S="0.5").start()
    reads, last_exit = scripted_reads()
    bad = [
        ("garage-a", b"{not json"),
        ("garage-z", last_exit[0].model_copy(update={"facility_id": "garage-z"}).model_dump_json().encode()),
    ]
    kafka.send_reads(reads + bad + last_exit)
    kafka.wait_consumed(service.group)
    yield service
    service.ensure_stopped()


def test_the_scripted_day_gives_exact_counts_and_events(day, kafka):
    r = day.get("/v1/facilities")
    assert r.status_code == 200
    assert {f["facility_id"]: f["occupied"] for f in r.json()["facilities"]} == EXPECTED_OCCUPIED
    a = day.get("/v1/facilities/garage-a/occupancy").json()
    assert (a["occupied"], a["capacity"], a["available"]) == (2, 2, 0)
    events = [json.loads(m.value()) for m in kafka.consume(Topic.OCCUPANCY, 5)]
    assert [(e["facility_id"], e["occupied"]) for e in events if e["facility_id"] == "garage-a"] == [
        ("garage-a", 1),
        ("garage-a", 2),
        ("garage-a", 3),
        ("garage-a", 2),
    ]
    assert all(e["reason"] == "pass" and e["origin_captured_at"] and e["last_pass_id"] for e in events)
    history = day.get("/v1/facilities/garage-a/history", params={"from": "2026-11-26T00:00:00Z"}).json()
    assert [(h["occupied"], h["delta"], h["note"]) for h in history["entries"]] == EXPECTED_A_HISTORY


def test_every_pass_is_published_for_revenue_at_its_latest_version(day, kafka):
    messages = [json.loads(m.value()) for m in kafka.consume_all(Topic.PASSES)]
    latest: dict[str, dict] = {}
    for m in messages:
        if m["pass_id"] not in latest or m["version"] >= latest[m["pass_id"]]["version"]:
            latest[m["pass_id"]] = m
    assert {(p["facility_id"], p["lane"], p["plate"] or "") for p in latest.values()} == EXPECTED_PASSES
    a = next(p for p in latest.values() if p["plate"] == "8ABC123" and p["direction"] == "entry")
    assert (a["version"], a["read_count"], len(a["read_ids"])) == (4, 4, 4)
    assert abs(a["confidence"] - 0.97 * 2.47 / 3.17) < 1e-3  # voted: 8 (0.9 + 0.6 + 0.97) against B (0.7)
    assert a["best_crop_jpeg_b64"] and a["plate_key"] == "8A8C123"


def test_bad_messages_go_to_the_dlq_with_the_reason_and_the_partition_moves_on(day, kafka):
    dead = kafka.consume(Topic.READS_DLQ, 2)
    reasons = sorted(dict(m.headers())["dlq.reason"].decode() for m in dead)
    assert reasons[0].startswith("ContractError: alpr.reads.v1: message: Invalid JSON")
    assert "facility 'garage-z' is not in the facility registry" in reasons[1]
    assert all(dict(m.headers())["dlq.service"] == b"occupancy" for m in dead)
    # The exit published after the bad messages was counted: garage-a ended at 2, not 3.
    assert day.get("/v1/facilities/garage-a/occupancy").json()["occupied"] == 2


# The purpose every plate search and image view states (alpr.purposes; Civil Code 1798.90.52).
CITATION = {"purpose": "enforcement", "case": "CIT-2026-0042"}


def test_plate_search_is_fuzzy_and_crops_need_images_view(day):
    r = day.get("/v1/passes", role="enforcement", params={"plate": "BABC-123", **CITATION})
    assert r.status_code == 200
    found = r.json()["passes"]
    assert sorted((p["lane"], p["plate"], p["read_count"]) for p in found) == [
        ("L1", "8ABC123", 4),
        ("L2", "8ABC123", 2),
    ]
    assert all(p["has_crop"] for p in found) and "crop_jpeg_b64" not in r.text
    exact = {"plate": "8ABC123", "exact": "true", **CITATION}
    assert day.get("/v1/passes", role="enforcement", params=exact).json()["count"] == 2
    crop_path = f"/v1/passes/{found[0]['pass_id']}/crop"
    assert day.get(crop_path, role="enforcement").status_code == 400  # an image view states its purpose too
    image = day.get(crop_path, role="enforcement", params=CITATION)
    assert (
        image.status_code == 200 and image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    )
    assert day.get(crop_path, role="operations").status_code == 403
    assert day.get("/v1/passes", role="operations", params={"plate": "8ABC123"}).status_code == 403


def test_routes_reject_anonymous_requests_and_audit_each_allowed_access(day, kafka):
    before = len(kafka.consume(Topic.AUDIT, 10_000, timeout=3))
    for path in (
        "/v1/facilities",
        "/v1/facilities/garage-a/occupancy",
        "/v1/facilities/garage-a/history",
        "/v1/occupancy/stream",
        "/v1/passes?plate=8ABC123",
    ):
        assert httpx.get(day.url + path, timeout=5).status_code == 401, path
    assert day.get("/v1/facilities", role="auditor").status_code == 403
    assert (
        httpx.post(
            day.url + "/v1/facilities/garage-a/adjustments",
            json={"occupied": 1, "note": "count"},
            headers=token("enforcement"),
            timeout=5,
        ).status_code
        == 403
    )
    assert day.get("/v1/facilities", role="operations").status_code == 200
    assert day.get("/v1/passes", role="enforcement", params={"plate": "7XYZ999", **CITATION}).status_code == 200
    events = [json.loads(m.value()) for m in kafka.consume(Topic.AUDIT, before + 9)][before:]
    allowed = [e for e in events if e["outcome"] == "allowed"]
    denied = [e for e in events if e["outcome"] == "denied"]
    assert len(denied) == 7 and {e["user"] for e in denied[:5]} == {"anonymous"}
    assert [(e["user"], e["action"]) for e in allowed] == [
        ("operations", "occupancy.read"),
        ("enforcement", "plate.search"),
    ]
    assert allowed[1]["plates"] == ["7XYZ999"] and allowed[1]["row_count"] == 1
    assert (allowed[1]["purpose"], allowed[1]["case_ref"]) == ("enforcement", "CIT-2026-0042")


def test_the_live_stream_sends_the_current_state_then_changes(day):
    with httpx.stream("GET", day.url + "/v1/occupancy/stream", headers=token("operations"), timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        got = {}
        for line in lines:
            if line.startswith("data: ") and "facility_id" in line:
                entry = json.loads(line[6:])
                got[entry["facility_id"]] = entry["occupied"]
            if line == "event: heartbeat":
                break
        assert got == EXPECTED_OCCUPIED
        # An adjustment made meanwhile arrives on the open stream.
        adjusted = httpx.post(
            day.url + "/v1/facilities/garage-b/adjustments",
            headers=token("operations", "ops1"),
            json={"occupied": 4, "note": "manual count by shift lead"},
            timeout=10,
        )
        assert adjusted.status_code == 201, adjusted.text
        for line in lines:
            if line.startswith("data: ") and '"garage-b"' in line:
                assert json.loads(line[6:])["occupied"] == 4
                break


def test_adjustments_are_validated_recorded_with_who_and_why(day, kafka):
    over = httpx.post(
        day.url + "/v1/facilities/garage-a/adjustments",
        headers=token("operations"),
        json={"occupied": 99, "note": "typo"},
        timeout=10,
    )
    assert over.status_code == 422
    assert (
        httpx.post(
            day.url + "/v1/facilities/nowhere/adjustments",
            headers=token("operations"),
            json={"occupied": 1, "note": "count"},
            timeout=10,
        ).status_code
        == 404
    )
    history = day.get("/v1/facilities/garage-b/history", params={"from": "2026-01-01T00:00:00Z"}).json()["entries"]
    adjustment = history[-1]
    assert (adjustment["reason"], adjustment["occupied"], adjustment["delta"]) == ("adjustment", 4, 3)
    assert (adjustment["actor"], adjustment["note"]) == ("ops1", "manual count by shift lead")
    events = [json.loads(m.value()) for m in kafka.consume(Topic.OCCUPANCY, 6)]
    assert events[-1]["reason"] == "adjustment" and events[-1]["occupied"] == 4


def test_a_release_export_gives_only_the_release_scope(day):
    from alpr.auth import issue_token

    scope = {
        "release_id": "REL-7",
        "agency": "County Sheriff",
        "plates": ["7XYZ999"],
        "time_from": None,
        "time_to": None,
    }
    release = {"Authorization": f"Bearer {issue_token(SECRET, 'release:REL-7', 'release', scope=scope)}"}
    r = httpx.get(day.url + "/v1/release-export", headers=release, timeout=10)
    assert r.status_code == 200, r.text
    tables = r.json()["tables"]
    assert [p["plate"] for p in tables["passes"]] == ["7XYZ999"] and "occupancy_history" not in tables
    assert day.get("/v1/release-export", role="parking_management").status_code == 403


def test_a_legal_hold_reaches_the_passes_of_its_plate(day, kafka):
    from datetime import datetime

    from alpr.contracts.models import Hold
    from alpr.contracts.registry import encode

    hold = Hold(
        hold_id="hold-1",
        action="place",
        basis="subpoena",
        case_ref="26-CV-1",
        plates=["8ABC123"],
        by="pmanager",
        at=datetime.now(UTC),
    )
    kafka.producer.produce(kafka.topic(Topic.HOLDS), key=hold.hold_id, value=encode(hold))
    assert kafka.producer.flush(10) == 0
    group = kafka.prefix + "alpr-occupancy-holds"
    for _ in deadline_loop(30, "the holds consumer to apply the hold"):
        if kafka.committed(group, Topic.HOLDS).get(0, -1) >= 1:
            break
    # The rows themselves are checked after the clean stop below (the store belongs to the service).


def test_sigterm_stops_cleanly_and_the_store_holds_exactly_the_passes(day, kafka):
    assert day.stop() == 0
    store = open_service_store(day.data_dir)
    try:
        rows = store.query("SELECT facility_id, lane, plate, read_count, held FROM occupancy.passes FINAL")
        assert {(r["facility_id"], r["lane"], r["plate"]) for r in rows} == EXPECTED_PASSES
        assert len(rows) == len(EXPECTED_PASSES)
        assert {r["plate"]: r["held"] for r in rows if r["held"]} == {"8ABC123": 1}
        assert sum(r["held"] for r in rows) == 2  # its entry and its exit
        history = store.query(
            "SELECT count() AS n FROM occupancy.occupancy_history FINAL WHERE facility_id = 'garage-a'"
        )
        assert history[0]["n"] == len(EXPECTED_A_HISTORY)
    finally:
        store.close()
    # Everything was committed on the way out: a restart finds nothing left to do. A partition
    # no read landed on has no commit (-1001) and nothing to read either: it counts as 0.
    committed = {p: max(o, 0) for p, o in kafka.committed(day.group, Topic.READS).items()}
    assert committed == kafka.end_offsets(Topic.READS)
