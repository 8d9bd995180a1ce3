"""qsessions: queryable Django sessions with owner, IP, device, location and revocation."""

from __future__ import annotations

__version__ = "3.0.0.dev0"

# django-qsessions 2.x wrote the client's IP and user agent into the session data under these keys.
# qsessions keeps them in columns only; the names remain so that old sessions load with them stripped.
IP_SESSION_KEY = "_qsessions_ip"
USER_AGENT_SESSION_KEY = "_qsessions_user_agent"

__all__ = ["IP_SESSION_KEY", "USER_AGENT_SESSION_KEY", "__version__"]
