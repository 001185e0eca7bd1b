"""Which entities the recorder keeps: Home Assistant's include/exclude by domain, entity and glob."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any


def _globs(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def build_filter(include: Mapping[str, Any] | None, exclude: Mapping[str, Any] | None) -> Callable[[str], bool]:
    """Return a predicate entity_id -> recorded?

    Explicit entities win (include over exclude), then excluded globs, then included
    domains/globs, then excluded domains; with any include rule, what matches nothing is left
    out, otherwise it is kept.
    """
    include = include or {}
    exclude = exclude or {}
    inc_entities = set(include.get("entities", []))
    exc_entities = set(exclude.get("entities", []))
    inc_domains = set(include.get("domains", []))
    exc_domains = set(exclude.get("domains", []))
    inc_globs = _globs(list(include.get("entity_globs", [])))
    exc_globs = _globs(list(exclude.get("entity_globs", [])))
    has_include = bool(inc_entities or inc_domains or inc_globs)

    def keep(entity_id: str) -> bool:
        if entity_id in inc_entities:
            return True
        if entity_id in exc_entities:
            return False
        if exc_globs is not None and exc_globs.match(entity_id):
            return False
        domain = entity_id.partition(".")[0]
        if domain in inc_domains or (inc_globs is not None and inc_globs.match(entity_id)):
            return True
        if domain in exc_domains:
            return False
        return not has_include

    return keep
