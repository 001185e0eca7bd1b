"""Small pure helpers shared by the core and the adapters."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str | None, separator: str = "_") -> str:
    """Return text as a lowercase ASCII slug ("Küche Licht" -> "kuche_licht"), "unknown" if empty."""
    if not text:
        return "unknown"
    folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    slug = _NON_ALNUM.sub(separator, folded.lower()).strip(separator)
    return slug or "unknown"
