"""Structured logs: one JSON object per line, carrying the request id (web) or the task id (Celery workers).

The ids live in context variables, set by `annotate.middleware.RequestContextMiddleware` for a request and by
Celery's task signals (connected in `annotate.celery`) for a task, so any logger used underneath picks them up.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[int | None] = ContextVar("user_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)

# Attributes that callers may pass with `extra=` and that are written as top-level fields.
EXTRA_FIELDS = ("path", "method", "status", "duration_ms", "route", "task_name", "job", "job_id", "queue")


class ContextFilter(logging.Filter):
    """Copies the current request, user and task ids onto every record (for any formatter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id_var), ("user_id", user_id_var), ("task_id", task_id_var)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, then the ids and request fields that are set, then the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = {"request_id": request_id_var, "user_id": user_id_var, "task_id": task_id_var}
        for name in (*context, *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is None and name in context:
                value = context[name].get()
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """Django's LOGGING: JSON lines on stderr unless `fmt` is "text" (for reading a local console)."""
    formatter = (
        {"()": "annotate.logging.JsonFormatter"}
        if fmt != "text"
        else {
            "format": "%(asctime)s %(levelname)s %(name)s request=%(request_id)s task=%(task_id)s %(message)s"
        }
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "annotate.logging.ContextFilter"}},
        "formatters": {"main": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "main", "filters": ["context"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Our request line replaces Django's and gunicorn's access lines.
            "django.request": {"level": "ERROR"},
        },
    }
