"""The one bulk export path (policy section 7): data leaves only for an approved release.

"All data and images gathered by the ALPR ... shall not be sold, shared or transferred,
except with other public agencies, upon written request, possessing a need and legal right
to know." The governance service records the written request, has it approved by a manager
who is not the requester, and then mints a release token scoped to the release (plates,
time range). Each data-owning service mounts `release_router(export)`: the route accepts only
such a token, hands the scope to the service's `export` function, and audits the export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from alpr.http import Access, Guard
from alpr.roles import Permission

ReleaseExport = Annotated[Access, Depends(Guard(Permission.RELEASE_EXPORT, "release.export"))]


@dataclass(frozen=True)
class ReleaseScope:
    release_id: str
    agency: str
    plates: tuple[str, ...]
    time_from: datetime | None
    time_to: datetime | None

    @classmethod
    def from_claims(cls, scope: dict) -> ReleaseScope:
        try:
            return cls(
                release_id=str(scope["release_id"]),
                agency=str(scope["agency"]),
                plates=tuple(scope.get("plates") or ()),
                time_from=datetime.fromisoformat(scope["time_from"]) if scope.get("time_from") else None,
                time_to=datetime.fromisoformat(scope["time_to"]) if scope.get("time_to") else None,
            )
        except (KeyError, ValueError) as err:
            raise HTTPException(401, f"malformed release scope: {err}") from None

    def bounds(self) -> dict[str, datetime]:
        """The scope's time range as query parameters `start` and `end` (UTC; open ends far away)."""

        def utc(value: datetime | None, default: datetime) -> datetime:
            if value is None:
                return default
            return value if value.tzinfo else value.replace(tzinfo=UTC)

        return {
            "start": utc(self.time_from, datetime(1970, 1, 1, tzinfo=UTC)),
            "end": utc(self.time_to, datetime(2200, 1, 1, tzinfo=UTC)),
        }


Exporter = Callable[[ReleaseScope], dict[str, list[dict[str, Any]]]]


def release_router(export: Exporter) -> APIRouter:
    """GET /v1/release-export: the rows of this service within the release token's scope."""
    router = APIRouter(tags=["release"])

    @router.get("/v1/release-export")
    def release_export(access: ReleaseExport) -> dict:
        scope = ReleaseScope.from_claims(access.principal.scope or {})
        tables = export(scope)
        rows = sum(len(v) for v in tables.values())
        plates = sorted({str(r["plate"]) for v in tables.values() for r in v if r.get("plate")})
        access.served(filters={"release_id": scope.release_id, "agency": scope.agency}, plates=plates, row_count=rows)
        return {"release_id": scope.release_id, "tables": tables}

    return router
