"""A stay whose exit was another vehicle's, split by a reviewer, through `alpr revenue serve` on
the real broker and chDB.

A misread exit that equals a parked car's plate closes that car's stay: the car is billed (or
cited) for a stay that did not end, and the vehicle that left has no exit. The reviewer splits
the stay, typing the plate the exit really shows; then:

* the wrong stay's match is voided (`superseded`, amounts 0, latest wins);
* the exit closes the other vehicle's open entry: that stay is decided (unpaid: a violation,
  verified by the reviewer's read of the exit);
* the parked car's entry pairs with its own real exit, which had become an exit-only session:
  one stay, entry to real exit, paid by its payment; the exit-only session is superseded;
* nothing changes when the service is SIGKILLed right after the decision and restarted;
* a split is refused on an exit-only task, and for a plate the pairing cannot tell apart.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from alpr.contracts.registry import Topic
from tests.revenue.conftest import produce, read_topic
from tests.support import revenue_scenario as scenario
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]  # SIGKILL

PARKED, LEFT, LATER = "4ENT500", "7OTH222", "9LAT003"
sid = scenario.sid
PARKED_EXIT_ONLY = f"{scenario.FACILITY}/{PARKED}/exit-{scenario.ms('11:00')}"


def the_day():
    a = scenario.a_pass
    return [
        a("entry", PARKED, "10:00"),
        a("entry", LEFT, "10:05"),
        a("exit", PARKED, "10:30"),  # LEFT's exit, misread as the parked car's plate
        a("exit", PARKED, "11:00"),  # the parked car's real exit: its entry is taken, so no entry
        a("entry", LATER, "13:00"),  # moves the stream clock past the payment windows
    ]


def test_a_reviewer_splits_a_stay_whose_exit_was_another_vehicle(revenue_service, revenue_topics, bootstrap):
    topics = revenue_topics.names
    service = revenue_service
    service.env.update({"ALPR_REVENUE_REVIEW_SAMPLE_RATE": "1.0"})  # every stay gets a task
    service.start()
    paid = scenario.payment("pay-parked", PARKED, 300, "10:01", "11:01")
    produce(bootstrap, topics[Topic.PAYMENTS], [(PARKED, json.dumps(paid).encode())])
    produce(bootstrap, topics[Topic.PASSES], scenario.encoded(the_day()))

    def matches() -> dict[str, dict]:
        r = service.get("/v1/revenue/matches", day=scenario.DAY)
        assert r.status_code == 200, r.text
        return {m["session_id"]: m for m in r.json()["matches"]}

    def latest_on_topic() -> dict[str, dict]:
        out: dict[str, dict] = {}
        for x in read_topic(bootstrap, topics[Topic.REVENUE_MATCHES]):
            out[x["session_id"]] = x  # latest per session wins (the topic's contract)
        return out

    def queued():
        r = service.get("/v1/reviews", role="reviewer", state="queued")
        tasks = {t["session_id"]: t for t in r.json()["tasks"]}
        return tasks if {sid(PARKED, "10:00"), PARKED_EXIT_ONLY} <= set(tasks) else None

    wait_for(queued, 90, "the wrong stay and the exit-only session in review", describe=service.log_tail)
    entry, wrong_exit, real_exit = (
        f"{scenario.FACILITY}/L1/{scenario.ms('10:00')}",
        f"{scenario.FACILITY}/L2/{scenario.ms('10:30')}",
        f"{scenario.FACILITY}/L2/{scenario.ms('11:00')}",
    )
    before = wait_for(
        lambda: m if {sid(PARKED, "10:00"), PARKED_EXIT_ONLY} <= set(m := matches()) else None, 60, "the matches"
    )
    assert (before[sid(PARKED, "10:00")]["status"], before[sid(PARKED, "10:00")]["session_state"]) == (
        "matched", "closed")  # fmt: skip
    assert before[PARKED_EXIT_ONLY]["session_state"] == "exit_without_entry"
    assert sid(LEFT, "10:05") not in before  # still inside, as far as the machine knows
    assert latest_on_topic()[sid(PARKED, "10:00")]["evidence_pass_ids"] == [entry, wrong_exit]

    # Refused: a split of an exit-only task (it has no entry to keep), a split that names no plate,
    # and one whose plate the pairing folds into the entry's (8/B, 0/O ...).
    for body, why in (
        ({"review_id": PARKED_EXIT_ONLY, "decision": "split", "plate": LEFT}, "only a stay with an entry and an exit"),
        ({"review_id": sid(PARKED, "10:00"), "decision": "split"}, "a split needs the plate"),
        ({"review_id": sid(PARKED, "10:00"), "decision": "split", "plate": "4ENT5O0"}, "differ only by characters"),
    ):
        r = service.post("/v1/reviews/decisions", body, role="reviewer")
        assert r.status_code == 422 and why in r.text, (body, r.text)

    r = service.post(
        "/v1/reviews/decisions",
        {"review_id": sid(PARKED, "10:00"), "decision": "split", "plate": LEFT, "note": "the exit crop is a van"},
        role="reviewer",
    )
    assert r.status_code == 202, r.text
    assert (r.json()["decision"], r.json()["plate_before"], r.json()["plate"]) == ("split", PARKED, LEFT)
    service.kill()  # SIGKILL with the decision on the broker, applied or not
    service.start()

    def settled():
        m = matches()
        if m.get(sid(LEFT, "10:05"), {}).get("status") != "unpaid" or m[PARKED_EXIT_ONLY]["status"] != "superseded":
            return None
        stay = latest_on_topic().get(sid(PARKED, "10:00"), {})
        return m if stay.get("evidence_pass_ids") == [entry, real_exit] else None

    m = wait_for(settled, 90, "the split applied", describe=service.log_tail)
    # The parked car's stay: entry to its own exit, paid by its payment.
    stay = m[sid(PARKED, "10:00")]
    assert (stay["status"], stay["session_state"], stay["payment_ids"]) == ("matched", "closed", ["pay-parked"])
    latest = latest_on_topic()
    assert latest[sid(PARKED, "10:00")]["exit_at"].startswith(scenario.at("11:00").astimezone(UTC).isoformat()[:16])
    # The vehicle that left: its entry with the exit the reviewer gave it.
    assert latest[sid(LEFT, "10:05")]["evidence_pass_ids"] == [
        f"{scenario.FACILITY}/L1/{scenario.ms('10:05')}",
        wrong_exit,
    ]
    assert sid(PARKED, "10:00") in m[PARKED_EXIT_ONLY]["reason"] and m[PARKED_EXIT_ONLY]["amount_due_cents"] == 0

    on_topic: dict[str, list[dict]] = {}
    for x in read_topic(bootstrap, topics[Topic.REVENUE_MATCHES]):
        on_topic.setdefault(x["session_id"], []).append(x)
    statuses = [x["status"] for x in on_topic[sid(PARKED, "10:00")]]
    # matched on the wrong exit, voided by the split (once, whatever the SIGKILL replayed), matched again.
    assert statuses[0] == "matched" and statuses[-1] == "matched" and "superseded" in statuses, statuses
    voided = next(x for x in on_topic[sid(PARKED, "10:00")] if x["status"] == "superseded")
    assert "split in review by test-reviewer" in voided["reason"] and voided["amount_due_cents"] == 0
    assert on_topic[sid(PARKED, "10:00")][-1]["evidence_pass_ids"] == [entry, real_exit]

    # The other vehicle is cited on the reviewer's read of the exit; the parked car never was.
    cited: dict[str, dict] = {}
    for v in read_topic(bootstrap, topics[Topic.VIOLATIONS]):
        cited[v["violation_id"]] = v
    assert set(cited) == {f"{sid(LEFT, '10:05')}#unpaid"}, cited
    assert cited[f"{sid(LEFT, '10:05')}#unpaid"]["verified_by"] == "review:test-reviewer"

    # The sessions in the store: one stay each, the exit-only session superseded.
    rec = service.get("/v1/revenue/reconciliation", day=scenario.DAY, facility_id=scenario.FACILITY).json()
    exits_only = next(d for d in rec["facilities"][0]["discrepancies"] if d["category"] == "exit_without_entry")
    assert exits_only["count"] == 0, rec
    decided = service.get("/v1/reviews", role="reviewer", state="split").json()["tasks"]
    assert [(t["session_id"], t["plate"], t["plate_after"]) for t in decided] == [(sid(PARKED, "10:00"), PARKED, LEFT)]
    published = read_topic(bootstrap, topics[Topic.REVIEW_DECISIONS])
    assert [(d["decision"], d["plate"]) for d in published] == [("split", LEFT)]
