"""SessionMiddleware: Django's, handing the client's IP and user agent to the session store."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse

from qsessions.backends.db import SessionStore
from qsessions.client import resolve_client_ip, resolve_user_agent
from qsessions.policies import current_session


class SessionMiddleware(DjangoSessionMiddleware):
    """Works under WSGI and ASGI (Django's MiddlewareMixin provides both paths)."""

    # Django types this as any SessionBase; it is one of ours (checks.py reports a mismatch).
    SessionStore: type[SessionStore]  # type: ignore[assignment]

    def process_request(self, request: HttpRequest) -> None:
        request.session = self.SessionStore(
            session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME),
            user_agent=resolve_user_agent(request),
            ip=resolve_client_ip(request),
        )
        current_session.set(request.session)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        # A request that saves the session records its activity with that write; any other request that
        # read the session records it here, at most once per QSESSIONS_ACTIVITY_INTERVAL.
        if (
            isinstance(session, SessionStore)
            and not session.modified
            and not settings.SESSION_SAVE_EVERY_REQUEST
            and response.status_code < 500
        ):
            session.touch()
        current_session.set(None)
        return super().process_response(request, response)
