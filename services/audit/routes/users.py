"""Administrators manage users, their written authorizations and training (policy section 5)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from services.audit.deps import RegistryDep, RevocationsDep, UsersAdmin
from services.audit.passwords import hash_password, one_time_password
from services.audit.registry import RegistryError
from services.audit.revocations import RevocationUnpublished, user_revocation

router = APIRouter(prefix="/v1/users", tags=["users"])


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    role: str
    supervisor: str | None = None


class UserCreatedPublic(BaseModel):
    username: str
    one_time_password: str


class AuthorizationIn(BaseModel):
    authorized_by: str = Field(min_length=1, max_length=100)
    authorized_on: date
    document_ref: str = Field(min_length=1, max_length=200)


class TrainingIn(BaseModel):
    course: str = Field(min_length=1, max_length=200)
    completed_on: date
    expires_on: date


def _refused(err: RegistryError) -> HTTPException:
    return HTTPException(409 if "exists" in str(err) else 422, str(err))


@router.get("")
def list_users(access: UsersAdmin, registry: RegistryDep) -> list[dict]:
    users = registry.list_users()
    access.served(row_count=len(users))
    return users


@router.post("", response_model=UserCreatedPublic, status_code=201)
def create_user(body: UserIn, access: UsersAdmin, registry: RegistryDep) -> UserCreatedPublic:
    password = one_time_password()
    try:
        registry.create_user(
            body.username, body.full_name, body.role, hash_password(password), access.principal.user, body.supervisor
        )
    except RegistryError as err:
        raise _refused(err) from None
    access.served(filters={"created": body.username, "role": body.role}, row_count=1)
    return UserCreatedPublic(username=body.username, one_time_password=password)


@router.get("/{username}")
def get_user(username: str, access: UsersAdmin, registry: RegistryDep) -> dict:
    user = registry.get(username)
    if user is None:
        raise HTTPException(404, f"no user {username}")
    access.served(filters={"user": username}, row_count=1)
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "supervisor": user.supervisor,
        "disabled": user.disabled,
        "locked_until": user.locked_until,
        **registry.records(username),
    }


@router.post("/{username}/authorizations", status_code=201)
def authorize(username: str, body: AuthorizationIn, access: UsersAdmin, registry: RegistryDep) -> dict:
    try:
        registry.authorize(username, body.authorized_by, body.authorized_on, body.document_ref)
    except RegistryError as err:
        raise _refused(err) from None
    access.served(filters={"user": username, "document_ref": body.document_ref}, row_count=1)
    return {"username": username, "authorized": True}


@router.post("/{username}/training", status_code=201)
def record_training(username: str, body: TrainingIn, access: UsersAdmin, registry: RegistryDep) -> dict:
    try:
        registry.record_training(username, body.course, body.completed_on, body.expires_on, access.principal.user)
    except RegistryError as err:
        raise _refused(err) from None
    access.served(filters={"user": username, "course": body.course}, row_count=1)
    return {"username": username, "trained_until": body.expires_on.isoformat()}


@router.post("/{username}/disable", status_code=204)
def disable(username: str, access: UsersAdmin, registry: RegistryDep, revocations: RevocationsDep) -> None:
    """204 means the user can neither log in nor use a token issued before: disabled in the
    registry first (no new login), then every earlier token revoked, acknowledged by Kafka."""
    try:
        registry.set_disabled(username, True)
    except RegistryError as err:
        raise HTTPException(404, str(err)) from None
    try:
        revocations.publish(user_revocation(username, reason="user_disabled", by=access.principal.user))
    except RevocationUnpublished as err:
        raise HTTPException(
            503, f"user disabled, but the tokens already issued are still valid: {err}; retry"
        ) from None
    access.served(filters={"user": username}, row_count=1)


@router.post("/{username}/enable", status_code=204)
def enable(username: str, access: UsersAdmin, registry: RegistryDep) -> None:
    try:
        registry.set_disabled(username, False)
    except RegistryError as err:
        raise HTTPException(404, str(err)) from None
    access.served(filters={"user": username}, row_count=1)
