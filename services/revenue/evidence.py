"""EvidencePackage: what an appeal hearing needs about one session, as a ZIP with a hash manifest.

Policy 4.4: "Providing evidence to Transit Court parking appeals with payment or vehicle
documentation for contested parking citations". The package holds:

* `crops/<n>-<direction>.jpg`: the best plate crop of the entry, patrol and exit passes;
* `frames/<n>-<direction>.jpg`: the context frame of each (the whole frame of the best read,
  downscaled: the vehicle in view, kept with the pass for 365 days);
* `custody.json`: the earlier downloads of this session's package (who, when, SHA-256);
* `case.json`: the session (times, camera, lane, pairing and its confidence), each pass
  (read ids, best read, model versions, confidences), the final match with the payment
  lookup that was made (every candidate and its verdict), the violation(s), the payments
  involved, the tariff applied (version and the facility's rates), and the review of the
  session if a person looked at it (reasons, decision, reviewer, the plate before and after);
* `SHA256SUMS`: the SHA-256 of every other file, so a copy can be checked byte for byte.

Built from the service's own store only (the crops travel on the passes).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alpr.store import Store
from services.revenue.tariff import Tariff


class NotFound(LookupError):
    """No session with that id."""


@dataclass
class EvidencePackage:
    session_id: str
    plate: str
    files: dict[str, bytes]
    session_at: datetime | None = None  # the stay's time: where legal holds find its custody rows

    def manifest(self) -> str:
        return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(self.files.items()))

    def to_zip(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(self.files.items()):
                z.writestr(name, data)
            z.writestr("SHA256SUMS", self.manifest())
        return buf.getvalue()


def _one(store: Store, sql: str, params: dict) -> dict[str, Any] | None:
    rows = store.query(sql, params)
    return rows[0] if rows else None


def build_package(
    store: Store,
    tariff: Tariff,
    session_id: str,
    by: str,
    max_passes: int = 20,
    custody: list[dict[str, Any]] | None = None,
) -> EvidencePackage:
    db = store.database
    p = {"sid": session_id}
    session = _one(store, f"SELECT * EXCEPT held FROM {db}.sessions FINAL WHERE session_id = {{sid:String}}", p)
    if session is None:
        raise NotFound(session_id)
    match = _one(store, f"SELECT * EXCEPT held FROM {db}.matches FINAL WHERE session_id = {{sid:String}}", p)
    violations = store.query(
        f"SELECT * EXCEPT held FROM {db}.violations FINAL WHERE session_id = {{sid:String}} ORDER BY violation_id", p
    )
    pass_ids = [session["entry_pass_id"], *session.get("patrol_pass_ids", []), session["exit_pass_id"]]
    pass_ids = [i for i in pass_ids if i][:max_passes]
    passes = store.query(
        f"SELECT * EXCEPT held FROM {db}.passes FINAL WHERE pass_id IN {{ids:Array(String)}} ORDER BY first_seen",
        {"ids": pass_ids},
    )
    payments = []
    if match is not None and match["payment_ids"]:
        payments = store.query(
            f"SELECT * EXCEPT held FROM {db}.payments FINAL WHERE payment_id IN {{ids:Array(String)}} ORDER BY paid_at",
            {"ids": list(match["payment_ids"])},
        )
    files: dict[str, bytes] = {}
    pass_docs = []
    for n, row in enumerate(passes, start=1):
        crop, context = row.pop("crop_jpeg_b64"), row.pop("context_jpeg_b64", "")
        doc = dict(row)
        if crop:
            name = f"crops/{n}-{row['direction']}.jpg"
            files[name] = base64.b64decode(crop)
            doc["crop_file"] = name
        if context:
            name = f"frames/{n}-{row['direction']}.jpg"
            files[name] = base64.b64decode(context)
            doc["context_file"] = name
        pass_docs.append(doc)
    review = _one(
        store,
        f"SELECT reasons, state, plate, plate_after, reviewer, decided_at FROM {db}.reviews FINAL "
        "WHERE review_id = {sid:String}",
        p,
    )
    if match is not None:
        match["lookup"] = json.loads(match["lookup"]) if match.get("lookup") else None
    rates = tariff.facility(session["facility_id"])
    case = {
        "generated_at": datetime.now(UTC).isoformat(),
        "generated_by": by,
        "session": session,
        "passes": pass_docs,
        "match": match,
        "violations": violations,
        "payments": payments,
        "review": review,
        "tariff": {
            "version": tariff.version,
            "timezone": tariff.spec.timezone,
            "facility_rates": rates.model_dump() if rates else None,
        },
        "notes": "Times are UTC. Crops and frames are the best read of each pass; read_ids name every read folded "
        "into it. custody.json lists the earlier downloads of this package; this one is on the audit trail with "
        "its SHA-256.",
    }
    files["case.json"] = json.dumps(case, indent=2, default=str, sort_keys=True).encode()
    files["custody.json"] = json.dumps(custody or [], indent=2, default=str).encode()
    at = session["entry_at"]
    at = datetime.fromisoformat(at) if isinstance(at, str) else at  # chDB answers a string, a server a datetime
    return EvidencePackage(session_id, session["plate"], files, at.replace(tzinfo=UTC) if at.tzinfo is None else at)
