from pathlib import PurePosixPath

from django.conf import settings
from django.db import migrations, models


def classify(apps, schema_editor):
    """Runs' outputs become `run`; an absolute directory an admin typed becomes `root` when it lies under a
    configured model root, else a `root` model without a root, which loaders refuse until it is registered
    again (a host path is no longer a model reference)."""
    RegisteredModel = apps.get_model("runs", "RegisteredModel")
    roots = {name: PurePosixPath(path) for name, path in settings.ANNOTATE_MODEL_ROOTS.items()}
    RegisteredModel.objects.filter(produced_by__isnull=False).update(source="run")
    for model in RegisteredModel.objects.filter(produced_by__isnull=True, path__startswith="/"):
        path = PurePosixPath(model.path)
        model.source, model.root = "root", ""
        for name, root in roots.items():
            if path.is_relative_to(root) and ".." not in path.parts:
                model.root, model.path = name, str(path.relative_to(root))
                break
        model.save(update_fields=["source", "root", "path"])


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0003_job_error_detail"),
    ]

    operations = [
        migrations.AddField(
            model_name="registeredmodel",
            name="root",
            field=models.CharField(
                blank=True,
                help_text="The operator's model root (ANNOTATE_MODEL_ROOTS) a `root` model is in.",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="registeredmodel",
            name="source",
            field=models.CharField(
                choices=[
                    ("hub", "Hub name"),
                    ("root", "Directory under an operator's model root"),
                    ("run", "A training run's own output"),
                ],
                default="hub",
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="registeredmodel",
            name="gguf_file",
            field=models.CharField(
                blank=True,
                help_text="GGUF file inside the model directory (a relative path), if any.",
                max_length=300,
            ),
        ),
        migrations.AlterField(
            model_name="registeredmodel",
            name="path",
            field=models.CharField(
                help_text="hub: the hub name (owner/name); root: the directory relative to the root; "
                "run: the run's output directory, written by the run service.",
                max_length=1000,
            ),
        ),
        migrations.RunPython(classify, migrations.RunPython.noop),
    ]
