from django.apps import AppConfig


class GenerationConfig(AppConfig):
    """Generation jobs: sample K answers per prompt from a registered model and open ranking tasks."""

    name = "rewardtrain.generation"
    label = "generation"
    verbose_name = "Generation jobs"
