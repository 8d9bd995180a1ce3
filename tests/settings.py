"""Test settings. The database and cache come from the environment (see tests/services.py):

QSESSIONS_TEST_DB     sqlite (default) | postgresql | mysql
QSESSIONS_TEST_CACHE  locmem (default) | redis | memcached | django-redis
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.services import cache_settings, database_settings

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "qsessions-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",  # serves qsessions' stylesheet to the browser test's live server
    "qsessions",
    "tests.testapp",
]
# Django's own session-backend tests (fetched by scripts/fetch_django_tests.py) import the model of
# django.contrib.sessions and their own test models, so that run installs both; the main run does not.
CONTRACT = os.environ.get("QSESSIONS_TEST_CONTRACT") == "1"
if CONTRACT:
    import django

    sys.path.insert(0, str(BASE_DIR.parent / ".cache" / "django-tests" / django.__version__))
    INSTALLED_APPS += ["django.contrib.sessions", "sessions_tests"]

MIDDLEWARE = [
    "qsessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
SESSION_ENGINE = "qsessions.backends.db"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = database_settings(BASE_DIR)
CACHES = cache_settings()

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
LOGGING_CONFIG = None
