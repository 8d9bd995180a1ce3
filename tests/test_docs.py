"""README links work on the package index; the docs site and README name the places of pyproject.toml.

[project.urls] is the one place that says where qsessions lives: mkdocs.yml's site_url and repo_url are
its Documentation and Repository, and every README link is absolute (or an anchor of the README itself),
pointing into the repository at a file and heading that exist.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10, in the matrix: tomli is in the test dependency group
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
URLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
REPOSITORY_FILES = URLS["Repository"] + "/blob/main/"
# [text](target) and [text]: target, outside code blocks
INLINE = re.compile(r"\]\(([^)\s]+)\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def _prose(markdown: str) -> str:
    return re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)


def links(markdown: str) -> list[str]:
    text = _prose(markdown)
    return INLINE.findall(text) + REFERENCE.findall(text)


def anchors(markdown: str) -> set[str]:
    """The heading ids GitHub (and a package index rendering the README) gives a Markdown file."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", _prose(markdown), flags=re.MULTILINE):
        text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


def test_every_readme_link_is_absolute_or_an_anchor() -> None:
    found = links(README)
    assert found
    relative = [link for link in found if not link.startswith(("https://", "http://", "#"))]
    assert relative == []


def test_readme_links_into_the_repository_reach_a_file_and_heading() -> None:
    into_repository = [link for link in links(README) if link.startswith(URLS["Repository"])]
    assert len(into_repository) >= 10
    for link in into_repository:
        if link == URLS["Repository"]:
            continue
        assert link.startswith(REPOSITORY_FILES), link
        path, _, anchor = link.removeprefix(REPOSITORY_FILES).partition("#")
        target = ROOT / path
        assert target.is_file(), link
        if anchor:
            assert anchor in anchors(target.read_text()), link


def test_readme_anchors_exist() -> None:
    own = {link[1:] for link in links(README) if link.startswith("#")}
    assert own <= anchors(README)


def test_the_docs_site_names_the_places_of_pyproject() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^site_url: (\S+)$", config, re.MULTILINE)[1] == URLS["Documentation"]  # type: ignore[index]
    assert re.search(r"^repo_url: (\S+)$", config, re.MULTILINE)[1] == URLS["Repository"]  # type: ignore[index]
    assert URLS["Documentation"] in README


def test_every_guide_is_in_the_docs_site() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    pages = set(re.findall(r":\s+(\S+\.md)$", config, re.MULTILINE))
    on_disk = {str(path.relative_to(ROOT / "docs")) for path in (ROOT / "docs").rglob("*.md")}
    assert pages == on_disk
