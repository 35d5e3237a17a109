"""Every API route (and the Django admin's login), every method, seven kinds of caller: each gets exactly what
the expectation table says.

The routes come from the URL conf, so a route added without a line in `EXPECTED` fails
`test_every_api_route_has_an_expectation`. Callers: anonymous, a labeler of another project (`outsider`), the
project's labeler, reviewer and admin (signed in, as the browser is), and two tokens held by the project's own
labeler (who is a member of both projects): one scoped to this project, one scoped to another. A scoped token
reaches only its own project, and never the token routes. Path parameters are real ids of project A's
objects, so a refusal is the permission's, never a missing row's. Each call runs in a savepoint that is rolled
back, so writes by one caller never change what the next one sees.

Adding a route is one line: `"route-name": project(Role.REVIEWER, POST=Role.ADMIN)`, `owner()`, … below.
"""

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.services.drafts import draft_save
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user
from rewardtrain.tests.helpers import candidate_ids, demonstrate, demonstration_project, rank

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
ACTORS = (
    "anonymous",
    "outsider",
    "labeler",
    "reviewer",
    "admin",
    "token_this_project",
    "token_other_project",
)
TOKENS = ("token_this_project", "token_other_project")
# The token scoped to this project acts with its holder's role in it.
RANK = {"labeler": 1, "reviewer": 2, "admin": 3, "token_this_project": 1}
ALLOWED = "allowed"  # the permission lets the call through: any answer but 401, 403, 404 and 5xx


@dataclass(frozen=True)
class Rule:
    """`kind`: public | signed_in | project | owner | snapshot. `role`: the minimum project role (per method in
    `by_method`). `special`: {(method, actor): status} for the few deliberate exceptions. `may_404`: methods
    whose allowed answer may be 404 because there is nothing yet (a GET of a draft never saved, …)."""

    kind: str
    role: str | None = None
    by_method: dict[str, str] = field(default_factory=dict)
    special: dict[tuple[str, str], int | str] = field(default_factory=dict)
    may_404: tuple[str, ...] = ()
    body: dict | None = None  # sent with writes instead of {}, where a body is checked before ownership

    def expected(self, method: str, actor: str) -> int | str:
        if (method, actor) in self.special:
            return self.special[(method, actor)]
        if self.kind == "public":
            return ALLOWED
        if actor == "anonymous":
            return 401
        if self.kind == "signed_in":
            return ALLOWED
        if self.kind == "staff":
            return ALLOWED if actor == "admin" else 403
        if self.kind == "owner":
            # Only the assignee, and not through a token scoped elsewhere; everyone else is told it does not exist.
            return ALLOWED if actor in ("labeler", "token_this_project") else 404
        if actor in ("outsider", "token_other_project"):
            return 404
        if self.kind == "snapshot":
            # Admins with a session; reviewers only with a token scoped to the project (see SnapshotReader).
            return ALLOWED if actor == "admin" else 403
        role = self.by_method.get(method.upper(), self.role)
        return ALLOWED if RANK[actor] >= RANK[role] else 403


def public() -> Rule:
    return Rule("public")


def signed_in(**special: int | str) -> Rule:
    return Rule("signed_in", special={tuple(k.split("__")): v for k, v in special.items()})


def project(role: str, may_404: tuple[str, ...] = (), **by_method: str) -> Rule:
    return Rule("project", role=role, by_method=by_method, may_404=may_404)


def owner(may_404: tuple[str, ...] = (), body: dict | None = None) -> Rule:
    return Rule("owner", may_404=may_404, body=body)


WORK = {"client_id": "6f1c1a8e-4b7e-4a0e-9f55-2f1d3c4b5a69", "text": "An answer.", "seconds_spent": 5}


L, R, A = Role.LABELER, Role.REVIEWER, Role.ADMIN

