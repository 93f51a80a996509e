"""GET /v1/evidence: the evidence package of one session for an appeal (EVIDENCE_EXPORT), audited."""

from __future__ import annotations

import asyncio
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
    try:
        package = await asyncio.to_thread(
            build_package,
            services.store,
            services.tariff,
            session_id,
            access.principal.user,
            services.settings.evidence_max_passes,
        )
    except NotFound:
        raise HTTPException(404, f"no session {session_id}") from None
    body = await asyncio.to_thread(package.to_zip)
    # Every download is on the audit trail before a byte leaves (fail closed).
    await asyncio.to_thread(
        access.served, filters={"session_id": session_id}, plates=[package.plate], row_count=len(package.files)
    )
    name = re.sub(r"[^A-Za-z0-9._-]", "_", session_id)
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{name}.zip"'},
    )
