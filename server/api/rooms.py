"""Identity and rooms (docs/protocol.md §1): create, join, read, presence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from crdt.svg import SvgError, SvgTooLarge
from persistence.rooms import RoomInfo
from persistence.state import StateUnavailable
from server import rooms_service
from server.api.security import JSON_TYPE, body_type, refuse_cross_site_form
from server.deps import (
    RoomId,
    RoomToken,
    Services,
    ServicesDep,
    client_ip,
    limit_key,
    room_not_found,
)
from server.rooms_service import Creator, ImportLimits, Member, RoomLimitReached
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


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
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


async def _form_fields(request: Request, body: bytes, *, max_part: int) -> dict[str, Any]:
    """`name` and `svg` of a multipart form (an SVG file is read as text)."""
    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(
        max_files=4, max_fields=8, max_part_size=max_part
    )
    try:
        fields: dict[str, Any] = {"name": form.get("name")}
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


def _user(member: Member) -> UserPublic:
    return UserPublic(id=member.user_id, name=member.name)


def _refusal(exc: Exception, *, ip: str, counted_as: str) -> HTTPException:
    """The HTTP answer (docs/protocol.md §1) to a room the create use case refused."""
    if isinstance(exc, RoomLimitReached):
        return HTTPException(
            429,
            detail=f"this {'network' if counted_as != ip else 'address'} already has "
            f"{exc.limit} live rooms (the limit); "
            f"one frees up when a room has been idle long enough",
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if isinstance(exc, StateUnavailable):
        return HTTPException(503, detail="real-time state (Redis) unavailable; try again")
    if isinstance(exc, SvgTooLarge):
        return HTTPException(413, detail=str(exc))
    return HTTPException(400, detail=f"the SVG cannot be read: {exc}")


@router.post(
    "", status_code=201, response_model=RoomCreated, openapi_extra=_documented_body(RoomCreate)
)
async def create_room(request: Request, services: ServicesDep) -> RoomCreated:
    body = await _read_create_body(request, services)
    settings = services.settings
    ip = client_ip(request, settings.trusted_proxy_list())
    # An IPv6 client counts by its network (WHITEBOARD_IPV6_PREFIX): one host holds a /64.
    creator = Creator(ip=ip, counted_as=limit_key(ip, settings.ipv6_prefix))
    try:
        created = await rooms_service.create_room(
            name=body.name,
            svg=body.svg,
            creator=creator,
            max_rooms=settings.max_rooms_per_ip,
            limits=ImportLimits(
                max_svg_bytes=settings.max_svg_bytes, max_path_data=settings.max_path_data
            ),
            state=services.state,
            records=services.repository,
            tokens=services.tokens,
        )
    except (RoomLimitReached, StateUnavailable, SvgError) as exc:
        raise _refusal(exc, ip=ip, counted_as=creator.counted_as) from None
    room_id = created.room.id
    return RoomCreated(
        room_id=room_id,
        invite_url=f"{_base_url(request, services)}/rooms/{room_id}",
        ws_url=_ws_url(request, services, room_id),
        token=created.member.token,
        user=_user(created.member),
        imported_paths=created.imported_paths,
        skipped_elements=created.skipped_elements,
    )


@router.post(
    "/{room_id}/join", response_model=RoomJoined, openapi_extra=_documented_body(RoomJoin)
)
async def join_room(room_id: RoomId, request: Request, services: ServicesDep) -> RoomJoined:
    body = await _read_input(request, services, RoomJoin, svg=False)
    room = await _existing_room(services, room_id)
    member = await rooms_service.let_in(
        room.id, body.name, records=services.repository, tokens=services.tokens
    )
    return RoomJoined(
        room_id=room.id,
        ws_url=_ws_url(request, services, room.id),
        token=member.token,
        user=_user(member),
    )


@router.get("/{room_id}", response_model=RoomPublic)
async def read_room(room_id: RoomId, _claims: RoomToken, services: ServicesDep) -> RoomPublic:
    room = await _existing_room(services, room_id)
    users = await services.state.users(room.id)
    return RoomPublic(
        room_id=room.id,
        created_at=room.created_at,
        last_activity_at=room.last_activity_at,
        active_users=len({user.user_id for user in users}),
    )


@router.get("/{room_id}/presence", response_model=Presence)
async def read_presence(room_id: RoomId, _claims: RoomToken, services: ServicesDep) -> Presence:
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


async def _existing_room(services: Services, room_id: str | None) -> RoomInfo:
    room = await services.repository.find_room(room_id) if room_id is not None else None
    if room is None:
        raise room_not_found()
    return room
