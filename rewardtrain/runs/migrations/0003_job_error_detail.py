"""A failed job keeps its one-line `error` for project admins and its traceback in `error_detail` for site staff."""

from django.db import migrations, models

from rewardtrain.jobs import split_old_errors


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0002_scoring_and_dpo"),
    ]

    operations = [
        migrations.AddField(
            model_name="scoringjob",
            name="error_detail",
            field=models.TextField(
                blank=True,
                help_text="The traceback of a failure, for site staff only (`error` is its one line).",
            ),
        ),
        migrations.AddField(
            model_name="trainingrun",
            name="error_detail",
            field=models.TextField(
                blank=True,
                help_text="The traceback of a failure, for site staff only (`error` is its one line).",
            ),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="error",
            field=models.TextField(blank=True, help_text="What stopped a failed run, in one line."),
        ),
        migrations.RunPython(split_old_errors("runs", "TrainingRun"), migrations.RunPython.noop),
        migrations.RunPython(split_old_errors("runs", "ScoringJob"), migrations.RunPython.noop),
    ]
