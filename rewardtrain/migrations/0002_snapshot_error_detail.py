"""A failed build keeps its one-line `error` for project admins and its traceback in `error_detail` for site staff."""

from django.db import migrations, models

from rewardtrain.jobs import split_old_errors


class Migration(migrations.Migration):
    dependencies = [
        ("rewardtrain", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="snapshot",
            name="error_detail",
            field=models.TextField(
                blank=True, help_text="The traceback of a failed build, for site staff only."
            ),
        ),
        migrations.AlterField(
            model_name="snapshot",
            name="error",
            field=models.TextField(blank=True, help_text="What stopped a failed build, in one line."),
        ),
        migrations.RunPython(split_old_errors("rewardtrain", "Snapshot"), migrations.RunPython.noop),
    ]
