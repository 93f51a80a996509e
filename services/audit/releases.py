"""Data releases (policy section 7): written request -> approval -> one export, all recorded.

A request names the public agency, the requester, the written request's reference, the legal
basis and the scope (plates and/or a time range). A manager other than the person who
entered it approves or denies it. Only an approved request can be exported, once; the export
is assembled from the data-owning services with a token scoped to this release.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from alpr.contracts.models import Plate
from services.audit.db import GovernanceDB


class ReleaseError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ReleaseRequest(BaseModel):
    agency: str = Field(min_length=2, max_length=200)
    agency_is_public: bool = Field(description="Attestation: the requester is a public agency (section 7).")
    requester: str = Field(min_length=2, max_length=200, description="Name and title of the person at the agency.")
    written_request_ref: str = Field(min_length=1, max_length=200)
    legal_basis: str = Field(min_length=3, max_length=1000, description="Need and legal right to know.")
    plates: list[Plate] = Field(default_factory=list, max_length=1000)
    time_from: AwareDatetime | None = None
    time_to: AwareDatetime | None = None

    @field_validator("agency_is_public")
    @classmethod
    def _public_only(cls, value: bool) -> bool:
        if not value:
            raise ValueError("ALPR data is released only to public agencies (policy section 7)")
        return value

    @model_validator(mode="after")
    def _scoped(self):
        if not self.plates and not (self.time_from and self.time_to):
            raise ValueError("a release needs plates or a bounded time range: no open-ended bulk exports")
        if self.time_from and self.time_to and self.time_to <= self.time_from:
            raise ValueError("time_to must be after time_from")
        return self


class ReleaseBook:
    def __init__(self, db: GovernanceDB) -> None:
        self._db = db
        db.execute(
            "CREATE TABLE IF NOT EXISTS releases (release_id TEXT PRIMARY KEY, body TEXT NOT NULL, state TEXT NOT NULL, "
            "entered_by TEXT NOT NULL, entered_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT, decision_note TEXT, "
            "exported_at TEXT, export_sha256 TEXT)"
        )

    def create(self, request: ReleaseRequest, entered_by: str) -> str:
        release_id = f"rel-{uuid.uuid4().hex[:12]}"
        self._db.execute(
            "INSERT INTO releases (release_id, body, state, entered_by, entered_at) VALUES (?, ?, 'requested', ?, ?)",
            (release_id, request.model_dump_json(), entered_by, _now()),
        )
        return release_id

    def get(self, release_id: str) -> dict:
        record = self._db.one("SELECT * FROM releases WHERE release_id = ?", (release_id,))
        if record is None:
            raise ReleaseError(404, f"no release {release_id}")
        record["request"] = json.loads(record.pop("body"))
        return record

    def all(self) -> list[dict]:
        return [
            self.get(r["release_id"]) for r in self._db.execute("SELECT release_id FROM releases ORDER BY entered_at")
        ]

    def decide(self, release_id: str, approver: str, approve: bool, note: str) -> dict:
        with self._db.transaction():
            record = self.get(release_id)
            if record["state"] != "requested":
                raise ReleaseError(409, f"release {release_id} is already {record['state']}")
            if record["entered_by"] == approver:
                raise ReleaseError(403, "the person who entered a request cannot approve it")
            self._db.execute(
                "UPDATE releases SET state = ?, decided_by = ?, decided_at = ?, decision_note = ? WHERE release_id = ?",
                ("approved" if approve else "denied", approver, _now(), note, release_id),
            )
        return self.get(release_id)

    def claim_export(self, release_id: str) -> dict:
        """Mark the release as being exported; only an approved, not yet exported one."""
        with self._db.transaction():
            record = self.get(release_id)
            if record["state"] != "approved":
                raise ReleaseError(
                    409, f"release {release_id} is {record['state']}; only an approved release is exported"
                )
            self._db.execute("UPDATE releases SET state = 'exporting' WHERE release_id = ?", (release_id,))
        return record

    def finish_export(self, release_id: str, sha256: str | None) -> None:
        with self._db.transaction():
            if sha256 is None:  # the export failed: it may be tried again
                self._db.execute("UPDATE releases SET state = 'approved' WHERE release_id = ?", (release_id,))
            else:
                self._db.execute(
                    "UPDATE releases SET state = 'exported', exported_at = ?, export_sha256 = ? WHERE release_id = ?",
                    (_now(), sha256, release_id),
                )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
