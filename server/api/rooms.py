"""Identity and rooms (PROTOCOL.md §1): create, join, read, presence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from server.auth import TokenClaims
from server.deps import Services, client_ip, get_services, room_claims, room_not_found
from server.schemas import (
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
    room = await services.repository.create_room(creator_ip=ip)
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
    room = await services.repository.find_room(room_id.lower()) if is_room_id(room_id) else None
    if room is None:
        raise room_not_found()
    live = services.rooms.live_room(room.id)
    return RoomPublic(
        room_id=room.id,
        created_at=room.created_at,
        last_activity_at=room.last_activity_at,
        active_users=len(live.active_user_ids()) if live else 0,
    )


@router.get("/{room_id}/presence", response_model=Presence)
async def read_presence(
    room_id: str,
    _claims: TokenClaims = Depends(room_claims),
    services: Services = Depends(get_services),
) -> Presence:
    if not is_room_id(room_id) or await services.repository.find_room(room_id.lower()) is None:
        raise room_not_found()
    live = services.rooms.live_room(room_id.lower())
    users: list[PresenceUser] = []
    if live is not None:
        now_mono, now = _clocks()
        for row in live.awareness.users():
            cursor = row["cursor"]
            users.append(
                PresenceUser(
                    id=row["id"],
                    name=row["name"],
                    color=row["color"],
                    cursor={"x": cursor["x"], "y": cursor["y"]} if cursor else None,
                    last_active_at=now - timedelta(seconds=now_mono - row["last_updated"]),
                )
            )
    return Presence(users=users)


def _clocks() -> tuple[float, datetime]:
    import time

    return time.monotonic(), datetime.now(UTC)
