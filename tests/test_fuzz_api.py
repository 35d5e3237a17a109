"""Fuzz every operation of the OpenAPI schema (/api/schema/) with schemathesis, as a project admin with a token,
through the WSGI app (no server): no input may cause a 5xx, and every other answer must match the schema (the
body declared for its status code, or the shared `Error` for a 4xx): the schema is the browser app's contract.

Path ids are pinned to real objects of the admin's project (random ids would only ever meet a 404, which the
permission matrix covers), so the generated bodies and query strings reach validation and the services. Each
call runs in a savepoint that is rolled back, so one case's writes never shape the next. The number of cases
run is printed (`-s` shows it) and must reach a floor, so a schema that stops loading cannot pass silently.
"""

import os
import uuid

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from labeling.models import Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.submission import assignment_submit
from labeling.services.tokens import api_token_create
from labeling.tests.factories import (
    add_member,
    import_prompt_tasks,
    import_ranking_tasks,
    make_project,
    make_user,
)
from rewardtrain.tests.helpers import candidate_ids, rank

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = int(os.environ.get("ANNOTATE_FUZZ_EXAMPLES", "12"))


@pytest.fixture
def wsgi_app():
    # As Django's test client does: the request signals must not close the test transaction's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    admin = make_user("fuzz-admin", is_staff=True)
    project = make_project(admin=admin)
    import_prompt_tasks(project, 2)
    import_ranking_tasks(project, 2)
    labeler = add_member(project, Role.LABELER)
    task = project.tasks.filter(kind="ranking").first()
    rank(task, labeler, [[i] for i in candidate_ids(task)])
    # A demonstration made the real way (lease, submit), so the task's counters are what the services keep.
    lease = assignment_claim_next(user=admin, project=project)
    assert lease.task.kind == "demonstration"
    demonstration = assignment_submit(
        user=admin, assignment_id=lease.pk, client_id=uuid.uuid4(), text="A demonstration.", seconds_spent=3
    ).annotation
    token, key = api_token_create(user=admin, name="fuzz")
    ids = {
        "project_id": project.pk,
        "member_id": project.memberships.get(user=labeler).pk,
        "token_id": token.pk,
        "assignment_id": demonstration.assignment_id,
        "demonstration_id": demonstration.pk,
    }
    return {"key": key, "ids": ids}


def test_no_server_errors_and_answers_match_the_schema(wsgi_app, world):
    import schemathesis
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50
    headers = {"Authorization": f"Token {world['key']}"}
    failures: list[str] = []
    counts = {"cases": 0, "operations": 0}

    for operation in operations:
        counts["operations"] += 1

        @given(case=operation.as_strategy(), pin=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case, pin: bool) -> None:
            if pin:  # usually real ids; sometimes whatever was generated
                for name in case.path_parameters or {}:
                    if name in world["ids"]:
                        case.path_parameters[name] = world["ids"][name]
            with transaction.atomic():
                response = case.call(headers=headers)
                transaction.set_rollback(True)
            counts["cases"] += 1
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {case.as_curl_command()}\n{response.text[:500]}")
                return
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except FailureGroup as group:
                failures.append(f"{response.status_code} {case.as_curl_command()}\n{str(group)[:1500]}")

        run()

    print(
        f"\nschemathesis: {counts['cases']} cases over {counts['operations']} operations, {len(failures)} failures"
    )
    assert not failures, "\n\n".join(failures[:20])
    assert counts["cases"] >= counts["operations"] * 3
