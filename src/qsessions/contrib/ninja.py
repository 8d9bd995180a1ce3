"""The sessions API for Django Ninja: a router of the JSON API's operations (``pip install qsessions[ninja]``).

Add :data:`router` to your ``NinjaAPI``; its operations are ``qsessions.urls``' JSON API views themselves, so
they answer byte for byte alike (schema, status codes, error bodies, CSRF, never cached, re-authentication)
and appear in your API's OpenAPI schema:

    api = NinjaAPI()
    api.add_router("/", qsessions.contrib.ninja.router)   # /sessions/, /sessions/{public_id}/, ...

The operations authenticate with the user's session (``auth=None`` for Ninja: the views check the session
and CSRF themselves), whatever ``auth`` the API sets for its other routes.
"""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponseBase
from ninja import Router, Schema

from qsessions import views

__all__ = ["RevokedSchema", "SessionListSchema", "SessionSchema", "router"]


class SessionSchema(Schema):
    id: str
    current: bool
    device: str | None
    user_agent: str | None
    ip: str | None
    location: str | None
    created_at: datetime.datetime | None
    last_activity: datetime.datetime | None
    expires_at: datetime.datetime
    sign_in_method: str | None
    second_factor: bool


class SessionListSchema(Schema):
    sessions: list[SessionSchema]


class RevokedSchema(Schema):
    revoked: int
    signed_out: bool


class ErrorDetailSchema(Schema):
    code: str
    detail: str


class ErrorSchema(Schema):
    error: ErrorDetailSchema


router = Router(tags=["sessions"])
_ERRORS = {401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 405: ErrorSchema}
# Ninja answers a method no operation takes in plain text; these hidden operations let the views answer it.
_OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.get("/sessions/", auth=None, response={200: SessionListSchema, **_ERRORS}, url_name="qsessions_list")
def list_sessions(request: HttpRequest) -> HttpResponseBase:
    """The signed-in user's active sessions, the most recently active first."""
    return views.api_session_list(request)


@router.post("/sessions/revoke-others/", auth=None, response={200: RevokedSchema, **_ERRORS})
def revoke_other_sessions(request: HttpRequest) -> HttpResponseBase:
    """Sign out every session of the user but this one."""
    return views.api_revoke_other_sessions(request)


@router.get("/sessions/{public_id}/", auth=None, response={200: SessionSchema, **_ERRORS})
def get_session(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """One of the user's sessions."""
    return views.api_session_detail(request, public_id)


@router.delete("/sessions/{public_id}/", auth=None, response={200: RevokedSchema, **_ERRORS})
def revoke_session(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """Sign the session out; ``signed_out`` is true when it was the current one."""
    return views.api_session_detail(request, public_id)


def _refuse_other_methods(path: str, allowed: list[str]) -> None:
    view = {"GET": views.api_session_list, "POST": views.api_revoke_other_sessions}
    methods = [method for method in _OTHER_METHODS if method not in allowed]

    if "{public_id}" in path:

        def detail(request: HttpRequest, public_id: str) -> HttpResponseBase:
            return views.api_session_detail(request, public_id)

        router.api_operation(methods, path, auth=None, include_in_schema=False)(detail)
    else:
        only = view[allowed[0]]

        def collection(request: HttpRequest) -> HttpResponseBase:
            return only(request)

        router.api_operation(methods, path, auth=None, include_in_schema=False)(collection)


_refuse_other_methods("/sessions/", ["GET"])
_refuse_other_methods("/sessions/revoke-others/", ["POST"])
_refuse_other_methods("/sessions/{public_id}/", ["GET", "DELETE"])
