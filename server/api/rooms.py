"""Identity and rooms (docs/protocol.md §1): create, join, read, presence."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import anyio
from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from crdt.boards import board_state
from crdt.svg import SvgError, SvgTooLarge, import_svg
from persistence.rooms import RoomInfo
from server.api.security import JSON_TYPE, body_type, refuse_cross_site_form
from server.auth import TokenClaims
from server.deps import (
    Services,
    client_ip,
    get_services,
    is_room_id,
    limit_key,
    room_claims,
    room_not_found,
)
from server.schemas import (
    Cursor,
    Presence,
    PresenceUser,
    RoomCreate,
    RoomCreated,
    RoomJoin,
    RoomJoined,
    RoomPublic,
    UserPublic,
)

router = APIRouter(prefix="/api/rooms", tags=["rooms"])

M = TypeVar("M", bound=BaseModel)


def _documented_body(model: type[BaseModel]) -> dict:
    """The OpenAPI request body of a route that reads its body itself (_read_input)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "multipart/form-data": {"schema": schema},
    }}}


def _base_url(request: Request, services: Services) -> str:
    configured = services.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _ws_url(request: Request, services: Services, room_id: str) -> str:
    base = _base_url(request, services)
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/{room_id}"


async def _read_bounded(request: Request, limit: int, too_large: HTTPException) -> bytes:
    """The request body, refused with `too_large` as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _svg_too_large(limit: int) -> HTTPException:
    return HTTPException(413, detail=f"the SVG is larger than the limit of {limit} bytes")


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(
            400, detail="the body is not UTF-8 text (compressed bodies are not accepted)"
        ) from None


# Room for the rest of the multipart form around the SVG.
_FORM_OVERHEAD = 64 * 1024


async def _read_input(
    request: Request, services: Services, model: type[M], *, svg: bool
) -> M:
    """The body of a create (`svg`) or join call as `model`, within the limits of §1.

    JSON: at most MAX_JSON_BYTES, UTF-8. A form: only from this origin's pages (or a CORS
    origin), at most twice MAX_SVG_BYTES when it may carry an SVG, else MAX_JSON_BYTES.
    """
    settings = services.settings
    media = body_type(request)
    try:
        if media == JSON_TYPE:
            limit = settings.max_json_bytes
            too_large = HTTPException(
                413,
                detail=f"the JSON body is larger than the limit of {limit} bytes "
                "(WHITEBOARD_MAX_JSON_BYTES)"
                + ("; send a larger SVG as multipart/form-data" if svg else ""),
            )
            return model.model_validate_json(_utf8(await _read_bounded(request, limit, too_large)))
        refuse_cross_site_form(
            request, allowed_origins=settings.cors_origin_list(), public_url=settings.public_url
        )
        max_svg = settings.max_svg_bytes
        limit = 2 * max_svg + _FORM_OVERHEAD if svg else settings.max_json_bytes
        too_large = HTTPException(
            413, detail=f"the form is larger than the limit of {limit} bytes"
            + (" (twice WHITEBOARD_MAX_SVG_BYTES and 64 KiB)" if svg
               else " (WHITEBOARD_MAX_JSON_BYTES)"),
        )
        body = await _read_bounded(request, limit, too_large)
        fields = await _form_fields(request, body, max_part=limit)
        if not svg:
            fields.pop("svg", None)
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def _form_fields(request: Request, body: bytes, *, max_part: int) -> dict:
    """`name` and `svg` of a multipart form (an SVG file is read as text)."""
    async def replay() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(
        max_files=4, max_fields=8, max_part_size=max_part
    )
    try:
        fields: dict = {"name": form.get("name")}
        svg = form.get("svg")
        if svg is not None and not isinstance(svg, str):
            svg = (await svg.read()).decode("utf-8", errors="replace")
        if svg is not None:
            fields["svg"] = svg
        return fields
    finally:
        await form.close()


async def _read_create_body(request: Request, services: Services) -> RoomCreate:
    created = await _read_input(request, services, RoomCreate, svg=True)
    max_svg = services.settings.max_svg_bytes
    if created.svg is not None and len(created.svg.encode()) > max_svg:
        raise _svg_too_large(max_svg)
    return created


async def _import(services: Services, svg: str | None) -> tuple[bytes | None, int, int]:
    """The new room's first state, how many strokes it holds, and what was skipped."""
    if svg is None:
        return None, 0, 0
    settings = services.settings
    try:
        result = await to_thread.run_sync(
            partial(
                import_svg,
                svg,
                max_bytes=settings.max_svg_bytes,
                max_path_data=settings.max_path_data,
            )
        )
    except SvgTooLarge as exc:
        raise HTTPException(413, detail=str(exc)) from None
    except SvgError as exc:
        raise HTTPException(400, detail=f"the SVG cannot be read: {exc}") from None
    state = board_state(
        result.paths, now_ms=time.time() * 1000, max_path_data=settings.max_path_data
    )
    return state, len(result.paths), result.skipped_elements


