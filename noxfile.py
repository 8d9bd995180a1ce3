"""The Python x Django matrix (`make test-matrix`): each pair in a virtualenv of its own, where the main
suite and Django's own session tests (for that Django version) run on the database and cache that
QSESSIONS_TEST_DB / QSESSIONS_TEST_CACHE select, as in `make test`.

The interpreters are found on PATH (python3.X) or among pyenv's versions.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

# Every Python and every Django that pyproject.toml claims runs here at least once (tests/test_packaging.py
# holds the classifiers to this list). Django 6.x needs Python 3.12 or newer.
MATRIX = [("3.10", "5.2"), ("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def interpreter(version: str) -> str:
    """An interpreter for Python `version`: pyenv's newest X.Y.* if pyenv has one, else python3.X on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = sorted(
        pyenv_root.glob(f"versions/{version}.*/bin/python"),
        key=lambda path: [int(part) for part in path.parent.parent.name.split(".") if part.isdigit()],
    )
    if candidates:
        return str(candidates[-1])
    return shutil.which(f"python{version}") or f"python{version}"


def groups() -> list[str]:
    """The dependency groups a matrix session needs (pyproject.toml), as requirements."""
    wanted = ["test", "services"]
    if os.environ.get("QSESSIONS_TEST_DB") == "mysql":
        wanted.append("mysql")  # mysqlclient: built against libmariadb-dev
    return list(nox.project.dependency_groups(nox.project.load_toml("pyproject.toml"), *wanted))


@nox.session
@nox.parametrize(
    ("python", "django"),
    [(interpreter(python), django) for python, django in MATRIX],
    ids=[f"py{python}-django{django}" for python, django in MATRIX],
)
def tests(session: nox.Session, django: str) -> None:
    session.install("--quiet", "-e", ".", *groups(), f"django~={django}.0")
    session.run("python", "-c", "import django, sys; print('Django', django.__version__, 'on', sys.version)")
    session.run("pytest", "tests", "-q")
    session.run("python", "scripts/fetch_django_tests.py")
    session.run("pytest", "tests/test_django_contract.py", "-q", env={"QSESSIONS_TEST_CONTRACT": "1"})
