"""FastAPI dependencies of the governance service, as Annotated aliases (docs/style.md 7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from alpr.audit import AuditClient
from alpr.http import Access, Guard, state_dep
from alpr.roles import Permission
from alpr.store import Store
from services.audit.login import LoginService
from services.audit.registry import UserRegistry
from services.audit.revocations import RevocationBook

RegistryDep = Annotated[UserRegistry, Depends(state_dep("registry"))]
StoreDep = Annotated[Store, Depends(state_dep("store"))]
LoginDep = Annotated[LoginService, Depends(state_dep("login"))]
AuditDep = Annotated[AuditClient, Depends(state_dep("audit"))]
RevocationsDep = Annotated[RevocationBook, Depends(state_dep("revocation_book"))]

AuditRead = Annotated[Access, Depends(Guard(Permission.AUDIT_READ, "audit.query"))]
UsersAdmin = Annotated[Access, Depends(Guard(Permission.USERS_ADMIN, "users.admin"))]
HoldsPlace = Annotated[Access, Depends(Guard(Permission.HOLDS_PLACE, "holds.manage"))]


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""
