from io import StringIO

import pytest
from django.core.management import call_command

from labeling.models import Project, Task, TaskKind
from rewardtrain.generation.models import GenerationJob
from rewardtrain.runs.models import RegisteredModel
from rewardtrain.training.pretrained import smollm2_gguf_path


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_project_and_is_repeatable():
    out = StringIO()
    call_command("seed_demo", "--password", "demo-pass-123", stdout=out)
    call_command("seed_demo", "--password", "demo-pass-123", stdout=StringIO())
    project = Project.objects.get(slug="demo")
    assert project.k_answers == 4
    assert Task.objects.filter(project=project, kind=TaskKind.RANKING).count() == 5
    assert Task.objects.filter(project=project, kind=TaskKind.DEMONSTRATION).count() == 4
    assert "labeler   login: labeler   password: demo-pass-123" in out.getvalue()
    if smollm2_gguf_path() is not None:
        base = RegisteredModel.objects.get(project=project, name="SmolLM2-135M-Instruct")
        assert base.gguf_file.endswith(".gguf")
        # The demo worker samples real answers: one generation job, queued once however often it is seeded.
        job = GenerationJob.objects.get(project=project)
        assert job.model == base and job.backend == "local" and job.status == "queued"
        assert job.settings["k"] == 4 and job.settings["max_new_tokens"] == 96 and job.prompts_total == 3
