"""Typed errors that carry the websocket close code they end a connection with."""

from __future__ import annotations


class CloseConnection(Exception):
    code: int = 1011

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code


class ProtocolError(CloseConnection):
    code = 4400


class AuthError(CloseConnection):
    code = 4401


class RoomNotFound(CloseConnection):
    code = 4404


class MessageTooLarge(CloseConnection):
    code = 1009


class SlowClient(CloseConnection):
    # 1013 "try again later": the client reconnects and resyncs from the room's state.
    code = 1013


class DocumentTooLarge(CloseConnection):
    # An update that would take the document past MAX_DOCUMENT_BYTES; nothing of it is kept.
    code = 4413


class StorageUnavailable(CloseConnection):
    # The database cannot take writes (disk full): changes are refused until it can.
    code = 4507


class SilentClient(CloseConnection):
    # Nothing arrived for SILENCE_TIMEOUT_S (stock clients renew their awareness every 15 s):
    # the peer is gone or its connection is half-open. Like HTTP's 408 Request Timeout.
    code = 4408
