"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from server.deps import ServicesDep
from server.metrics import render_metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    # The real-time state's check carries its back-end's name (the in-process one never fails).
    state = services.state
    checks = [("database", await services.database_ok()), (state.name, await state.healthy())]
    down = [name for name, ok in checks if not ok]
    if down:
        return JSONResponse(
            {"detail": f"not ready: {', '.join(down)} unavailable"}, status_code=503
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    return PlainTextResponse(
        render_metrics(services.metrics), media_type="text/plain; version=0.0.4"
    )
