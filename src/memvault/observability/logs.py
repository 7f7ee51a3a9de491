"""Log records as text or JSON lines, each carrying the id of the request it was written for.

``MEMVAULT_LOG_FORMAT=json`` writes one JSON object per line::

    {"time": "2025-01-31T12:00:00.123Z", "level": "INFO", "logger": "memvault.access",
     "message": "GET /healthz 200 0.4 ms", "request_id": "3f2a...", "method": "GET",
     "route": "/healthz", "path": "/healthz", "status": 200, "duration_ms": 0.4}

``text`` (the default) writes ``time level logger: message``, then ``request_id=...`` when the
record has one. The request middleware sets :data:`REQUEST_ID` while it serves a request, so
every record written meanwhile (in that task, the tasks it starts and the threads it hands work
to) carries the id; :class:`RequestIdFilter` copies it onto the record.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("memvault_request_id", default=None)
"""The id of the request being served, or None outside a request."""

FORMATS = ("text", "json")

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "taskName", "color_message"}


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from :data:`REQUEST_ID` unless the record already has one.
    Attach it to handlers (a logger's filters do not see records propagated from below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, the record's
    ``extra`` fields, and the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            data["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message``, then ``request_id=...`` when the record has one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} request_id={request_id}{newline}{rest}"


_last_second: tuple[int, str] = (-1, "")


def _utc(created: float) -> str:
    global _last_second
    second = int(created)
    cached, text = _last_second
    if cached != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, text)
    return f"{text}.{int(created % 1 * 1000):03d}Z"


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for memvault and uvicorn: one stderr handler with the
    chosen format and the request id filter, on the root logger; uvicorn's loggers propagate to
    it (its access log is replaced by memvault's own, ``memvault.access``)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"memvault": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "memvault",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            name: {"level": level, "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(level: str, log_format: str) -> None:
    """Apply :func:`logging_config` (for commands that do not run uvicorn)."""
    logging.config.dictConfig(logging_config(level, log_format))
