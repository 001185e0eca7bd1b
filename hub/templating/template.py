"""Template: compile once, render with Home Assistant's result parsing and error messages."""

from __future__ import annotations

import logging
import re
import time
import traceback
from ast import literal_eval
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.debug  # noqa: F401 - loaded now, not while a render unwinds (see _render_fast)

from hub import payload_json
from hub.core.runtime import HubKey
from hub.exceptions import TemplateError
from hub.templating.environment import get_environment
from hub.templating.functions import current_template
from hub.templating.limits import (
    MAX_SOURCE,
    SUSPENSION,
    BudgetExceeded,
    RenderBudget,
    TemplateLimitError,
    TemplateLimits,
    current_budget,
)
from hub.templating.render_info import RenderInfo, current_render_info
from hub.templating.watchdog import WATCHDOG, RenderPreempted

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
_SENTINEL: Any = object()
TEMPLATE_LIMITS: HubKey[TemplateLimits] = HubKey("template_limits")
DEFAULT_LIMITS = TemplateLimits()
MAX_TEMPLATE_OUTPUT = DEFAULT_LIMITS.max_output
MAX_JSON_PAYLOAD = 4 * MAX_TEMPLATE_OUTPUT  # larger payloads get no value_json (parsing it would hold the loop)
Origin = str | Callable[[], str] | None
ERROR_LOG_INTERVAL = 60.0  # seconds between log lines about one template's failing renders
_NEVER_LOGGED = (-ERROR_LOG_INTERVAL, 0)
_IS_NUMERIC = re.compile(r"^[+-]?(?!0\d)\d*(?:\.\d*)?$")
_TEMPLATE_MARKERS = ("{%", "{{", "{#")
_MAX_SHOWN = 200


def is_template_string(source: str) -> bool:
    """Return whether source holds any Jinja syntax."""
    return any(marker in source for marker in _TEMPLATE_MARKERS)


# Rendered texts whose parsed value is kept for reuse: at most this many, of at most
# PARSE_CACHE_TEXT characters each (a state is at most 255): ~2 MB at worst, whatever payloads
# devices send. A longer text (a 1 MB payload through `{{ value }}`) is parsed every time.
PARSE_CACHE_SIZE = 4096
PARSE_CACHE_TEXT = 256


def _parse(text: str) -> Any:
    result = literal_eval(text)
    # A string evaluating to a string keeps its original form (quotes matter); complex and
    # scientific notations are not what a user meant either.
    if not isinstance(result, (str, complex)) and (
        not isinstance(result, (int, float)) or isinstance(result, bool) or _IS_NUMERIC.match(text) is not None
    ):
        return result
    return text


_parse_cached = lru_cache(maxsize=PARSE_CACHE_SIZE)(_parse)


