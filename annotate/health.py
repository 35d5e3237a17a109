"""Liveness and readiness probes for load balancers and docker compose.

`/healthz`: the process answers. `/readyz`: the database and the broker answer (503 otherwise), and how many
Celery workers consume each queue. A queue without workers is a warning, not "not ready": the web app serves
labelers without any worker (jobs wait in their queue, and the job rows stay `queued`), so taking it out of the
load balancer because the GPU host is down would stop the labeling for nothing.
"""

import threading
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

_workers_lock = threading.Lock()
_workers_cache: dict[str, object] = {"at": 0.0, "value": None}


def healthz(request):
    return JsonResponse({"status": "ok"})


def workers_per_queue() -> dict[str, object] | None:
    """Workers consuming each queue, and the GPUs of each gpu worker (broadcast `inspect`s, cached a few
    seconds); None if nobody could ask."""
    ttl = settings.READYZ_WORKERS_CACHE_SECONDS
    with _workers_lock:
        if time.monotonic() - float(_workers_cache["at"]) < ttl:  # type: ignore[arg-type]
            return _workers_cache["value"]  # type: ignore[return-value]
    from annotate.celery import app

    counts = {queue.name: 0 for queue in app.conf.task_queues}
    try:
        replies = app.control.inspect(timeout=settings.READYZ_INSPECT_TIMEOUT).active_queues() or {}
        gpu_hosts = set()
        for host, queues in replies.items():
            for queue in queues:
                if queue["name"] in counts:
                    counts[queue["name"]] += 1
                if queue["name"] == "gpu":
                    gpu_hosts.add(host)
        gpus: dict[str, int] = {}
        if gpu_hosts:  # the `gpus` inspect command of annotate/celery.py
            answers = app.control.broadcast(
                "gpus", reply=True, timeout=settings.READYZ_INSPECT_TIMEOUT, destination=sorted(gpu_hosts)
            )
            for answer in answers or []:
                for host, reply in answer.items():
                    if isinstance(reply, dict) and isinstance(reply.get("gpus"), int):
                        gpus[host] = reply["gpus"]
        value: dict[str, object] | None = {"per_queue": counts, "gpus": gpus}
    except Exception:  # the broker is down: readiness says so under "broker"
        value = None
    with _workers_lock:
        _workers_cache.update(at=time.monotonic(), value=value)
    return value


def readyz(request):
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        from annotate.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": checks}
    found = workers_per_queue() if checks["broker"] == "ok" else None
    workers: dict[str, int] = found["per_queue"] if found else {}  # type: ignore[assignment]
    body["workers"] = workers if found else None
    body["gpu_workers"] = found["gpus"] if found else None
    warnings = [f"no worker consumes the {queue} queue" for queue, n in workers.items() if n == 0]
    if warnings:
        body["warnings"] = warnings
    return JsonResponse(body, status=200 if ready else 503)
