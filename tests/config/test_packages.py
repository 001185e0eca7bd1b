"""Tests for packages merging and label-suffixed domain keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import voluptuous as vol

from hub.config import (
    ConfigIssue,
    check_configuration,
    domain_keys,
    domain_of_key,
    extract_domain_configs,
    load_configuration,
    load_yaml,
    merge_packages,
)
from hub.exceptions import ConfigError

AUTOMATION_SCHEMA = vol.Schema([{vol.Required("alias"): str, vol.Required("trigger"): list}])


def _loc(obj: object) -> tuple[str | None, int | None]:
    return getattr(obj, "__config_file__", None), getattr(obj, "__line__", None)


def _key(mapping: dict, name: str) -> object:
    return next(key for key in mapping if key == name)


def test_domain_keys_and_extract(write) -> None:
    root = load_yaml(
        write(
            "configuration.yaml",
            """
            automation:
              - alias: a
            automation manual:
              - alias: b
            automations:
              - alias: not-me
            automation 2: []
            light: []
            """,
        )
    )
    assert domain_keys(root, "automation") == ["automation", "automation manual", "automation 2"]
    assert extract_domain_configs(root, "automation") == [[{"alias": "a"}], [{"alias": "b"}], []]
    assert extract_domain_configs(root, "switch") == []
    assert domain_of_key("automation manual") == "automation"
    assert domain_of_key(12) is None
    assert domain_keys({1: "x", "light": []}, "light") == ["light"]


def test_list_domains_concatenate(write, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        homeassistant:
          packages:
            pack: !include pack.yaml
        automation:
          - alias: root
            trigger: []
        """,
    )
    pack = write(
        "pack.yaml",
        """
        automation:
          - alias: from package
            trigger: []
        sensor:
          - platform: template
        """,
    )
    root = load_configuration(tmp_path)
    assert [item["alias"] for item in root["automation"]] == ["root", "from package"]
    assert _loc(root["automation"][1]) == (str(pack), 2)
    assert root["sensor"] == [{"platform": "template"}]
    assert _loc(_key(root, "sensor")) == (str(pack), 4)


def test_list_merge_keeps_item_lines_for_validation(write, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        homeassistant:
          packages: !include_dir_named packages
        automation:
          - alias: root
            trigger: []
        """,
    )
    pack = write(
        "packages/lights.yaml",
        """
        automation:
          - alias: ok
            trigger: []
          - alias: broken
        """,
    )
    _, issues = check_configuration(tmp_path, {"automation": AUTOMATION_SCHEMA}, set())
    assert issues == [ConfigIssue(str(pack), 4, "automation[2].trigger", "required key not provided")]
    assert str(issues[0]) == "packages/lights.yaml:4: automation[2].trigger: required key not provided"


def test_dict_domains_merge_recursively(write, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        homeassistant:
          packages:
            pack:
              mqtt:
                port: 1883
                tls:
                  certfile: /cert
                topics: [b]
              http:
        mqtt:
          broker: localhost
          tls:
            keyfile: /key
          topics: [a]
        """,
    )
    root = load_configuration(tmp_path)
    assert root["mqtt"] == {
        "broker": "localhost",
        "port": 1883,
        "tls": {"keyfile": "/key", "certfile": "/cert"},
        "topics": ["a", "b"],
    }
    assert _loc(_key(root["mqtt"], "port")) == (str(tmp_path / "configuration.yaml"), 5)
    assert "http" in root and root["http"] is None


