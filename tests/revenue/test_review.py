"""Citations only on verified reads, and the review queue, through `alpr revenue serve` on the
real broker and chDB (issue #16's acceptance):

* a violation on a read below the verified confidence is not published: its case waits in review;
  one on confident reads is published, saying why it may be cited;
* a reviewer's confirmation issues the waiting violation; a dismissal withdraws an issued one; a
  correction to a plate of another key moves the session to that plate's payments, re-decides
  the match (now paid) and cites nobody; every decision is on alpr.review-decisions.v1;
* a correction of an exit that found no entry re-pairs it with the open entry of the corrected
  plate: the stay is matched (paid), the exit-only session is superseded, in the store and on
  alpr.revenue-matches.v1;
* a SIGKILL right after the decisions changes nothing in the result.
"""

from __future__ import annotations

import json

import pytest

from alpr.contracts.registry import Topic
from tests.revenue.conftest import produce, read_topic
from tests.support import revenue_scenario as scenario
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]  # SIGKILL

LOW, SURE, MISREAD, TRUE_PLATE, LATER = "7LOW001", "5SUR002", "6QRS100", "6QRS700", "9LAT003"
# A vehicle whose exit read is wrong in three characters: the exit pairs with no entry.
ENTERED, EXIT_MISREAD = "4ENT500", "4XY2999"


def the_day():
    a = scenario.a_pass
    return [
        a("entry", LOW, "10:00"),
        a("exit", LOW, "10:20", confidence=0.949),  # just below the verified confidence: no citation on it
        a("entry", SURE, "10:05"),
        a("exit", SURE, "10:25"),
        a("entry", MISREAD, "10:10", confidence=0.8),
        a("exit", MISREAD, "10:30", confidence=0.8),
        a("entry", ENTERED, "10:40"),
        a("exit", EXIT_MISREAD, "11:00", confidence=0.8),
        a("entry", LATER, "13:00"),  # moves the stream clock past the payment windows
    ]


def sid(plate: str, hhmm: str) -> str:
    return scenario.sid(plate, hhmm)


EXIT_ONLY = f"{scenario.FACILITY}/{EXIT_MISREAD}/exit-{scenario.ms('11:00')}"


def violations(bootstrap, topics) -> dict[str, dict]:
    """The latest message per violation id (the topic's contract: latest wins)."""
    out: dict[str, dict] = {}
    for v in read_topic(bootstrap, topics[Topic.VIOLATIONS]):
        out[v["violation_id"]] = v
    return out


