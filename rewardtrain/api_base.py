"""Role-gated base views shared by the model-side API (runs, scoring, generation)."""

from rest_framework import serializers
from rest_framework.views import APIView

from labeling.api.permissions import ProjectRole, acts_as_site_staff
from labeling.models import Role


class AdminView(APIView):
    """For the project's admins (non-members 404, other roles 403); the view gets `self.project`."""

    permission_classes = [ProjectRole]
    minimum_role = Role.ADMIN


class ReviewerView(APIView):
    """For the project's reviewers and admins."""

    permission_classes = [ProjectRole]
    minimum_role = Role.REVIEWER


class ErrorDetailField(serializers.CharField):
    """A failed job's traceback (`error_detail`): for site staff only, null for everyone else. Needs the request
    in the serializer's context; without one it is null."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "help_text", "The traceback of a failure: site staff only (null for everyone else)."
        )
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def get_attribute(self, instance):
        request = self.context.get("request")
        if request is None or not acts_as_site_staff(request):
            return None
        return super().get_attribute(instance)
