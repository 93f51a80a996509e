"""GET /v1/evidence: the evidence package of one session for an appeal (EVIDENCE_EXPORT), audited."""

from __future__ import annotations

import asyncio
import hashlib
import re

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from services.revenue.deps import EvidenceExport
from services.revenue.evidence import NotFound, build_package

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])


@router.get("")
async def evidence(
    request: Request,
    access: EvidenceExport,
    session_id: str = Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/#@-]+$"),
) -> Response:
    services = request.app.state.services
    custody = services.custody
    try:
        package = await asyncio.to_thread(
            build_package,
            services.store,
            services.tariff,
            session_id,
            access.principal.user,
            services.settings.evidence_max_passes,
            await asyncio.to_thread(custody.history, session_id) if custody else [],
        )
    except NotFound:
        raise HTTPException(404, f"no session {session_id}") from None
    body = await asyncio.to_thread(package.to_zip)
    digest = hashlib.sha256(body).hexdigest()
    # Every download is on the audit trail, with the SHA-256 of these bytes, before a byte leaves
    # (fail closed); then in the package's own chain of custody (services/revenue/custody.py).
    await asyncio.to_thread(
        access.served,
        filters={"session_id": session_id, "sha256": digest},
        plates=[package.plate],
        row_count=len(package.files),
    )
    if custody is not None:
        try:
            await asyncio.to_thread(
                custody.record, session_id, package.plate, package.session_at, access.principal.user, digest,
                len(package.files),
            )  # fmt: skip
        except Exception:
            raise HTTPException(503, "the download could not be recorded in the chain of custody") from None
    name = re.sub(r"[^A-Za-z0-9._-]", "_", session_id)
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{name}.zip"', "X-Evidence-SHA256": digest},
    )
