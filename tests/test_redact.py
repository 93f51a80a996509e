"""Camera credentials never leave in a status page or a log line (issue: sources served to anyone)."""

from __future__ import annotations

import json
import logging

from alpr.logs import JsonLines
from alpr.redact import without_credentials
from services.ingest.routes.sources import _public
from services.ingest.sources import SourceStatus

URL = "rtsp://admin:s3cr%2Ft@10.1.2.3:554/Streaming/101"


def test_user_info_of_every_url_is_removed_and_the_rest_kept():
    text = f"cannot open {URL}; also http://viewer@cam.local/mjpg and https://cam/a?b=c@d"
    assert without_credentials(text) == (
        "cannot open rtsp://***@10.1.2.3:554/Streaming/101; also http://***@cam.local/mjpg and https://cam/a?b=c@d"
    )
    assert without_credentials("rtsp://u:pa@ss@host/x") == "rtsp://***@host/x"  # an unescaped '@' in the password
    assert without_credentials(None) is None and without_credentials("") == ""
    assert without_credentials("no url here, user@example.com") == "no url here, user@example.com"


def test_a_log_line_quoting_a_camera_url_carries_no_password():
    logger = logging.getLogger("test.redact")
    record = logger.makeRecord(
        "test.redact",
        logging.WARNING,
        __file__,
        1,
        "failed %s",
        ("rtsp://cam:hunter2@h/s",),
        None,
        extra={"source": "rtsp://cam:hunter2@h/s"},
    )
    try:
        raise OSError("open rtsp://cam:hunter2@h/s failed")
    except OSError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonLines("ingest").format(record)
    assert "hunter2" not in line
    entry = json.loads(line)
    assert entry["msg"] == "failed rtsp://***@h/s" and entry["source"] == "rtsp://***@h/s"
    assert "rtsp://***@h/s failed" in entry["exc"]


def test_the_status_page_cleans_an_error_that_quotes_the_url():
    status = SourceStatus(
        "cam-1",
        "stream",
        "rtsp://cam:hunter2@h/s",
        state="backoff",
        last_error="ffmpeg: rtsp://cam:hunter2@h/s: 401 Unauthorized",
    )
    public = _public(status)
    assert "hunter2" not in public.model_dump_json()
    assert public.last_error == "ffmpeg: rtsp://***@h/s: 401 Unauthorized"
