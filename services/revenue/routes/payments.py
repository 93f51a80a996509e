"""POST /v1/payments: finance submits payments, permits and validations (PAYMENTS_WRITE).

Each record is validated and answered on its own (accepted, or refused with the reason);
the accepted ones are on the broker when the answer leaves.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.revenue.deps import PaymentsWrite

router = APIRouter(prefix="/v1/payments", tags=["payments"])


class PaymentsIn(BaseModel):
    payments: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class PaymentResultPublic(BaseModel):
    row: int
    payment_id: str
    accepted: bool
    reason: str


class PaymentResultsPublic(BaseModel):
    accepted: int
    refused: int
    results: list[PaymentResultPublic]


@router.post("", response_model=PaymentResultsPublic)
async def submit(body: PaymentsIn, access: PaymentsWrite, request: Request) -> PaymentResultsPublic:
    services = request.app.state.services
    plates = [str(p.get("plate", "")).upper() for p in body.payments if isinstance(p.get("plate"), str)]
    # Audited before anything is published: no record of the access, no effect (fail closed).
    await asyncio.to_thread(
        access.served,
        filters={"records": str(len(body.payments))},
        plates=[p for p in plates if p.isalnum() and len(p) <= 10],
        row_count=len(body.payments),
    )
    results = await asyncio.to_thread(services.publisher.publish, body.payments, f"api:{access.principal.user}")
    accepted = [r for r in results if r.accepted]
    return PaymentResultsPublic(
        accepted=len(accepted),
        refused=len(results) - len(accepted),
        results=[PaymentResultPublic(**vars(r)) for r in results],
    )
