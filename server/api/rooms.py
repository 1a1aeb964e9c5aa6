"""Identity and rooms (PROTOCOL.md §1): create, join, read, presence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from redis.exceptions import RedisError

from persistence.rooms import RoomInfo
from server.auth import TokenClaims
from server.deps import Services, client_ip, get_services, room_claims, room_not_found
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
from server.ws import is_room_id

router = APIRouter(prefix="/api/rooms", tags=["rooms"])


def _base_url(request: Request, services: Services) -> str:
    configured = services.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _ws_url(request: Request, services: Services, room_id: str) -> str:
    base = _base_url(request, services)
    scheme, rest = base.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/{room_id}"


async def _read_create_body(request: Request) -> RoomCreate:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            svg = form.get("svg")
            if svg is not None and not isinstance(svg, str):
                svg = (await svg.read()).decode("utf-8", errors="replace")
            return RoomCreate.model_validate({"name": form.get("name"), "svg": svg})
        return RoomCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


async def _issue(services: Services, room_id: str, name: str) -> tuple[str, UserPublic]:
    user = UserPublic(id=str(uuid.uuid4()), name=name)
    token = services.tokens.issue(room_id=room_id, user_id=user.id, name=name)
    await services.repository.record_session(user_id=user.id, room_id=room_id, username=name)
    return token, user


@router.post("", status_code=201, response_model=RoomCreated)
async def create_room(
    request: Request, services: Services = Depends(get_services)
) -> RoomCreated:
    body = await _read_create_body(request)
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
        room = await services.repository.create_room(creator_ip=ip, room_id=room_id)
    except Exception:
        await services.state.release_claim(room_id)
        raise
    token, user = await _issue(services, room.id, body.name)
    return RoomCreated(
        room_id=room.id,
        invite_url=f"{_base_url(request, services)}/rooms/{room.id}",
        ws_url=_ws_url(request, services, room.id),
        token=token,
        user=user,
        imported_paths=0,
    )


@router.post("/{room_id}/join", response_model=RoomJoined)
async def join_room(
    room_id: str, body: RoomJoin, request: Request, services: Services = Depends(get_services)
) -> RoomJoined:
    if not is_room_id(room_id) or await services.repository.find_room(room_id.lower()) is None:
        raise room_not_found()
    room_id = room_id.lower()
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
