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

from labeling.api.permissions import Authenticated
from labeling.api.serializers import LoginSerializer
from labeling.auditlog.context import client_ip
from labeling.auditlog.signin import signin_failed, signin_retry_after, signin_succeeded
from labeling.models import Membership


def _me(user) -> dict:
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("project_id")
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
        "projects": serializers.ListField(child=serializers.DictField()),
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
    """Session sign-in. Repeated wrong passwords for a username or from an address lock sign-in out for a while
    (429 with Retry-After; see labeling/auditlog/signin.py)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LoginSerializer, responses=MeSerializer)
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        username, ip = body.validated_data["username"], client_ip(request)
        wait = signin_retry_after(username=username, ip=ip)
        if wait is None:
            user = authenticate(request, **body.validated_data)
            if user is not None:
                signin_succeeded(user=user, ip=ip)
                login(request, user)
                return Response(_me(user))
            wait = signin_failed(username=username, ip=ip)
            if wait is None:
                return Response(
                    {"detail": "Wrong username or password.", "code": "bad_credentials"},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        return Response(
            {
                "detail": f"Too many failed sign-ins; try again in {(wait + 59) // 60} minute(s).",
                "code": "locked_out",
                "retry_after": wait,
            },
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(wait)},
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
        return Response(_me(request.user))
