"""SessionMiddleware: Django's, handing the request's client (qsessions.client.Client) to the session store."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse

from qsessions import policies
from qsessions.backends.db import SessionStore
from qsessions.client import CLIENT_HINT_HEADERS, Client
from qsessions.conf import conf
from qsessions.policies import SIGNED_IN_ATTRIBUTE, current_session

# Asked for with Accept-CH when QSESSIONS_CLIENT_HINTS is on. Sec-CH-UA-Platform and -Mobile are sent
# by Chromium browsers without asking; naming them too costs nothing and documents what is read.
ACCEPT_CH = ", ".join(CLIENT_HINT_HEADERS.values())


class SessionMiddleware(DjangoSessionMiddleware):
    """Works under WSGI and ASGI (Django's MiddlewareMixin provides both paths)."""

    # Django types this as any SessionBase; it is one of ours (checks.py reports a mismatch).
    SessionStore: type[SessionStore]

    def process_request(self, request: HttpRequest) -> None:
        session = self.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME), client=Client(request))
        request.session = session
        current_session.set(session)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        current_session.set(None)
        response = super().process_response(request, response)
        # A request that saved its session recorded its activity with that write (touch() then finds
        # nothing due); any other request that read the session records it here, at most once per
        # QSESSIONS_ACTIVITY_INTERVAL.
        session = getattr(request, "session", None)
        if isinstance(session, SessionStore) and response.status_code < 500:
            session.touch()
            signed_in = request.__dict__.pop(SIGNED_IN_ATTRIBUTE, None)  # set at login (receivers.py)
            if signed_in is not None:
                policies.signed_in(request, signed_in)
        if conf.CLIENT_HINTS and conf.STORE_USER_AGENT and "Accept-CH" not in response:
            # No Vary: the response does not change with the hints, they are only recorded. No Critical-CH:
            # it would make the browser retry the first request just to record a detail a request later.
            response["Accept-CH"] = ACCEPT_CH
        return response
