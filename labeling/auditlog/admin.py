from django.contrib import admin

from labeling.auditlog.models import AuditAction, AuditEvent
from labeling.auditlog.signin import signin_unlock


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only. One action: lift the sign-in waits of the selected events'
    usernames (itself recorded as `auth.unlock` events)."""

    list_display = ["created_at", "action", "actor", "project", "target_type", "target_id", "ip"]
    list_filter = ["action"]
    search_fields = ["target_id", "actor__username"]
    actions = ["unlock_signin"]

    @admin.action(description="Unlock sign-in for the usernames of the selected sign-in events")
    def unlock_signin(self, request, queryset) -> None:
        signin = [AuditAction.LOGIN_FAILED, AuditAction.LOGIN_LOCKED]
        usernames = sorted(set(queryset.filter(action__in=signin).values_list("target_id", flat=True)))
        for username in usernames:
            signin_unlock(actor=request.user, username=username)
        self.message_user(request, f"Unlocked {len(usernames)} username(s): {', '.join(usernames)}"[:500])

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
