"""A session engine that cannot clear expired sessions (SessionBase's default raises)."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase


class SessionStore(SessionBase):
    pass
