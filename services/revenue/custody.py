"""Chain of custody of the evidence packages (issue #16, policy 4.4).

An appeal comes weeks after the stay, and a package may be downloaded several times (the
officer, the hearing, counsel). Each download is recorded here, who and when and the SHA-256
of the exact bytes served, and every package carries the custody of the downloads before it
(`custody.json`), so a hearing can tell the copy in front of it from any other. The same
download is also on the audit trail (alpr.audit.v1, with the SHA-256 in its filters), which
is the authoritative log of access; this table is the package's own history, kept with the
session's data (same 365-day TTL, same legal holds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alpr.holds import HoldKeeper
from alpr.store import Store


@dataclass
class CustodyLog:
    store: Store  # the service's own (read-write) store: the API's login only reads
    keeper: HoldKeeper | None = None  # a download of a held session's package is held too

    def history(self, session_id: str) -> list[dict[str, Any]]:
        return self.store.query(
            f"SELECT downloaded_at, downloaded_by, sha256, files FROM {self.store.database}.evidence_custody "
            "WHERE session_id = {sid:String} ORDER BY downloaded_at",
            {"sid": session_id},
        )

    def record(self, session_id: str, plate: str, session_at: datetime, by: str, sha256: str, files: int) -> None:
        """Record one download (held when a legal hold covers the session it is evidence of)."""
        now = datetime.now(UTC)
        held = self.keeper is not None and self.keeper.is_held(plate, session_at)
        self.store.insert(
            "evidence_custody",
            [
                {
                    "session_id": session_id,
                    "plate": plate,
                    "session_at": session_at,
                    "downloaded_at": now,
                    "downloaded_by": by,
                    "sha256": sha256,
                    "files": files,
                    "held": int(held),
                }
            ],
        )
