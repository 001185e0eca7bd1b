"""Tests for issues, section validation, core schemas and check_configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import voluptuous as vol

from hub.config import (
    CORE_SCHEMAS,
    ConfigIssue,
    check_configuration,
    issue_from_invalid,
    load_yaml,
    validate_section,
)

DEEP_SCHEMA = vol.Schema(
    {
        vol.Required("level1"): {
            vol.Required("level2"): {
                vol.Required("level3"): int,
                vol.Optional("name"): str,
            },
        },
    }
)

AUTOMATION_SCHEMA = vol.Schema(
    [{vol.Required("alias"): str, vol.Required("trigger"): list, vol.Optional("mode"): str}]
)

MQTT_SCHEMA = vol.Schema({vol.Required("broker"): str, vol.Optional("port", default=1883): int})


def _validate(write, text: str, schema, domain: str = "mqtt"):
    path = write("configuration.yaml", text)
    root = load_yaml(path)
    key = next(key for key in root if key == domain)
    _, issues = validate_section(domain, schema, root[domain], location=(key.__config_file__, key.__line__))
    return path, issues


# --- ConfigIssue -----------------------------------------------------------------------


def test_issue_format(tmp_path: Path) -> None:
    file = str(tmp_path / "configuration.yaml")
    issue = ConfigIssue(file, 12, "mqtt.port", "expected int, got 'abc'")
    assert str(issue) == f"{file}:12: mqtt.port: expected int, got 'abc'"
    assert issue.format(tmp_path) == "configuration.yaml:12: mqtt.port: expected int, got 'abc'"
    assert issue.format(str(tmp_path)) == "configuration.yaml:12: mqtt.port: expected int, got 'abc'"
    assert issue.format(tmp_path / "other") == f"{file}:12: mqtt.port: expected int, got 'abc'"
    nested = ConfigIssue(str(tmp_path / "packages" / "a.yaml"), 3, "", "bad", str(tmp_path))
    assert str(nested) == "packages/a.yaml:3: bad"
    assert str(ConfigIssue(None, None, "http", "boom")) == "http: boom"
    assert str(ConfigIssue(file, None, "", "file not found")) == f"{file}: file not found"


def test_issue_is_frozen_and_base_dir_not_compared() -> None:
    issue = ConfigIssue("a.yaml", 1, "k", "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.line = 2  # type: ignore[misc]
    assert issue == ConfigIssue("a.yaml", 1, "k", "m", "/somewhere")


# --- issue_from_invalid / validate_section ------------------------------------------------


def test_bad_type_three_levels_deep(write) -> None:
    path, issues = _validate(
        write,
        """
        mqtt:
          level1:
            level2:
              name: x
              level3: abc
        """,
        DEEP_SCHEMA,
    )
    assert issues == [ConfigIssue(str(path), 5, "mqtt.level1.level2.level3", "expected int for dictionary value, got 'abc'")]
    assert str(issues[0]).endswith(":5: mqtt.level1.level2.level3: expected int for dictionary value, got 'abc'")


def _duration(value: object) -> float:
    raise vol.Invalid(f"expected a duration like '7d', got {value!r}")


def _color(value: object) -> str:
    raise vol.Invalid(f"unknown color {value!r}; known: red, green")


def test_a_validator_that_says_what_it_got_is_not_repeated(write) -> None:
    schema = vol.Schema({"keep": _duration, "color": _color, "port": int})
    path, issues = _validate(write, "mqtt:\n  keep: 3 weeks\n  color: mauve\n  port: x\n", schema)
    assert [str(issue) for issue in issues] == [
        f"{path}:2: mqtt.keep: expected a duration like '7d', got '3 weeks'",
        f"{path}:3: mqtt.color: unknown color 'mauve'; known: red, green",
        f"{path}:4: mqtt.port: expected int for dictionary value, got 'x'",  # voluptuous's own: the value added
    ]


def test_missing_required_key_points_at_enclosing_mapping(write) -> None:
    path, issues = _validate(
        write,
        """
        mqtt:
          level1:
            level2:
              name: x
        """,
        DEEP_SCHEMA,
    )
    assert issues == [ConfigIssue(str(path), 3, "mqtt.level1.level2.level3", "required key not provided")]


def test_missing_required_top_level_key_points_at_domain(write) -> None:
    path, issues = _validate(write, "http: {}\n\nmqtt:\n  port: 1883\n", MQTT_SCHEMA)
    assert issues == [ConfigIssue(str(path), 3, "mqtt.broker", "required key not provided")]


def test_extra_key(write) -> None:
    path, issues = _validate(
        write,
        """
        mqtt:
          broker: localhost
          brokr: typo
        """,
        MQTT_SCHEMA,
    )
    assert issues == [
        ConfigIssue(str(path), 3, "mqtt.brokr", "extra keys not allowed: 'brokr' is not a valid option")
    ]


def test_several_errors_in_one_section(write) -> None:
    path, issues = _validate(
        write,
        """
        mqtt:
          port: abc
          extra: 1
        """,
        MQTT_SCHEMA,
    )
    assert {(issue.line, issue.key) for issue in issues} == {(1, "mqtt.broker"), (2, "mqtt.port"), (3, "mqtt.extra")}


def test_list_index_in_key_and_line(write) -> None:
    path, issues = _validate(
        write,
        """
        automation:
          - alias: one
            trigger: []
          - alias: two
            trigger: []
          - alias: three
            mode: single
        """,
        AUTOMATION_SCHEMA,
        "automation",
    )
    assert issues == [ConfigIssue(str(path), 6, "automation[2].trigger", "required key not provided")]


def test_list_items_point_at_their_own_line(write) -> None:
    path, issues = _validate(write, "mqtt:\n  ports:\n    - 1\n    - x\n", vol.Schema({"ports": [int]}))
    assert issues == [ConfigIssue(str(path), 4, "mqtt.ports[1]", "expected int, got 'x'")]
    path, issues = _validate(write, "mqtt:\n  names:\n    - a\n    - 2\n", vol.Schema({"names": [str]}))
    # Numbers cannot carry attributes; the list records their lines.
    assert issues == [ConfigIssue(str(path), 4, "mqtt.names[1]", "expected str, got 2")]


def test_error_in_included_file_points_into_it(write) -> None:
    write("configuration.yaml", "mqtt: !include mqtt.yaml\n")
    included = write("mqtt.yaml", "# mqtt\nbroker: localhost\nport: nope\n")
    root = load_yaml(included.parent / "configuration.yaml")
    _, issues = validate_section("mqtt", MQTT_SCHEMA, root["mqtt"])
    assert issues == [ConfigIssue(str(included), 3, "mqtt.port", "expected int for dictionary value, got 'nope'")]


def test_secret_values_are_not_shown(write) -> None:
    write("secrets.yaml", "pw: hunter2\n")
    path = write("configuration.yaml", "mqtt:\n  broker: x\n  port: !secret pw\n")
    root = load_yaml(path)
    _, issues = validate_section("mqtt", MQTT_SCHEMA, root["mqtt"])
    assert issues == [ConfigIssue(str(path), 3, "mqtt.port", "expected int for dictionary value, got <secret>")]


def test_long_values_are_truncated(write) -> None:
    path, issues = _validate(write, f"mqtt:\n  broker: x\n  port: {'y' * 200}\n", MQTT_SCHEMA)
    assert len(issues[0].message) < 130 and issues[0].message.endswith("...")


def test_issue_from_invalid_without_locations() -> None:
    try:
        MQTT_SCHEMA({"port": "x"})
    except vol.MultipleInvalid as err:
        issues = issue_from_invalid(err, {"port": "x"}, "mqtt")
    assert sorted(issues, key=lambda issue: issue.key) == [
        ConfigIssue(None, None, "mqtt.broker", "required key not provided"),
        ConfigIssue(None, None, "mqtt.port", "expected int for dictionary value, got 'x'"),
    ]


def test_validate_section_success_and_callables() -> None:
    assert validate_section("mqtt", MQTT_SCHEMA, {"broker": "b"}) == ({"broker": "b", "port": 1883}, [])

    def must_be_even(value: int) -> int:
        if value % 2:
            raise vol.Invalid("expected an even number")
        return value

    assert validate_section("even", must_be_even, 4) == (4, [])
    assert validate_section("even", must_be_even, 3, location=("c.yaml", 7)) == (
        None,
        [ConfigIssue("c.yaml", 7, "even", "expected an even number, got 3")],
    )

    def raises_value_error(value: object) -> object:
        raise ValueError("nope")

    result, issues = validate_section("thing", raises_value_error, {}, location=("c.yaml", 2))
    assert result is None and [(issue.line, issue.key) for issue in issues] == [(2, "thing")]


# --- core schemas -----------------------------------------------------------------------


def test_core_defaults() -> None:
    assert CORE_SCHEMAS["homeassistant"](None) == {
        "name": "Home",
        "unit_system": "metric",
        "time_zone": "UTC",
        "currency": "EUR",
        "language": "en",
        "customize": {},
        "packages": {},
    }
    assert CORE_SCHEMAS["http"]({}) == {
        "server_host": "127.0.0.1",
        "server_port": 8123,
        "cors_allowed_origins": [],
        "trusted_proxies": [],
        "metrics_allow_loopback": True,
        "ssl_profile": "modern",
        "use_x_frame_options": True,
        "ip_ban_enabled": True,
        "login_attempts_threshold": -1,
        "access_token_lifetime": 900,
        "rules_rate_limit": {"per_user": {"commands": 20, "seconds": 10.0}, "per_rule": {"commands": 10, "seconds": 10.0}},
    }
    assert CORE_SCHEMAS["storage"](None) == {}
    assert CORE_SCHEMAS["logger"](None) == {"default": "INFO", "logs": {}, "format": "text"}


def test_core_values_accepted() -> None:
    core = CORE_SCHEMAS["homeassistant"](
        {
            "name": "Cabin",
            "latitude": 52.1,
            "longitude": "5.3",
            "elevation": 4,
            "unit_system": "us_customary",
            "time_zone": "Europe/Amsterdam",
            "currency": "usd",
            "country": "nl",
            "language": "en-GB",
            "internal_url": "http://hub.local:8123",
            "external_url": "https://example.org",
            "customize": {"light.Kitchen": {"friendly_name": "Kitchen"}},
        }
    )
    assert core["longitude"] == 5.3 and core["currency"] == "USD" and core["country"] == "NL"
    assert core["customize"] == {"light.kitchen": {"friendly_name": "Kitchen"}}
    http = CORE_SCHEMAS["http"]({"server_port": 80, "trusted_proxies": "10.0.0.0/8", "cors_allowed_origins": ["https://a.b"]})
    assert [str(net) for net in http["trusted_proxies"]] == ["10.0.0.0/8"]
    assert CORE_SCHEMAS["storage"]({"db_url": "postgresql+asyncpg://u:p@db/hub"})["db_url"].startswith("postgresql")
    assert CORE_SCHEMAS["logger"]({"default": "warning", "logs": {"hub.core": "debug"}}) == {
        "default": "WARNING",
        "logs": {"hub.core": "DEBUG"},
        "format": "text",
    }


@pytest.mark.parametrize(
    ("domain", "config", "key", "fragment"),
    [
        ("homeassistant", {"time_zone": "Mars/Olympus"}, "homeassistant.time_zone", "IANA time zone"),
        ("homeassistant", {"unit_system": "imperial"}, "homeassistant.unit_system", "value must be one of"),
        ("homeassistant", {"latitude": 123}, "homeassistant.latitude", "at most 90"),
        ("homeassistant", {"external_url": "ftp://x"}, "homeassistant.external_url", "URL"),
        ("homeassistant", {"customize": {"kitchen": {}}}, "homeassistant.customize.kitchen", "entity id"),
        ("homeassistant", {"color": "red"}, "homeassistant.color", "extra keys not allowed"),
        ("http", {"server_port": 0}, "http.server_port", "at least 1"),
        ("http", {"server_port": 70000}, "http.server_port", "at most 65535"),
        ("http", {"server_port": True}, "http.server_port", "expected int"),
        ("http", {"trusted_proxies": ["not-an-ip"]}, "http.trusted_proxies[0]", "IP address"),
        ("storage", {"db_url": "hub.db"}, "storage.db_url", "database URL"),
        ("logger", {"logs": {"hub": "loud"}}, "logger.logs.hub", "expected one of"),
    ],
)
def test_core_values_rejected(domain: str, config: dict, key: str, fragment: str) -> None:
    result, issues = validate_section(domain, CORE_SCHEMAS[domain], config)
    assert result is None
    assert [issue.key for issue in issues] == [key]
    assert fragment in issues[0].message


# --- check_configuration ------------------------------------------------------------------


def test_check_configuration_collects_all_issues(write, tmp_path: Path) -> None:
    config = write(
        "configuration.yaml",
        """
        homeassistant:
          name: Home
          time_zone: Nowhere/City
        http:
          server_port: abc
        mqtt:
          broker: localhost
          brokr: typo
        automation: !include automations.yaml
        frobnicator:
          x: 1
        sensor: []
        """,
    )
    automations = write(
        "automations.yaml",
        """
        - alias: ok
          trigger: []
        - alias: broken
          mode: single
        """,
    )
    validated, issues = check_configuration(
        tmp_path, {"mqtt": MQTT_SCHEMA, "automation": AUTOMATION_SCHEMA, "sensor": None}, {"mqtt"}
    )
    rendered = [str(issue) for issue in issues]
    assert rendered == [
        "configuration.yaml:3: homeassistant.time_zone: expected an IANA time zone such as 'Europe/Amsterdam'"
        " for dictionary value, got 'Nowhere/City'",
        "configuration.yaml:5: http.server_port: expected int for dictionary value, got 'abc'",
        "configuration.yaml:8: mqtt.brokr: extra keys not allowed: 'brokr' is not a valid option",
        "automations.yaml:3: automation[1].trigger: required key not provided",
        "configuration.yaml:10: frobnicator: Integration error: frobnicator - Integration 'frobnicator' not found.",
    ]
    assert issues[3].file == str(automations) and issues[4].file == str(config)
    # Failing sections are left out; valid ones and core defaults are present.
    assert set(validated) == {"sensor", "storage", "logger"}
    assert "mqtt" not in validated and "automation" not in validated and "frobnicator" not in validated
    assert validated["sensor"] == []
    assert validated["storage"] == {} and validated["logger"]["default"] == "INFO"


def test_check_configuration_valid(write, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        homeassistant:
          name: Cabin
        mqtt:
          broker: localhost
        light:
          - platform: mqtt
        """,
    )
    validated, issues = check_configuration(tmp_path, {"mqtt": MQTT_SCHEMA}, {"light"})
    assert issues == []
    assert validated["homeassistant"]["name"] == "Cabin" and validated["homeassistant"]["time_zone"] == "UTC"
    assert validated["mqtt"] == {"broker": "localhost", "port": 1883}
    assert validated["light"] == [{"platform": "mqtt"}]
    assert validated["http"]["server_port"] == 8123


