"""Small pure helpers shared by the core and the adapters."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import time
import unicodedata
from array import array
from itertools import accumulate
from pathlib import Path

import slugify as unicode_slug

from hub.core.context import ulid_of

SLUG_FALLBACK = "unknown"
# Text of only these characters slugs to its lowercase words joined by the separator (what
# python-slugify does to it, at a fraction of the cost: most names of entities and devices).
_PLAIN = re.compile(r"[A-Za-z0-9 _-]*")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def new_ulid() -> str:
    """Return a new ULID string: 48 bits of Unix milliseconds, 80 random bits (os.urandom), Crockford base32.

    The ids of registry entries, users, tokens and the like, as python-ulid's `str(ULID())`.
    Unlike a context's id (hub.core.context.ulid_at, which counts up within a millisecond),
    each draws all its random bits.
    """
    return ulid_of(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


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
    if separator in ("_", "-") and _PLAIN.fullmatch(text):
        return _NOT_WORD.sub(separator, text.lower()).strip(separator) or fallback
    if not text.isascii():
        text = _ascii_first(text)
    slug = unicode_slug.slugify(text, separator=separator)
    return slug or fallback


def _ascii_first(text: str) -> str:
    """Transliterate as python-slugify would, from a compact copy of text-unidecode's table.

    Importing text_unidecode builds a list of 65,535 strings (3.7 MB, kept for the life of the
    process) the first time any name with a non-ASCII letter is slugified. The same table as one
    string and an array of offsets is 0.6 MB. python-slugify maps ASCII to itself without loading
    a table, so it gets the transliterated text. Its own order is: quotes to dashes, NFKD,
    transliterate, then HTML entities and quotes again; a character that transliterates to a quote
    or an ampersand would meet those steps differently, so such text takes the library's own path.
    """
    table = _unidecode_table()
    if table is None:
        return text
    data, offsets = table
    out = []
    for char in unicodedata.normalize("NFKD", text):
        point = ord(char)
        if point < 0x80:
            out.append(char)
        elif point <= len(offsets) - 1:
            out.append(data[offsets[point - 1] : offsets[point] - 1])
    result = "".join(out)
    if result.count("'") != text.count("'") or result.count("&") != text.count("&"):
        return text
    return result


@functools.cache
def _unidecode_table() -> tuple[str, array[int]] | None:
    """text-unidecode's data.bin, read without importing the package: (text, end offsets)."""
    spec = importlib.util.find_spec("text_unidecode")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = (Path(next(iter(spec.submodule_search_locations))) / "data.bin").read_bytes().decode("utf-8")
    # offsets[i] is where the replacement of code point i + 1 begins (one past the separator
    # before it); the replacement of code point p is data[offsets[p - 1] : offsets[p] - 1].
    # (split's 65,535 strings live only for this line.)
    offsets = array("I", accumulate((len(part) + 1 for part in data.split("\x00")), initial=0))
    return data, offsets