def test_only_verified_reads_are_cited_and_reviews_flow_through_the_pipeline(
    revenue_service, revenue_topics, bootstrap
):
    topics = revenue_topics.names
    service = revenue_service
    # Every session sampled, so that the confident one is in the queue too (and can be dismissed).
    service.env.update({"ALPR_REVENUE_REVIEW_SAMPLE_RATE": "1.0", "ALPR_REVENUE_ACCURACY_EVERY_S": "1"})
    service.start()
    # The true plate of the misread vehicle paid; nobody else did.
    paid = scenario.payment("pay-true", TRUE_PLATE, 300, "10:12", "11:12")
    produce(bootstrap, topics[Topic.PAYMENTS], [(TRUE_PLATE, json.dumps(paid).encode())])
    entered = scenario.payment("pay-ent", ENTERED, 300, "10:42", "11:42")
    produce(bootstrap, topics[Topic.PAYMENTS], [(ENTERED, json.dumps(entered).encode())])
    produce(bootstrap, topics[Topic.PASSES], scenario.encoded(the_day()))

    def queued():
        r = service.get("/v1/reviews", role="reviewer", state="queued")
        assert r.status_code == 200, r.text
        tasks = {t["session_id"]: t for t in r.json()["tasks"]}
        wanted = {sid(LOW, "10:00"), sid(SURE, "10:05"), sid(MISREAD, "10:10"), EXIT_ONLY}
        return tasks if wanted <= set(tasks) else None

    tasks = wait_for(queued, 90, "four sessions in the review queue", describe=service.log_tail)
    assert "exit found no entry" in tasks[EXIT_ONLY]["reasons"]
    assert "below the verified confidence" in " ".join(tasks[sid(LOW, "10:00")]["reasons"])
    assert tasks[sid(SURE, "10:05")]["reasons"] == ["accuracy sample"]
    before = violations(bootstrap, topics)
    # Only the confident read is cited, and it says why it may be.
    assert set(before) == {f"{sid(SURE, '10:05')}#unpaid"}, before
    assert before[f"{sid(SURE, '10:05')}#unpaid"]["verified_by"] == "confidence:0.9990"

    # A reviewer opens a task: the passes with their crops and the match's payment lookup.
    one = service.get("/v1/reviews/task", role="reviewer", review_id=sid(LOW, "10:00"))
    assert one.status_code == 200, one.text
    assert [p["direction"] for p in one.json()["passes"]] == ["entry", "exit"]
    assert all(p["crop_jpeg_b64"] for p in one.json()["passes"]) and one.json()["match"]["status"] == "unpaid"
    # An exit that found no entry: the task offers the vehicles still inside, closest plate first,
    # with their entry crops; the reviewer compares and reads the exit as one of them.
    lonely = service.get("/v1/reviews/task", role="reviewer", review_id=EXIT_ONLY)
    assert lonely.status_code == 200, lonely.text
    candidates = lonely.json()["candidate_entries"]
    # (the others have left, and 9LAT003 entered after this exit)
    assert [c["plate"] for c in candidates] == [ENTERED] and candidates[0]["crop_jpeg_b64"], candidates
    assert one.json()["candidate_entries"] == []  # a stay with its entry has none
    # Finance may not decide reviews; a correction needs a plate.
    assert (
        service.post("/v1/reviews/decisions", {"review_id": sid(LOW, "10:00"), "decision": "confirmed"}).status_code
        == 403
    )
    bad = service.post(
        "/v1/reviews/decisions", {"review_id": sid(MISREAD, "10:10"), "decision": "corrected"}, role="reviewer"
    )
    assert bad.status_code == 422 and "needs the plate" in bad.text

    for body in (
        {"review_id": sid(LOW, "10:00"), "decision": "confirmed"},
        {"review_id": sid(SURE, "10:05"), "decision": "dismissed", "note": "plate hidden by a tow bar"},
        {"review_id": sid(MISREAD, "10:10"), "decision": "corrected", "plate": TRUE_PLATE},
        {"review_id": EXIT_ONLY, "decision": "corrected", "plate": ENTERED},
    ):
        r = service.post("/v1/reviews/decisions", body, role="reviewer")
        assert r.status_code == 202, r.text
    service.kill()  # SIGKILL with the decisions on the broker, applied or not
    service.start()

    def settled():
        v = violations(bootstrap, topics)
        low, sure = v.get(f"{sid(LOW, '10:00')}#unpaid"), v.get(f"{sid(SURE, '10:05')}#unpaid")
        if not (low and sure and sure["state"] == "withdrawn"):
            return None
        m = {x["session_id"]: x for x in service.get("/v1/revenue/matches", day=scenario.DAY).json()["matches"]}
        misread, stay = m.get(sid(MISREAD, "10:10")), m.get(sid(ENTERED, "10:40"))
        if not (stay and stay["status"] == "matched" and m.get(EXIT_ONLY, {}).get("status") == "superseded"):
            return None
        return (v, m) if misread and misread["status"] == "matched" else None

    v, m = wait_for(settled, 90, "the decisions applied", describe=service.log_tail)
    low = v[f"{sid(LOW, '10:00')}#unpaid"]
    assert (low["state"], low["verified_by"]) == ("issued", "review:test-reviewer")
    assert v[f"{sid(SURE, '10:05')}#unpaid"]["reason"] == "dismissed in review"
    # The corrected session was matched under the plate the reviewer read, with its payment; no
    # violation was ever issued for it.
    assert (m[sid(MISREAD, "10:10")]["plate"], m[sid(MISREAD, "10:10")]["payment_ids"]) == (TRUE_PLATE, ["pay-true"])
    assert not any(k.startswith(sid(MISREAD, "10:10")) for k in v)
    # The exit re-paired with the entry of the plate the reviewer read: one stay, entry to exit,
    # paid; the exit-only session is superseded and names the stay.
    stay = m[sid(ENTERED, "10:40")]
    assert (stay["payment_ids"], stay["amount_due_cents"]) == (["pay-ent"], 300), stay
    assert sid(ENTERED, "10:40") in m[EXIT_ONLY]["reason"] and m[EXIT_ONLY]["amount_due_cents"] == 0
    on_topic: dict[str, dict] = {}
    for x in read_topic(bootstrap, topics[Topic.REVENUE_MATCHES]):
        on_topic[x["session_id"]] = x  # latest per session wins (the topic's contract)
    assert (
        on_topic[EXIT_ONLY]["status"] == "superseded" and on_topic[EXIT_ONLY]["match_id"] == f"{EXIT_ONLY}#superseded"
    )
    assert on_topic[sid(ENTERED, "10:40")]["evidence_pass_ids"] == [
        f"{scenario.FACILITY}/L1/{scenario.ms('10:40')}",
        f"{scenario.FACILITY}/L2/{scenario.ms('11:00')}",
    ]
    assert not any(k.startswith(sid(ENTERED, "10:40")) or k.startswith(EXIT_ONLY) for k in v)
    rec = service.get("/v1/revenue/reconciliation", day=scenario.DAY, facility_id=scenario.FACILITY).json()
    exits_only = next(d for d in rec["facilities"][0]["discrepancies"] if d["category"] == "exit_without_entry")
    assert exits_only["count"] == 0, rec  # the superseded session is no stay
    decided = {t["session_id"]: (t["state"], t["plate_after"]) for t in service.get(
        "/v1/reviews", role="reviewer", state="all").json()["tasks"] if t["state"] != "queued"}  # fmt: skip
    assert decided == {
        sid(LOW, "10:00"): ("confirmed", LOW),
        sid(SURE, "10:05"): ("dismissed", SURE),
        sid(MISREAD, "10:10"): ("corrected", TRUE_PLATE),
        EXIT_ONLY: ("corrected", ENTERED),
    }
    # Accuracy per camera from the reviewed sample (policy section 9): the confirmed stay's two
    # reads were right, the corrected one's two wrong, the corrected exit-only session's exit
    # wrong; the dismissed one does not count, nor the re-paired stay (its entry is not reviewed).
    acc = service.get("/v1/accuracy", role="operations")
    assert acc.status_code == 200, acc.text
    rates = {c["camera_id"]: (c["perfect_read"]["right"], c["perfect_read"]["trials"], c["capture"]["trials"])
             for c in acc.json()["cameras"]}  # fmt: skip
    assert rates == {"cam-g1-entry-1": (1, 2, 5), "cam-g1-exit-1": (1, 3, 4)}
    public = service.get("/public/accuracy").json()["facilities"]
    assert [f["perfect_read"]["trials"] for f in public] == [5] and LOW not in str(public)
    wait_for(
        lambda: (
            'alpr_camera_perfect_read_rate{bound="estimate",camera="cam-g1-exit-1",facility="garage-1"} 0.3333'
            in service.get("/metrics").text
        ),
        30,
        "the accuracy gauges",
    )
    published = read_topic(bootstrap, topics[Topic.REVIEW_DECISIONS])
    assert sorted(d["decision"] for d in published) == ["confirmed", "corrected", "corrected", "dismissed"]
    assert all(d["reviewer"] == "test-reviewer" for d in published)
