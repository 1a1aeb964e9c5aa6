"""The server's log: one line per event on stderr, with no token in it (docs/protocol.md §8).

Text (the default): `time level logger message key=value ...`.
JSON (`WHITEBOARD_LOG_FORMAT=json`): one object per line with `ts`, `level`, `logger`,
`message` and the event's own fields.

Every record that reaches the handler, whichever logger it comes from (uvicorn's included:
they propagate to the root logger, as `log_config=None` leaves them), first goes through
`RedactingFilter`, which replaces `token=` values, `Authorization` header values, `Bearer`
credentials and anything shaped like a JWT with `***` in its message, its arguments (uvicorn's
access and websocket lines format the URL from them), its fields and its exception text. The
formatters redact their finished line once more.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import unquote_plus

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

MASK = "***"

_RECORD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
_STANDARD = _RECORD | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured duplicate of the message
}

# `key=value` pairs: the value ends where a URL query value or a quoted string does.
# (The look-behind makes a match start only where a run of name characters does: linear time.)
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.~+%-])(?P<key>(?:[A-Za-z0-9_.~+-]|%[0-9A-Fa-f]{2})+)=(?P<value>[^\s&#\"'\\]*)"
)
# `Authorization: <value>`, `'authorization': '<value>'`, `(b'authorization', b'<value>')`.
_AUTHORIZATION = re.compile(
    r"(?P<head>authorization[\"']?\s*[:=,]\s*(?:b?[\"'])?)(?P<value>[^\"'\\\r\n]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<head>bearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)
# A JWT (or what is left of one): base64url segments joined by dots, the first a JSON object.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){1,2}")


def is_secret_name(name: str) -> bool:
    """`token`, `access_token`, `tok%65n`, `Authorization`...: names whose value is a secret."""
    name = unquote_plus(name).lower()
    return name.endswith("token") or name in {"jwt", "authorization"}


def _mask_pair(match: re.Match[str]) -> str:
    if match["value"] and is_secret_name(match["key"]):
        return f"{match['key']}={MASK}"
    return match[0]


def redact(text: str) -> str:
    """`text` without token values, Authorization values, Bearer credentials or JWTs."""
    if "=" in text:
        text = _PAIR.sub(_mask_pair, text)
    text = _AUTHORIZATION.sub(lambda m: m["head"] + MASK, text)
    text = _BEARER.sub(lambda m: m["head"] + MASK, text)
    return _JWT.sub(MASK, text)


def redact_url(text: str) -> str:
    """A path or URL with its secret query parameters masked whole (up to the next `&`)."""
    path, mark, query = text.partition("?")
    if not mark or any(c.isspace() for c in text):
        return redact(text)
    parts = []
    for part in query.split("&"):
        key, eq, _value = part.partition("=")
        parts.append(f"{key}={MASK}" if eq and is_secret_name(key) else part)
    return redact(f"{path}?{'&'.join(parts)}")


def redact_value(value: Any, key: str | None = None) -> Any:
    """Strings redacted, containers redacted inside; anything else as it is."""
    if key is not None and is_secret_name(key) and value is not None:
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("latin-1"))
    if isinstance(value, Mapping):
        return {k: redact_value(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple | set | frozenset):
        return tuple(redact_value(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """Masks secrets in a record in place, so that no formatter or handler sees them."""

    _exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception:  # never let a secret through because redaction itself failed
            record.msg = "log record withheld: it could not be redacted"
            record.args = None
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, Mapping):  # a dict message: its items are the fields
            record.msg = redact_value(record.msg)
            record.args = None
        else:
            self._redact_message(record)
        # The event's fields, uvicorn's color_message, a message an earlier formatting left.
        for name, value in list(vars(record).items()):
            if name not in _RECORD:
                setattr(record, name, redact_value(value, name))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)

    @staticmethod
    def _redact_message(record: logging.LogRecord) -> None:
        try:
            original = record.getMessage()
        except Exception:  # mismatched arguments: logging would print them raw
            record.msg, record.args = redact(f"{record.msg!r} % {record.args!r}"), None
            original = record.msg
        if isinstance(record.args, Mapping):
            args: Any = redact_value(record.args)
        elif isinstance(record.args, tuple):
            args = tuple(redact_url(a) if isinstance(a, str) else a for a in record.args)
        else:
            args = record.args
        try:
            message = str(record.msg) % args if args else str(record.msg)
        except Exception:
            message = original
        message = redact(message)
        if message != original or not isinstance(record.msg, str):
            record.msg, record.args = message, None


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value ...`, then the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                                   for k, v in extras.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact(line)

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: `ts` (ISO 8601, UTC), `level`, `logger`, `message`, fields."""

    def __init__(self) -> None:
        super().__init__(reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
                         json_ensure_ascii=False)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        log_data["ts"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        fields: dict[str, Any] = {}  # `message` (the formatter's one field), then the extras
        super().add_fields(fields, record, message_dict)
        for key, value in fields.items():
            log_data[key if key not in log_data else f"field_{key}"] = value

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: redact_value(v, k) for k, v in log_data.items()}

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)  # a list only with exc_info_as_array, not used
        return redact(text if isinstance(text, str) else "\n".join(text))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def make_handler(log_format: str = "text") -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonLineFormatter() if log_format == "json" else KeyValueFormatter())
    return handler


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Every record of every logger to one redacting handler on stderr, in `log_format`.

    Warnings and uncaught exceptions (main thread, other threads, unraisable) go through it too,
    so that with `json` every line the process writes is a JSON object.
    """
    root = logging.getLogger()
    root.handlers[:] = [make_handler(log_format)]
    root.setLevel(level)
    # picows logs every connection and disconnection at INFO (server/listener.py): its
    # warnings and errors are enough next to ours.
    logging.getLogger("whiteboard.ws.frames").setLevel(max(root.level, logging.WARNING))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_exception
    sys.unraisablehook = _log_unraisable


_uncaught = logging.getLogger("whiteboard.uncaught")


def _log_uncaught(exc_type: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _uncaught.critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    _uncaught.error("uncaught exception in a thread",
                    extra={"thread_name": args.thread.name if args.thread else None},
                    exc_info=args.exc_value)


def _log_unraisable(unraisable: Any) -> None:
    exc = unraisable.exc_value
    _uncaught.warning(
        unraisable.err_msg or "exception ignored",
        extra={"object": repr(unraisable.object)},
        exc_info=(unraisable.exc_type, exc, unraisable.exc_traceback) if exc else None,
    )
