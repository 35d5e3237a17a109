from django.apps import AppConfig

from rewardtrain.generation.endpoints import configured_endpoints


class GenerationConfig(AppConfig):
    """Generation jobs: sample K answers per prompt from a registered model and open ranking tasks."""

    name = "rewardtrain.generation"
    label = "generation"
    verbose_name = "Generation jobs"

    def ready(self) -> None:
        configured_endpoints()  # a bad ANNOTATE_INFERENCE_ENDPOINTS stops the start, naming the entry and field
