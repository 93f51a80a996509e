"""FastAPI dependencies of the revenue service, as Annotated aliases (docs/style.md 7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from alpr.http import Access, Guard
from alpr.purposes import ENFORCEMENT_WORK, READ_REVIEW
from alpr.roles import Permission

# Routes reach the service's parts through `request.app.state.services` (main.Services).
PaymentsWrite = Annotated[Access, Depends(Guard(Permission.PAYMENTS_WRITE, "payments.write"))]
RevenueRead = Annotated[Access, Depends(Guard(Permission.REVENUE_READ, "revenue.reconciliation"))]
MatchesRead = Annotated[Access, Depends(Guard(Permission.REVENUE_READ, "revenue.matches"))]
EvidenceExport = Annotated[Access, Depends(Guard(Permission.EVIDENCE_EXPORT, "evidence.export", purpose=True))]
ReviewsRead = Annotated[Access, Depends(Guard(Permission.REVIEWS_READ, "reviews.list", purpose=READ_REVIEW))]
ViolationsRead = Annotated[
    Access, Depends(Guard(Permission.VIOLATIONS_READ, "violations.list", purpose=ENFORCEMENT_WORK))
]
ReviewDecide = Annotated[Access, Depends(Guard(Permission.REVIEWS_DECIDE, "reviews.decide", purpose=READ_REVIEW))]
AccuracyRead = Annotated[Access, Depends(Guard(Permission.OCCUPANCY_READ, "accuracy.read"))]
