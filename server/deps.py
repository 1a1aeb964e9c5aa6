"""FastAPI dependencies: the wired services, the room id, the client IP, the current token."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from crdt.errors import AuthError
from crdt.history import HistoryStore
from crdt.ports import DocumentStore
from crdt.rooms import RoomManager
from persistence.state import RealtimeState
from server.auth import TokenClaims, TokenService
from server.config import Settings
from server.rooms_service import RoomRecords

ROOM_NOT_FOUND = "Room not found"


@dataclass
class Services:
    """What create_app wired, as the ports the routes and the websocket endpoint use."""

    settings: Settings
    tokens: TokenService
    repository: RoomRecords
    store: DocumentStore
    history: HistoryStore
    rooms: RoomManager
    state: RealtimeState
    database_ok: Callable[[], Awaitable[bool]]
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)


def services_of(app: Starlette) -> Services:
    services: Services = app.state.services
    return services


def get_services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


def room_id_in_path(room_id: str) -> str | None:
    """The path's room id in its canonical (lower-case) form; None when it is not one.

    None is answered like an unknown room, after the token checks (docs/protocol.md §1).
    """
    return room_id.lower() if is_room_id(room_id) else None


RoomId = Annotated[str | None, Depends(room_id_in_path)]


def is_room_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def room_not_found() -> HTTPException:
    # One answer for unknown and malformed ids alike: the id must not leak which is which.
    return HTTPException(status_code=404, detail=ROOM_NOT_FOUND)


_bearer = HTTPBearer(auto_error=False)


def _claims_for(room_id: str, token: str | None, services: Services) -> TokenClaims:
    try:
        claims = services.tokens.verify(token)
    except AuthError as exc:
        raise HTTPException(
            401, detail=exc.reason, headers={"WWW-Authenticate": "Bearer"}
        ) from None
    if claims.room_id != room_id.lower():
        raise HTTPException(403, detail="token is for another room")
    return claims


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def room_claims(
    room_id: str, credentials: BearerCredentials, services: ServicesDep
) -> TokenClaims:
    return _claims_for(room_id, credentials.credentials if credentials else None, services)


def room_claims_or_query(
    room_id: str, request: Request, credentials: BearerCredentials, services: ServicesDep
) -> TokenClaims:
    """Bearer header, or `?token=` so that a plain link can download the export."""
    token = credentials.credentials if credentials else request.query_params.get("token")
    return _claims_for(room_id, token, services)


# The claims of a valid token for the room in the path (401 and 403 otherwise).
RoomToken = Annotated[TokenClaims, Depends(room_claims)]
RoomTokenOrQuery = Annotated[TokenClaims, Depends(room_claims_or_query)]


def client_ip(request: Request, trusted_proxies: list[str]) -> str:
    """The socket peer, or the right-most untrusted X-Forwarded-For entry behind a trusted proxy."""
    peer = request.client.host if request.client else ""
    if not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    for hop in reversed(forwarded):
        if not _is_trusted(hop, trusted_proxies):
            return hop
    return forwarded[0] if forwarded else peer


def limit_key(address: str, ipv6_prefix: int) -> str:
    """What the per-IP room limit counts: an IPv4 address, or an IPv6 address's network.

    One IPv6 host usually holds a whole /64 (SLAAC, privacy addresses), so counting single
    addresses would give it an unlimited number of rooms. An IPv4-mapped IPv6 address counts
    as its IPv4 address; anything that is not an address counts as itself.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip), ipv6_prefix), strict=False))
    return str(ip)


def _is_trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
