"""Prometheus metrics at `/metrics`.

Request latency is a histogram recorded by `annotate.middleware`; annotations stored are a counter incremented
after each new submission. Queue depth per Celery queue, workers per queue and jobs by kind and state are read
when scraped (from the broker and the database), so they are right whichever process serves the scrape.

Under gunicorn with several workers set `PROMETHEUS_MULTIPROC_DIR` to an empty folder (cleared before each
start) and run gunicorn with `-c python:annotate.gunicorn_conf`: each worker then writes its samples there and a
scrape adds them up.

Access: from an address in `METRICS_ALLOWED_IPS` (loopback by default) when the request did not come through a
proxy (no `X-Forwarded-For`), or from anywhere with `Authorization: Bearer <METRICS_TOKEN>`; otherwise 403.
"""

import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

REQUEST_LATENCY = Histogram(
    "annotate_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ANNOTATIONS = Counter(
    "annotate_annotations_submitted",
    "Annotations stored by labelers, by task kind; per minute: rate(annotate_annotations_submitted_total[5m]) * 60",
    ["kind"],
)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_LATENCY.labels(route, method, str(status)).observe(seconds)


def annotation_stored(kind: str) -> None:
    ANNOTATIONS.labels(kind).inc()


def queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue, through kombu (which applies the key prefix and priority lists).

    kombu's virtual transports (Redis, filesystem) count with `_size`; their passive `queue_declare` is no use
    here, as kombu's prefixed Redis pipeline looks the queue up without the key prefix."""
    from annotate.celery import app

    depths: dict[str, int] = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel = conn.default_channel
        for queue in app.conf.task_queues:
            size = getattr(channel, "_size", None)
            if size is not None:
                depths[queue.name] = int(size(queue.name))
            else:  # a real AMQP broker
                depths[queue.name] = channel.queue_declare(queue=queue.name, passive=True).message_count
    return depths


def _jobs() -> Iterator[tuple[str, str, int]]:
    from django.db.models import Count

    from rewardtrain.runs.models import RunStatus, TrainingRun
    from rewardtrain.snapshots.models import Snapshot, SnapshotStatus

    active = {
        "training_run": (TrainingRun, [RunStatus.QUEUED, RunStatus.RUNNING]),
        "snapshot_build": (Snapshot, [SnapshotStatus.QUEUED, SnapshotStatus.BUILDING]),
    }
    for kind, (model, statuses) in active.items():
        counts = dict(
            model.objects.filter(status__in=statuses).values_list("status").annotate(n=Count("id")).order_by()
        )
        for status in statuses:
            yield kind, str(status), counts.get(status, 0)


class ScrapeCollector:
    """Figures read at scrape time; a source that is down is reported as such rather than failing the scrape."""

    def collect(self) -> Iterator[Metric]:
        from annotate.health import workers_per_queue

        broker_up = GaugeMetricFamily("annotate_broker_up", "1 if the Celery broker answered this scrape")
        depth = GaugeMetricFamily(
            "annotate_queue_depth", "Messages waiting per Celery queue", labels=["queue"]
        )
        try:
            for queue, n in queue_depths().items():
                depth.add_metric([queue], n)
            broker_up.add_metric([], 1)
        except Exception:
            broker_up.add_metric([], 0)
        yield broker_up
        yield depth
        workers = GaugeMetricFamily(
            "annotate_queue_workers", "Celery workers consuming each queue", labels=["queue"]
        )
        found = workers_per_queue()
        if found is not None:
            for queue, n in found["per_queue"].items():  # type: ignore[union-attr]
                workers.add_metric([queue], n)
        yield workers
        jobs = GaugeMetricFamily(
            "annotate_jobs",
            "Background jobs waiting or running, by kind and state",
            labels=["kind", "status"],
        )
        try:
            for kind, status, n in _jobs():
                jobs.add_metric([kind, status], n)
        except Exception:  # the database being down shows on /readyz; the scrape still answers
            pass
        yield jobs


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token and constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return True
    proxied = "X-Forwarded-For" in request.headers
    return not proxied and request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse(
            "Metrics are served to METRICS_ALLOWED_IPS or with 'Authorization: Bearer <METRICS_TOKEN>'.\n",
            status=403,
            content_type="text/plain",
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(ScrapeCollector())
    return HttpResponse(
        generate_latest(registry) + generate_latest(scraped), content_type=CONTENT_TYPE_LATEST
    )
