"""Configuration: YAML loading (includes, secrets, packages) and validation with file/line issues."""

from __future__ import annotations

from hub.config.check import CONFIG_FILE, check_configuration, load_configuration, validate_section
from hub.config.core_schema import CORE_SCHEMAS
from hub.config.issues import ConfigIssue, issue_from_invalid
from hub.config.loader import Secrets, load_yaml
from hub.config.objects import Input, NodeDict, NodeList, NodeStr, get_location
from hub.config.packages import domain_keys, domain_of_key, extract_domain_configs, merge_packages

__all__ = [
    "CONFIG_FILE",
    "CORE_SCHEMAS",
    "ConfigIssue",
    "Input",
    "NodeDict",
    "NodeList",
    "NodeStr",
    "Secrets",
    "check_configuration",
    "domain_keys",
    "domain_of_key",
    "extract_domain_configs",
    "get_location",
    "issue_from_invalid",
    "load_configuration",
    "load_yaml",
    "merge_packages",
    "validate_section",
]
