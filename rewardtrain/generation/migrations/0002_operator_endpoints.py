"""A generation job names an operator-configured endpoint instead of a URL, an API style and a variable name.

The old URL, API style and variable name are dropped, not carried over: a project admin chose them, and nothing an
admin typed may become a host the worker calls. Openai-backend jobs are left with no endpoint; one not finished yet
is failed, saying why, so the worker never runs it (a new job names a configured endpoint).
"""

from django.db import migrations, models
from django.utils import timezone

from rewardtrain.jobs import split_old_errors

UNFINISHED = ("queued", "running")


def fail_unfinished_url_jobs(apps, schema_editor):
    GenerationJob = apps.get_model("generation", "GenerationJob")
    GenerationJob.objects.filter(backend="openai", status__in=UNFINISHED).update(
        status="failed",
        finished_at=timezone.now(),
        error="this job named an endpoint URL, which is no longer allowed; start a new job with a configured endpoint",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="generationjob",
            name="endpoint",
            field=models.CharField(
                blank=True,
                help_text="Name of an inference endpoint the operator configured (ANNOTATE_INFERENCE_ENDPOINTS).",
                max_length=64,
            ),
        ),
        migrations.RunPython(fail_unfinished_url_jobs, migrations.RunPython.noop),
        migrations.RemoveField(model_name="generationjob", name="endpoint_url"),
        migrations.RemoveField(model_name="generationjob", name="endpoint_api"),
        migrations.RemoveField(model_name="generationjob", name="api_key_env"),
        migrations.AlterField(
            model_name="generationjob",
            name="endpoint_model",
            field=models.CharField(
                blank=True,
                help_text="Model the endpoint serves: one of the endpoint's allowed models.",
                max_length=300,
            ),
        ),
        migrations.AlterField(
            model_name="generationjob",
            name="error",
            field=models.TextField(blank=True, help_text="What stopped a failed job, in one line."),
        ),
        migrations.AddField(
            model_name="generationjob",
            name="error_detail",
            field=models.TextField(
                blank=True,
                help_text="The traceback of a failure, for site staff only (`error` is its one line).",
            ),
        ),
        migrations.RunPython(split_old_errors("generation", "GenerationJob"), migrations.RunPython.noop),
    ]
