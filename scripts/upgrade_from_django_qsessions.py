"""Prove that a database created by django-qsessions 2.1.0 upgrades in place to qsessions.

1. In a separate virtualenv (cached in .cache/), with django-qsessions==2.1.0 and Django 5.2: migrate an
   SQLite database, then sign a user in and create an anonymous session through 2.x's own middleware and
   engine (which write ``_qsessions_ip`` / ``_qsessions_user_agent`` into the session data).
2. With this repository's qsessions (the interpreter running this script): migrate the same database
   (0003 to 0006 apply on top of 2.x's 0001 and 0002), then, on both engines, load those sessions and
   send requests with the old cookies.

Exit status: 0 when every check passes, 1 when one fails, 3 when django-qsessions 2.1.0 cannot be
installed because the package index does not answer (the test suite skips then, and only then).

Usage: python scripts/upgrade_from_django_qsessions.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OLD_VENV = ROOT / ".cache" / "django-qsessions-2.1.0-venv"
OLD_REQUIREMENTS = ["django-qsessions==2.1.0", "Django>=5.2,<5.3"]
SECRET_KEY = "upgrade-check-secret-key-not-secret"  # noqa: S105  (a throwaway database)
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IP = "203.0.113.5"
INDEX_UNREACHABLE = 3


# -- the small project both phases run (settings in code, this file is the URLconf) -------------------


def configure(database: Path, engine: str, middleware: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY=SECRET_KEY,
        USE_TZ=True,
        ALLOWED_HOSTS=["testserver"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "qsessions"],
        MIDDLEWARE=[middleware, "django.contrib.auth.middleware.AuthenticationMiddleware"],
        SESSION_ENGINE=engine,
        ROOT_URLCONF="__main__",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def _views() -> list[Any]:
    from django.contrib.auth import get_user_model, login
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path

    def sign_in(request: HttpRequest) -> HttpResponse:
        user = get_user_model()._default_manager.get(username=request.GET["username"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session["cart"] = ["book", "pen"]
        return HttpResponse("ok")

    def remember(request: HttpRequest) -> HttpResponse:
        request.session["theme"] = request.GET.get("theme", "dark")
        return HttpResponse("ok")

    def whoami(request: HttpRequest) -> HttpResponse:
        data = {key: request.session[key] for key in request.session.keys()}  # noqa: SIM118  (a session is no dict)
        return JsonResponse({"user": request.user.get_username() or None, "data": data})

    return [path("sign-in/", sign_in), path("remember/", remember), path("whoami/", whoami)]


urlpatterns: list[Any] = []


def _client() -> Any:
    from django.test import Client

    return Client(HTTP_USER_AGENT=USER_AGENT, REMOTE_ADDR=IP)


def _row(key: str) -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, ip, user_agent, created_at, expire_date FROM qsessions_session WHERE session_key = %s",
            [key],
        )
        user_id, ip, user_agent, created_at, expire_date = cursor.fetchone()
    return {
        "user_id": user_id,
        "ip": ip,
        "user_agent": user_agent,
        "created_at": str(created_at),
        "expire_date": str(expire_date),
    }


# -- phase 1: django-qsessions 2.1.0 ------------------------------------------------------------------


def phase_old(database: Path) -> dict[str, Any]:
    configure(database, "qsessions.backends.db", "qsessions.middleware.SessionMiddleware")
    urlpatterns.extend(_views())
    from importlib.metadata import version

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from qsessions.models import Session

    call_command("migrate", verbosity=0)
    get_user_model()._default_manager.create_user("alice", password="pw")  # noqa: S106
    signed_in, anonymous = _client(), _client()
    assert signed_in.get("/sign-in/", {"username": "alice"}).status_code == 200
    assert anonymous.get("/remember/", {"theme": "sepia"}).status_code == 200
    keys = {
        "signed_in": signed_in.cookies[settings.SESSION_COOKIE_NAME].value,
        "anonymous": anonymous.cookies[settings.SESSION_COOKIE_NAME].value,
    }
    return {
        "django_qsessions": version("django-qsessions"),
        "django": version("Django"),
        "keys": keys,
        "rows": {name: _row(key) for name, key in keys.items()},
        "data": {name: Session.objects.get(pk=key).get_decoded() for name, key in keys.items()},
    }


# -- phase 2: this repository's qsessions -------------------------------------------------------------


def phase_new(database: Path, old: dict[str, Any]) -> dict[str, Any]:
    configure(database, "qsessions.backends.db", "qsessions.middleware.SessionMiddleware")
    urlpatterns.extend(_views())
    import io

    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    import qsessions
    from qsessions.models import Session, make_public_id

    out = io.StringIO()
    call_command("migrate", verbosity=1, stdout=out)
    applied = [
        line.split()[1].rstrip(".") for line in out.getvalue().splitlines() if line.strip().startswith("Applying")
    ]
    failures: list[str] = []

    def check(condition: bool, what: str) -> None:
        if not condition:
            failures.append(what)

    check(
        applied
        == [
            "qsessions.0003_session_public_id",
            "qsessions.0004_session_last_activity_client_hints",
            "qsessions.0005_knowndevice",
            "qsessions.0006_endedsession_session_impersonator",
        ],
        "0003 to 0006 applied on top of 2.x's 0001, 0002",
    )
    keys = old["keys"]
    for name, key in keys.items():
        check(_row(key) == old["rows"][name], f"{name}: user, ip, user agent, created_at, expiry kept by the migration")
        check(Session.objects.get(pk=key).public_id == make_public_id(key), f"{name}: public_id filled in")

    results: dict[str, Any] = {"qsessions": qsessions.__version__, "applied": applied, "engines": {}}
    for engine in ("qsessions.backends.db", "qsessions.backends.cached_db"):
        with override_settings(SESSION_ENGINE=engine):
            store_class = Session.get_session_store_class()
            loaded = {name: store_class(session_key=key).load() for name, key in keys.items()}
            expected = {
                name: {k: v for k, v in old["data"][name].items() if not k.startswith("_qsessions_")} for name in keys
            }
            check(loaded == expected, f"{engine}: data intact minus the legacy keys")
            answers = {}
            for name, key in keys.items():
                client = _client()
                client.cookies[settings.SESSION_COOKIE_NAME] = key
                answers[name] = client.get("/whoami/").json()
                check(_row(key) == old["rows"][name], f"{engine}: {name}: a read leaves the row as it was")
            check(answers["signed_in"]["user"] == "alice", f"{engine}: the old cookie is still signed in")
            check(answers["anonymous"]["data"] == {"theme": "sepia"}, f"{engine}: the anonymous session kept")
            results["engines"][engine] = answers

    # A write under qsessions re-encodes the data without the legacy keys and keeps created_at.
    client = _client()
    client.cookies[settings.SESSION_COOKIE_NAME] = keys["anonymous"]
    client.get("/remember/", {"theme": "light"})
    row = Session.objects.get(pk=keys["anonymous"])
    raw = row.get_decoded()
    check(raw == {"theme": "light"}, "after a write the stored data has no legacy keys")
    check(_row(keys["anonymous"])["created_at"] == old["rows"]["anonymous"]["created_at"], "created_at kept on write")
    results["after_write"] = {"data": raw, "created_at": str(row.created_at)}
    results["failures"] = failures
    return results


# -- the driver ---------------------------------------------------------------------------------------


def _index_answers() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def ensure_old_venv() -> Path | None:
    """The cached virtualenv with django-qsessions 2.1.0, created when missing; None if it cannot be."""
    python = OLD_VENV / "bin" / "python"
    marker = OLD_VENV / ".installed"
    if marker.exists():
        return python
    shutil.rmtree(OLD_VENV, ignore_errors=True)
    venv.create(OLD_VENV, with_pip=True)
    install = subprocess.run(  # noqa: S603  (our own fixed arguments)
        [str(python), "-m", "pip", "install", "--quiet", *OLD_REQUIREMENTS], capture_output=True, text=True
    )
    if install.returncode != 0:
        sys.stderr.write(install.stdout + install.stderr)
        shutil.rmtree(OLD_VENV, ignore_errors=True)
        return None
    marker.touch()
    return python


def run_phase(python: Path, phase: str, database: Path, old_json: Path | None = None) -> dict[str, Any]:
    command = [str(python), str(Path(__file__).resolve()), "--phase", phase, "--database", str(database)]
    if old_json is not None:
        command += ["--old", str(old_json)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    # Run outside the repository, so that phase 1 cannot import this repository's qsessions by accident.
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=database.parent)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", choices=["old", "new"])
    parser.add_argument("--database", type=Path)
    parser.add_argument("--old", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()

    if args.phase == "old":
        print(json.dumps(phase_old(args.database), default=str))
        return 0
    if args.phase == "new":
        print(json.dumps(phase_new(args.database, json.loads(args.old.read_text())), default=str))
        return 0

    old_python = ensure_old_venv()
    if old_python is None:
        if not _index_answers():
            print("SKIP: django-qsessions 2.1.0 cannot be installed: the package index does not answer.")
            return INDEX_UNREACHABLE
        print("FAIL: django-qsessions 2.1.0 could not be installed (see above).")
        return 1
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        database = Path(workdir) / "site.sqlite3"
        old = run_phase(old_python, "old", database)
        print(f"django-qsessions {old['django_qsessions']} on Django {old['django']}: migrated, 2 sessions created")
        for name in old["keys"]:
            print(f"  {name}: row {old['rows'][name]}")
            print(f"  {name}: data {old['data'][name]}")
        old_json = Path(workdir) / "old.json"
        old_json.write_text(json.dumps(old))
        new = run_phase(Path(sys.executable), "new", database, old_json)
    print(f"qsessions {new['qsessions']}: migrate applied {', '.join(new['applied'])}")
    for engine, answers in new["engines"].items():
        print(f"  {engine}: signed-in cookie -> {answers['signed_in']}")
        print(f"  {engine}: anonymous cookie -> {answers['anonymous']}")
    print(f"  after a write under qsessions: {new['after_write']}")
    if new["failures"]:
        for failure in new["failures"]:
            print(f"FAIL: {failure}")
        return 1
    print("OK: the django-qsessions 2.1.0 database upgraded in place; its sessions load and stay signed in.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
