"""Faults around publishing and importing: concurrent guideline publishers, an import killed half-way."""

import signal
import subprocess
import sys
import threading

import psycopg
import pytest
from django.db import connection, connections

from annotate.tests.live import ROOT, process_env, wait_until
from labeling.models import Guideline, Prompt, Task
from labeling.services.projects import guideline_publish
from labeling.tests.factories import import_prompt_tasks, make_project, make_user


@pytest.mark.django_db(transaction=True)
def test_admins_publishing_at_the_same_moment_get_distinct_versions():
    admin = make_user()
    project = make_project(admin=admin)
    publishers = 6
    start = threading.Barrier(publishers)
    versions, errors = [], []

    def publish(i: int) -> None:
        try:
            start.wait()
            versions.append(guideline_publish(project=project, author=admin, body_md=f"rules {i}").version)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(versions) == list(range(2, 2 + publishers))  # version 1 came with the project
    bodies = set(Guideline.objects.filter(project=project, version__gt=1).values_list("body_md", flat=True))
    assert bodies == {f"rules {i}" for i in range(publishers)}


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_half_way_leaves_nothing_behind(tmp_path):
    project = make_project()
    import_prompt_tasks(project, 3, prefix="before")
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(f'{{"external_id": "q{i}", "prompt": "Question {i}?"}}\n' for i in range(2000)))
    db = connection.settings_dict
    blocker = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None, dbname=db["NAME"]
    )
    # Holding the tasks table lets the import write its prompts, then stops it before its tasks: half-way.
    blocker.execute("LOCK TABLE labeling_task IN EXCLUSIVE MODE")
    importer = subprocess.Popen(
        [sys.executable, "manage.py", "import_data", str(project.pk), str(data), "--kind", "prompts"],
        cwd=ROOT,
        env=process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def waits_with_prompts_written() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO \"labeling_task\"%%'"
                )
                return cursor.fetchone()[0] > 0

        wait_until(waits_with_prompts_written, 60, "the import did not reach its tasks")
        importer.send_signal(signal.SIGKILL)
        importer.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
        if importer.poll() is None:
            importer.kill()
    # PostgreSQL rolled the dead session's transaction back: only what was there before is left.
    assert Prompt.objects.filter(project=project).count() == 3
    assert Task.objects.filter(project=project).count() == 3
    assert not Prompt.objects.filter(project=project, external_id__startswith="q").exists()
