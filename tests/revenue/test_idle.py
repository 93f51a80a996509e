"""Decisions that do not wait for the next vehicle: once the passes stop, revenue's clock moves on
with the wall clock (ALPR_REVENUE_IDLE_LAG_S behind it), through `alpr revenue serve` on the real broker.

The scripted evening is the scenario's Tuesday (a day in the past: the clock continues the
stream's own time at the wall's pace, as it does for recorded footage); the payment window and
the lag are seconds, so that waiting for them stays short.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from alpr.contracts.models import utc_iso
from alpr.contracts.registry import Topic
from alpr.settings import REPO_ROOT
from services.revenue.tariff import load_tariff
from tests.revenue.conftest import RevenueProcess, produce, read_topic
from tests.support import revenue_scenario as scenario
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]  # whole-day replays

TARIFF = load_tariff(REPO_ROOT / "infra" / "tariff.demo.yaml")
# Decisions come late + lag after the exit arrived; this much more is processing and the
# clock's one-second resolution, on a loaded 2-core machine.
SLACK_S = 15.0


def quick_clock(late_s: float, lag_s: float) -> dict[str, str]:
    return {"ALPR_REVENUE_PAYMENT_LATE_MIN": str(late_s / 60), "ALPR_REVENUE_IDLE_LAG_S": str(lag_s)}


def pay(pid: str, plate: str, cents: int, paid: datetime, until: datetime) -> tuple[str, bytes]:
    body = {
        "payment_id": pid,
        "kind": "pay_by_plate",
        "facility_id": scenario.FACILITY,
        "plate": plate,
        "amount_cents": cents,
        "paid_at": utc_iso(paid),
        "valid_from": utc_iso(paid),
        "valid_until": utc_iso(until),
        "source": "test",
    }
    return plate, json.dumps(body).encode()


def published(bootstrap: str, topic: str, key: str) -> dict[str, dict]:
    """The latest message per `key` on the topic."""
    return {m[key]: m for m in read_topic(bootstrap, topic)}


def decided_at(match: dict) -> float:
    return datetime.fromisoformat(match["decided_at"].replace("Z", "+00:00")).timestamp()


def idle_ticks(service: RevenueProcess) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=10).text
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("alpr_revenue_idle_ticks_total")
    )


def test_the_last_exit_of_a_day_is_decided_within_its_payment_window_plus_the_idle_lag(
    revenue_service, revenue_topics, bootstrap
):
    late_s, lag_s = 15.0, 3.0
    topics = revenue_topics.names
    service = revenue_service
    service.env.update(quick_clock(late_s, lag_s))
    service.start()
    fee_last = TARIFF.fee(scenario.FACILITY, scenario.at("21:00"), scenario.at("22:00")).amount_cents
    fee_early = TARIFF.fee(scenario.FACILITY, scenario.at("19:00"), scenario.at("20:30")).amount_cents
    assert fee_last > 0 and fee_early > 0
    produce(
        bootstrap,
        topics[Topic.PAYMENTS],
        [pay("pay-last", "8LST001", fee_last, scenario.at("21:05"), scenario.at("22:05"))],
    )
    evening = [
        scenario.a_pass("entry", "7EVE001", "19:00"),
        scenario.a_pass("exit", "7EVE001", "20:30"),  # decided by traffic: later passes move the clock past it
        scenario.a_pass("entry", "8LST001", "21:00"),
        scenario.a_pass("entry", "6NIT001", "21:30"),  # stays the night
        scenario.a_pass("exit", "8LST001", "22:00"),  # the last exit of the day; no traffic after it
    ]
    sent_from = time.time()
    produce(bootstrap, topics[Topic.PASSES], scenario.encoded(evening))
    sent_by = time.time()

    last = scenario.sid("8LST001", "21:00")
    matches = wait_for(
        lambda: (m := published(bootstrap, topics[Topic.REVENUE_MATCHES], "session_id")).get(last) and m,
        late_s + lag_s + 60,
        "the match of the day's last exit",
        every=0.5,
        describe=service.log_tail,
    )
    m = matches[last]
    assert (m["status"], m["amount_due_cents"], m["amount_paid_cents"]) == ("matched", fee_last, fee_last)
    # Not before the window and the lag have passed (a payment may still come), and not much after.
    assert decided_at(m) - sent_from >= late_s + lag_s - 0.01
    assert decided_at(m) - sent_by <= late_s + lag_s + SLACK_S, decided_at(m) - sent_by
    assert idle_ticks(service) > 0

    early = matches[scenario.sid("7EVE001", "19:00")]
    assert (early["status"], early["amount_due_cents"], early["amount_paid_cents"]) == ("unpaid", fee_early, 0)
    violations = wait_for(lambda: published(bootstrap, topics[Topic.VIOLATIONS], "session_id"), 30, "the violation")
    assert {(sid, v["kind"]) for sid, v in violations.items()} == {(scenario.sid("7EVE001", "19:00"), "unpaid")}
    assert set(matches) == {last, scenario.sid("7EVE001", "19:00")}  # the night's vehicle is still inside


def test_a_replay_of_the_recorded_topics_makes_the_same_decisions(revenue_service, revenue_topics, bootstrap, tmp_path):
    """Live: the evening's last exit and the morning's are both decided by idle ticks. A fresh
    revenue application replaying alpr.passes.v1 and alpr.payments.v1 from the start (another
    faust app id, another store) decides the evening's by the morning's traffic and the
    morning's by its own idle clock, at other wall times: the same decisions, id for id."""
    late_s, lag_s = 6.0, 2.0
    topics = revenue_topics.names
    matches_topic, violations_topic = topics[Topic.REVENUE_MATCHES], topics[Topic.VIOLATIONS]
    live = revenue_service
    live.env.update(quick_clock(late_s, lag_s))
    live.start()
    morning = scenario.at("07:00") + timedelta(days=1)
    fee = TARIFF.fee(scenario.FACILITY, scenario.at("19:30"), morning + timedelta(minutes=10)).amount_cents
    produce(
        bootstrap,
        topics[Topic.PAYMENTS],
        [pay("pay-night", "8LST001", fee, scenario.at("19:35"), morning + timedelta(hours=1))],
    )
    evening = [
        scenario.a_pass("entry", "7EVE001", "19:00"),
        scenario.a_pass("entry", "8LST001", "19:30"),
        scenario.a_pass("exit", "7EVE001", "20:30"),
    ]  # the evening's last pass
    sent = time.time()
    produce(bootstrap, topics[Topic.PASSES], scenario.encoded(evening))
    evening_sid = scenario.sid("7EVE001", "19:00")
    first = wait_for(
        lambda: published(bootstrap, matches_topic, "session_id").get(evening_sid),
        late_s + lag_s + 60,
        "the evening's match",
        every=0.5,
        describe=live.log_tail,
    )
    assert first["status"] == "unpaid" and decided_at(first) - sent >= late_s + lag_s - 0.01  # an idle decision
    produce(
        bootstrap,
        topics[Topic.PASSES],
        scenario.encoded(
            [
                scenario.a_pass("entry", "5MRN001", morning),
                scenario.a_pass("exit", "8LST001", morning + timedelta(minutes=10)),
            ]
        ),
    )
    night_sid = scenario.sid("8LST001", "19:30")
    night = wait_for(
        lambda: published(bootstrap, matches_topic, "session_id").get(night_sid),
        late_s + lag_s + 60,
        "the morning's match",
        every=0.5,
        describe=live.log_tail,
    )
    assert (night["status"], night["amount_due_cents"], night["amount_paid_cents"]) == ("matched", fee, fee)
    live_matches = read_topic(bootstrap, matches_topic)
    live_violations = read_topic(bootstrap, violations_topic)
    assert len(live_matches) == 2 and [v["session_id"] for v in live_violations] == [evening_sid]
    # The idle clock's advances are records of the matcher's input, beside the sessions.
    ticks = [
        m for m in read_topic(bootstrap, f"{revenue_topics.prefix}alpr-revenue-sessions-by-plate") if "tick_ms" in m
    ]
    assert any(t["idle"] for t in ticks)
    assert live.terminate(30) == 0

    replay = RevenueProcess(
        bootstrap,
        revenue_topics.prefix,
        tmp_path / "replay",
        env={**quick_clock(late_s, lag_s), "ALPR_REVENUE_FAUST_APP_ID": "alpr-revenue-replay"},
    )
    try:
        replay.start()
        wait_for(
            lambda: (
                len(read_topic(bootstrap, matches_topic)) >= 2 * len(live_matches)
                and len(read_topic(bootstrap, violations_topic)) >= 2 * len(live_violations)
            ),
            late_s + lag_s + 90,
            "the replay's decisions",
            every=0.5,
            describe=replay.log_tail,
        )
        ids = Counter(m["match_id"] for m in read_topic(bootstrap, matches_topic))
        assert ids == {m["match_id"]: 2 for m in live_matches}
        kinds = Counter(v["violation_id"] for v in read_topic(bootstrap, violations_topic))
        assert kinds == {v["violation_id"]: 2 for v in live_violations}
        assert replay.terminate(30) == 0
    finally:
        if replay.proc is not None and replay.proc.poll() is None:
            replay.proc.kill()
            replay.proc.wait(10)
