"""Issue and verify the room tokens (HS256 JWTs from PyJWT)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from crdt.errors import AuthError


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    name: str
    room_id: str


class TokenService:
    def __init__(self, *, secret: str, algorithm: str = "HS256", ttl_s: int = 86400) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self._ttl_s = ttl_s

    def issue(self, *, room_id: str, user_id: str, name: str) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id,
            "name": name,
            "room": room_id,
            "iat": now,
            "exp": now + self._ttl_s,
        }
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    def verify(self, token: str | None) -> TokenClaims:
        """The token's claims, or AuthError (4401 / HTTP 401) saying what was wrong."""
        if not token:
            raise AuthError("missing token")
        try:
            # Only the configured algorithm: `alg: none` and every other one are refused.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                options={"require": ["sub", "name", "room", "iat", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        user_id, name, room_id = claims["sub"], claims["name"], claims["room"]
        if not all(isinstance(v, str) and v for v in (user_id, name, room_id)):
            raise AuthError("invalid token: sub, name and room must be strings")
        return TokenClaims(user_id=user_id, name=name, room_id=room_id)
