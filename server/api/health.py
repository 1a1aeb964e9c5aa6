"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from server.deps import Services, get_services
from server.metrics import render_metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: Services = Depends(get_services)) -> JSONResponse:
    checks = [("database", await services.database_ok())]
    if services.settings.redis_url:
        checks.append(("redis", await services.state.healthy()))
    down = [name for name, ok in checks if not ok]
    if down:
        return JSONResponse(
            {"detail": f"not ready: {', '.join(down)} unavailable"}, status_code=503
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(services: Services = Depends(get_services)) -> PlainTextResponse:
    return PlainTextResponse(
        render_metrics(services.metrics), media_type="text/plain; version=0.0.4"
    )
