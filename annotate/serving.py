"""The gunicorn command line that benchmarks and tests start the app with, so both measure and test what a
deployment runs (`annotate.gunicorn_conf`: keep-alive, Prometheus multiprocess mode)."""

import sys
from pathlib import Path


def gunicorn_command(port: int, *, workers: int, threads: int) -> list[str]:
    """gunicorn with gthread workers on 127.0.0.1:`port`, from the interpreter's own environment."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "annotate.wsgi",
        "-c",
        "python:annotate.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
    ]
