"""gunicorn settings: `gunicorn -c python:annotate.gunicorn_conf ...` (keep-alive, Prometheus multiprocess mode).

With `PROMETHEUS_MULTIPROC_DIR` set, each worker writes its metric samples to files there; a worker that exits
is marked dead so its gauges stop counting (its counters and histograms are kept, as they must be).
"""

import os
from pathlib import Path

# Keep idle client connections longer than a labeler's pause between two calls (gunicorn's default is 2 s): a
# connection closed by the server just as the client reuses it fails that request (a POST is not retried).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))


def on_starting(server) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        # Samples of an earlier server would be added to this one's: start from an empty folder.
        Path(folder).mkdir(parents=True, exist_ok=True)
        for path in Path(folder).glob("*.db"):
            path.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