EXPECTED: dict[str, Rule] = {
    # Sign-in and the schema are open; the rest needs a user.
    "auth-csrf": public(),
    "auth-login": public(),
    "schema": public(),
    "api-docs": public(),
    "auth-logout": signed_in(),
    "auth-me": signed_in(),
    # Site staff lift sign-in waits.
    "auth-unlock": Rule("staff"),
    # The Django admin's sign-in page: open, behind the same sign-in throttle as the API's (test_signin.py).
    "admin:login": public(),
    # Tokens are made from a session only; a scoped token cannot even list or revoke them.
    "token-list": Rule("signed_in", special={(m, t): 403 for m in ("get", "post") for t in TOKENS}),
    # A token belongs to the admin; anybody else's id is unknown to them.
    "token-detail": Rule(
        "signed_in",
        special={
            **{("delete", a): 404 for a in ("outsider", "labeler", "reviewer")},
            **{("delete", t): 403 for t in TOKENS},
        },
    ),
    # Every signed-in user lists their own projects (a scoped token: its own only); only site staff create one.
    "project-list": Rule(
        "signed_in",
        special={("post", a): 403 for a in ("outsider", "labeler", "reviewer", *TOKENS)},
    ),
    "project-detail": project(L, PATCH=A),
    "member-list": project(A),
    "member-detail": project(A),
    "guideline-list": project(L, POST=A),
    "guideline-current": project(L),
    # One version of the guidelines, opened or compared: every member reads it.
    "guideline-version": project(L),
    "guideline-usage": project(R),
    "import": project(A),
    "agreement": project(R),
    "prompt-list": project(R),
    "task-list": project(R),
    "ranking-list": project(R),
    "demonstration-list": project(R),
    "dialogue-tasks": project(A),
    "dialogue-list": project(R),
    "assignment-next": project(L),
    "my-stats": project(L),
    "dashboard": project(A),
    "audit-list": project(A),
    # The labeler's own work: the list is everyone's own (empty for others), each item the assignee's only.
    "assignment-list": signed_in(),
    "assignment-detail": owner(),
    "assignment-submit": owner(body=WORK),
    "assignment-skip": owner(),
    "assignment-draft": owner(),
    "assignment-annotation": owner(),
    "assignment-revise": owner(body=WORK),
    "assignment-suggestion": owner(may_404=("get",)),
    # Reviewing is for the demonstration's project's reviewers and admins.
    "demonstration-review": project(R),
    "dialogue-review": project(R),
    # Undoing a review: the project's reviewers and admins reach it, and only the review's own reviewer may.
    "review-undo": Rule("project", role=R, special={("post", "admin"): 403}),
    # Exports: admins, or a token scoped to the project held by a reviewer or admin.
    "snapshot-list": Rule("snapshot"),
    "snapshot-detail": Rule("snapshot"),
    "snapshot-records": Rule("snapshot"),
    "snapshot-file": Rule("snapshot"),
    "snapshot-download-list": project(A),
    # Models, training, generation and scoring: admins. Reward scores and model names never reach labelers.
    "model-list": project(A),
    "model-root-list": project(A),  # root names only, never host paths
    "run-list": project(A),
    "run-options": project(A),
    "run-detail": project(A),
    "run-cancel": project(A),
    "run-lineage": project(A),
    "run-samples": project(A),  # an RL run's sampled answers with their rewards: admins only
    "scoring-job-list": project(A),
    "scoring-job-detail": project(A),
    "scoring-job-cancel": project(A),
    "score-list": project(A),
    "rm-agreement": project(R),
    "rounds": project(R),
    # Win rates name the model behind each answer: admins only.
    "win-rates": project(A),
    "generation-job-list": project(A),
    "generation-job-detail": project(A),
    "generation-job-tasks": project(A),
    "generation-job-cancel": project(A),
    "generation-job-resume": project(A),
    # Inference endpoints by name, for choosing one in a generation job (base URLs only for site staff).
    "inference-endpoint-list": project(A),
}


# Routes outside /api/ that the table covers, with the methods of their (function) views.
OTHER_ROUTES = {"admin/login/": ("get", "post")}


