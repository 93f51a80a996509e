"""The occupancy API: facilities, current occupancy, history, live stream, plate search (the
console's operations page, served by the governance service, reads them)."""

from __future__ import annotations

from fastapi import FastAPI

from alpr.http import create_app, install_auth
from alpr.purposes import load_purposes
from alpr.release import release_router
from services.occupancy.release import export_release


def build_app(parts) -> FastAPI:
    """The FastAPI app over the service's parts (`services.occupancy.main.Components`)."""
    from services.occupancy.routes import facilities, live, passes

    def store_ok() -> bool:
        return parts.api_store.query("SELECT 1 AS ok") == [{"ok": 1}]

    app = create_app(
        "occupancy",
        checks={
            "store": store_ok,
            "stream": parts.stream.ready,
            "workers": parts.workers.alive,
            "revocations": parts.revocations.ready,
        },
    )
    install_auth(
        app,
        auth_secret=parts.settings.auth_secret.get_secret_value(),
        audit=parts.audit,
        revocations=parts.revocations,
        purposes=load_purposes(parts.settings.access_purposes_file),
    )
    app.state.settings = parts.settings
    app.state.store = parts.api_store  # the API only reads: the read-only login on a server
    app.state.board = parts.board
    app.state.stream = parts.stream
    app.state.facilities = parts.facilities
    for router in (facilities.router, live.router, passes.router):
        app.include_router(router)
    # Policy section 7: the one bulk export path, for an approved release only.
    app.include_router(release_router(lambda scope: export_release(parts.api_store, scope)))
    return app
