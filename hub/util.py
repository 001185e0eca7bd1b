"""Small pure helpers shared by the core and the adapters."""

from __future__ import annotations

import slugify as unicode_slug

SLUG_FALLBACK = "unknown"


def slugify(text: str | None, *, separator: str = "_", fallback: str = SLUG_FALLBACK) -> str:
    """Return Home Assistant's slug of `text` (`homeassistant.util.slugify`).

    Home Assistant builds entity ids and its `slugify` template filter with this function: it
    transliterates to ASCII (python-slugify and text-unidecode: `Straße` -> `strasse`,
    `影師嗎` -> `ying_shi_ma`), lowercases, and joins what is left with `separator`.

    Args:
        text: the text to slugify; None or "" gives "".
        separator: what joins the words.
        fallback: the result when `text` is not empty but nothing of it is left (`"$$$"`);
            Home Assistant's "unknown" unless a caller wants to tell that case apart.

    Returns:
        The slug.
    """
    if text is None or text == "":
        return ""
    slug = unicode_slug.slugify(text, separator=separator)
    return slug or fallback
