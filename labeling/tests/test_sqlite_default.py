"""The embedded default (SQLite, no services) runs the labeler's loop: the claim's SQL is written for both."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", "--noinput", verbosity=0)
from labeling.models import Assignment, Ranking
from labeling.services.assignment import assignment_claim_next
from labeling.services.submission import ranking_submit
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, new_client_id

project = make_project(k_answers=4, redundancy=2)
import_ranking_tasks(project, 3)
alice, bob = add_member(project), add_member(project)
first = assignment_claim_next(user=alice, project=project)
assert assignment_claim_next(user=alice, project=project).pk == first.pk  # a reload gets the same lease
assert first.task.prompt.messages[0]["content"].startswith("Question")
prefetched = assignment_claim_next(user=alice, project=project, prefetch=True)
assert prefetched.task_id != first.task_id
assert assignment_claim_next(user=bob, project=project).task_id == first.task_id  # redundancy 2: room for bob
ids = list(first.task.task_candidates.values_list("candidate_id", flat=True))
ranking_submit(user=alice, assignment_id=first.pk, client_id=new_client_id(), tiers=[[i] for i in ids])
following = assignment_claim_next(user=alice, project=project)
assert following.task_id == prefetched.task_id, (following.task_id, prefetched.task_id)
done = 1
while (lease := assignment_claim_next(user=alice, project=project)) is not None:
    assert lease.task_id != first.task_id  # never the same task twice
    ids = list(lease.task.task_candidates.values_list("candidate_id", flat=True))
    ranking_submit(user=alice, assignment_id=lease.pk, client_id=new_client_id(), tiers=[[i] for i in ids])
    done += 1
assert done == 3 and Ranking.objects.filter(user=alice).count() == 3
assert Assignment.objects.filter(user=alice).count() == 3
print("ok")
"""


def test_claim_and_submit_run_on_the_embedded_sqlite_default(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "annotate.settings",
        "ANNOTATE_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout + done.stderr
