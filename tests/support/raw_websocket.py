"""A websocket client on a bare socket, for peers a library would not play: one that never
reads, one whose network has gone without a FIN."""

from __future__ import annotations

import base64
import os
import socket
import struct


def open_unread_socket(port: int, path: str) -> socket.socket:
    """A websocket client that completes the handshake and then reads nothing more (a small
    receive buffer, so that what the server sends soon backs up)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def masked_binary_frame(payload: bytes) -> bytes:
    """One binary frame as a client sends it (masked)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = bytes([0x82, 0x80 | size])
    elif size < 1 << 16:
        header = bytes([0x82, 0x80 | 126]) + struct.pack("!H", size)
    else:
        header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
