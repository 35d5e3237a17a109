from django.contrib import admin

from rewardtrain.generation.models import GenerationItem, GenerationJob


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "model",
        "backend",
        "endpoint",
        "status",
        "prompts_done",
        "prompts_skipped",
        "prompts_total",
        "created_at",
    ]
    list_filter = ["backend", "status", "project"]
    readonly_fields = ["error", "error_detail", "skipped", "prompt_ids", "heartbeat_at", "worker", "attempts"]


@admin.register(GenerationItem)
class GenerationItemAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "prompt", "sample_index", "candidate", "task", "reward"]
    list_filter = ["job"]
    raw_id_fields = ["prompt", "candidate", "task"]
