"""Message models of every topic, version 1.

These classes are the source of truth of the contracts: `alpr topics export-schemas` writes
their JSON Schemas to `schemas/topics/<topic>.schema.json`, and a test fails when the
committed files drift from them. Models are strict (unknown fields refused) and frozen.

Times are UTC RFC 3339 strings on the wire. Every message has a deterministic id so that a
redelivered message overwrites instead of doubling (ReplacingMergeTree / faust tables).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

PLATE_PATTERN = r"^[A-Z0-9]{1,10}$"
ROI_PATTERN = r"^[0-9]{1,5},[0-9]{1,5}( [0-9]{1,5},[0-9]{1,5}){2,63}$"

Direction = Literal["entry", "exit", "patrol"]
Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/#@-]+$")]
Plate = Annotated[
    str, Field(pattern=PLATE_PATTERN, description="Normalised plate text: A-Z and 0-9, no spaces or dashes.")
]
Cents = Annotated[int, Field(ge=0, le=100_000_000, description="Money in cents of the currency.")]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FrameHeaders(Contract):
    """Headers of a message on alpr.frames.v1; the value is the JPEG bytes of the frame."""

    frame_id: Id = Field(description="Deterministic: '<camera_id>:<captured_at epoch ms>'.")
    camera_id: Id
    facility_id: Id
    lane: Id
    direction: Direction
    captured_at: AwareDatetime = Field(description="Capture time from the source clock.")
    ingested_at: AwareDatetime = Field(description="When ingest accepted the frame (latency origin).")
    content_type: Literal["image/jpeg"] = "image/jpeg"
    roi: str | None = Field(
        None,
        pattern=ROI_PATTERN,
        description="The camera's region of interest, 'x,y x,y x,y ...' (frame pixels, 3-64 points); absent: the "
        "whole frame. Plates whose box centre lies outside it are not read (a sign, the street behind the lane).",
    )

    def roi_points(self) -> list[tuple[int, int]] | None:
        """The region of interest as (x, y) points, or None for the whole frame."""
        if not self.roi:
            return None
        return [(int(x), int(y)) for x, y in (p.split(",") for p in self.roi.split())]


class BBox(Contract):
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(gt=0)
    h: int = Field(gt=0)


class ModelVersions(Contract):
    detector: str = Field(min_length=1)
    reader: str = Field(min_length=1)


class Read(Contract):
    """One plate read (or a frame's no-read record) on alpr.reads.v1, keyed by facility_id.

    `read_id` is '<frame_id>#<box_index>' for a detected plate and '<frame_id>#-' for a frame
    in which no plate was found: no-reads are published too, so capture rate is observable.
    """

    read_id: Id
    frame_id: Id
    camera_id: Id
    facility_id: Id
    lane: Id
    direction: Direction
    outcome: Literal["read", "unreadable", "no_plate"] = Field(
        description="read: text found; unreadable: plate box without confident text; no_plate: nothing detected."
    )
    plate: Plate | None = None
    confidence: float = Field(ge=0.0, le=1.0, description="Plate text confidence (product of characters).")
    char_confidences: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=list, max_length=10)
    detection_confidence: float = Field(0.0, ge=0.0, le=1.0)
    box_index: int = Field(ge=-1, description="-1 for a no_plate record.")
    bbox: BBox | None = None
    crop_jpeg_b64: str | None = Field(None, max_length=200_000)
    context_jpeg_b64: str | None = Field(
        None,
        max_length=200_000,
        description="The whole frame, downscaled (JPEG, base64): the vehicle in view, for a reviewer and an appeal. "
        "On reads of a plate box only; None when the recognizer keeps none (ALPR_RECOGNIZER_CONTEXT_WIDTH=0).",
    )
    models: ModelVersions
    captured_at: AwareDatetime
    ingested_at: AwareDatetime
    processed_at: AwareDatetime

    @field_validator("plate", mode="before")
    @classmethod
    def _plate_upper(cls, value):
        return value.upper() if isinstance(value, str) else value


class Pass(Contract):
    """One vehicle crossing one lane, folded from its reads by the occupancy service, on
    alpr.passes.v1 (keyed by facility_id). `plate` is None for a vehicle whose plate was never
    read (a no-plate pass still counts). Republished with the same pass_id when a later read
    improves it: consumers keep the latest `version`."""

    pass_id: Id = Field(description="Deterministic: '<facility>/<lane>/<first read capture epoch ms>'.")
    facility_id: Id
    camera_id: Id
    lane: Id
    direction: Direction
    plate: Plate | None
    plate_key: str | None = Field(
        description="Confusable-folded plate (alpr.plates.confusable_key) for fuzzy matching."
    )
    confidence: float = Field(ge=0.0, le=1.0)
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    read_count: int = Field(ge=1)
    best_read_id: Id | None
    read_ids: list[Id] = Field(max_length=200, description="Evidence: the reads folded into this pass.")
    version: int = Field(ge=0, description="Grows each time the pass is republished with more reads.")
    best_crop_jpeg_b64: str | None = Field(
        None, max_length=200_000, description="Plate crop of the best read (evidence for appeals); None when not kept."
    )
    models: ModelVersions | None = Field(None, description="Model versions of the best read.")
    context_jpeg_b64: str | None = Field(
        None,
        max_length=200_000,
        description="Context frame of the best read (the vehicle in view); None when not kept.",
    )


class Payment(Contract):
    """A pay-by-plate or pay-station payment, a permit or a validation on alpr.payments.v1."""

    payment_id: Id
    kind: Literal["pay_by_plate", "pay_station", "permit", "validation"]
    facility_id: Id | Literal["*"] = Field(description="'*' for a permit valid in every facility.")
    plate: Plate
    amount_cents: Cents = 0
    currency: Literal["USD"] = "USD"
    paid_at: AwareDatetime
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    permit_type: str | None = Field(None, max_length=50)
    source: str = Field(max_length=100, description="System that reported it (pay station id, app, CSV import).")


class OccupancyEvent(Contract):
    """A facility's occupancy after a change, on alpr.occupancy.v1, keyed by facility_id."""

    event_id: Id
    facility_id: Id
    occupied: int = Field(ge=0)
    capacity: int = Field(ge=0)
    available: int
    as_of: AwareDatetime
    reason: Literal["pass", "adjustment"]
    last_pass_id: Id | None = None
    origin_captured_at: AwareDatetime | None = Field(None, description="Capture time of the read that caused it.")


class RevenueMatch(Contract):
    """The final financial outcome of one parking session, on alpr.revenue-matches.v1."""

    match_id: Id
    session_id: Id
    facility_id: Id
    plate: Plate | None
    status: Literal["matched", "underpaid", "unpaid", "permit", "overpaid", "payment_without_session", "superseded"] = (
        Field(
            description="'superseded': this session no longer stands: a reviewer corrected the plate of its exit, "
            "which then paired with another session's entry (`reason` names it; that session's match follows), "
            "or split the stay, its exit being another vehicle's (the session is open again: its next match "
            "follows when its vehicle leaves). "
            "Amounts are 0; finance drops the earlier match of the same session_id (latest wins)."
        )
    )
    entry_at: AwareDatetime | None
    exit_at: AwareDatetime | None
    amount_due_cents: Cents
    amount_paid_cents: Cents
    payment_ids: list[Id] = Field(default_factory=list)
    evidence_pass_ids: list[Id] = Field(default_factory=list)
    match_confidence: float = Field(ge=0.0, le=1.0)
    reason: str = Field(max_length=500)
    tariff_version: str
    decided_at: AwareDatetime


class Violation(Contract):
    """An enforcement case on alpr.violations.v1."""

    violation_id: Id
    kind: Literal["unpaid", "overstay", "invalid_permit"]
    session_id: Id
    facility_id: Id
    plate: Plate
    detected_at: AwareDatetime
    amount_due_cents: Cents
    evidence_pass_ids: list[Id] = Field(min_length=1)
    reason: str = Field(max_length=500)
    verified_by: str = Field(
        "",
        max_length=120,
        description="Why the read may be cited: 'confidence:<lowest read confidence>' (at or above the "
        "verified threshold) or 'review:<reviewer>' (confirmed or corrected by a person). Never empty "
        "on an issued violation; a case whose read is neither waits in review (issue #16).",
    )
    state: Literal["issued", "withdrawn"] = Field(
        "issued",
        description="'withdrawn': a violation issued before is void (a reviewer dismissed or corrected "
        "the read, or a late payment or permit covered the stay). Same violation_id: the latest wins.",
    )


class ReviewDecision(Contract):
    """A reviewer's decision on a review task of the revenue service, on alpr.review-decisions.v1
    (keyed by the session's confusable plate key). Finance and enforcement subscribe to it: it says
    which read a person confirmed or corrected, and so which matches and violations change."""

    decision_id: Id = Field(description="Deterministic: '<review_id>#<decided_at epoch ms>'.")
    review_id: Id = Field(description="The task's id: the session id it reviews.")
    session_id: Id
    facility_id: Id
    decision: Literal["confirmed", "corrected", "dismissed", "split"] = Field(
        description="confirmed: the machine's plate is right; corrected: the plate is `plate`; "
        "dismissed: the plate cannot be read from the evidence (nothing is cited); split: the stay's "
        "exit was another vehicle's, whose plate is `plate` (the entry's plate stands): the stay is "
        "voided, its entry is open again and the exit is paired under `plate`."
    )
    plate_before: Plate
    plate: Plate = Field(
        description="The plate after the decision (plate_before unless corrected); for split, the exit's plate."
    )
    plate_key: str = Field(description="Confusable key of plate_before: the matcher's partition key.")
    reviewer: str = Field(min_length=1, max_length=100)
    decided_at: AwareDatetime
    note: str = Field("", max_length=500)


class AuditEvent(Contract):
    """One access to ALPR data (or an attempt), on alpr.audit.v1. Policy sections 3.C.1 and 6."""

    event_id: Id
    at: AwareDatetime
    service: str = Field(min_length=1, max_length=50)
    user: str = Field(max_length=100, description="Login name; 'anonymous' for unauthenticated attempts.")
    role: str = Field(max_length=50)
    action: str = Field(
        min_length=1, max_length=100, description="e.g. plate.search, image.view, evidence.export, login."
    )
    resource: str = Field(max_length=500)
    filters: dict[str, str] = Field(default_factory=dict)
    plates: list[Plate] = Field(default_factory=list, max_length=1000)
    row_count: int = Field(0, ge=0)
    client: str = Field(max_length=100)
    outcome: Literal["allowed", "denied", "error"]
    reason: str = Field("", max_length=500)
    purpose: str = Field(
        "",
        max_length=50,
        description="The purpose the request stated (alpr.purposes: policy section 4; Civil Code "
        "1798.90.52); empty for accesses that need none (login, occupancy counts).",
    )
    case_ref: str = Field("", max_length=64, description="The case or citation number the purpose names.")


class Hold(Contract):
    """A legal hold placed or released, on alpr.holds.v1. Policy section 10."""

    hold_id: Id
    action: Literal["place", "release"]
    basis: Literal["subpoena", "court_order", "investigation"]
    case_ref: str = Field(min_length=1, max_length=200)
    plates: list[Plate] = Field(default_factory=list, max_length=10_000)
    time_from: AwareDatetime | None = None
    time_to: AwareDatetime | None = None
    by: str = Field(min_length=1, max_length=100)
    at: AwareDatetime


class Revocation(Contract):
    """Access tokens refused before they expire, on alpr.revocations.v1 (compacted, keyed by
    `revocation_id`). Policy 3.A and 3.C.1: a user who logged out or was disabled has no access.

    kind `token`: the one token `token_id` (a logout). kind `user`: every token of `user` issued
    (its `iat`) before `issued_before` (a disabled account); a later record for the same user
    replaces it and covers more. Consumers enforce `kind`, `token_id`, `user`, `issued_before`
    and `expires_at`; `reason`, `by` and `at` are for the audit record of each refusal. After
    `expires_at` no token the record refuses can still be valid: the governance service then
    publishes a tombstone (null value) for the key, and compaction forgets both.
    """

    revocation_id: Id = Field(description="The message key: 'token:<token_id>' or 'user:<user>'.")
    kind: Literal["token", "user"]
    user: Id = Field(
        max_length=100, description="Login name: the token's subject, or the user whose tokens are refused."
    )
    token_id: Id | None = Field(None, description="kind token: the token's id (its jti claim); null for kind user.")
    issued_before: AwareDatetime | None = Field(
        None, description="kind user: tokens of the user issued before this time are refused; null for kind token."
    )
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="Why: logout, user_disabled, ... (free text: a new "
        "reason must not make an older consumer dead-letter a revocation it should enforce).",
    )
    by: str = Field(min_length=1, max_length=100, description="Who revoked: the user logging out, the administrator.")
    at: AwareDatetime = Field(description="When it was revoked (the origin of the propagation delay metric).")
    expires_at: AwareDatetime = Field(
        description="Until when the record matters: the token's expiry, or issued_before "
        "plus the longest token lifetime."
    )

    @model_validator(mode="after")
    def _kind_fits_key(self):
        if self.kind == "token":
            if self.token_id is None or self.issued_before is not None:
                raise ValueError("kind token needs token_id and no issued_before")
            expected = f"token:{self.token_id}"
        else:
            if self.issued_before is None or self.token_id is not None:
                raise ValueError("kind user needs issued_before and no token_id")
            expected = f"user:{self.user}"
        if self.revocation_id != expected:
            raise ValueError(f"revocation_id must be {expected!r}")
        return self


class DlqHeaders(Contract):
    """Headers added to a message moved to a `<topic family>.dlq` topic; the value is the original bytes."""

    dlq_reason: str = Field(min_length=1, max_length=2000)
    dlq_source_topic: str
    dlq_source_partition: int = Field(ge=0)
    dlq_source_offset: int = Field(ge=0)
    dlq_service: str
    dlq_at: AwareDatetime


def utc_iso(value: datetime) -> str:
    """The wire form of a time: RFC 3339, UTC, millisecond precision, 'Z' suffix."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: wire times must be timezone-aware")
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
