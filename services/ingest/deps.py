"""FastAPI dependencies of the ingest service, as Annotated aliases (docs/style.md 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends

from alpr.http import Access, Guard, state_dep
from alpr.roles import Permission

if TYPE_CHECKING:  # main imports the routes, which import this module
    from services.ingest.main import IngestService

ServiceDep = Annotated["IngestService", Depends(state_dep("service"))]
SourcesRead = Annotated[Access, Depends(Guard(Permission.SOURCES_READ, "sources.read", operational=True))]