def parse_result(text: str) -> Any:
    """Turn rendered text into a native value the way Home Assistant does ("12.0" -> 12.0)."""
    try:
        return _parse_cached(text) if len(text) <= PARSE_CACHE_TEXT else _parse(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _shown(source: str) -> str:
    return source if len(source) <= _MAX_SHOWN else source[: _MAX_SHOWN - 3] + "..."


def _template_line(err: BaseException) -> int | None:
    """Return the template line where a render failed, from Jinja's rewritten traceback."""
    if isinstance(err, jinja2.TemplateSyntaxError) and err.lineno:
        return err.lineno
    line = None
    # walk_tb, not extract_tb: extract_tb reads the source of every frame into linecache, which
    # then keeps whole Python files in memory (~0.5 MB) for a line number it does not need.
    for frame, lineno in traceback.walk_tb(err.__traceback__):
        if frame.f_code.co_filename == "<template>":
            line = lineno
    return line


def limits_of(hub: Hub | None) -> TemplateLimits:
    """Return the render limits of a hub (the defaults unless set with `set_limits`)."""
    return hub.runtime.get(TEMPLATE_LIMITS) or DEFAULT_LIMITS if hub is not None else DEFAULT_LIMITS


def set_limits(hub: Hub, limits: TemplateLimits) -> None:
    """Change a hub's render limits (CPU budget, output cap) for every render from now on."""
    hub.runtime[TEMPLATE_LIMITS] = limits


def describe_origin(source: str, origin: Origin) -> str | None:
    """Return where a template comes from: what its user said, else the YAML file and line."""
    if callable(origin):
        try:
            return origin()
        except Exception:  # noqa: BLE001 - an origin must never hide the error it describes
            return None
    if origin:
        return origin
    where_file, where_line = getattr(source, "__config_file__", None), getattr(source, "__line__", None)
    if where_file:
        return f"{where_file}:{where_line}" if where_line else str(where_file)
    return None


def _error(source: str, err: BaseException, action: str, origin: Origin = None) -> TemplateError:
    line = _template_line(err)
    where = f" at line {line}" if line else ""
    named = describe_origin(source, origin)
    of = f" of {named}" if named else ""
    if isinstance(err, jinja2.TemplateSyntaxError):
        message = f"Error compiling template{of} '{_shown(source)}'{where}: TemplateSyntaxError: {err.message}"
    elif isinstance(err, TemplateLimitError):
        message = f"Template{of} '{_shown(source)}'{where} went over a limit: {err}"
    elif isinstance(err, RecursionError):
        message = f"Error {action} template{of} '{_shown(source)}': nested too deeply"
    else:
        message = f"Error {action} template{of} '{_shown(source)}'{where}: {type(err).__name__}: {err}"
    error = TemplateLimitError(message) if isinstance(err, TemplateLimitError) else TemplateError(message)
    error.line = line  # type: ignore[attr-defined]
    error.template = source  # type: ignore[attr-defined]
    return error


def _render_bounded(compiled: jinja2.Template, variables: Mapping[str, Any], limits: TemplateLimits) -> str:
    """Render a template that has no loop, call, filter, test or operator (`{{ value_json.x }}`).

    Nothing in it can run long or build a value larger than its inputs, so it needs no budget
    and no watchdog: the hottest MQTT value templates pay only the output cap's length check.
    """
    cached: dict[str, Any] | None = getattr(compiled, "_flat_globals", None)
    if cached is None:
        cached = compiled._flat_globals = dict(compiled.globals)  # type: ignore[attr-defined]
    context = compiled.new_context({**cached, **variables}, shared=True)
    try:
        text = compiled.environment.concat(compiled.root_render_func(context))
    except Exception:  # noqa: BLE001 - re-raised with the template's lines in the traceback
        compiled.environment.handle_exception()
        raise  # pragma: no cover - handle_exception always raises
    if len(text) > limits.max_output:
        message = f"output exceeded the maximum size of {limits.max_output:,} characters"
        raise TemplateLimitError(message)
    return str(text)


def _render_fast(compiled: jinja2.Template, variables: Mapping[str, Any], budget: RenderBudget) -> str:
    """Render like jinja2.Template.render, without rebuilding the globals per render, within limits.

    Jinja merges the ~100 globals (a ChainMap) into every render's context; a plain dict of
    them, built once per compiled template, makes a simple render several times faster.
    The output is counted as it streams, so a render stops at the cap instead of after
    building all of it; loops and calls tick the render's budget (hub.templating.limits).
    """
    cached: dict[str, Any] | None = getattr(compiled, "_flat_globals", None)
    if cached is None:
        # Kept on the template itself: a module-level weak map would never drop an entry, since
        # these globals reach the hub, its environment and so the template that keys them.
        cached = compiled._flat_globals = dict(compiled.globals)  # type: ignore[attr-defined]
    context = compiled.new_context({**cached, **variables}, shared=True)
    token = current_budget.set(budget)
    armed = WATCHDOG.arm(budget)
    try:
        try:
            parts = []
            size, cap = 0, budget.limits.max_output
            for part in compiled.root_render_func(context):
                size += len(part)
                if size > cap:
                    message = f"output exceeded the maximum size of {cap:,} characters"
                    raise TemplateLimitError(message)
                parts.append(part)
            return "".join(parts)
        finally:
            # First thing on the way out, before Jinja rewrites the traceback (which may import):
            # from here the watchdog raises nothing more in this thread.
            if armed:
                WATCHDOG.disarm(budget)
                armed = False
    except Exception:  # noqa: BLE001 - re-raised with the template's lines in the traceback
        compiled.environment.handle_exception()
        raise  # pragma: no cover - handle_exception always raises
    finally:
        if armed:  # the watchdog's exception cut the disarm above short: complete it (idempotent)
            WATCHDOG.disarm(budget)
        current_budget.reset(token)


class Template:
    """A template string bound to a hub.

    Compilation happens once per source and environment (limited/strict) and is shared by
    every Template with the same source.
    """

    __slots__ = ("template", "hub", "is_static", "origin", "_plain", "_compiled", "_last_logged")

    def __init__(self, source: str, hub: Hub | None = None, origin: Origin = None) -> None:
        """Bind a template string to a hub.

        Args:
            source: the template.
            hub: the hub whose states and functions it reads.
            origin: where it comes from, for error messages ("sensor.x value_template", "the
                render_template of user ann"), or a function returning that. Without it, a
                string from YAML names its file and line.
        """
        if not isinstance(source, str):
            message = f"Expected template to be a string, got {type(source).__name__}"
            raise TypeError(message)
        self.template = source
        self.hub = hub
        self.origin = origin
        self.is_static = not is_template_string(source)
        # The usual compilation (not limited, not strict) in a slot, others in a dict made when
        # first needed: thousands of discovered entities hold a Template each.
        self._plain: jinja2.Template | None = None
        self._compiled: dict[tuple[bool, bool], jinja2.Template] | None = None
        self._last_logged: tuple[float, int] = _NEVER_LOGGED

    def __repr__(self) -> str:
        return f"Template<template=({self.template})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.template == self.template and other.hub is self.hub

    def __hash__(self) -> int:
        return hash(self.template)

    def ensure_valid(self, limited: bool = False) -> None:
        """Compile now; raise TemplateError naming the line of a syntax error."""
        if not self.is_static:
            self._compile(limited, False)

    def _compile(self, limited: bool, strict: bool) -> jinja2.Template:
        key = (limited, strict)
        plain = not limited and not strict
        compiled = self._plain if plain else None if self._compiled is None else self._compiled.get(key)
        if compiled is None:
            if len(self.template) > MAX_SOURCE:
                message = f"is {len(self.template):,} characters long; at most {MAX_SOURCE:,} are allowed"
                raise _error(self.template, TemplateLimitError(message), "compiling", self.origin)
            # Jinja evaluates constant expressions while compiling (`'sensor.x' is is_state('on')`),
            # as in Home Assistant: that read is not a render's, so it listens to nothing, and the
            # value it baked in stays with this Template only, never in the shared cache.
            environment = get_environment(self.hub, limited, strict)
            scratch = RenderInfo()
            token = current_render_info.set(scratch)
            try:
                compiled = environment.compile_cached(self.template)
            except (jinja2.TemplateSyntaxError, RecursionError, MemoryError) as err:
                raise _error(self.template, err, "compiling", self.origin) from err
            finally:
                current_render_info.reset(token)
            if scratch.entities or scratch.domains or scratch.domains_lifecycle or scratch.all_states or scratch.all_states_lifecycle:
                environment.forget(self.template)
            if plain:
                self._plain = compiled
            else:
                if self._compiled is None:
                    self._compiled = {}
                self._compiled[key] = compiled
        return compiled

    def render(
        self,
        variables: dict[str, Any] | None = None,
        parse_result: bool = True,
        limited: bool = False,
        strict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Render and (by default) parse the text into a native value.

        Raises:
            TemplateError: the template does not compile or its render failed; the message
                names the template, the line and the cause.
        """
        if self.is_static:
            return _parse_static(self.template) if parse_result else self.template
        compiled = self._compile(limited, strict)
        if kwargs:
            variables = {**(variables or {}), **kwargs}
        text = self._render_text(compiled, variables or {})
        return globals()["parse_result"](text) if parse_result else text

    def _render_text(self, compiled: jinja2.Template, variables: dict[str, Any]) -> str:
        suspended: tuple[float, str] | None = getattr(compiled, "_suspended", None)
        if suspended is not None:
            until, reason = suspended
            left = until - time.monotonic()
            if left > 0:
                message = f"{reason}; not rendered for another {left:.0f} s"
                raise _error(self.template, BudgetExceeded(message), "rendering", self.origin)
            compiled._suspended = None  # type: ignore[attr-defined]
        token = current_template.set(self.template)
        limits = limits_of(self.hub)
        budget = None
        try:
            if getattr(compiled, "_hub_bounded", False):
                text = _render_bounded(compiled, variables, limits)
            else:
                budget = RenderBudget(limits)
                text = _render_fast(compiled, variables, budget)
        except Exception as err:  # noqa: BLE001 - every render failure becomes a TemplateError
            if isinstance(err, RenderPreempted) and budget is not None:
                err = BudgetExceeded(budget.describe())
            if isinstance(err, BudgetExceeded):
                # Every template with this source (they share the compiled one) rests for a while.
                compiled._suspended = (time.monotonic() + SUSPENSION, str(err))  # type: ignore[attr-defined]
            raise _error(self.template, err, "rendering", self.origin) from err
        finally:
            current_template.reset(token)
        return text.strip()

    def render_info(
        self,
        variables: dict[str, Any] | None = None,
        parse_result: bool = True,
        limited: bool = False,
        strict: bool = False,
    ) -> RenderInfo:
        """Render and return what was read; a failed render is kept in `.exception`."""
        info = RenderInfo(template=self.template, is_static=self.is_static)
        token = current_render_info.set(info)
        try:
            info.result = self.render(variables, parse_result=parse_result, limited=limited, strict=strict)
        except TemplateError as err:
            info.exception = err
        finally:
            current_render_info.reset(token)
        return info

    def render_with_possible_json_value(
        self,
        payload: str | bytes,
        default: Any = _SENTINEL,
        variables: dict[str, Any] | None = None,
    ) -> Any:
        """Render with `value` = payload and `value_json` = payload parsed as JSON (if it is JSON).

        A failed render returns default, which itself defaults to the payload unchanged, so a
        bad message never stops the integration that received it; the error is logged (at most
        once a minute per template, with the count of failures in between).
        """
        if self.is_static:
            return self.template
        values: dict[str, Any] = dict(variables) if variables else {}
        values["value"] = payload
        if len(payload) <= MAX_JSON_PAYLOAD:
            try:  # orjson, as Home Assistant; nested too deep is not JSON (hub.payload_json)
                values["value_json"] = payload_json.loads(payload)
            except (ValueError, TypeError):
                pass
        try:
            return self._render_text(self._compile(False, False), values)
        except TemplateError as err:
            self._log_error(err, payload)
            return payload if default is _SENTINEL else default

    def _log_error(self, err: TemplateError, payload: str | bytes) -> None:
        """Log a failed value render at most once a minute: a bad template fails on every message.

        A warning, not an error: the payload came from a device, and the entity keeps its last
        good state (or `unavailable`) until a payload renders again.
        """
        now = time.monotonic()
        last, suppressed = self._last_logged
        if now - last < ERROR_LOG_INTERVAL:
            self._last_logged = (last, suppressed + 1)
            return
        more = f"; {suppressed} more failures since the last report" if suppressed else ""
        _LOGGER.warning("%s (value: %r%s)", err, payload[:200], more)
        self._last_logged = (now, 0)


@lru_cache(maxsize=1024)
def _parse_static(source: str) -> Any:
    return parse_result(source.strip())
