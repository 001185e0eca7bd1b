"""Templates with Home Assistant's functions, and what each render read.

    from hub.templating import Template, TemplateError
    Template("{{ states('sensor.power') | float(0) > 2000 }}", hub).render()  # -> True/False
"""

from __future__ import annotations

from hub.core.clock import Clock, ManualClock, SystemClock
from hub.exceptions import TemplateError
from hub.templating.environment import HubEnvironment, get_environment
from hub.templating.render_info import RenderInfo
from hub.templating.states import TemplateState
from hub.templating.template import Template, is_template_string, parse_result

__all__ = [
    "Clock",
    "HubEnvironment",
    "ManualClock",
    "RenderInfo",
    "SystemClock",
    "Template",
    "TemplateError",
    "TemplateState",
    "get_environment",
    "is_template_string",
    "parse_result",
]
