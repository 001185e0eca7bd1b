"""Tests for hub.config.loader: node locations, include tags, secrets, env vars, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.config import Input, NodeDict, NodeList, NodeStr, Secrets, load_configuration, load_yaml
from hub.exceptions import ConfigError


def _loc(obj: object) -> tuple[str | None, int | None]:
    return getattr(obj, "__config_file__", None), getattr(obj, "__line__", None)


def _key(mapping: dict, name: str) -> object:
    return next(key for key in mapping if key == name)


def _only_issue(excinfo: pytest.ExceptionInfo[ConfigError]):
    assert len(excinfo.value.issues) == 1
    return excinfo.value.issues[0]


def test_nodes_carry_file_and_line(write) -> None:
    path = write(
        "configuration.yaml",
        """
        # a comment
        mqtt:
          broker: localhost
          port: 1883
        sensors:
          - name: a
          - plain
        flow: {x: 1}
        """,
    )
    data = load_yaml(path)
    assert isinstance(data, NodeDict)
    assert _loc(data) == (str(path), 2)
    assert _loc(_key(data, "mqtt")) == (str(path), 2)
    assert isinstance(data["mqtt"], NodeDict)
    assert _loc(data["mqtt"]) == (str(path), 3)
    assert _loc(_key(data["mqtt"], "port")) == (str(path), 4)
    broker = data["mqtt"]["broker"]
    assert isinstance(broker, NodeStr) and broker == "localhost"
    assert _loc(broker) == (str(path), 3)
    assert data["mqtt"]["port"] == 1883 and type(data["mqtt"]["port"]) is int
    sensors = data["sensors"]
    assert isinstance(sensors, NodeList)
    assert _loc(sensors) == (str(path), 6)
    assert _loc(sensors[0]) == (str(path), 6)
    assert _loc(sensors[1]) == (str(path), 7)
    assert _loc(data["flow"]) == (str(path), 8)


def test_node_str_behaves_as_str(write) -> None:
    data = load_yaml(write("a.yaml", "name: kitchen\n"))
    name = data["name"]
    assert name == "kitchen" and hash(name) == hash("kitchen")
    assert {"kitchen": 1}[name] == 1
    assert repr(name) == "'kitchen'"


def test_empty_file_is_none_but_empty_configuration_is_empty_dict(write, tmp_path: Path) -> None:
    assert load_yaml(write("empty.yaml", "")) is None
    assert load_yaml(write("comments.yaml", "# nothing here\n")) is None
    write("configuration.yaml", "")
    root = load_configuration(tmp_path)
    assert root == {} and isinstance(root, NodeDict)
    assert _loc(root) == (str(tmp_path / "configuration.yaml"), 1)


def test_duplicate_key_logs_warning(write, caplog: pytest.LogCaptureFixture) -> None:
    path = write(
        "dup.yaml",
        """
        a: 1
        b: 2
        a: 3
        """,
    )
    with caplog.at_level(logging.WARNING, logger="hub.config.loader"):
        data = load_yaml(path)
    assert data["a"] == 3
    assert f'YAML file {path} contains duplicate key "a". Check lines 1 and 3' in caplog.messages


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb:\n  c: 2\n d: 3\n", 4),
        ("a: 1\nb: [1, 2\nc: 3\n", 3),
        ("a: 1\nb: c: d\n", 2),
        ("a: 1\nb: 2\nc: 'unterminated\n", 4),
    ],
)
def test_syntax_error_reports_line(write, tmp_path: Path, text: str, line: int) -> None:
    path = write("configuration.yaml", text)
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line, issue.key) == (str(path), line, "")
    assert issue.message.startswith("invalid YAML syntax: ")
    assert str(issue).startswith(f"configuration.yaml:{line}: invalid YAML syntax: ")
    assert str(excinfo.value) == str(issue)


def test_syntax_error_in_included_file_points_into_it(write) -> None:
    path = write("configuration.yaml", "a: 1\nmqtt: !include mqtt.yaml\n")
    included = write("mqtt.yaml", "broker: x\nport: [1\n")
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line) == (str(included), 3)
    assert str(issue).startswith("mqtt.yaml:3: invalid YAML syntax")


def test_non_scalar_key_is_an_error(write) -> None:
    path = write("a.yaml", "x: 1\n? [a, b]\n: 2\n")
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line) == (str(path), 2)
    assert "invalid key" in issue.message


def test_invalid_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    assert _only_issue(excinfo).file == str(path)


def test_include_relative_and_nested(write) -> None:
    path = write(
        "configuration.yaml",
        """
        name: home
        mqtt: !include conf/mqtt.yaml
        """,
    )
    mqtt = write(
        "conf/mqtt.yaml",
        """
        broker: localhost
        tls: !include tls.yaml
        """,
    )
    tls = write("conf/tls.yaml", "# tls\n\ncertfile: /ssl/cert.pem\n")
    data = load_yaml(path)
    assert data == {"name": "home", "mqtt": {"broker": "localhost", "tls": {"certfile": "/ssl/cert.pem"}}}
    # The included value is referenced at the !include; its content keeps its own file and lines.
    assert _loc(data["mqtt"]) == (str(path), 2)
    assert _loc(_key(data["mqtt"], "broker")) == (str(mqtt), 1)
    assert _loc(data["mqtt"]["tls"]) == (str(mqtt), 2)
    assert _loc(_key(data["mqtt"]["tls"], "certfile")) == (str(tls), 3)
    assert _loc(data["mqtt"]["tls"]["certfile"]) == (str(tls), 3)


def test_include_of_scalar_and_empty_file(write) -> None:
    path = write("configuration.yaml", "port: !include port.yaml\nempty: !include empty.yaml\n")
    write("port.yaml", "1883\n")
    write("empty.yaml", "")
    data = load_yaml(path)
    assert data["port"] == 1883
    assert data["empty"] == {} and isinstance(data["empty"], NodeDict)


def test_missing_include_names_file_and_line(write) -> None:
    path = write(
        "configuration.yaml",
        """
        a: 1
        b:
          c: !include nope.yaml
        """,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line, issue.key) == (str(path), 3, "")
    assert issue.message == "!include nope.yaml: unable to read file nope.yaml: file not found"
    assert str(issue) == "configuration.yaml:3: !include nope.yaml: unable to read file nope.yaml: file not found"


def test_include_cycle_is_an_error(write) -> None:
    path = write("a.yaml", "b: !include b.yaml\n")
    b = write("b.yaml", "x: 1\na: !include a.yaml\n")
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line) == (str(b), 2)
    assert "include cycle" in issue.message


def _make_dir_tree(write) -> dict[str, Path]:
    return {
        "b": write("items/b.yaml", "# b\nname: b\n"),
        "a": write("items/a.yaml", "name: a\n"),
        "sub": write("items/sub/c.yaml", "name: c\n"),
        "empty": write("items/empty.yaml", ""),
        "hidden": write("items/.hidden.yaml", "name: hidden\n"),
        "hidden_dir": write("items/.git/x.yaml", "name: x\n"),
        "txt": write("items/notes.txt", "name: txt\n"),
        "secrets": write("items/secrets.yaml", "pw: x\n"),
    }


def test_include_dir_list(write) -> None:
    files = _make_dir_tree(write)
    path = write("configuration.yaml", "x: 1\nitems: !include_dir_list items\n")
    items = load_yaml(path)["items"]
    assert items == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert _loc(items) == (str(path), 2)
    assert _loc(_key(items[1], "name")) == (str(files["b"]), 2)
    assert _loc(items[2]) == (str(files["sub"]), 1)


def test_include_dir_named(write) -> None:
    files = _make_dir_tree(write)
    path = write("configuration.yaml", "items: !include_dir_named items\n")
    items = load_yaml(path)["items"]
    assert list(items) == ["a", "b", "empty", "c"]
    assert items["b"] == {"name": "b"} and items["empty"] == {}
    assert _loc(_key(items, "b")) == (str(files["b"]), 1)
    assert _loc(_key(items["b"], "name")) == (str(files["b"]), 2)
    assert _loc(items) == (str(path), 1)


def test_include_dir_merge_list(write) -> None:
    path = write("configuration.yaml", "automation: !include_dir_merge_list automations/\n")
    first = write("automations/1.yaml", "- alias: one\n- alias: two\n")
    second = write("automations/2.yaml", "# header\n- alias: three\n")
    write("automations/3.yaml", "")
    automations = load_yaml(path)["automation"]
    assert [item["alias"] for item in automations] == ["one", "two", "three"]
    assert _loc(automations[1]) == (str(first), 2)
    assert _loc(automations[2]) == (str(second), 2)
    assert _loc(automations) == (str(path), 1)


def test_include_dir_merge_named(write) -> None:
    path = write("configuration.yaml", "scripts: !include_dir_merge_named scripts\n")
    write("scripts/a.yaml", "wake:\n  alias: Wake\n")
    b = write("scripts/b/b.yaml", "sleep:\n  alias: Sleep\nnap:\n  alias: Nap\n")
    scripts = load_yaml(path)["scripts"]
    assert list(scripts) == ["wake", "sleep", "nap"]
    assert _loc(_key(scripts, "nap")) == (str(b), 3)
    assert _loc(scripts["nap"]["alias"]) == (str(b), 4)


def test_include_dir_missing_folder_is_empty_with_warning(write, caplog: pytest.LogCaptureFixture) -> None:
    path = write("configuration.yaml", "automation: !include_dir_merge_list missing\n")
    with caplog.at_level(logging.WARNING, logger="hub.config.loader"):
        assert load_yaml(path)["automation"] == []
    assert any("folder" in message and "missing" in message for message in caplog.messages)


def test_secret_from_same_and_parent_folder(write, tmp_path: Path) -> None:
    write("secrets.yaml", "password: top\nport: 1883\n")
    write("sub/secrets.yaml", "user: nested\n")
    path = write("configuration.yaml", "mqtt: !include sub/mqtt.yaml\nport: !secret port\n")
    mqtt = write("sub/mqtt.yaml", "user: !secret user\n\npassword: !secret password\n")
    data = load_configuration(tmp_path)
    assert data["mqtt"] == {"user": "nested", "password": "top"}
    assert data["port"] == 1883
    password = data["mqtt"]["password"]
    assert isinstance(password, NodeStr) and _loc(password) == (str(mqtt), 3)
    assert getattr(password, "__secret__", False) is True
    assert _loc(_key(data, "port")) == (str(path), 2)


def test_missing_secret_names_file_and_line(write, tmp_path: Path) -> None:
    write("secrets.yaml", "other: x\n")
    path = write("configuration.yaml", "mqtt:\n  broker: x\n  password: !secret mqtt_password\n")
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line, issue.key) == (str(path), 3, "")
    assert str(issue) == "configuration.yaml:3: secret 'mqtt_password' not defined (looked in secrets.yaml)"


def test_missing_secret_in_included_file(write, tmp_path: Path) -> None:
    write("configuration.yaml", "mqtt: !include sub/mqtt.yaml\n")
    mqtt = write("sub/mqtt.yaml", "broker: x\npassword: !secret nope\n")
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line) == (str(mqtt), 2)
    assert str(issue) == "sub/mqtt.yaml:2: secret 'nope' not defined (looked in sub/secrets.yaml, secrets.yaml)"


def test_secret_not_searched_above_config_dir(write, tmp_path: Path) -> None:
    write("secrets.yaml", "pw: outside\n")
    path = write("config/configuration.yaml", "pw: !secret pw\n")
    with pytest.raises(ConfigError):
        load_yaml(path, Secrets(tmp_path / "config"))
    assert load_yaml(path, Secrets(tmp_path)) == {"pw": "outside"}


def test_secret_inside_secrets_file_is_an_error(write, tmp_path: Path) -> None:
    secrets = write("secrets.yaml", "a: x\nb: !secret a\n")
    write("configuration.yaml", "pw: !secret a\n")
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line) == (str(secrets), 2)


def test_env_var(write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_HOST", "broker.lan")
    monkeypatch.delenv("HUB_TEST_UNSET", raising=False)
    path = write(
        "a.yaml",
        """
        host: !env_var HUB_TEST_HOST
        with_default_set: !env_var HUB_TEST_HOST fallback
        port: !env_var HUB_TEST_UNSET 1883
        words: !env_var HUB_TEST_UNSET two words
        """,
    )
    data = load_yaml(path)
    assert data == {"host": "broker.lan", "with_default_set": "broker.lan", "port": "1883", "words": "two words"}
    assert _loc(data["port"]) == (str(path), 3)


def test_env_var_missing_without_default(write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_TEST_UNSET", raising=False)
    path = write("a.yaml", "a: 1\nhost: !env_var HUB_TEST_UNSET\n")
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(path)
    issue = _only_issue(excinfo)
    assert (issue.file, issue.line) == (str(path), 2)
    assert "HUB_TEST_UNSET" in issue.message and "not defined" in issue.message


def test_input_tag(write) -> None:
    data = load_yaml(write("bp.yaml", "entity_id: !input motion_sensor\nother: !input motion_sensor\n"))
    value = data["entity_id"]
    assert isinstance(value, Input) and value.name == "motion_sensor"
    assert value == data["other"] and len({value, data["other"]}) == 1


def test_load_configuration_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    issue = _only_issue(excinfo)
    assert issue.file == str(tmp_path / "configuration.yaml")
    assert str(issue) == "configuration.yaml: configuration file not found"


def test_load_configuration_root_must_be_mapping(write, tmp_path: Path) -> None:
    write("configuration.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError) as excinfo:
        load_configuration(tmp_path)
    issue = _only_issue(excinfo)
    assert issue.line == 1 and "expected a mapping" in issue.message
