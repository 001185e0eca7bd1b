"""Template: compile once, render with Home Assistant's result parsing and error messages."""

from __future__ import annotations

import json
import logging
import re
import traceback
from ast import literal_eval
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2

from hub.exceptions import TemplateError
from hub.templating.environment import get_environment
from hub.templating.functions import current_template
from hub.templating.render_info import RenderInfo, current_render_info

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
_SENTINEL: Any = object()
MAX_TEMPLATE_OUTPUT = 256 * 1024
_IS_NUMERIC = re.compile(r"^[+-]?(?!0\d)\d*(?:\.\d*)?$")
_TEMPLATE_MARKERS = ("{%", "{{", "{#")
_MAX_SHOWN = 200


def is_template_string(source: str) -> bool:
    """Return whether source holds any Jinja syntax."""
    return any(marker in source for marker in _TEMPLATE_MARKERS)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Any:
    result = literal_eval(text)
    # A string evaluating to a string keeps its original form (quotes matter); complex and
    # scientific notations are not what a user meant either.
    if not isinstance(result, (str, complex)) and (
        not isinstance(result, (int, float)) or isinstance(result, bool) or _IS_NUMERIC.match(text) is not None
    ):
        return result
    return text


def parse_result(text: str) -> Any:
    """Turn rendered text into a native value the way Home Assistant does ("12.0" -> 12.0)."""
    try:
        return _parse_cached(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _shown(source: str) -> str:
    return source if len(source) <= _MAX_SHOWN else source[: _MAX_SHOWN - 3] + "..."


def _template_line(err: BaseException) -> int | None:
    """Return the template line where a render failed, from Jinja's rewritten traceback."""
    if isinstance(err, jinja2.TemplateSyntaxError) and err.lineno:
        return err.lineno
    line = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == "<template>":
            line = frame.lineno
    return line


def _error(source: str, err: BaseException, action: str) -> TemplateError:
    line = _template_line(err)
    where = f" at line {line}" if line else ""
    if isinstance(err, jinja2.TemplateSyntaxError):
        message = f"Error compiling template '{_shown(source)}'{where}: TemplateSyntaxError: {err.message}"
    else:
        message = f"Error {action} template '{_shown(source)}'{where}: {type(err).__name__}: {err}"
    error = TemplateError(message)
    error.line = line  # type: ignore[attr-defined]
    error.template = source  # type: ignore[attr-defined]
    return error


def _render_fast(compiled: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """Render like jinja2.Template.render, without rebuilding the globals per render.

    Jinja merges the ~100 globals (a ChainMap) into every render's context; a plain dict of
    them, built once per compiled template, makes a simple render several times faster.
    """
    cached: dict[str, Any] | None = getattr(compiled, "_flat_globals", None)
    if cached is None:
        # Kept on the template itself: a module-level weak map would never drop an entry, since
        # these globals reach the hub, its environment and so the template that keys them.
        cached = compiled._flat_globals = dict(compiled.globals)  # type: ignore[attr-defined]
    context = compiled.new_context({**cached, **variables}, shared=True)
    try:
        return compiled.environment.concat(compiled.root_render_func(context))
    except Exception:  # noqa: BLE001 - re-raised with the template's lines in the traceback
        compiled.environment.handle_exception()
        raise  # pragma: no cover - handle_exception always raises


class Template:
    """A template string bound to a hub.

    Compilation happens once per source and environment (limited/strict) and is shared by
    every Template with the same source.
    """

    __slots__ = ("template", "hub", "is_static", "_compiled")

    def __init__(self, source: str, hub: Hub | None = None) -> None:
        if not isinstance(source, str):
            message = f"Expected template to be a string, got {type(source).__name__}"
            raise TypeError(message)
        self.template = source
        self.hub = hub
        self.is_static = not is_template_string(source)
        self._compiled: dict[tuple[bool, bool], jinja2.Template] = {}

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
        compiled = self._compiled.get(key)
        if compiled is None:
            try:
                compiled = get_environment(self.hub, limited, strict).compile_cached(self.template)
            except jinja2.TemplateSyntaxError as err:
                raise _error(self.template, err, "compiling") from err
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
        token = current_template.set(self.template)
        try:
            text = _render_fast(compiled, variables)
        except Exception as err:  # noqa: BLE001 - every render failure becomes a TemplateError
            raise _error(self.template, err, "rendering") from err
        finally:
            current_template.reset(token)
        if len(text) > MAX_TEMPLATE_OUTPUT:
            message = f"Template output exceeded maximum size of {MAX_TEMPLATE_OUTPUT} characters"
            raise TemplateError(message)
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
        bad message never stops the integration that received it.
        """
        if self.is_static:
            return self.template
        values: dict[str, Any] = dict(variables) if variables else {}
        values["value"] = payload
        try:
            values["value_json"] = json.loads(payload)
        except (ValueError, TypeError, RecursionError):  # RecursionError: nested deeper than ~1,000
            pass
        try:
            return self._render_text(self._compile(False, False), values)
        except TemplateError as err:
            if default is _SENTINEL:
                _LOGGER.error("%s (value: %r)", err, payload)
                return payload
            return default


@lru_cache(maxsize=1024)
def _parse_static(source: str) -> Any:
    return parse_result(source.strip())
