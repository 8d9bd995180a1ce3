"""MkDocs hooks (mkdocs.yml): docstrings here use Sphinx roles (:func:`name`), which Markdown leaves as text.

Shows them as the code they name: ``:class:`~qsessions.views.SessionEntry``` reads ``SessionEntry``.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj):<code>~?([^<]*)</code>")


def _name(match: re.Match[str]) -> str:
    target = match[1]
    return f"<code>{target.rsplit('.', 1)[-1] if match[0].count('~') else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub(_name, html)
