"""Import prompts or ranking items from a file into a project (the same all-or-nothing import as the API)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project
from labeling.services.errors import ServiceError
from labeling.services.imports import import_file


class Command(BaseCommand):
    help = "Import prompts (JSONL or CSV) or ranking items (JSONL) into a project, by slug or id."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project slug or id")
        parser.add_argument("file", type=Path)
        parser.add_argument("--kind", choices=["prompts", "ranking_items"], default="prompts")
        parser.add_argument("--format", choices=["jsonl", "csv"], help="Default: from the file extension")
        parser.add_argument(
            "--no-tasks", action="store_true", help="Import prompts without demonstration tasks"
        )

    def handle(
        self, *args, project: str, file: Path, kind: str, format: str | None, no_tasks: bool, **options
    ):
        found = Project.objects.filter(slug=project).first() or (
            Project.objects.filter(pk=int(project)).first() if project.isdigit() else None
        )
        if found is None:
            raise CommandError(f"No project with slug or id '{project}'.")
        if not file.is_file():
            raise CommandError(f"No file at {file}.")
        fmt = format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")
        try:
            result = import_file(
                project=found,
                user=None,
                data=file.read_bytes(),
                kind=kind,
                fmt=fmt,
                create_tasks=not no_tasks,
            )
        except ServiceError as exc:
            lines = [exc.message] + [
                f"  line {e.line}: {e.field + ': ' if e.field else ''}{e.message}" for e in exc.errors
            ]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(", ".join(f"{k}={v}" for k, v in result.as_dict().items()))
