"""SessionMiddleware: Django's, handing the request's client (qsessions.client.Client) to the session store."""

from __future__ import annotations

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

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
        session = self.SessionStore(request.COOKIES.get(conf.session_cookie_name), client=Client(request))
        request.session = session
        current_session.set(session)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        current_session.set(None)
        found = getattr(request, "session", None)
        session = found if isinstance(found, SessionStore) else None  # None: replaced by other code
        if (
            session is None
            or session.modified
            or conf.session_save_every_request
            or (session.session_key is None and conf.session_cookie_name in request.COOKIES)
        ):
            response = super().process_response(request, response)  # Django's: save, set or delete the cookie
        elif session.accessed:
            # What Django's process_response does for a session that is read and not written (the usual
            # request), without its general header parsing when the response varies on nothing yet.
            if response.has_header("Vary"):
                patch_vary_headers(response, ("Cookie",))
            else:
                response.headers["Vary"] = "Cookie"
        # A request that saved its session recorded its activity with that write (touch() then finds
        # nothing due); any other request that read the session records it here, at most once per
        # QSESSIONS_ACTIVITY_INTERVAL.
        if session is not None and response.status_code < 500:
            session.touch()
            signed_in = request.__dict__.pop(SIGNED_IN_ATTRIBUTE, None)  # set at login (receivers.py)
            if signed_in is not None:
                policies.signed_in(request, signed_in)
        if conf.CLIENT_HINTS and conf.STORE_USER_AGENT and "Accept-CH" not in response:
            # No Vary: the response does not change with the hints, they are only recorded. No Critical-CH:
            # it would make the browser retry the first request just to record a detail a request later.
            response["Accept-CH"] = ACCEPT_CH
        return response
