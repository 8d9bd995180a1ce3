"""What the published package says about itself, and the development set-up that backs those claims.

The wheel is built here (hatchling, the build backend) and read as an index would read it: its METADATA
offers users only their extras, and claims only the Pythons and Djangos that the matrix runs.
"""

from __future__ import annotations

import ast
import re
import sys
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
USER_EXTRAS = {"geoip2", "redis", "speedups", "drf", "ninja"}
LANGUAGES = ["de", "es", "fa", "fr", "it", "nl", "pl", "pt_BR", "ru", "zh_Hans"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    from hatchling.builders.wheel import WheelBuilder

    directory = tmp_path_factory.mktemp("dist")
    (path,) = WheelBuilder(str(ROOT)).build(directory=str(directory), versions=["standard"])
    return zipfile.ZipFile(path)


def metadata(wheel: zipfile.ZipFile) -> Message:
    (name,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    return HeaderParser().parsestr(wheel.read(name).decode())


def matrix() -> list[tuple[str, str]]:
    """noxfile.py's MATRIX, read without importing nox (the test environments do not have it)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    (value,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MATRIX" for t in node.targets)
    ]
    pairs: list[tuple[str, str]] = ast.literal_eval(value)
    return pairs


def test_the_wheel_offers_users_only_their_extras(wheel: zipfile.ZipFile) -> None:
    meta = metadata(wheel)
    assert set(meta.get_all("Provides-Extra") or []) == USER_EXTRAS
    extras_required = {
        match.group(1)
        for requirement in meta.get_all("Requires-Dist") or []
        if (match := re.search(r"extra == ['\"]([^'\"]+)['\"]", requirement))
    }
    assert extras_required == USER_EXTRAS
    development_tools = ("pytest", "mypy", "ruff", "django-stubs", "nox", "playwright", "hypothesis", "psycopg")
    assert not [r for r in meta.get_all("Requires-Dist") or [] if r.lower().startswith(development_tools)]


def test_the_development_tools_are_dependency_groups() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = project["dependency-groups"]
    assert {"test", "lint", "dev", "services", "mysql"} <= groups.keys()
    assert set(project["project"]["optional-dependencies"]) == USER_EXTRAS


def test_the_wheel_claims_exactly_the_versions_the_matrix_runs(wheel: zipfile.ZipFile) -> None:
    meta = metadata(wheel)
    classifiers = meta.get_all("Classifier") or []
    pythons = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    djangos = {c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Framework :: Django :: \d+\.\d+", c)}
    assert pythons == {python for python, _ in matrix()}
    assert djangos == {django for _, django in matrix()}
    oldest = min(pythons, key=lambda version: tuple(map(int, version.split("."))))
    assert meta["Requires-Python"] == f">={oldest}"


def test_the_type_stubs_are_those_of_the_newest_django_claimed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    newest = max((django for _, django in matrix()), key=lambda version: tuple(map(int, version.split("."))))
    (stubs,) = [r for r in project["dependency-groups"]["lint"] if r.startswith("django-stubs")]
    major, minor = map(int, newest.split("."))
    assert stubs == f"django-stubs>={newest},<{major}.{minor + 1}"
    mypy = project["tool"]["mypy"]
    assert mypy["warn_unused_ignores"] is True and mypy["strict"] is True
    assert "tests" in mypy["files"]


def test_the_wheel_ships_the_compiled_translations(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for language in LANGUAGES:
        assert f"qsessions/locale/{language}/LC_MESSAGES/django.mo" in names
        assert f"qsessions/locale/{language}/LC_MESSAGES/django.po" in names


def _lint_commands_in_makefile() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint: .*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert recipe is not None
    return [line.strip().removeprefix("$(BIN)/").removesuffix(" .") for line in recipe.group(1).splitlines()]


def test_pre_commit_runs_the_checks_of_make_lint() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    entries = [
        entry.strip().removeprefix(".venv/bin/") for entry in re.findall(r"^\s+entry: (.*)$", config, flags=re.M)
    ]
    assert entries == _lint_commands_in_makefile() == ["ruff check", "ruff format --check", "mypy"]
