"""Load test with Locust against gunicorn on PostgreSQL: labelers, admins polling dashboards, an export loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/load.py --labelers 200 --seconds 60

Seeds a project (ranking tasks with K=4, labelers and admins with API tokens, a pairwise snapshot built from a
few hundred rankings for the exporter), starts gunicorn on a free port and runs Locust headless for the given
time: each simulated labeler leases the next task, thinks 2 to 5 s, submits a ranking and refreshes its own
figures (my-stats, as the workspace does); two admins refresh the dashboard, agreement and snapshot list every
1 to 3 s; one client downloads the export over and over. Then it checks the database: every submission that a client saw succeed must be stored exactly once.

`--queries` prints, before the load, the SQL queries and time of one call of each endpoint (the first thing to
look at when an endpoint is slow). Prints per endpoint requests, failures, p50/p95/p99 (ms); the last line is
a JSON object with `labelers`, `rps`, `p95_ms`, `errors`, `lost`, `duplicated` and the per-endpoint figures.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchlib import ROOT, free_port, require_postgres, seed, setup_django, start_server

ENDPOINTS = (
    "next",
    "submit",
    "my-stats",
    "dashboard",
    "agreement",
    "snapshots",
    "export file",
    "export records",
)


def prepare_export(project_id: int, rankings: int) -> int:
    """Some rankings (through the real services), then a pairwise snapshot of them for the exporter."""
    from django.contrib.auth import get_user_model

    from labeling.models import Project
    from labeling.services.assignment import assignment_claim_next
    from labeling.services.projects import membership_set
    from labeling.services.submission import assignment_submit
    from rewardtrain.snapshots.services import snapshot_build, snapshot_create

    project = Project.objects.get(pk=project_id)
    seeders = []
    for i in range(4):
        user = get_user_model().objects.create(username=f"bench-seed-{uuid.uuid4().hex[:8]}-{i}")
        membership_set(project=project, user=user, role="labeler")
        seeders.append(user)
    for i in range(rankings):
        user = seeders[i % len(seeders)]
        lease = assignment_claim_next(user=user, project=project)
        ids = list(lease.task.task_candidates.values_list("candidate_id", flat=True))
        assignment_submit(user=user, assignment_id=lease.pk, client_id=uuid.uuid4(), tiers=[[c] for c in ids])
    snapshot = snapshot_create(project=project, user=None, settings_data={"kind": "pairwise"})
    return snapshot_build(snapshot_id=snapshot.pk).pk


def print_query_counts(project_id: int, token: str, admin_token: str, snapshot_id: int) -> dict[str, int]:
    """SQL queries and milliseconds of one call of each endpoint, through the full Django stack."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    labeler = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    admin = Client(HTTP_AUTHORIZATION=f"Token {admin_token}", HTTP_HOST="127.0.0.1")
    counts = {}

    def measure(name: str, call):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = call()
            elapsed = (time.perf_counter() - start) * 1000
        counts[name] = len(queries)
        print(f"{name:>15}: {response.status_code}, {len(queries):3d} queries, {elapsed:7.1f} ms")
        return response

    lease = measure("next", lambda: labeler.post(f"/api/projects/{project_id}/assignments/next/")).json()
    payload = {
        "client_id": str(uuid.uuid4()),
        "tiers": [[c["id"]] for c in lease["task"]["candidates"]],
        "seconds_spent": 3,
    }
    url = f"/api/assignments/{lease['id']}/submit/"
    measure("submit", lambda: labeler.post(url, payload, content_type="application/json"))
    measure("my-stats", lambda: labeler.get(f"/api/projects/{project_id}/my-stats/"))
    base = f"/api/projects/{project_id}"
    measure("dashboard", lambda: admin.get(f"{base}/dashboard/"))
    measure("agreement", lambda: admin.get(f"{base}/agreement/"))
    measure("snapshots", lambda: admin.get(f"{base}/snapshots/"))

    def download():
        response = admin.get(f"{base}/snapshots/{snapshot_id}/files/train.jsonl")
        b"".join(response.streaming_content)
        return response

    measure("export file", download)
    measure(
        "export records", lambda: admin.get(f"{base}/snapshots/{snapshot_id}/records/?split=train&limit=100")
    )
    return counts


