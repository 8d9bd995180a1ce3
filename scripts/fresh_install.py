"""Follow README.md's "Install" section to the letter on a new Django project, in a fresh virtualenv.

1. A virtualenv of its own (no system site-packages, nothing of this repository's .venv). The README's
   `pip wheel` line builds a wheel of this checkout (and the wheel gets the name the README gives); its
   `pip install /path/to/qsessions` line installs qsessions from the checkout, with Django and the other
   dependencies from the package index.
2. `django-admin startproject mysite`, then the README's changes, each read from the README's own text:
   the session app, middleware and engine; the URLs; the templates directory and the sign-in template.
3. `migrate`, a user, `runserver` on a free port. Over HTTP, as a browser would: "Your sessions" signed
   out redirects to the sign-in page, which answers 200; signing in through its form leads back to "Your
   sessions", which lists this session as "This device"; qsessions' table holds it, with owner, IP and
   user agent.

Exit status: 0 when every step passes, 1 when one fails, 3 when the package index does not answer (the
test suite skips then, and only then).

Usage: python scripts/fresh_install.py [--workdir DIR]   (default: a temporary directory, removed after)
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CHECKOUT_PLACEHOLDER = "/path/to/qsessions"
INDEX_UNREACHABLE = 3
USERNAME, PASSWORD = "alice", "a-long-test-password"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Failed(Exception):
    pass


def check(condition: object, what: str) -> None:
    if not condition:
        raise Failed(what)
    print(f"  ok: {what}")


# -- what the README says ------------------------------------------------------------------------------


def install_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Install\n")
    return text[start : text.index("\n## ", start + 1)]


def code_blocks(section: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def block_starting(section: str, first_line: str) -> str:
    for block in code_blocks(section):
        if block.startswith(first_line):
            return block
    raise Failed(f"README's Install section has no code block starting with {first_line!r}")


def console_command(section: str, prefix: str) -> list[str]:
    """The README's console line that starts with ``$ <prefix>``, without its comment, as arguments."""
    for block in code_blocks(section):
        for line in block.splitlines():
            if line.startswith(f"$ {prefix}"):
                return shlex.split(line[2:], comments=True)
    raise Failed(f"README's Install section has no line '$ {prefix}...'")


# -- the steps -------------------------------------------------------------------------------------------


