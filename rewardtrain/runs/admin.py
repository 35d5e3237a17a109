from django.contrib import admin

from rewardtrain.runs.models import CandidateScore, RegisteredModel, RunMetric, ScoringJob, TrainingRun


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    """Models are registered through the API, which checks them against the operator's model roots: here their
    reference cannot be typed or changed (a run's `run` source would otherwise take any host path)."""

    list_display = ["id", "project", "name", "kind", "source", "root", "path", "produced_by", "created_at"]
    list_filter = ["kind", "source", "project"]
    readonly_fields = ["source", "root", "path", "gguf_file", "produced_by"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "kind",
        "status",
        "step",
        "total_steps",
        "snapshot",
        "base_model",
        "created_at",
    ]
    list_filter = ["kind", "status", "project"]
    readonly_fields = ["error", "error_detail", "last_metrics", "final_metrics"]


@admin.register(RunMetric)
class RunMetricAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "kind", "step", "created_at"]
    list_filter = ["kind"]


@admin.register(ScoringJob)
class ScoringJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "reward_model", "status", "scored", "total", "created_at"]
    list_filter = ["status", "project"]
    readonly_fields = ["error", "error_detail"]


@admin.register(CandidateScore)
class CandidateScoreAdmin(admin.ModelAdmin):
    list_display = ["id", "candidate", "reward_model", "score", "created_at"]
    list_filter = ["reward_model"]
    raw_id_fields = ["candidate"]
