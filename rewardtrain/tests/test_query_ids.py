"""Id and cursor query parameters: anything but ASCII digits is a 400 naming the parameter, never a 500."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.services.assignment import assignment_claim_next
from labeling.tests.factories import add_member
from rewardtrain.runs.models import ModelKind, RunKind
from rewardtrain.runs.tests.builders import T0, finished_run, model, snapshot
from rewardtrain.snapshots.models import SnapshotKind
from rewardtrain.tests.helpers import ranking_project

pytestmark = pytest.mark.django_db

# "²" passes str.isdigit but not int(); the others are plainly not ids.
BAD = ["²", "-1", "1.5", "abc", "\u0661"]  # the last: an Arabic-Indic digit one


def test_bad_ids_and_cursors_are_named_400s_on_every_view_that_reads_one():
    project, _ = ranking_project(1)
    admin = project.memberships.get(role=Role.ADMIN).user
    base = model(project, "base", ModelKind.BASE)
    run = finished_run(project, RunKind.RM, snapshot(project, 1, SnapshotKind.KWISE, T0), base, T0)
    labeler = add_member(project, Role.LABELER)
    lease = assignment_claim_next(user=labeler, project=project)
    p = f"/api/projects/{project.pk}"
    by_user = [
        (admin, f"{p}/runs/{run.pk}/", "after"),
        (admin, f"{p}/runs/{run.pk}/samples/", "after"),
        (admin, f"{p}/scores/", "reward_model"),
        (admin, f"{p}/win-rates/", "reward_model"),
        (admin, f"{p}/snapshot-downloads/", "snapshot"),
        (labeler, f"/api/assignments/{lease.pk}/suggestion/", "id"),
    ]
    client = APIClient()
    for user, url, name in by_user:
        client.force_authenticate(user)
        for value in BAD:
            response = client.get(url, {name: value})
            assert response.status_code == 400, (url, value, response.status_code)
            assert response.json()["errors"][0]["field"] == name, (url, value)
        # A well-formed id beyond any column's range is no error of the server either.
        assert client.get(url, {name: "9" * 30}).status_code < 500, url
