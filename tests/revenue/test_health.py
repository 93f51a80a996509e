"""Revenue's /healthz: up only once its stream has its partitions and its tables recovered.

A service that answers 200 while faust still runs its first assignment lets a finance feed or a
load balancer send payments into faust's recovery window (alpr.kafka.faust_fixes). The flag is
set by faust's `on_rebalance_complete`, which every test that starts the service waits for (it
waits for /healthz), and cleared on revocation.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from alpr.audit import AuditClient
from services.revenue.main import facilities_of
from services.revenue.settings import RevenueSettings
from services.revenue.stream import RevenueStream
from services.revenue.tariff import load_tariff
from tests.support.apps import LazyStore, revenue_api

SECRET = "h" * 40


def test_healthz_is_503_until_the_stream_has_recovered(tmp_path, bootstrap):
    settings = RevenueSettings(data_dir=tmp_path, auth_secret=SECRET, environment="test", kafka_bootstrap=bootstrap)
    unused = LazyStore("revenue", lambda: (_ for _ in ()).throw(AssertionError("the stream wrote")))
    stream = RevenueStream(
        settings, unused, load_tariff(settings.tariff_file), facilities_of(settings), None, passes_partitions=1
    )
    audit = AuditClient(bootstrap, "revenue")
    try:
        with TestClient(revenue_api(tmp_path, audit, SECRET, stream=stream)) as client:
            before = client.get("/healthz")
            assert before.status_code == 503 and before.json()["checks"]["stream_recovered"] is False, before.json()
            assert before.json()["checks"]["stream"] is True  # alive, not yet recovered
            stream.ready = True  # what faust's rebalance-complete signal does
            after = client.get("/healthz")
            assert after.status_code == 200 and after.json()["checks"]["stream_recovered"] is True, after.json()
            stream.failures.append("matcher: RuntimeError: boom")  # an agent died
            dead = client.get("/healthz")
            assert dead.status_code == 503 and dead.json()["checks"]["stream"] is False
    finally:
        audit.close()
