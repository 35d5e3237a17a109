"""Export throughput: build a pairwise snapshot from N rankings of K=4 answers (6 pairs each).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/export.py --rankings 100000

Seeds its own project in the PostgreSQL database named by DATABASE_URL (migrating it first) with COPY, in a
child process, so the peak RSS printed is the build's own. Then builds the snapshot in this process (the same
service the Celery task calls), prints seconds, pairs/s and peak RSS (ru_maxrss), deletes the project and its
files unless --keep, and ends with one JSON line: rankings, pairs, seconds, pairs_per_s, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

K = 4
CHUNK = 20_000


def _copy(model: type[models.Model], rows: list[dict]) -> None:
    """COPY rows into a model's table; fields a row leaves out take the model's default."""
    fields = list(model._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = []
            for f in fields:
                value = row[f.attname] if f.attname in row else f.get_default()
                if isinstance(f, models.JSONField):
                    value = None if value is None else json.dumps(value)
                values.append(value)
            copy.write_row(values)


def _ids(model: type[models.Model], n: int) -> list[int]:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n]
        )
        return [row[0] for row in cursor.fetchall()]


def seed(n: int) -> int:
    """Create a project with n completed ranking tasks, each ranked once (K=4, no ties); returns its id."""
    from django.contrib.auth import get_user_model

    from labeling.models import (
        Assignment,
        Candidate,
        Prompt,
        Ranking,
        Task,
        TaskCandidate,
    )
    from labeling.selectors import guideline_current
    from labeling.services.projects import project_create

    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    users = [
        get_user_model().objects.create(username=f"bench-export-{tag}-{i}", is_active=False)
        for i in range(20)
    ]
    project = project_create(creator=users[0], name=f"bench export {tag}", k_answers=K)
    guideline = guideline_current(project)
    now = timezone.now()
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        with transaction.atomic():
            prompt_ids, task_ids = _ids(Prompt, size), _ids(Task, size)
            assignment_ids, ranking_ids = _ids(Assignment, size), _ids(Ranking, size)
            candidate_ids, link_ids = _ids(Candidate, size * K), _ids(TaskCandidate, size * K)
            _copy(
                Prompt,
                [
                    {
                        "id": pid,
                        "project_id": project.pk,
                        "external_id": f"bench-{start + i}",
                        "messages": [
                            {"role": "user", "content": f"Question {start + i}: explain topic {i % 97}."}
                        ],
                        "created_at": now,
                    }
                    for i, pid in enumerate(prompt_ids)
                ],
            )
            _copy(
                Candidate,
                [
                    {
                        "id": candidate_ids[i * K + j],
                        "prompt_id": pid,
                        "text": f"Answer {j} to question {start + i}. " * 8,
                        "created_at": now,
                    }
                    for i, pid in enumerate(prompt_ids)
                    for j in range(K)
                ],
            )
            _copy(
                Task,
                [
                    {
                        "id": tid,
                        "project_id": project.pk,
                        "kind": "ranking",
                        "prompt_id": prompt_ids[i],
                        "required_annotations": 1,
                        "completed_count": 1,
                        "status": "complete",
                        "created_at": now,
                    }
                    for i, tid in enumerate(task_ids)
                ],
            )
            _copy(
                TaskCandidate,
                [
                    {
                        "id": link_ids[i * K + j],
                        "task_id": tid,
                        "candidate_id": candidate_ids[i * K + j],
                        "position": j,
                    }
                    for i, tid in enumerate(task_ids)
                    for j in range(K)
                ],
            )
            _copy(
                Assignment,
                [
                    {
                        "id": aid,
                        "task_id": task_ids[i],
                        "user_id": users[(start + i) % len(users)].pk,
                        "status": "submitted",
                        "guideline_id": guideline.pk,
                        "leased_at": now,
                        "expires_at": now,
                        "finished_at": now,
                    }
                    for i, aid in enumerate(assignment_ids)
                ],
            )
            _copy(
                Ranking,
                [
                    {
                        "id": rid,
                        "task_id": task_ids[i],
                        "assignment_id": assignment_ids[i],
                        "user_id": users[(start + i) % len(users)].pk,
                        "guideline_id": guideline.pk,
                        "client_id": uuid.uuid4(),
                        "created_at": now,
                        # A rotating order so chosen and rejected vary.
                        "tiers": [[candidate_ids[i * K + (j + i) % K]] for j in range(K)],
                    }
                    for i, rid in enumerate(ranking_ids)
                ],
            )
    with connection.cursor() as cursor:
        for model in (Prompt, Candidate, Task, TaskCandidate, Assignment, Ranking):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return project.pk


def cleanup(project_id: int) -> None:
    from labeling.models import Assignment, Candidate, Project, Prompt, Ranking, Task, TaskCandidate

    with transaction.atomic():
        Ranking.objects.filter(task__project_id=project_id)._raw_delete("default")
        Assignment.objects.filter(task__project_id=project_id)._raw_delete("default")
        TaskCandidate.objects.filter(task__project_id=project_id)._raw_delete("default")
        Task.objects.filter(project_id=project_id)._raw_delete("default")
        Candidate.objects.filter(prompt__project_id=project_id)._raw_delete("default")
        Prompt.objects.filter(project_id=project_id)._raw_delete("default")
        project = Project.objects.get(pk=project_id)
        creator_tag = project.name.rsplit(" ", 1)[-1]
        project.delete()
        from django.contrib.auth import get_user_model

        get_user_model().objects.filter(username__startswith=f"bench-export-{creator_tag}-").delete()


def build(project_id: int) -> dict:
    from rewardtrain.params import snapshot_params_from
    from rewardtrain.snapshots.models import Snapshot
    from rewardtrain.snapshots.services import snapshot_build

    params = snapshot_params_from({"kind": "pairwise", "format": "standard", "validation_fraction": 0.05})
    # Created directly rather than with snapshot_create, which would also queue the Celery task.
    snapshot = Snapshot.objects.create(
        project_id=project_id, version=1, kind="pairwise", params=params.as_dict()
    )
    started = time.perf_counter()
    built = snapshot_build(snapshot_id=snapshot.pk)
    seconds = time.perf_counter() - started
    if built is None or built.status != "ready":
        raise SystemExit(f"build failed: {built.error if built else 'not built'}")
    return {"seconds": seconds, "pairs": built.manifest["records"], "key": built.relative_dir}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rankings", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the seeded project and the files")
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (this benchmark seeds it with COPY).")
    if args.seed_only:
        print(json.dumps({"project": seed(args.rankings)}))
        return

    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "--seed-only", "--rankings", str(args.rankings)],
        check=True,
        capture_output=True,
        text=True,
    )
    project_id = json.loads(child.stdout.strip().splitlines()[-1])["project"]
    print(
        f"seeded {args.rankings} rankings (K={K}) in {time.perf_counter() - started:.1f}s, project {project_id}"
    )
    import rewardtrain.snapshots.services  # noqa: F401  (pyarrow and the app, so the baseline includes them)

    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RSS before the build (modules loaded): {baseline_mb:.0f} MB")
    try:
        result = build(project_id)
    finally:
        if not args.keep:
            cleanup(project_id)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not args.keep:
        from annotate import storage

        # snapshots/<project>/<version>/, in whichever store is configured
        storage.delete_under(result["key"])
    pairs_per_s = result["pairs"] / result["seconds"]
    print(
        f"built {result['pairs']} pairs in {result['seconds']:.2f}s: {pairs_per_s:,.0f} pairs/s, peak RSS {peak_mb:.0f} MB"
    )
    print(
        json.dumps(
            {
                "rankings": args.rankings,
                "pairs": result["pairs"],
                "seconds": round(result["seconds"], 3),
                "pairs_per_s": round(pairs_per_s, 1),
                "peak_rss_mb": round(peak_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
