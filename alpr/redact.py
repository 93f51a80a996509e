"""Credentials out of anything a person or a log can read.

Camera sources are URLs, and an RTSP camera's URL normally carries its user and password
(`rtsp://user:pass@host/stream`). They reach status pages, error messages (OpenCV and FFmpeg
quote the URL they failed to open) and logs. `without_credentials` removes the user-info part
of every URL in a text; the API and the log formatter apply it at their boundary, so a new
message that quotes a URL is covered without anyone remembering to.
"""

from __future__ import annotations

import re

# scheme://userinfo@ -- up to the last '@' before the first '/', whitespace or quote (a password
# may hold an unescaped '@').
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s\"'<>]+@")
REDACTED = "***@"


def without_credentials(text: str | None) -> str | None:
    """`text` with the user-info of each URL in it replaced by `***` (None stays None)."""
    if not text:
        return text
    return _USERINFO.sub(lambda m: m.group(1) + REDACTED, text)
