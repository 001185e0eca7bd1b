"""hub.util.slugify gives Home Assistant's slugs (homeassistant.util.slugify)."""

from __future__ import annotations

import pytest

from hub.util import slugify

# Home Assistant's own cases (tests/util/test_init.py, test_slugify).
HOME_ASSISTANT_CASES = [
    ("T-!@#$!#@$!$est", "t_est"),
    ("Test More", "test_more"),
    ("Test_(More)", "test_more"),
    ("Tèst_Mörê", "test_more"),
    ("B8:27:EB:00:00:00", "b8_27_eb_00_00_00"),
    ("test.com", "test_com"),
    ("greg_phone - exp_wayp1", "greg_phone_exp_wayp1"),
    ("We are, we are, a... Test Calendar", "we_are_we_are_a_test_calendar"),
    ("Tèst_äöüß_ÄÖÜ", "test_aouss_aou"),
    ("影師嗎", "ying_shi_ma"),
    ("けいふぉんと", "keihuonto"),
    ("$", "unknown"),
    ("Ⓐ", "a"),
    ("ⓑ", "b"),
    ("$$$", "unknown"),
    ("$something", "something"),
    ("", ""),
    (None, ""),
]

# Names our users give their devices and automations.
HUB_CASES = [
    ("Straße", "strasse"),
    ("Küche  Decke (2)", "kuche_decke_2"),
    ("Living Room Lamp!!", "living_room_lamp"),
    ("__a__b__", "a_b"),
    ("Łódź", "lodz"),
    ("Ærø", "aero"),
    ("日本", "ri_ben"),
]


@pytest.mark.parametrize(("text", "slug"), HOME_ASSISTANT_CASES + HUB_CASES)
def test_slugify_as_home_assistant(text, slug):
    assert slugify(text) == slug


def test_slugify_separator():
    assert slugify("Straße am Meer", separator="-") == "strasse-am-meer"


def test_slugify_fallback_tells_nothing_left_apart():
    assert slugify("$$$", fallback="") == ""
    assert slugify("", fallback="none") == ""
    assert slugify("Unknown", fallback="") == "unknown"


def test_non_ascii_letters_slug_as_the_library_does_without_its_3_mb_table():
    """The compact transliteration gives python-slugify's own slug (every 13th BMP character), and a
    fresh process slugifying non-ASCII names never builds text_unidecode's list of 65,535 strings."""
    import subprocess
    import sys

    import slugify as library

    texts = ["Tèst_äöüß", "ʼquotedʼ name", "＆amp； fullwidth", "x'y é", "a&amp;é", "\u00a0nbsp é", "ﬁ ligature", "🙂 lamp"]
    texts += [f"{chr(point)}a {chr(point)}" for point in range(0x80, 0x10000, 13) if not 0xD800 <= point < 0xE000]
    assert [slugify(text) for text in texts] == [library.slugify(text, separator="_") or "unknown" for text in texts]

    script = "import sys\nfrom hub.util import slugify\nassert slugify('Küche Ærø 日本') == 'kuche_aero_ri_ben'\nprint('text_unidecode' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"


def test_slugify_of_plain_names_is_python_slugify_s():
    """Names of letters, digits, spaces, dashes and underscores take a short path: the same slugs."""
    import random

    import slugify as unicode_slug

    rng = random.Random(23)
    alphabet = "aZz09 _-- __"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    texts += ["Node 0001 power 0", "PZEM-004T node", "power_factor_5", "  Kitchen  Plug  ", "_", "-", " ", "A"]
    for separator in ("_", "-"):
        for text in texts:
            expected = unicode_slug.slugify(text, separator=separator) or "unknown"
            assert slugify(text, separator=separator) == expected, (text, separator)


def test_new_ulid_is_a_ulid_of_now_unique_and_sorted_by_time():
    import time

    from hub.util import new_ulid

    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    before = time.time_ns() // 1_000_000
    ids = [new_ulid() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for ulid in ids:
        assert len(ulid) == 26 and set(ulid) <= set(crockford)
        value = 0
        for char in ulid:
            value = value * 32 + crockford.index(char)
        assert value < 1 << 128
        assert before <= value >> 80 <= after
    time.sleep(0.002)
    assert new_ulid() > ids[0]  # a later millisecond sorts after
