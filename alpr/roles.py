"""Who may do what: the one role matrix (policy section 5, least privilege).

Roles follow section 5 of the operator's policy: persons and departments authorized by
Parking Management, contracted enforcement and operations staff, and personnel who install
and maintain the ALPR system, plus auditors (section 6) and administrators. Every route
names the permission it needs; nothing else decides access.
"""

from __future__ import annotations

from enum import Enum


class Permission(str, Enum):  # noqa: UP042  (StrEnum would change str(permission), which code and logs print)
    OCCUPANCY_READ = "occupancy.read"
    OCCUPANCY_ADJUST = "occupancy.adjust"
    PLATES_SEARCH = "plates.search"
    IMAGES_VIEW = "images.view"
    EVIDENCE_EXPORT = "evidence.export"
    REVENUE_READ = "revenue.read"
    PAYMENTS_WRITE = "payments.write"
    HOLDS_PLACE = "holds.place"
    RELEASES_REQUEST = "releases.request"
    RELEASES_APPROVE = "releases.approve"
    AUDIT_READ = "audit.read"
    USERS_ADMIN = "users.admin"
    SYSTEM_OPERATE = "system.operate"
    SOURCES_READ = "sources.read"  # camera source states (operational; stream URLs without credentials)
    RELEASE_EXPORT = "release.export"
    REVIEWS_READ = "reviews.read"  # the review queue: plates, confidences, crops (issue #16)
    REVIEWS_DECIDE = "reviews.decide"  # confirm, correct or dismiss a machine read
    VIOLATIONS_READ = "violations.read"  # the violations issued (or withdrawn): enforcement's work list


P = Permission

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    # Metro Parking Management: every purpose of section 4, approves releases, places holds.
    "parking_management": frozenset(
        {
            P.OCCUPANCY_READ,
            P.OCCUPANCY_ADJUST,
            P.PLATES_SEARCH,
            P.IMAGES_VIEW,
            P.EVIDENCE_EXPORT,
            P.REVENUE_READ,
            P.PAYMENTS_WRITE,
            P.HOLDS_PLACE,
            P.RELEASES_REQUEST,
            P.RELEASES_APPROVE,
            P.AUDIT_READ,
            P.SOURCES_READ,
            P.REVIEWS_READ,
            P.VIOLATIONS_READ,
        }
    ),
    # Contracted parking enforcement: find vehicles, see images, build appeal evidence, and see
    # why a case waits in review (deciding it is the reviewers' job, not the citer's).
    "enforcement": frozenset(
        {P.OCCUPANCY_READ, P.PLATES_SEARCH, P.IMAGES_VIEW, P.EVIDENCE_EXPORT, P.REVIEWS_READ, P.VIOLATIONS_READ}
    ),
    # Read reviewers: confirm, correct or dismiss the machine's uncertain reads before anyone is
    # cited on them; they see the crops and candidate reads of the queue and nothing else.
    "reviewer": frozenset({P.REVIEWS_READ, P.REVIEWS_DECIDE, P.IMAGES_VIEW}),
    # Contracted parking operations: occupancy and counts, no plate search.
    "operations": frozenset({P.OCCUPANCY_READ, P.OCCUPANCY_ADJUST, P.SOURCES_READ}),
    # Departments authorized for revenue verification and reconciliation (section 4.1).
    "finance": frozenset({P.REVENUE_READ, P.PAYMENTS_WRITE, P.OCCUPANCY_READ}),
    # Installation and maintenance: runs the system, sees no plates.
    "maintenance": frozenset({P.SYSTEM_OPERATE, P.OCCUPANCY_READ, P.SOURCES_READ}),
    # Auditors read the audit trail (section 6) and nothing else.
    "auditor": frozenset({P.AUDIT_READ}),
    # Administrators manage users and their written authorizations; no ALPR data by default.
    "admin": frozenset({P.USERS_ADMIN, P.AUDIT_READ, P.SYSTEM_OPERATE, P.SOURCES_READ}),
    # Not a person: the short-lived token the governance service mints for one approved data
    # release (section 7), scoped to that release's plates and time range. It is the only
    # bulk export path: each owning service's /v1/release-export accepts nothing else.
    "release": frozenset({P.RELEASE_EXPORT}),
}

# Roles a person may hold (the user registry refuses the others).
PERSON_ROLES = frozenset(ROLE_PERMISSIONS) - {"release"}

ROLES = frozenset(ROLE_PERMISSIONS)


def permissions_of(role: str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(role, frozenset())
