"""What every HTTP answer carries, and how request input is checked before it is read.

- Security headers on every response: the board's pages get a CSP that lets them load their
  own script, style and websockets and nothing else; everything else (JSON, the SVG export,
  which is user content) gets one that runs nothing.
- Validation errors (422) keep FastAPI's `{"detail": [...]}` shape, but never echo more than
  a short prefix of what was sent.
- Which bodies POST /api/rooms and /join take: JSON, or a form that a browser only sends
  from this origin (or one listed in WHITEBOARD_CORS_ORIGINS).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The board (server/static): a module script and a stylesheet of its own, websockets to the
# server (same origin, or WHITEBOARD_PUBLIC_URL's host), a `data:` favicon. Inline style
# attributes stay allowed: the page sets `style="--c: ..."` on its colour swatches.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' ws: wss:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# JSON, the SVG export (user content: opened on its own it may draw, never run anything),
# the board's script and style files.
STRICT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Invite links and `?token=` export links are capabilities: never sent on as a Referer.
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Adds the headers above to every HTTP response that does not set them itself.

    `no_csp` paths (FastAPI's /docs and /redoc, which load Swagger UI from a CDN with an
    inline script) get the other headers only.
    """

    def __init__(self, app: ASGIApp, *, no_csp: Iterable[str] = ()) -> None:
        self.app = app
        self.no_csp = frozenset(no_csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = scope["path"] not in self.no_csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                if csp:
                    html = headers.get("content-type", "").startswith("text/html")
                    headers.setdefault("Content-Security-Policy", PAGE_CSP if html else STRICT_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_ECHO = 100  # characters of a request's input that a validation error may show


def _short(value: Any) -> Any:
    """`value` if it is short once encoded, a prefix of it if it is text, else None."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value[: MAX_ECHO * 4]).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        encoded = jsonable_encoder(value)
        if len(json.dumps(encoded)) <= MAX_ECHO:
            return encoded
    except Exception:  # noqa: BLE001 - anything that does not encode is left out
        pass
    return None


def short_errors(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """FastAPI's error list with each `input` cut to a short prefix (or left out)."""
    out = []
    for error in errors:
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [p if isinstance(p, int) else _short(str(p)) for p in error.get("loc", ())],
            "msg": _short(str(error.get("msg", ""))),
        }
        if "input" in error:
            short = _short(error["input"])
            if short is not None:
                item["input"] = short
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {
                str(k): _short(v if isinstance(v, str | int | float | bool) else str(v))
                for k, v in ctx.items()
            }
        out.append(item)
    return out


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": short_errors(errors)}, status_code=422)


JSON_TYPE = "application/json"
# Not url-encoded forms: like text/plain they need no preflight, and nothing sends them.
FORM_TYPES = ("multipart/form-data",)


def body_type(request: Request) -> str:
    """The body's media type, if these routes take it: 415 for any other, or an encoding.

    JSON needs a CORS preflight from another origin, so a page elsewhere cannot send it
    unless WHITEBOARD_CORS_ORIGINS lists that page's origin. `text/plain` (what a page sends
    to dodge the preflight) and compressed bodies are refused.
    """
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise HTTPException(415, detail=f"Content-Encoding {encoding[:40]!r} is not accepted")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == JSON_TYPE or media in FORM_TYPES:
        return media
    raise HTTPException(
        415,
        detail="the body must be application/json or multipart/form-data",
    )


def refuse_cross_site_form(request: Request, *, allowed_origins: list[str],
                           public_url: str | None) -> None:
    """403 for a form that a browser sent from a page of another origin.

    Forms are CORS "simple" requests: a browser sends them cross-origin without asking, so
    the server checks where they came from itself. `Sec-Fetch-Site` where the browser sends
    it, else `Origin` against this server's host (or WHITEBOARD_PUBLIC_URL's). Requests
    without either (scripts, curl) are not from a browser page and pass.
    """
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    if origin is not None and origin in allowed_origins:
        return
    if site is not None:
        if site in ("same-origin", "none"):
            return
    elif origin is None:
        return
    else:
        host = urlsplit(origin).netloc.lower()
        own = {request.headers.get("host", "").lower()}
        if public_url:
            own.add(urlsplit(public_url).netloc.lower())
        if host and host in own:
            return
    raise HTTPException(
        403,
        detail="a form from another site's page is refused; "
        "send JSON, from an origin listed in WHITEBOARD_CORS_ORIGINS",
    )
