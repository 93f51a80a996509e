"""Data releases to public agencies (policy section 7): request, decide, export package."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from alpr.auth import issue_token
from alpr.http import Access, Guard
from alpr.roles import Permission
from services.audit.releases import ReleaseError, ReleaseRequest

router = APIRouter(prefix="/v1/releases", tags=["releases"])
Requester = Annotated[Access, Depends(Guard(Permission.RELEASES_REQUEST, "release.request"))]
Approver = Annotated[Access, Depends(Guard(Permission.RELEASES_APPROVE, "release.decide"))]
Exporter = Annotated[Access, Depends(Guard(Permission.RELEASES_APPROVE, "release.package"))]


class Decision(BaseModel):
    approve: bool
    note: str = Field(min_length=1, max_length=1000, description="Why: recorded with the decision.")


def _fail(err: ReleaseError) -> HTTPException:
    return HTTPException(err.status, str(err))


@router.post("", status_code=201)
def request_release(body: ReleaseRequest, access: Requester, request: Request) -> dict:
    release_id = request.app.state.releases.create(body, access.principal.user)
    access.served(
        filters={"release_id": release_id, "agency": body.agency, "ref": body.written_request_ref},
        plates=body.plates,
        row_count=1,
    )
    return request.app.state.releases.get(release_id)


@router.get("")
def list_releases(access: Requester, request: Request) -> list[dict]:
    records = request.app.state.releases.all()
    access.served(row_count=len(records), plates=[p for r in records for p in r["request"]["plates"]])
    return records


@router.post("/{release_id}/decision")
def decide(release_id: str, body: Decision, access: Approver, request: Request) -> dict:
    try:
        record = request.app.state.releases.decide(release_id, access.principal.user, body.approve, body.note)
    except ReleaseError as err:
        raise _fail(err) from None
    access.served(
        filters={"release_id": release_id, "approve": str(body.approve)},
        plates=record["request"]["plates"],
        row_count=1,
    )
    return record


@router.post("/{release_id}/package")
def package(release_id: str, access: Exporter, request: Request) -> Response:
    """Export an approved release once: a ZIP of each owning service's rows plus a manifest."""
    state = request.app.state
    try:
        record = state.releases.claim_export(release_id)
    except ReleaseError as err:
        raise _fail(err) from None
    scope = {
        "release_id": release_id,
        "agency": record["request"]["agency"],
        "plates": record["request"]["plates"],
        "time_from": record["request"]["time_from"],
        "time_to": record["request"]["time_to"],
    }
    token = issue_token(
        state.auth_secret,
        f"release:{release_id}",
        "release",
        ttl_s=state.settings.release_token_minutes * 60,
        scope=scope,
    )
    files: dict[str, bytes] = {}
    try:
        for name, client in state.release_clients().items():
            r = client.get("/v1/release-export", headers={"Authorization": f"Bearer {token}"})
            if r.status_code != 200:
                raise HTTPException(502, f"{name} refused the export: {r.status_code} {r.text[:200]}")
            files[f"{name}.json"] = json.dumps(r.json()["tables"], indent=2, sort_keys=True).encode()
    except (httpx.HTTPError, HTTPException) as err:
        state.releases.finish_export(release_id, None)
        if isinstance(err, HTTPException):
            raise
        raise HTTPException(502, f"an owning service could not be reached: {err}") from None
    manifest = {
        "release": record,
        "exported_by": access.principal.user,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    access.served(
        filters={"release_id": release_id, "agency": scope["agency"], "sha256": digest},
        plates=scope["plates"],
        row_count=len(files) - 1,
    )
    state.releases.finish_export(release_id, digest)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename={release_id}.zip", "X-Package-SHA256": digest},
    )
