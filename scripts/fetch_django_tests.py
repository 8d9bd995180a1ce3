"""Fetch Django's own session-backend tests for the installed Django version.

They are the reference for our compatibility contract (docs/architecture.md): tests/test_django_contract.py runs
them against our engines. They come from the Django source distribution on PyPI and are kept in
.cache/django-tests/<version>/ (not in the repository).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
WANTED = ("tests/sessions_tests/", "tests/cache/__init__.py", "tests/cache/failing_cache.py")


def target_dir() -> Path:
    return ROOT / ".cache" / "django-tests" / django.__version__


def fetch() -> Path:
    target = target_dir()
    if (target / "sessions_tests" / "tests.py").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(  # noqa: S603  (our own interpreter, fixed arguments)
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"django=={django.__version__}", "-d", tmp],
            check=True,
        )  # fmt: skip
        archive = next(Path(tmp).glob("*.tar.gz"))
        staging = Path(tmp) / "out"
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                inner = member.name.split("/", 1)[1] if "/" in member.name else ""
                if member.isfile() and inner.startswith(WANTED):
                    member.name = inner.removeprefix("tests/")
                    tar.extract(member, staging, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(staging), target)
    return target


if __name__ == "__main__":
    print(f"Django {django.__version__} session tests in {fetch().relative_to(ROOT)}")
