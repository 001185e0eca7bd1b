"""Rendered results are parsed into native values through a bounded cache."""

from __future__ import annotations

from hub.templating import template
from hub.templating.template import PARSE_CACHE_SIZE, parse_result


def test_long_rendered_texts_are_parsed_but_never_kept() -> None:
    template._parse_cached.cache_clear()
    assert parse_result("12.5") == 12.5
    assert parse_result("[1, 2]") == [1, 2]
    # A device's 1 MB payload through `{{ value }}`: parsed as Home Assistant would, not cached.
    big = "'" + "a" * 1_000_000 + "'"
    assert parse_result(big) == big
    assert parse_result("[" + "1, " * 100_000 + "1]") == [1] * 100_001
    info = template._parse_cached.cache_info()
    assert info.currsize == 2 and info.maxsize == PARSE_CACHE_SIZE
    # However many distinct short results: the cache stays at its bound.
    for n in range(PARSE_CACHE_SIZE + 500):
        assert parse_result(str(n)) == n
    assert template._parse_cached.cache_info().currsize == PARSE_CACHE_SIZE
