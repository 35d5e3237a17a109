from django.contrib import admin

from labeling import models as m


@admin.register(m.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "slug", "k_answers", "redundancy", "allow_ties", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(m.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "user", "role"]
    list_filter = ["role", "project"]


@admin.register(m.Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "version", "created_by", "created_at"]
    list_filter = ["project"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # versions are immutable: publish a new one


@admin.register(m.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "external_id", "source", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["external_id"]


@admin.register(m.Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt", "source", "model_name", "created_at"]
    raw_id_fields = ["prompt"]


class TaskCandidateInline(admin.TabularInline):
    model = m.TaskCandidate
    raw_id_fields = ["candidate"]
    extra = 0


@admin.register(m.Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "kind",
        "status",
        "priority",
        "is_gold",
        "completed_count",
        "required_annotations",
    ]
    list_filter = ["project", "kind", "status", "is_gold"]
    raw_id_fields = ["prompt"]
    inlines = [TaskCandidateInline]


@admin.register(m.Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "user", "status", "leased_at", "expires_at"]
    list_filter = ["status"]
    raw_id_fields = ["task"]


@admin.register(m.Demonstration)
class DemonstrationAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "user", "review_status", "guideline", "created_at"]
    list_filter = ["review_status"]
    raw_id_fields = ["task", "assignment"]


@admin.register(m.Ranking)
class RankingAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "user", "unrankable", "guideline", "created_at"]
    list_filter = ["unrankable"]
    raw_id_fields = ["task", "assignment"]


@admin.register(m.WrittenPrompt)
class WrittenPromptAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "user", "prompt", "created_at"]
    raw_id_fields = ["task", "assignment", "prompt"]


@admin.register(m.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "demonstration", "dialogue", "reviewer", "decision", "created_at"]
    raw_id_fields = ["demonstration", "dialogue"]


@admin.register(m.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "name", "prefix", "project", "expires_at", "revoked_at"]
    readonly_fields = ["key_hash", "prefix"]
