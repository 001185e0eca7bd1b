"""The sandboxed Jinja2 environment with Home Assistant's globals, filters and tests."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from hub.core.clock import UTC_CLOCK
from hub.core.runtime import HubKey
from hub.templating import functions as fn
from hub.templating import limits
from hub.templating.areas import AreaFunctions
from hub.templating.states import AllStates, StateFunctions
from hub.templating.timefuncs import TimeFunctions

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
COMPILE_CACHE_SIZE = 4096

# Home Assistant refuses these in limited templates (trigger options, trigger_variables).
LIMITED_GLOBALS = (
    "closest distance expand is_hidden_entity is_state is_state_attr state_attr states "
    "state_translated has_value utcnow now device_attr is_device_attr device_id area_id area_name "
    "floor_id floor_name relative_time time_since time_until today_at label_id label_name"
).split()
LIMITED_FILTERS = "closest expand device_id area_id area_name floor_id floor_name has_value label_id label_name".split()
LIMITED_TESTS = "has_value is_hidden_entity is_state is_state_attr".split()


class LoggingUndefined(jinja2.Undefined):
    """An undefined variable renders as "" and is logged, as in Home Assistant."""

    __slots__ = ()

    def _log(self) -> None:
        _LOGGER.warning("Template variable warning: %s", self._undefined_message)

    def __str__(self) -> str:
        self._log()
        return ""

    def __bool__(self) -> bool:
        return False

    def __iter__(self) -> Any:
        return iter(())


class _Unsupported:
    """Stands in for a hub function in a limited template: any use raises."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        message = f"Use of '{self.name}' is not supported in limited templates"
        raise jinja2.TemplateRuntimeError(message)

    def __getattr__(self, item: str) -> Any:
        # Jinja inspects markers (jinja_pass_arg, unsafe_callable...) while compiling.
        if item.startswith(("_", "jinja_")) or item in ("unsafe_callable", "alters_data"):
            raise AttributeError(item)
        return self()


TICK_FILTER = "_hub_budget"  # wraps every {% for %} iterable: one budget tick per item
CONCAT_FILTER = "_hub_concat"  # replaces `~`, so a loop cannot double a string without end


# What can make a render run long or build a large value; a template without any of these
# (attribute and item lookups, literals, comparisons, if/else, set) is bounded by its size.
_UNBOUNDED_NODES = (
    nodes.For, nodes.Call, nodes.Filter, nodes.FilterBlock, nodes.Test, nodes.Macro, nodes.CallBlock,
    nodes.BinExpr, nodes.Concat,
)