def test_duplicate_key_names_both_places(write, tmp_path: Path) -> None:
    config = write(
        "configuration.yaml",
        """
        homeassistant:
          packages: !include_dir_named packages
        mqtt:
          broker: localhost
          tls:
            certfile: /a
        """,
    )
    pack = write(
        "packages/broker.yaml",
        """
        mqtt:
          broker: other
          tls:
            certfile: /b
          port: 1884
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    assert excinfo.value.issues == [
        ConfigIssue(
            str(pack),
            2,
            "mqtt.broker",
            f"duplicate key 'broker': defined at {config.name}:4 and again in package 'broker' at packages/broker.yaml:2",
        ),
        ConfigIssue(
            str(pack),
            4,
            "mqtt.tls.certfile",
            f"duplicate key 'certfile': defined at {config.name}:6 and again in package 'broker' at packages/broker.yaml:4",
        ),
    ]
    assert str(excinfo.value).splitlines()[0] == (
        "packages/broker.yaml:2: mqtt.broker: duplicate key 'broker': defined at configuration.yaml:4"
        " and again in package 'broker' at packages/broker.yaml:2"
    )
    # check_configuration reports the conflicts with the other problems, and merges the rest.
    validated, issues = check_configuration(tmp_path, {}, {"mqtt"})
    assert [issue.key for issue in issues] == ["mqtt.broker", "mqtt.tls.certfile"]
    assert validated["mqtt"]["port"] == 1884 and validated["mqtt"]["broker"] == "localhost"


def test_conflict_between_two_packages(write, tmp_path: Path) -> None:
    write("configuration.yaml", "homeassistant:\n  packages: !include_dir_named packages\n")
    first = write("packages/a.yaml", "mqtt:\n  broker: a\n")
    second = write("packages/b.yaml", "# b\nmqtt:\n  broker: b\n")
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    (issue,) = excinfo.value.issues
    assert (issue.file, issue.line, issue.key) == (str(second), 3, "mqtt.broker")
    assert "packages/a.yaml:2" in issue.message and first.exists()


def test_package_must_be_a_dict(write, tmp_path: Path) -> None:
    path = write(
        "configuration.yaml",
        """
        homeassistant:
          packages:
            good:
              light: []
            bad: [1, 2]
            empty:
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    assert excinfo.value.issues == [
        ConfigIssue(str(path), 5, "homeassistant.packages.bad", "a package must be a dictionary, got list"),
        ConfigIssue(str(path), 6, "homeassistant.packages.empty", "a package must be a dictionary, got nothing"),
    ]


def test_packages_must_be_a_dict(write, tmp_path: Path) -> None:
    path = write("configuration.yaml", "homeassistant:\n  packages: [a]\n")
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    assert excinfo.value.issues == [
        ConfigIssue(str(path), 2, "homeassistant.packages", "expected a dictionary of packages")
    ]


def test_core_section_in_package_only_customize(write, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        homeassistant:
          name: Home
          customize:
            light.a:
              icon: mdi:lamp
          packages: !include_dir_named packages
        """,
    )
    pack = write(
        "packages/p.yaml",
        """
        homeassistant:
          customize:
            light.b:
              icon: mdi:bulb
          name: Other
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    assert excinfo.value.issues == [
        ConfigIssue(
            str(pack), 5, "homeassistant.name", "package 'p': only 'customize' may be set under 'homeassistant' in a package"
        )
    ]
    validated, issues = check_configuration(tmp_path, {}, set())
    assert len(issues) == 1
    assert validated["homeassistant"]["customize"] == {"light.a": {"icon": "mdi:lamp"}, "light.b": {"icon": "mdi:bulb"}}
    assert validated["homeassistant"]["name"] == "Home"


def test_package_scalar_domain_config_is_an_error(write, tmp_path: Path) -> None:
    path = write(
        "configuration.yaml",
        """
        homeassistant:
          packages:
            p:
              mqtt: localhost
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    (issue,) = excinfo.value.issues
    assert (issue.file, issue.line, issue.key) == (str(path), 4, "mqtt")


def test_package_dict_into_root_scalar_is_an_error(write, tmp_path: Path) -> None:
    path = write(
        "configuration.yaml",
        """
        mqtt: localhost
        homeassistant:
          packages:
            p:
              mqtt:
                broker: x
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    (issue,) = excinfo.value.issues
    assert (issue.file, issue.line, issue.key) == (str(path), 5, "mqtt")
    assert issue.message == "package 'p': cannot merge a dictionary into the string defined at configuration.yaml:1"


def test_unknown_domain_from_package_points_into_package(write, tmp_path: Path) -> None:
    write("configuration.yaml", "homeassistant:\n  packages: !include_dir_named packages\n")
    pack = write("packages/extra.yaml", "light: []\n# unknown below\nfrobnicator manual:\n  a: 1\n")
    _, issues = check_configuration(tmp_path, {}, {"light"})
    assert issues == [
        ConfigIssue(
            str(pack), 3, "frobnicator manual", "Integration error: frobnicator - Integration 'frobnicator' not found."
        )
    ]


def test_labelled_keys_from_packages(write, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        homeassistant:
          packages:
            p:
              automation pkg:
                - alias: x
                  trigger: []
        automation:
          - alias: y
            trigger: []
        """,
    )
    root = load_configuration(tmp_path)
    assert domain_keys(root, "automation") == ["automation", "automation pkg"]
    validated, issues = check_configuration(tmp_path, {"automation": AUTOMATION_SCHEMA}, set())
    assert issues == []
    assert [conf[0]["alias"] for conf in extract_domain_configs(validated, "automation")] == ["y", "x"]


def test_merge_packages_without_packages_is_noop() -> None:
    root = {"light": []}
    assert merge_packages(root) == []
    assert root == {"light": []}
    assert merge_packages({"homeassistant": None}) == []
