"""The sessions API for Django REST framework: the JSON API's operations as a viewset (``pip install qsessions[drf]``).

Register :class:`SessionViewSet` on a router; it answers exactly as ``qsessions.urls``' JSON API does (same
schema, status codes and error bodies, CSRF, never cached, re-authentication), through DRF's machinery:

    router = routers.SimpleRouter()
    router.register("sessions", SessionViewSet, basename="qsessions-session")

Sessions are found with the signed-in user's session, so the view authenticates with DRF's
``SessionAuthentication`` (which checks CSRF); a subclass may add throttles or permissions of the site.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404
from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from qsessions.reauthentication import reauthentication_error, recently_authenticated
from qsessions.views import (
    SessionEntry,
    api_error_body,
    own_session,
    revoke_others,
    revoke_own,
    session_entries,
    session_json,
)

__all__ = [
    "CsrfFailed",
    "ReauthenticationRequired",
    "SessionAuthenticationWithCsrf",
    "SessionSerializer",
    "SessionViewSet",
]

csrf_logger = logging.getLogger("django.security.csrf")


class CsrfFailed(exceptions.PermissionDenied):
    default_code = "csrf_failed"


class ReauthenticationRequired(exceptions.PermissionDenied):
    """Revoking needs a recent authentication (``QSESSIONS_REAUTHENTICATION_WINDOW``)."""

    default_code = "reauthentication_required"


def _error(code: str) -> Response:
    status, body = api_error_body(code)
    return Response(body, status=status)


class SessionAuthenticationWithCsrf(SessionAuthentication):
    """DRF's session authentication, its CSRF refusal told apart from other 403s (answered ``csrf_failed``)."""

    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as refusal:
            # DRF's check does not log; Django's middleware would, with the reason, and so does the JSON API.
            reason = str(refusal.detail).removeprefix("CSRF Failed: ")
            csrf_logger.warning(
                "Forbidden (%s): %s", reason, request.path, extra={"status_code": 403, "request": request._request}
            )
            raise CsrfFailed(refusal.detail) from refusal


class SessionSerializer(BaseSerializer[SessionEntry]):
    """A :class:`~qsessions.views.SessionEntry` in the API's schema (read-only)."""

    def to_representation(self, instance: SessionEntry) -> dict[str, Any]:
        return session_json(instance)


class SessionViewSet(viewsets.ViewSet):
    """list (GET), retrieve (GET), destroy (DELETE: revoke) and revoke_others (POST ``revoke-others/``)."""

    authentication_classes = [SessionAuthenticationWithCsrf]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    http_method_names = ["get", "post", "delete"]
    lookup_field = "public_id"
    lookup_value_regex = "[^/]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The method first, as the JSON API does: a wrong one is 405 even before sign-in.
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.MethodNotAllowed):
            response = _error("method_not_allowed")
            response["Allow"] = ", ".join(self.allowed_methods)
            return response
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            return _error("not_authenticated")
        if isinstance(exc, CsrfFailed):
            return _error("csrf_failed")
        if isinstance(exc, ReauthenticationRequired):
            return Response(reauthentication_error(), status=403)
        if isinstance(exc, (exceptions.NotFound, Http404)):
            return _error("not_found")
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def _require_recent_authentication(self, request: Request) -> None:
        if not recently_authenticated(request._request):
            raise ReauthenticationRequired

    def _entry(self, request: Request, public_id: str) -> SessionEntry:
        entry = own_session(request._request, public_id)
        if entry is None:
            raise exceptions.NotFound
        return entry

    def list(self, request: Request) -> Response:
        entries = session_entries(request._request)
        return Response({"sessions": [SessionSerializer(entry).data for entry in entries]})

    def retrieve(self, request: Request, public_id: str) -> Response:
        return Response(SessionSerializer(self._entry(request, public_id)).data)

    def destroy(self, request: Request, public_id: str) -> Response:
        self._require_recent_authentication(request)
        entry = self._entry(request, public_id)
        return Response({"revoked": 1, "signed_out": revoke_own(request._request, entry)})

    @action(detail=False, methods=["post"], url_path="revoke-others")
    def revoke_others(self, request: Request) -> Response:
        self._require_recent_authentication(request)
        return Response({"revoked": revoke_others(request._request), "signed_out": False})