def api_routes() -> list[tuple[str, str, type | tuple[str, ...]]]:
    """(route, name, view class or methods) of every URL under /api/, and of OTHER_ROUTES."""

    def walk(resolver, prefix: str = "", namespace: str = ""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}{pattern.name}" if pattern.name else pattern.name
                yield prefix + str(pattern.pattern), name, pattern.callback

    found = []
    for route, name, callback in walk(get_resolver()):
        if route.startswith("api/") or route == "api":
            view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            found.append((route, name, view))
        elif route in OTHER_ROUTES:
            found.append((route, name, OTHER_ROUTES[route]))
    assert {route for route, _, _ in found} >= set(OTHER_ROUTES), "an entry of OTHER_ROUTES is gone"
    return found


def methods_of(view: type | tuple[str, ...]) -> list[str]:
    if isinstance(view, tuple):
        return list(view)
    return [m for m in METHODS if hasattr(view, m)]


def test_every_api_route_has_an_expectation():
    routes = api_routes()
    assert len(routes) >= 40
    missing = sorted(name or route for route, name, _ in routes if name not in EXPECTED)
    assert not missing, (
        f"API routes without a line in EXPECTED (tests/test_permission_matrix.py): {missing}. "
        "Say who may call each: project(Role.X), owner(), signed_in(), public()."
    )
    stale = sorted(set(EXPECTED) - {name for _, name, _ in routes})
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"
    unnamed = [route for route, name, _ in routes if not name]
    assert not unnamed, f"Name these routes so the table can refer to them: {unnamed}"


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from labeling.models import Assignment
    from rewardtrain.params import snapshot_params_from
    from rewardtrain.runs.models import RegisteredModel, ScoringJob, TrainingRun
    from rewardtrain.snapshots.models import Snapshot
    from rewardtrain.snapshots.services import snapshot_build

    admin = make_user("matrix-admin", is_staff=True)
    project_a, tasks = demonstration_project(1)
    project_a.memberships.update(user=admin)
    project_a.created_by = admin
    project_a.save()
    import_ranking_tasks(project_a, 1)
    labeler = add_member(project_a, Role.LABELER, user=make_user("matrix-labeler"))
    reviewer = add_member(project_a, Role.REVIEWER, user=make_user("matrix-reviewer"))
    project_b = make_project()
    outsider = add_member(project_b, Role.LABELER, user=make_user("matrix-outsider"))
    add_member(project_b, Role.ADMIN, user=labeler)
    _, key_b = api_token_create(user=labeler, name="scoped to B", project=project_b)
    _, key_a = api_token_create(user=labeler, name="scoped to A", project=project_a)
    admin_token, _ = api_token_create(user=admin, name="admin's")

    demonstration = demonstrate(tasks[0], labeler, "A demonstration.")
    assignment = demonstration.assignment
    draft_save(user=labeler, assignment=assignment, payload={"text": "draft"})
    ranking_task = project_a.tasks.get(kind="ranking")
    rank(ranking_task, labeler, [[i] for i in candidate_ids(ranking_task)])
    snapshot = Snapshot.objects.create(
        project=project_a,
        version=1,
        kind="pairwise",
        params=snapshot_params_from({"kind": "pairwise", "validation_fraction": 0}).as_dict(),
    )
    snapshot_build(snapshot_id=snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == "ready", snapshot.error
    base = RegisteredModel.objects.create(project=project_a, name="base", kind="base", path="org/base")
    rm = RegisteredModel.objects.create(project=project_a, name="rm", kind="rm", path="org/rm")
    run = TrainingRun.objects.create(project=project_a, kind="rm", snapshot=snapshot, base_model=base)
    scoring = ScoringJob.objects.create(project=project_a, reward_model=rm)
    from rewardtrain.generation.models import GenerationJob

    generation = GenerationJob.objects.create(project=project_a, model=base)
    assert Assignment.objects.filter(user=labeler).exists()
    dialogue = _dialogue(project_a, labeler, demonstration.guideline)
    from labeling.services.reviews import dialogue_review

    review = dialogue_review(reviewer=reviewer, dialogue=dialogue, decision="accept")

    params = {
        "project_id": project_a.pk,
        "member_id": project_a.memberships.get(user=labeler).pk,
        "token_id": admin_token.pk,
        "assignment_id": assignment.pk,
        "demonstration_id": demonstration.pk,
        "dialogue_id": dialogue.pk,
        "snapshot_id": snapshot.pk,
        "file_name": "train.jsonl",
        "run_id": run.pk,
        "review_id": review.pk,
        "version": demonstration.guideline.version,
    }
    # Parameters whose meaning depends on the route.
    by_route = {
        "scoring-job-detail": {"job_id": scoring.pk},
        "scoring-job-cancel": {"job_id": scoring.pk},
        "generation-job-detail": {"job_id": generation.pk},
        "generation-job-tasks": {"job_id": generation.pk},
        "generation-job-cancel": {"job_id": generation.pk},
        "generation-job-resume": {"job_id": generation.pk},
    }
    clients = {"anonymous": APIClient()}
    for name, user in (
        ("outsider", outsider),
        ("labeler", labeler),
        ("reviewer", reviewer),
        ("admin", admin),
    ):
        clients[name] = APIClient()
        clients[name].force_authenticate(user)
    for name, key in (("token_this_project", key_a), ("token_other_project", key_b)):
        clients[name] = APIClient()
        clients[name].credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return {
        "params": params,
        "by_route": by_route,
        "clients": clients,
        "projects": (project_a, project_b),
        "labeler": labeler,
    }


def _dialogue(project, user, guideline):
    """A written dialogue in `project` (for the dialogue review route)."""
    import uuid

    from django.utils import timezone

    from labeling.models import Assignment, Dialogue
    from labeling.services.dialogues import dialogue_tasks_open

    (task,) = dialogue_tasks_open(project=project, count=1)
    now = timezone.now()
    assignment = Assignment.objects.create(
        task=task, user=user, status="submitted", guideline=guideline, leased_at=now, expires_at=now
    )
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    return Dialogue.objects.create(
        task=task,
        assignment=assignment,
        user=user,
        guideline=guideline,
        client_id=uuid.uuid4(),
        messages=messages,
    )


def _url(route: str, values: dict) -> str:
    import re

    def fill(match):
        name = match.group(2)
        if name not in values:
            raise AssertionError(
                f"No fixture value for path parameter '{name}' of {route}: add it to `world`."
            )
        return str(values[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def test_permission_matrix(world):
    mismatches, calls = [], 0
    for route, name, view in api_routes():
        rule = EXPECTED[name]
        url = _url(route, {**world["params"], **world["by_route"].get(name, {})})
        for method in methods_of(view):
            for actor in ACTORS:
                with transaction.atomic():
                    client = world["clients"][actor]
                    if method in ("get", "delete"):
                        response = getattr(client, method)(url)
                    else:
                        response = getattr(client, method)(url, rule.body or {}, format="json")
                    transaction.set_rollback(True)
                calls += 1
                want = rule.expected(method, actor)
                got = response.status_code
                if want == ALLOWED:
                    ok = got < 500 and got not in (401, 403) and (got != 404 or method in rule.may_404)
                else:
                    ok = got == want
                if not ok:
                    mismatches.append(
                        f"{method.upper()} {url} ({name}) as {actor}: expected {want}, got {got}"
                    )
    print(f"\npermission matrix: {calls} calls, {len(mismatches)} unexpected")
    assert not mismatches, f"{len(mismatches)} of {calls} calls:\n" + "\n".join(mismatches)
    assert calls >= 400


def test_scoped_tokens_see_only_their_own_project(world):
    """Beyond the status codes: what a scoped token lists holds nothing of another project."""
    from labeling.models import Assignment

    project_a, project_b = world["projects"]
    session = world["clients"]["labeler"]
    assert {p["id"] for p in session.get("/api/projects/").json()} == {project_a.pk, project_b.pk}
    for actor, project in (("token_this_project", project_a), ("token_other_project", project_b)):
        client = world["clients"][actor]
        assert [p["id"] for p in client.get("/api/projects/").json()] == [project.pk], actor
        assert [p["id"] for p in client.get("/api/auth/me").json()["projects"]] == [project.pk], actor
        mine = Assignment.objects.filter(user=world["labeler"], task__project=project).count()
        assert client.get("/api/assignments/").json()["count"] == mine, actor
    assert Assignment.objects.filter(user=world["labeler"], task__project=project_a).exists()
