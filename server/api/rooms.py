"""Identity and rooms (docs/protocol.md §1): create, join, read, presence."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from functools import partial

import anyio
from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from redis.exceptions import RedisError

from crdt.boards import board_state
from crdt.svg import SvgError, SvgTooLarge, import_svg
from persistence.rooms import RoomInfo
from server.auth import TokenClaims
from server.deps import Services, client_ip, get_services, is_room_id, room_claims, room_not_found
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


def _base_url(request: Request, services: Services) -> str:
    configured = services.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _ws_url(request: Request, services: Services, room_id: str) -> str:
    base = _base_url(request, services)
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/{room_id}"


async def _read_bounded(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it grows past `limit`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, detail=f"the SVG is larger than the limit of {limit} bytes")


async def _read_create_body(request: Request, services: Services) -> RoomCreate:
    max_svg = services.settings.max_svg_bytes
    # Room for the form or JSON around the SVG, and for JSON's escaping of quotes.
    body = await _read_bounded(request, 2 * max_svg + 64 * 1024)
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            async def replay() -> dict:
                return {"type": "http.request", "body": body, "more_body": False}

            form = await Request(request.scope, replay).form(max_part_size=2 * max_svg)
            svg = form.get("svg")
            if svg is not None and not isinstance(svg, str):
                svg = (await svg.read()).decode("utf-8", errors="replace")
            created = RoomCreate.model_validate({"name": form.get("name"), "svg": svg})
        else:
            created = RoomCreate.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    if created.svg is not None and len(created.svg.encode()) > max_svg:
        raise _too_large(max_svg)
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


@router.post("", status_code=201, response_model=RoomCreated)
async def create_room(
    request: Request, services: Services = Depends(get_services)
) -> RoomCreated:
    body = await _read_create_body(request, services)
    ip = client_ip(request, services.settings.trusted_proxy_list())
    room_id = str(uuid.uuid4())
    limit = services.settings.max_rooms_per_ip
    try:
        claim = await services.state.claim_room(ip=ip, room_id=room_id, limit=limit)
    except (RedisError, OSError):
        raise HTTPException(503, detail="real-time state (Redis) unavailable; try again") from None
    if not claim.allowed:
        raise HTTPException(
            429,
            detail=f"this address already has {limit} live rooms (the limit); "
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


@router.post("/{room_id}/join", response_model=RoomJoined)
async def join_room(
    room_id: str, body: RoomJoin, request: Request, services: Services = Depends(get_services)
) -> RoomJoined:
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
