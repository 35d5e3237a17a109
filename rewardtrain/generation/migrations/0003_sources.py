"""A generation job may sample from several models (`GenerationSource`: a model and its share of the K answers).
Every existing job gets one source: its model, writing all K answers."""

import django.db.models.deletion
from django.db import migrations, models


def one_source_per_job(apps, schema_editor):
    GenerationJob = apps.get_model("generation", "GenerationJob")
    GenerationSource = apps.get_model("generation", "GenerationSource")
    GenerationSource.objects.bulk_create(
        GenerationSource(
            job_id=job.pk,
            model_id=job.model_id,
            answers=int(job.settings.get("k") or 0),
            endpoint_model=job.endpoint_model,
            position=0,
        )
        for job in GenerationJob.objects.all().iterator()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0002_operator_endpoints"),
        ("runs", "0006_run_model_stored"),
    ]

    operations = [
        migrations.CreateModel(
            name="GenerationSource",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("answers", models.PositiveSmallIntegerField()),
                (
                    "endpoint_model",
                    models.CharField(
                        blank=True,
                        help_text="openai backend: the endpoint's model that serves this one.",
                        max_length=300,
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=0)),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sources",
                        to="generation.generationjob",
                    ),
                ),
                (
                    "model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="runs.registeredmodel",
                    ),
                ),
            ],
            options={
                "ordering": ["job_id", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("job", "model"), name="uniq_generation_source_model")
                ],
            },
        ),
        migrations.RunPython(one_source_per_job, migrations.RunPython.noop),
    ]