def verify(project_id: int, ok_ids: list[str]) -> tuple[int, int]:
    """Submissions the clients saw succeed but missing from the database; client ids stored more than once."""
    from django.db.models import Count

    from labeling.models import Ranking

    stored = Ranking.objects.filter(task__project_id=project_id)
    by_client = {str(k): n for k, n in stored.values_list("client_id").annotate(n=Count("id")).order_by()}
    lost = sum(1 for client_id in ok_ids if client_id not in by_client)
    duplicated = sum(1 for n in by_client.values() if n > 1) + (len(ok_ids) - len(set(ok_ids)))
    return lost, duplicated


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labelers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--think-min", type=float, default=2.0)
    parser.add_argument("--think-max", type=float, default=5.0)
    parser.add_argument("--redundancy", type=int, default=2)
    parser.add_argument("--export-rankings", type=int, default=300, help="Rankings in the exported snapshot")
    parser.add_argument("--server-workers", type=int, default=4)
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--queries", action="store_true", help="Print queries per endpoint before the load")
    parser.add_argument(
        "--no-workspace-stats", action="store_true", help="Labelers do not refresh my-stats after each task"
    )
    args = parser.parse_args()
    require_postgres()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no request log lines from the --queries calls
    setup_django()

    per_labeler = args.seconds / args.think_min + 2
    tasks = int(args.labelers * per_labeler / args.redundancy * 1.2) + args.export_rankings + 100
    print(f"seeding {tasks} ranking tasks, {args.labelers} labelers, 3 admins, an export...", flush=True)
    project_id, tokens, admin_tokens = seed(args.labelers, tasks, args.redundancy, admins=3)
    snapshot_id = prepare_export(project_id, args.export_rankings)
    if args.queries:
        print_query_counts(project_id, tokens[-1], admin_tokens[0], snapshot_id)
    from django.db import connection

    connection.close()

    work = Path(tempfile.mkdtemp(prefix="annotate-load-"))
    (work / "tokens").write_text("\n".join(tokens))
    (work / "admins").write_text("\n".join(admin_tokens))
    (work / "metrics").mkdir()
    port = free_port()
    server_env = {"LOG_LEVEL": "WARNING", "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
    server = start_server(port, args.server_workers, args.server_threads, server_env)
    env = {
        **os.environ,
        "LOAD_PROJECT": str(project_id),
        "LOAD_SNAPSHOT": str(snapshot_id),
        "LOAD_TOKENS": str(work / "tokens"),
        "LOAD_ADMIN_TOKENS": str(work / "admins"),
        "LOAD_OK_FILE": str(work / "submitted"),
        "LOAD_STATS_FILE": str(work / "stats.json"),
        "LOAD_LABELERS": str(args.labelers),
        "LOAD_THINK_MIN_S": str(args.think_min),
        "LOAD_THINK_MAX_S": str(args.think_max),
        "LOAD_WORKSPACE_STATS": "0" if args.no_workspace_stats else "1",
    }
    users = args.labelers + 3
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "bench" / "load_users.py"),
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                "50",
                "--run-time",
                f"{args.seconds}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "10",
            ],
            cwd=ROOT,
            env=env,
            check=False,
            timeout=args.seconds + 120,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    stats = json.loads((work / "stats.json").read_text())
    ok_ids = (work / "submitted").read_text().split()
    lost, duplicated = verify(project_id, ok_ids)
    total = stats["Aggregated"]
    figures: dict[str, object] = {
        "labelers": args.labelers,
        "seconds": args.seconds,
        "rps": round(total["rps"], 1),
        "p95_ms": total["p95_ms"],
        "errors": total["failures"],
        "lost": lost,
        "duplicated": duplicated,
        "submitted": len(ok_ids),
        "endpoints": {},
    }
    print(f"\n{'endpoint':>15} {'requests':>9} {'failures':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in ENDPOINTS:
        row = stats.get(name)
        if row is None:
            continue
        figures["endpoints"][name] = row  # type: ignore[index]
        print(
            f"{name:>15} {row['requests']:>9} {row['failures']:>9} {row['p50_ms']:>8.0f} {row['p95_ms']:>8.0f} "
            f"{row['p99_ms']:>8.0f}"
        )
    for error in stats["errors"]:
        print(f"error: {error['occurrences']} x {error['name']}: {error['error'][:300]}")
    print(
        f"\n{figures['rps']} requests/s, {len(ok_ids)} submissions stored, errors {figures['errors']}, "
        f"lost {lost}, duplicated {duplicated}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