def test_check_configuration_label_suffixed_keys(write, tmp_path: Path) -> None:
    path = write(
        "configuration.yaml",
        """
        automation:
          - alias: a
            trigger: []
        automation manual:
          - alias: b
        automation 2: []
        lightt 2:
          - platform: x
        http extra:
          server_port: 1
        """,
    )
    validated, issues = check_configuration(tmp_path, {"automation": AUTOMATION_SCHEMA}, set())
    assert issues == [
        ConfigIssue(str(path), 5, "automation manual[0].trigger", "required key not provided"),
        ConfigIssue(str(path), 7, "lightt 2", "Integration error: lightt - Integration 'lightt' not found."),
        ConfigIssue(str(path), 9, "http extra", "core section 'http' cannot have a label"),
    ]
    assert "automation" in validated and "automation 2" in validated and "automation manual" not in validated


def test_check_configuration_non_string_key(write, tmp_path: Path) -> None:
    path = write("configuration.yaml", "mqtt:\n  broker: x\n123:\n  a: 1\n")
    _, issues = check_configuration(tmp_path, {"mqtt": MQTT_SCHEMA}, set())
    assert [(issue.file, issue.line, issue.key) for issue in issues] == [(str(path), 4, "123")]
    assert "not found" in issues[0].message


def test_check_configuration_returns_load_errors_as_issues(write, tmp_path: Path) -> None:
    path = write("configuration.yaml", "mqtt:\n  password: !secret nope\n")
    validated, issues = check_configuration(tmp_path, {}, {"mqtt"})
    assert validated == {}
    assert [(issue.file, issue.line) for issue in issues] == [(str(path), 2)]
    validated, issues = check_configuration(tmp_path / "missing", {}, set())
    assert validated == {} and "configuration file not found" in issues[0].message
