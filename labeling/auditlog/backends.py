"""The one door every password goes through: the API login, the Django admin login, and anything else that
calls `django.contrib.auth.authenticate` with a request. See labeling/auditlog/signin.py."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from labeling.auditlog.context import client_ip
from labeling.auditlog.signin import signin_failed, signin_retry_after, signin_succeeded


class ThrottledModelBackend(ModelBackend):
    """Django's username/password backend behind the sign-in throttle.

    While the (username, address) pair or the address must wait, the password is not checked at all and the
    answer is the same as for a wrong password (None): a locked account reveals nothing about the password.
    The API login then tells the caller how long to wait (`signin_retry_after`); the admin's form says only
    that the credentials were not accepted. Calls without a request (a management command, a test's
    `Client.login`) are not sign-ins from anywhere and are neither throttled nor recorded."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if username is None:
            username = kwargs.get(self._username_field())
        if request is None or username is None or password is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        ip = client_ip(request)
        if signin_retry_after(username=username, ip=ip) is not None:
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            signin_failed(username=username, ip=ip)
        else:
            signin_succeeded(user=user, ip=ip)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