async def _issue(services: Services, room_id: str, name: str) -> tuple[str, UserPublic]:
    user = UserPublic(id=str(uuid.uuid4()), name=name)
    token = services.tokens.issue(room_id=room_id, user_id=user.id, name=name)
    await services.repository.record_session(user_id=user.id, room_id=room_id, username=name)
    return token, user


@router.post(
    "", status_code=201, response_model=RoomCreated, openapi_extra=_documented_body(RoomCreate)
)
async def create_room(
    request: Request, services: Services = Depends(get_services)
) -> RoomCreated:
    body = await _read_create_body(request, services)
    settings = services.settings
    ip = client_ip(request, settings.trusted_proxy_list())
    # An IPv6 client counts by its network (WHITEBOARD_IPV6_PREFIX): one host holds a /64.
    key = limit_key(ip, settings.ipv6_prefix)
    room_id = str(uuid.uuid4())
    limit = settings.max_rooms_per_ip
    try:
        claim = await services.state.claim_room(ip=key, room_id=room_id, limit=limit)
    except (RedisError, OSError):
        raise HTTPException(503, detail="real-time state (Redis) unavailable; try again") from None
    if not claim.allowed:
        raise HTTPException(
            429,
            detail=f"this {'network' if key != ip else 'address'} already has {limit} "
            "live rooms (the limit); "
            f"one frees up when a room has been idle long enough",
            headers={"Retry-After": str(claim.retry_after_s)},
        )
    try:
        state, imported, skipped = await _import(services, body.svg)
        room = await services.repository.create_room(
            creator_ip=ip, room_id=room_id, initial_state=state
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await services.state.release_claim(room_id)
        raise
    token, user = await _issue(services, room.id, body.name)
    return RoomCreated(
        room_id=room.id,
        invite_url=f"{_base_url(request, services)}/rooms/{room.id}",
        ws_url=_ws_url(request, services, room.id),
        token=token,
        user=user,
        imported_paths=imported,
        skipped_elements=skipped,
    )


@router.post(
    "/{room_id}/join", response_model=RoomJoined, openapi_extra=_documented_body(RoomJoin)
)
async def join_room(
    room_id: str, request: Request, services: Services = Depends(get_services)
) -> RoomJoined:
    body = await _read_input(request, services, RoomJoin, svg=False)
    room_id = (await _existing_room(services, room_id)).id
    token, user = await _issue(services, room_id, body.name)
    return RoomJoined(
        room_id=room_id, ws_url=_ws_url(request, services, room_id), token=token, user=user
    )


@router.get("/{room_id}", response_model=RoomPublic)
async def read_room(
    room_id: str,
    _claims: TokenClaims = Depends(room_claims),
    services: Services = Depends(get_services),
) -> RoomPublic:
    room = await _existing_room(services, room_id)
    users = await services.state.users(room.id)
    return RoomPublic(
        room_id=room.id,
        created_at=room.created_at,
        last_activity_at=room.last_activity_at,
        active_users=len({user.user_id for user in users}),
    )


@router.get("/{room_id}/presence", response_model=Presence)
async def read_presence(
    room_id: str,
    _claims: TokenClaims = Depends(room_claims),
    services: Services = Depends(get_services),
) -> Presence:
    room = await _existing_room(services, room_id)
    users = await services.state.users(room.id)
    return Presence(
        users=[
            PresenceUser(
                id=user.user_id,
                name=user.name,
                color=user.color,
                cursor=Cursor(x=user.cursor[0], y=user.cursor[1]) if user.cursor else None,
                last_active_at=datetime.fromtimestamp(user.last_active_at, UTC),
            )
            for user in users
        ]
    )


async def _existing_room(services: Services, room_id: str) -> RoomInfo:
    room = await services.repository.find_room(room_id.lower()) if is_room_id(room_id) else None
    if room is None:
        raise room_not_found()
    return room
