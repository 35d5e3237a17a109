"""Opening dialogue tasks: a labeler writes a whole conversation, playing the user and the assistant.

A task is either blank (the labeler invents the conversation) or seeded with one of the project's prompts, whose
turns are shown as the dialogue's opening for the labeler to continue (and edit). They are served only while the
project has `dialogue_tasks_enabled`; each needs the project's redundancy of dialogues.
"""

from django.db import transaction

from labeling.auditlog.models import AuditAction
from labeling.auditlog.services import audit_record
from labeling.models import Project, Prompt, Task, TaskKind
from labeling.services.errors import FieldError, invalid

MAX_OPEN_AT_ONCE = 10_000


@transaction.atomic
def dialogue_tasks_open(
    *, project: Project, count: int | None = None, prompt_ids: list[int] | None = None, priority: int = 0
) -> list[Task]:
    """Open `count` blank dialogue tasks, or one seeded task per prompt of `prompt_ids` (not both)."""
    if (count is None) == (prompt_ids is None):
        raise invalid(
            "Give either count (blank dialogues) or prompt_ids (dialogues seeded with those prompts)",
            FieldError("give exactly one of count and prompt_ids", "count"),
        )
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_OPEN_AT_ONCE:
            raise invalid("Invalid count", FieldError(f"must be from 1 to {MAX_OPEN_AT_ONCE}", "count"))
        seeds: list[int | None] = [None] * count
    else:
        wanted = list(dict.fromkeys(prompt_ids or []))
        if not wanted or len(wanted) > MAX_OPEN_AT_ONCE:
            raise invalid(
                "Invalid prompt_ids",
                FieldError(f"must list 1 to {MAX_OPEN_AT_ONCE} prompt ids", "prompt_ids"),
            )
        found = set(Prompt.objects.filter(project=project, pk__in=wanted).values_list("pk", flat=True))
        missing = [pid for pid in wanted if pid not in found]
        if missing:
            raise invalid(
                "Unknown prompts",
                FieldError(f"prompt(s) {missing[:20]} do not exist in this project", "prompt_ids"),
            )
        seeds = list(wanted)
    tasks = Task.objects.bulk_create(
        [
            Task(
                project=project,
                kind=TaskKind.DIALOGUE,
                prompt_id=seed,
                priority=priority,
                required_annotations=project.redundancy,
            )
            for seed in seeds
        ]
    )
    audit_record(
        AuditAction.DIALOGUE_TASKS_OPEN,
        project=project,
        target_type="project",
        target_id=project.pk,
        details={"tasks": len(tasks), "seeded": sum(1 for seed in seeds if seed is not None)},
    )
    return tasks
