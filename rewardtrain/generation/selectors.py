"""Reads of generation jobs shared by the API views."""

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from labeling.models import Project
from rewardtrain.generation.models import GenerationItem, GenerationJob, GenerationSource
from rewardtrain.jobs import job_in_project

SNIPPET_CHARS = 160


def _jobs() -> QuerySet[GenerationJob]:
    # Each item has one candidate, so counting over the items-candidate join counts each answer once.
    return (
        GenerationJob.objects.select_related("model", "reward_model")
        .prefetch_related(
            Prefetch(
                "sources", queryset=GenerationSource.objects.select_related("model").order_by("position")
            )
        )
        .annotate(
            tasks_made=Count("items__task", distinct=True),
            truncated_answers=Count("items", filter=Q(items__candidate__sampling__truncated=True)),
        )
    )


def generation_jobs_for_project(project: Project) -> QuerySet[GenerationJob]:
    return _jobs().filter(project=project)


def get_generation_job(project: Project, job_id: int) -> GenerationJob:
    return job_in_project(_jobs(), project, job_id, "Generation job")


def _snippet(messages: Any) -> str:
    """The prompt's last user turn, cut short, as plain text."""
    turns = [m.get("content", "") for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    text = " ".join(str(turns[-1] if turns else "").split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def generation_job_tasks(job: GenerationJob) -> list[dict[str, Any]]:
    """The ranking tasks a job made, in prompt order, each with its answers' models and truncation (for admins:
    this names the model behind each answer)."""
    items = (
        GenerationItem.objects.filter(job=job, task__isnull=False)
        .select_related("task", "prompt", "candidate")
        .order_by("task_id", "sample_index")
    )
    rows: dict[int, dict[str, Any]] = {}
    for item in items:
        task = item.task
        row = rows.get(task.pk)
        if row is None:
            row = rows[task.pk] = {
                "id": task.pk,
                "prompt": item.prompt_id,
                "prompt_snippet": _snippet(item.prompt.messages),
                "status": task.status,
                "completed_count": task.completed_count,
                "required_annotations": task.required_annotations,
                "answers": [],
            }
        sampling = item.candidate.sampling or {}
        row["answers"].append(
            {
                "candidate": item.candidate_id,
                "model_name": item.candidate.model_name,
                "truncated": bool(sampling.get("truncated")),
                "chars": len(item.candidate.text),
            }
        )
    return list(rows.values())
