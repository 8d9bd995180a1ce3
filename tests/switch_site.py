"""Settings of a live site on either side of the switch, for tests/test_switch_live.py.

SWITCH_ENGINE names the session engine: one of Django's (with Django's app and middleware, as before
the switch) or qsessions' (after it). QSESSIONS_PREVIOUS_ENGINE and QSESSIONS_PREVIOUS_ENGINE_SHARED come
from the environment as the test sets them. SWITCH_DB_NAME and SWITCH_CACHE_PREFIX point the process at
the database and cache of the test that started it.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import CACHES, DATABASES, INSTALLED_APPS, MIDDLEWARE

SESSION_ENGINE = os.environ["SWITCH_ENGINE"]
DATABASES["default"]["NAME"] = os.environ["SWITCH_DB_NAME"]
CACHES["default"]["KEY_PREFIX"] = os.environ["SWITCH_CACHE_PREFIX"]
if SESSION_ENGINE.startswith("django."):
    INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sessions"]
    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware" if entry.startswith("qsessions.") else entry
        for entry in MIDDLEWARE
    ]
QSESSIONS_PREVIOUS_ENGINE = os.environ.get("SWITCH_PREVIOUS_ENGINE") or None
QSESSIONS_PREVIOUS_ENGINE_SHARED = os.environ.get("SWITCH_PREVIOUS_ENGINE_SHARED") == "1"