class _Budgeted(NodeTransformer):
    """Rewrite a parsed template so that its loops tick the render budget and `~` is sized."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - Jinja's visitor naming
        self.generic_visit(node)  # rewrites the children in place; a For stays a For
        node.iter = nodes.Filter(node.iter, TICK_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        joined = nodes.List(list(node.nodes), lineno=node.lineno)
        return nodes.Filter(joined, CONCAT_FILTER, [], [], None, None, lineno=node.lineno)


def _concat(parts: list[Any]) -> str:
    """`a ~ b`: join as text, refusing a result over the output cap."""
    texts = [str(part) for part in parts]
    limits.too_large("~", sum(len(text) for text in texts))
    return "".join(texts)


class HubEnvironment(ImmutableSandboxedEnvironment):
    """The hub's template environment; compiled templates are cached by source.

    Every render is bounded (hub.templating.limits): loops and calls tick a CPU budget, and
    the operations that could build a huge value in one step check its size first.
    """

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, hub: Hub | None, limited: bool = False, strict: bool = False) -> None:
        super().__init__(
            extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"],
            undefined=jinja2.StrictUndefined if strict else LoggingUndefined,
        )
        self.hub = hub
        self.limited = limited
        self._compiled: OrderedDict[str, jinja2.Template] = OrderedDict()
        self._last_bounded = False  # set by _parse: the template just parsed has nothing unbounded
        _add_pure(self)
        _add_hub_bound(self, hub)
        self.filters[TICK_FILTER] = limits.ticking
        self.filters[CONCAT_FILTER] = _concat
        limits.guard_filters(self.filters, self.globals)
        if limited:
            for name in LIMITED_GLOBALS:
                self.globals[name] = _Unsupported(name)
            for name in LIMITED_FILTERS:
                self.filters[name] = _Unsupported(name)
            for name in LIMITED_TESTS:
                # Jinja's tests dict is inferred from its built-in test functions; any callable is a test.
                self.tests[name] = _Unsupported(name)  # type: ignore[assignment]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        self._last_bounded = not any(True for _ in tree.find_all(_UNBOUNDED_NODES))
        budgeted: nodes.Template = _Budgeted().visit(tree)
        return budgeted

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        """Call from a template: tick the budget, refuse str methods that would build too much."""
        limits.tick()
        args = limits.check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`*`, `+`, `**`, `%`: refuse a result too large to build, then compute it."""
        limits.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        """str.format / format_map: refuse field widths over the output cap."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> Any:
            mapping = args[0] if is_map and args and isinstance(args[0], dict) else kwargs
            limits.check_str_format(text, () if is_map else args, mapping)
            return wrapper(*args, **kwargs)

        return checked

    def compile_cached(self, source: str) -> jinja2.Template:
        """Compile source once; later calls with the same source reuse the result."""
        compiled = self._compiled.get(source)
        if compiled is None:
            self._last_bounded = False
            compiled = self.from_string(source)
            # No loop, call, filter, test or operator: nothing in it can run long or build a
            # large value (`{{ value_json.power }}`), so its renders skip the budget's bookkeeping.
            compiled._hub_bounded = self._last_bounded  # type: ignore[attr-defined]
            self._compiled[source] = compiled
            if len(self._compiled) > COMPILE_CACHE_SIZE:
                self._compiled.popitem(last=False)
        return compiled

    def forget(self, source: str) -> None:
        """Drop source from the compile cache (its compiled form depends on states read then)."""
        self._compiled.pop(source, None)


def _add_pure(env: HubEnvironment) -> None:
    """Add what needs no hub: numbers, maths, text, JSON, collections."""
    both = {
        "float": fn.forgiving_float,
        "int": fn.forgiving_int,
        "bool": fn.forgiving_boolean,
        "is_number": fn.is_number,
        "log": fn.logarithm,
        "sin": fn.sine,
        "cos": fn.cosine,
        "tan": fn.tangent,
        "asin": fn.arc_sine,
        "acos": fn.arc_cosine,
        "atan": fn.arc_tangent,
        "atan2": fn.arc_tangent2,
        "sqrt": fn.square_root,
        "average": fn.average,
        "median": fn.median,
        "statistical_mode": fn.statistical_mode,
        "iif": fn.iif,
        "to_json": fn.to_json,
        "from_json": fn.from_json,
        "bitwise_and": fn.bitwise_and,
        "bitwise_or": fn.bitwise_or,
        "bitwise_xor": fn.bitwise_xor,
        "pack": fn.pack,
        "unpack": fn.unpack,
        "ord": ord,
        "ordinal": fn.ordinal,
        "base64_encode": fn.base64_encode,
        "base64_decode": fn.base64_decode,
        "slugify": fn.slugify,
        "typeof": fn.typeof,
        "flatten": fn.flatten,
        "version": fn.version,
        "multiply": fn.multiply,
        "add": fn.add,
        "regex_match": fn.regex_match,
        "regex_search": fn.regex_search,
        "regex_replace": fn.regex_replace,
        "regex_findall": fn.regex_findall,
        "regex_findall_index": fn.regex_findall_index,
        "contains": fn.contains,
    }
    env.filters.update(both)
    env.filters["round"] = fn.forgiving_round
    env.filters["is_defined"] = fn.fail_when_undefined
    env.filters["combine"] = fn.combine
    env.globals.update({k: v for k, v in both.items() if k not in ("ord", "contains")})
    env.globals.update(
        {
            "pi": math.pi,
            "tau": math.tau,
            "e": math.e,
            "min": fn.min_max(jinja2.filters.do_min, "min"),
            "max": fn.min_max(jinja2.filters.do_max, "max"),
            "timedelta": timedelta,
            "urlencode": fn.urlencode,
            "combine": fn.combine,
            "set": set,
            "tuple": tuple,
            "zip": zip,
        }
    )
    env.tests.update(
        {
            "is_number": fn.is_number,
            "match": fn.regex_match,
            "search": fn.regex_search,
            "contains": fn.contains,
            "list": fn.is_list,
            "set": fn.is_set,
            "tuple": fn.is_tuple,
            "datetime": lambda value: isinstance(value, datetime),
            "string_like": fn.is_string_like,
        }
    )


def _add_hub_bound(env: HubEnvironment, hub: Hub | None) -> None:
    """Add what reads the hub: states, the clock and the registries."""
    times = TimeFunctions(lambda: hub.clock if hub is not None else UTC_CLOCK)
    for name in (
        "as_datetime", "as_timestamp", "as_local", "as_timedelta", "timestamp_custom", "timestamp_local",
        "timestamp_utc", "relative_time", "time_since", "time_until", "today_at",
    ):
        env.filters[name] = getattr(times, name)
    for name in (
        "now", "utcnow", "as_datetime", "as_timestamp", "as_local", "as_timedelta", "strptime",
        "relative_time", "time_since", "time_until", "today_at",
    ):
        env.globals[name] = getattr(times, name)
    states = StateFunctions(hub)
    env.globals["states"] = AllStates(hub)
    for name in (
        "is_state", "state_attr", "is_state_attr", "has_value", "state_translated", "expand",
        "device_entities", "device_attr", "is_device_attr", "device_id", "integration_entities",
    ):
        env.globals[name] = getattr(states, name)
        env.filters[name] = getattr(states, name)
    env.filters["states"] = env.globals["states"]
    for name in ("is_state", "is_state_attr", "has_value"):
        # As in Home Assistant: an eval-context test, which Jinja evaluates once while compiling
        # when its arguments are constants; that read listens to nothing.
        env.tests[name] = _eval_context_test(getattr(states, name))
    env.tests["is_hidden_entity"] = lambda entity_id: False
    areas = AreaFunctions(hub)
    env.globals["areas"] = areas.areas
    for name in ("area_id", "area_name", "area_entities", "area_devices"):
        env.globals[name] = env.filters[name] = getattr(areas, name)
    # Floors and labels do not exist in this hub: answer like a hub that has none.
    for name in ("floors", "labels"):
        env.globals[name] = lambda *args: []
    for name in ("floor_areas", "label_entities", "label_devices", "label_areas"):
        env.globals[name] = env.filters[name] = lambda *args: []
    for name in ("floor_id", "floor_name", "label_id", "label_name"):
        env.globals[name] = env.filters[name] = lambda *args: None


def _eval_context_test(function: Any) -> Any:
    @jinja2.pass_eval_context
    def test(_eval_context: Any, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return test


def get_environment(hub: Hub | None, limited: bool = False, strict: bool = False) -> HubEnvironment:
    """Return the hub's environment of that kind, building it (and running the hook) once."""
    key = (limited, strict)
    if hub is None:
        cache = _NO_HUB
    else:
        cache = hub.runtime.setdefault(ENVIRONMENTS, dict)
    env = cache.get(key)
    if env is None:
        env = HubEnvironment(hub, limited=limited, strict=strict)
        plugins = getattr(hub, "plugins", None)
        if plugins is not None:
            # Integrations add their own globals/filters; the hook is synchronous by nature.
            plugins.hook.extend_template_environment(hub=hub, environment=env)
        cache[key] = env
    return env


_NO_HUB: dict[tuple[bool, bool], HubEnvironment] = {}
ENVIRONMENTS: HubKey[dict[tuple[bool, bool], HubEnvironment]] = HubKey("template_environments")
