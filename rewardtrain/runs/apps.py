from django.apps import AppConfig


class RunsConfig(AppConfig):
    """Registered models and training runs. An app of its own inside rewardtrain, so its migration history is
    independent of the dataset tables beside it."""

    name = "rewardtrain.runs"
    label = "runs"
    verbose_name = "Models and training runs"
