"""Sign-in for the browser (session + CSRF) and who-am-I."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.errors import error_response
from labeling.api.permissions import Authenticated, NotScopedToken, SiteStaff, token_project_id
from labeling.api.serializers import LoginSerializer
from labeling.auditlog.context import client_ip
from labeling.auditlog.signin import signin_retry_after, signin_unlock
from labeling.models import Membership


def _me(user, project_id: int | None = None) -> dict:
    """The user and their projects; only `project_id` when the request came with a token scoped to it."""
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("project_id")
    if project_id is not None:
        memberships = memberships.filter(project_id=project_id)
    return {
        "id": user.pk,
        "username": user.username,
        "is_staff": user.is_staff,
        "projects": [{"id": m.project_id, "name": m.project.name, "role": m.role} for m in memberships],
    }


MeSerializer = inline_serializer(
    "Me",
    {
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "is_staff": serializers.BooleanField(),
        "projects": inline_serializer(
            "MyProject",
            {
                "id": serializers.IntegerField(),
                "name": serializers.CharField(),
                "role": serializers.CharField(),
            },
            many=True,
        ),
    },
)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(APIView):
    """Sets the CSRF cookie that session-authenticated writes must echo in `X-CSRFToken`."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=inline_serializer("Csrf", {"csrf_token": serializers.CharField()}))
    def get(self, request):
        return Response({"csrf_token": get_token(request)})


@method_decorator(csrf_protect, name="dispatch")
class LoginView(APIView):
    """Session sign-in. Repeated wrong passwords for a username from one address, or many from one address,
    make it wait (429 with Retry-After; see labeling/auditlog/signin.py)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LoginSerializer, responses=MeSerializer)
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The throttle is in the authentication backend (so the Django admin shares it): it records the attempt.
        user = authenticate(request, **body.validated_data)
        if user is not None:
            login(request, user)
            return Response(_me(user))
        wait = signin_retry_after(username=body.validated_data["username"], ip=client_ip(request))
        if wait is None:
            return error_response(
                "Wrong username or password.", "bad_credentials", status.HTTP_400_BAD_REQUEST
            )
        later = f"{wait} seconds" if wait < 120 else f"{(wait + 59) // 60} minutes"
        return error_response(
            f"Too many failed sign-ins; try again in {later}.",
            "locked_out",
            status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )


class LogoutView(APIView):
    permission_classes = [Authenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [Authenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(_me(request.user, token_project_id(request)))


class UnlockSerializer(serializers.Serializer):
    username = serializers.CharField(required=False, allow_blank=True, max_length=150)
    ip = serializers.CharField(required=False, allow_blank=True, max_length=64)


class UnlockView(APIView):
    """Site staff lift sign-in waits: of a `username` (from every address) and/or of an address (`ip`). Each is
    recorded in the audit trail (`auth.unlock`)."""

    permission_classes = [
        Authenticated,
        NotScopedToken,
        SiteStaff,
    ]  # a scoped token is told why (scoped_token)

    @extend_schema(
        request=UnlockSerializer,
        responses=inline_serializer(
            "Unlocked", {"unlocked": serializers.ListField(child=serializers.CharField())}
        ),
    )
    def post(self, request):
        body = UnlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        unlocked = signin_unlock(actor=request.user, username=data.get("username"), ip=data.get("ip"))
        return Response({"unlocked": unlocked})
