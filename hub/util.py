"""Small pure helpers shared by the core and the adapters."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into ASCII.
_TRANSLITERATE = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
    }
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str | None, *, separator: str = "_") -> str:
    """Return a Home Assistant-like slug: lowercase ASCII, runs of anything else become one `separator`.

    `slugify("Küche Decke (2)") == "kuche_decke_2"`; may return "" for text with no letters or
    digits.
    """
    if not text:
        return ""
    text = str(text).translate(_TRANSLITERATE)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub(separator, text.lower()).strip(separator)
