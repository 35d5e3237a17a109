"""Small builders for test data, going through the real services wherever a service exists."""

import itertools
import json
import uuid

from django.contrib.auth import get_user_model

from labeling.models import Project, Role
from labeling.services.imports import import_file
from labeling.services.projects import membership_set, project_create

_counter = itertools.count(1)


def make_user(username: str | None = None, **extra):
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)


def make_project(admin=None, **settings) -> Project:
    admin = admin or make_user()
    return project_create(creator=admin, name=f"Project {next(_counter)}", **settings)


def add_member(project: Project, role: str = Role.LABELER, user=None):
    user = user or make_user()
    membership_set(project=project, user=user, role=role)
    return user


def ranking_items(n: int, k: int = 4, prefix: str = "item") -> bytes:
    lines = [
        json.dumps(
            {
                "external_id": f"{prefix}-{i}",
                "prompt": f"Question {i}?",
                "answers": [f"answer {i}.{j}" for j in range(k)],
            }
        )
        for i in range(n)
    ]
    return "\n".join(lines).encode()


def import_ranking_tasks(project: Project, n: int, prefix: str = "item") -> None:
    import_file(
        project=project, user=None, data=ranking_items(n, project.k_answers, prefix), kind="ranking_items"
    )


def import_prompt_tasks(project: Project, n: int, prefix: str = "p") -> None:
    data = "\n".join(
        json.dumps({"external_id": f"{prefix}-{i}", "prompt": f"Write about {i}."}) for i in range(n)
    )
    import_file(project=project, user=None, data=data.encode(), kind="prompts")


def new_client_id() -> str:
    return str(uuid.uuid4())
