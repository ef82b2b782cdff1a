"""A griffe extension for the Library API page (docs/api.md): Sphinx roles in docstrings as Markdown.

scalesearch's docstrings name other objects with Sphinx roles (:class:`NetworkSpec`,
:func:`~scalesearch.arch.scaling.scale`), which Markdown would show as they are typed. This turns
each into a code span of the name (the last dotted part where the role's target starts with ``~``),
before mkdocstrings parses the docstring. mkdocs.yml loads it (the python handler's ``extensions``).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def markdown_roles(text: str) -> str:
    """``text`` with every Sphinx role written as a Markdown code span."""
    return _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)


class SphinxRoles(Extension):
    """Rewrites the roles of every docstring griffe loads."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_roles(obj.docstring.value)
