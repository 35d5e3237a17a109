"""Concurrent labelers over HTTP: next-task -> submit, against a running server on PostgreSQL.

    python bench/assign_submit.py --labelers 32 --seconds 20

Without --url it seeds a project on the PostgreSQL database named by DATABASE_URL, starts gunicorn on a free
port, runs the labelers, and stops the server. Labelers are spread over worker processes (one thread per
labeler inside them, each with its own HTTP keep-alive session). Prints throughput, p50/p95/p99 latency per
call and the number of double assignments found in the database (must be 0); the last line is a JSON object.
"""

import argparse
import json
import multiprocessing as mp
import os
import random
import signal
import statistics
import threading
import time
import uuid
from pathlib import Path

import requests
from benchlib import free_port, percentile, require_postgres, seed, setup_django, start_server


def labeler_loop(
    url: str, project_id: int, token: str, measure_from: float, deadline: float, think_s: float, out: list
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    rng = random.Random(token)
    # Labelers neither start nor think in lockstep: a random start within one think time, then think times
    # drawn uniformly from 0.5x to 1.5x the mean.
    time.sleep(rng.uniform(0, think_s))
    while time.time() < deadline:
        start = time.perf_counter()
        response = session.post(f"{url}/api/projects/{project_id}/assignments/next/", timeout=30)
        out.append(("next", time.perf_counter() - start, response.status_code, time.time() >= measure_from))
        if response.status_code == 204:
            return
        if response.status_code != 200:
            continue
        body = response.json()
        ids = [c["id"] for c in body["task"]["candidates"]]
        rng.shuffle(ids)
        if think_s:
            time.sleep(rng.uniform(0.5, 1.5) * think_s)
        payload = {"client_id": str(uuid.uuid4()), "tiers": [[i] for i in ids], "seconds_spent": think_s}
        start = time.perf_counter()
        response = session.post(f"{url}/api/assignments/{body['id']}/submit/", json=payload, timeout=30)
        out.append(("submit", time.perf_counter() - start, response.status_code, time.time() >= measure_from))


def process_main(
    url: str, project_id: int, tokens: list[str], measure_from: float, deadline: float, think_s: float, queue
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results: list = []
    threads = [
        threading.Thread(
            target=labeler_loop, args=(url, project_id, t, measure_from, deadline, think_s, results)
        )
        for t in tokens
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(results)


def double_assignments(project_id: int) -> int:
    """Tasks leased to more labelers than their redundancy, plus any (task, labeler) pair seen twice."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
              SELECT t.id FROM labeling_task t JOIN labeling_assignment a ON a.task_id = t.id
              WHERE t.project_id = %s AND a.status IN ('active', 'submitted')
              GROUP BY t.id, t.required_annotations HAVING count(*) > t.required_annotations
            ) over_assigned
            """,
            [project_id],
        )
        over = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM (
              SELECT r.task_id FROM labeling_ranking r JOIN labeling_task t ON t.id = r.task_id
              WHERE t.project_id = %s GROUP BY r.task_id, r.user_id HAVING count(*) > 1
            ) twice
            """,
            [project_id],
        )
        return over + cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labelers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--url", help="A running server; then --project and --tokens-file are needed")
    parser.add_argument("--project", type=int)
    parser.add_argument("--tokens-file", help="One API token per line, one per labeler")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=2000,
        help="Mean pause between receiving a task and submitting; a person takes 30 s or more per ranking, so "
        "the default makes each simulated labeler 15x faster than a fast person. 0 measures saturation.",
    )
    parser.add_argument(
        "--warmup", type=float, default=3, help="Seconds run first and left out of the figures (cold caches)"
    )
    parser.add_argument("--redundancy", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=0, help="Tasks to seed (default: enough for the run)")
    parser.add_argument(
        "--processes", type=int, default=0, help="Client processes (default: min(labelers, 8))"
    )
    parser.add_argument("--server-workers", type=int, default=4)
    parser.add_argument("--server-threads", type=int, default=2)
    args = parser.parse_args()

    server = None
    if args.url:
        if not (args.project and args.tokens_file):
            raise SystemExit("--url needs --project and --tokens-file")
        url, project_id = args.url.rstrip("/"), args.project
        tokens = Path(args.tokens_file).read_text().split()[: args.labelers]
        check_db = bool(os.environ.get("DATABASE_URL"))
    else:
        require_postgres()
        setup_django()
        tasks = args.tasks or max(2000, int(args.labelers * args.seconds * 40 / args.redundancy))
        print(
            f"seeding {tasks} ranking tasks (K=4, redundancy {args.redundancy}) and {args.labelers} labelers..."
        )
        project_id, tokens, _ = seed(args.labelers, tasks, args.redundancy)
        from django.db import connection

        connection.close()
        port = free_port()
        server = start_server(port, args.server_workers, args.server_threads)
        url = f"http://127.0.0.1:{port}"
        check_db = True

    try:
        processes = args.processes or min(len(tokens), 8)
        groups = [tokens[i::processes] for i in range(processes)]
        queue: mp.Queue = mp.Queue()
        measure_from = time.time() + args.warmup
        deadline = measure_from + args.seconds
        workers = [
            mp.Process(
                target=process_main,
                args=(url, project_id, g, measure_from, deadline, args.think_ms / 1000, queue),
            )
            for g in groups
        ]
        for w in workers:
            w.start()
        everything = [item for _ in workers for item in queue.get()]
        for w in workers:
            w.join()
        elapsed = max(time.time(), deadline) - measure_from
        results = [r for r in everything if r[3]]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    latency = {kind: [r[1] * 1000 for r in results if r[0] == kind] for kind in ("next", "submit")}
    errors = sum(1 for r in everything if r[2] >= 400)
    submitted = sum(1 for r in results if r[0] == "submit" and r[2] in (200, 201))
    doubles = None
    if check_db:
        setup_django()
        doubles = double_assignments(project_id)
    figures = {
        "labelers": len(tokens),
        "seconds": round(elapsed, 2),
        "requests": len(results),
        "throughput_rps": round(len(results) / elapsed, 1),
        "submits_per_s": round(submitted / elapsed, 1),
        "next_task_p50_ms": round(percentile(latency["next"], 50), 2),
        "next_task_p95_ms": round(percentile(latency["next"], 95), 2),
        "next_task_p99_ms": round(percentile(latency["next"], 99), 2),
        "submit_p50_ms": round(percentile(latency["submit"], 50), 2),
        "submit_p95_ms": round(percentile(latency["submit"], 95), 2),
        "submit_p99_ms": round(percentile(latency["submit"], 99), 2),
        "mean_ms": round(statistics.fmean([r[1] * 1000 for r in results]), 2) if results else None,
        "errors": errors,
        "double_assignments": doubles,
        "think_ms": args.think_ms,
    }
    for kind in ("next", "submit"):
        p = [figures[f"{'next_task' if kind == 'next' else 'submit'}_p{q}_ms"] for q in (50, 95, 99)]
        print(f"{kind:>7}: {len(latency[kind])} calls, p50 {p[0]} ms, p95 {p[1]} ms, p99 {p[2]} ms")
    print(
        f"throughput {figures['throughput_rps']} req/s ({figures['submits_per_s']} submits/s), "
        f"errors {errors}, double assignments {doubles}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
