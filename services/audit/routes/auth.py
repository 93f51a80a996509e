"""Login, logout and password change."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from alpr.http import authenticate
from services.audit.deps import AuditDep, LoginDep, RegistryDep, RevocationsDep, client_of
from services.audit.login import LoginRefused
from services.audit.passwords import WeakPassword, check_policy, hash_password, verify_password
from services.audit.revocations import RevocationUnpublished, token_revocation

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: int
    role: str
    must_change_password: bool


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


@router.post("/login", response_model=TokenPublic)
def login(body: LoginIn, request: Request, service: LoginDep) -> TokenPublic:
    try:
        session = service.login(body.username, body.password, client_of(request))
    except LoginRefused as refused:
        raise HTTPException(refused.status, refused.public) from None
    return TokenPublic(
        access_token=session.token,
        expires_at=session.expires_at,
        role=session.role,
        must_change_password=session.must_change_password,
    )


@router.post("/logout", status_code=204)
def logout(request: Request, revocations: RevocationsDep, audit: AuditDep) -> None:
    """204 means the token is dead everywhere: the revocation is acknowledged by Kafka first (each
    service refuses it once its consumer has it, within seconds) and refused here at once."""
    principal = authenticate(request, "logout", operational=True)
    try:
        revocations.publish(token_revocation(principal, reason="logout", by=principal.user))
    except RevocationUnpublished as err:
        raise HTTPException(503, f"logout not recorded, the token is still valid: {err}; retry") from None
    audit.record(audit.event(principal, "logout", "/v1/auth/logout", outcome="allowed", client=client_of(request)))


@router.post("/password", status_code=204)
def change_password(body: PasswordChangeIn, request: Request, registry: RegistryDep, audit: AuditDep) -> None:
    principal = authenticate(request, "password.change")
    user = registry.require(principal.user)
    if not verify_password(user.password_hash, body.current_password):
        raise HTTPException(403, "current password is wrong")
    try:
        check_policy(body.new_password, principal.user)
    except WeakPassword as err:
        raise HTTPException(422, str(err)) from None
    registry.set_password(principal.user, hash_password(body.new_password), must_change=False)
    audit.record(
        audit.event(principal, "password.change", "/v1/auth/password", outcome="allowed", client=client_of(request))
    )