def index_answers() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def run(*arguments: str | Path, cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603  (this script's own commands and the README's pip lines)
        [str(a) for a in arguments], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise Failed(f"{' '.join(map(str, arguments))} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def pip_line(section: str, prefix: str, python: Path) -> list[str]:
    """A README `pip ...` line, run with the virtualenv's pip, the checkout in place of the placeholder."""
    arguments = [a.replace(CHECKOUT_PLACEHOLDER, str(ROOT)) for a in console_command(section, prefix)]
    return [str(python), "-m", *arguments, "--disable-pip-version-check"]


def install(section: str, workdir: Path) -> Path:
    environment = workdir / "venv"
    venv.create(environment, with_pip=True, system_site_packages=False)
    python = environment / "bin" / "python"
    run(*pip_line(section, "pip wheel ", python), cwd=workdir)
    wheel_name = re.search(r"dist/(qsessions-[^\s\"]+\.whl)", section)
    check(
        wheel_name and (workdir / "dist" / wheel_name.group(1)).is_file(),
        "`pip wheel` built the wheel the README names",
    )
    run(*pip_line(section, f"pip install {CHECKOUT_PLACEHOLDER} ", python), cwd=workdir)
    installed = run(python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check", cwd=workdir)
    check("qsessions==" in installed and "Django==" in installed, "qsessions and Django are installed")
    return python


def replace_in_list(settings: str, name: str, old: str, new: str) -> str:
    """Replace the item ``old`` of the list ``name`` in a settings file by ``new``, at the same place."""
    pattern = re.compile(rf"(^{name} = \[.*?)(['\"]){re.escape(old)}\2(,)", flags=re.MULTILINE | re.DOTALL)
    changed, count = pattern.subn(lambda m: f'{m.group(1)}"{new}"{m.group(3)}', settings, count=1)
    if count != 1:
        raise Failed(f"{name} of the new project has no {old!r}")
    return changed


def apply_settings(section: str, project: Path) -> None:
    """The README's settings block: for each list, the item marked "# remove" gives way to the new one."""
    block = block_starting(section, "INSTALLED_APPS = [")
    path = project / "mysite" / "settings.py"
    settings = path.read_text()
    for name, body in re.findall(r"^(\w+) = \[\n(.*?)^\]", block, flags=re.MULTILINE | re.DOTALL):
        removed = re.findall(r'^\s*#\s*"([^"]+)",\s*#\s*remove', body, flags=re.MULTILINE)
        added = re.findall(r'^\s*"([^"]+)",', body, flags=re.MULTILINE)
        check(len(removed) == len(added) == 1, f"README's {name}: one item out, one in")
        settings = replace_in_list(settings, name, removed[0], added[0])
    assignments = [line for line in block.splitlines() if re.match(r"^[A-Z_]+ = [^\[]", line)]
    check(any(line.startswith("SESSION_ENGINE = ") for line in assignments), "README sets SESSION_ENGINE")
    settings += "\n" + "\n".join(assignments) + "\n"
    # The templates directory: the README's `"DIRS": [...]` in place of startproject's empty list.
    dirs = re.search(r'`("DIRS": \[BASE_DIR / "templates"\])`', section)
    check(dirs, 'README says `"DIRS": [BASE_DIR / "templates"]`')
    assert dirs is not None
    settings, count = re.subn(r"""['"]DIRS['"]: \[\]""", lambda _: dirs.group(1), settings, count=1)
    check(count == 1, "the new project's TEMPLATES got the templates directory")
    path.write_text(settings)


def apply_urls(section: str, project: Path) -> None:
    block = block_starting(section, "# urls.py")
    import_line = next(line for line in block.splitlines() if line.startswith("from django.urls import"))
    paths = [line for line in block.splitlines() if line.strip().startswith("path(")]
    path = project / "mysite" / "urls.py"
    urls = path.read_text()
    urls = urls.replace("from django.urls import path", import_line, 1)
    urls = urls.replace("urlpatterns = [\n", "urlpatterns = [\n" + "".join(f"{line}\n" for line in paths), 1)
    check(import_line in urls and all(line in urls for line in paths), "the README's URLs are in mysite/urls.py")
    path.write_text(urls)


def apply_template(section: str, project: Path) -> None:
    first_line = "{# templates/registration/login.html #}"
    template = project / "templates" / "registration" / "login.html"
    template.parent.mkdir(parents=True)
    template.write_text(block_starting(section, first_line))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Browser:
    """Cookies kept, redirects not followed (each one is checked)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), self._NoRedirect())

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location, body)"""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(  # noqa: S310  (always http://127.0.0.1)
            self.base + path, data=data, headers={"User-Agent": USER_AGENT}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode(errors="replace")


def serve_and_browse(python: Path, project: Path) -> None:
    run(python, "manage.py", "migrate", "--noinput", cwd=project)
    run(python, "manage.py", "check", cwd=project)
    create_user = (
        f"from django.contrib.auth.models import User; User.objects.create_user({USERNAME!r}, password={PASSWORD!r})"
    )
    run(python, "manage.py", "shell", "-c", create_user, cwd=project)
    port = free_port()
    log = (project / "runserver.log").open("w")
    server = subprocess.Popen(  # noqa: S603  (fixed arguments)
        [str(python), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=project,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise Failed("runserver did not start:\n" + (project / "runserver.log").read_text()) from None
                time.sleep(0.2)
        browse(Browser(f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    row = run(
        python,
        "manage.py",
        "shell",
        "-c",
        "from qsessions.models import Session; "
        "print([(s.user.username, s.ip, s.user_agent) for s in Session.objects.filter(user__isnull=False)])",
        cwd=project,
    )
    check(
        f"[({USERNAME!r}, '127.0.0.1', {USER_AGENT!r})]" in row,
        "qsessions' table holds the session: owner, IP, user agent",
    )


def browse(browser: Browser) -> None:
    status, location, _ = browser.request("/account/sessions/")
    check(status == 302, f'"Your sessions" signed out is a redirect (got {status})')
    check(location.startswith("/accounts/login/?next="), f"to the sign-in page ({location})")
    status, _, page = browser.request(location)
    check(status == 200, f"the sign-in page exists (got {status})")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    check(token and 'name="password"' in page, "it is a sign-in form")
    assert token is not None
    next_url = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["next"][0]
    form = {"csrfmiddlewaretoken": token.group(1), "username": USERNAME, "password": PASSWORD, "next": next_url}
    status, location, page = browser.request("/accounts/login/", form)
    check(status == 302 and location == "/account/sessions/", f"signing in leads back to it (got {status} {location})")
    status, _, page = browser.request(location)
    check(status == 200 and "Your sessions" in page, '"Your sessions" answers 200')
    check("This device" in page and "Firefox" in page, "it lists this session, as This device, in Firefox")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temporary directory)")
    arguments = parser.parse_args()
    if not index_answers():
        print("the package index (pypi.org) does not answer: cannot install into a fresh virtualenv")
        return INDEX_UNREACHABLE
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qsessions-fresh-install-") as temporary:
        workdir = arguments.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            section = install_section()
            python = install(section, workdir)
            project = workdir / "project"
            project.mkdir()
            run(workdir / "venv" / "bin" / "django-admin", "startproject", "mysite", project, cwd=workdir)
            apply_settings(section, project)
            apply_urls(section, project)
            apply_template(section, project)
            serve_and_browse(python, project)
        except Failed as failure:
            print(f"FAILED: {failure}")
            return 1
    print(f"OK: README's install works on a fresh startproject ({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    sys.exit(main())
