"""Builders for generation tests, through the real services."""

import json

from labeling.models import Project
from labeling.services.imports import import_file
from labeling.tests.factories import make_project, make_user
from rewardtrain.runs.models import ModelKind, RegisteredModel
from rewardtrain.runs.services import registered_model_create
from rewardtrain.runs.tests.roots import rooted


def project_with_prompts(n: int, k: int = 4) -> tuple[Project, object]:
    admin = make_user(is_staff=True)
    project = make_project(admin=admin, k_answers=k)
    lines = [
        json.dumps({"external_id": f"q{i}", "messages": [{"role": "user", "content": f"count {i} apple"}]})
        for i in range(n)
    ]
    import_file(project=project, user=admin, data="\n".join(lines).encode(), kind="prompts")
    return project, admin


def register(
    project: Project, admin, path, kind: str = ModelKind.BASE, name: str = "tiny"
) -> RegisteredModel:
    return registered_model_create(project=project, user=admin, name=name, kind=kind, **rooted(path))
