"""Login, logout and password change."""

from __future__ import annotations


from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from alpr.auth import AuthError, bearer, verify_token
from services.audit.deps import AuditDep, LoginDep, RegistryDep, client_of
from services.audit.login import LoginRefused
from services.audit.passwords import WeakPassword, check_policy, hash_password, verify_password

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
    return TokenPublic(access_token=session.token, expires_at=session.expires_at, role=session.role,
                       must_change_password=session.must_change_password)


def _principal(request: Request):
    try:
        principal = verify_token(request.app.state.auth_secret, bearer(request.headers.get("authorization")))
    except AuthError as err:
        raise HTTPException(401, str(err), headers={"WWW-Authenticate": "Bearer"}) from None
    if request.app.state.is_revoked(principal):
        raise HTTPException(401, "token revoked")
    return principal


@router.post("/logout", status_code=204)
def logout(request: Request, registry: RegistryDep, audit: AuditDep) -> None:
    principal = _principal(request)
    registry.revoke_token(principal.token_id, principal.expires_at)
    audit.record(audit.event(principal, "logout", "/v1/auth/logout", outcome="allowed", client=client_of(request)))


@router.post("/password", status_code=204)
def change_password(body: PasswordChangeIn, request: Request, registry: RegistryDep, audit: AuditDep) -> None:
    principal = _principal(request)
    user = registry.require(principal.user)
    if not verify_password(user.password_hash, body.current_password):
        raise HTTPException(403, "current password is wrong")
    try:
        check_policy(body.new_password, principal.user)
    except WeakPassword as err:
        raise HTTPException(422, str(err)) from None
    registry.set_password(principal.user, hash_password(body.new_password), must_change=False)
    audit.record(audit.event(principal, "password.change", "/v1/auth/password", outcome="allowed", client=client_of(request)))
