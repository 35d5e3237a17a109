"""Import public preference data (HH-RLHF, TRL JSONL, oasst1) into a project as completed rankings."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project
from labeling.services.errors import ServiceError
from rewardtrain.importers.parsers import FORMATS
from rewardtrain.importers.preferences import preferences_import


class Command(BaseCommand):
    help = "Import preference data as completed rankings: --format hh (Anthropic HH-RLHF), trl, or oasst."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project slug or id")
        parser.add_argument("file", type=Path, help="JSONL, optionally gzip-compressed")
        parser.add_argument("--format", choices=FORMATS, required=True)

    def handle(self, *args, project: str, file: Path, format: str, **options):
        found = Project.objects.filter(slug=project).first() or (
            Project.objects.filter(pk=int(project)).first() if project.isdigit() else None
        )
        if found is None:
            raise CommandError(f"No project with slug or id '{project}'.")
        if not file.is_file():
            raise CommandError(f"No file at {file}.")
        try:
            result = preferences_import(project=found, data=file.read_bytes(), fmt=format)
        except ServiceError as exc:
            lines = [exc.message] + [
                f"  line {e.line}: {e.field + ': ' if e.field else ''}{e.message}" for e in exc.errors
            ]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(", ".join(f"{k}={v}" for k, v in result.as_dict().items()))
