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
