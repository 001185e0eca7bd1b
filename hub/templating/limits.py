"""Limits on every render: a CPU budget, an output cap, and no single operation that blows up.

A template comes from users, from YAML, and from devices (an MQTT discovery config's
value_template), and renders on the event loop. Three things keep one from holding the loop
or filling memory:

- A budget per render (50 ms of CPU by default). Every loop iteration and every call in the
  template ticks it (`{% for %}` iterables are wrapped at compile time; calls go through the
  sandbox's `call`); a tick reads the wall clock (50 ns), and once the budget's worth of wall
  time has passed, the thread's CPU time decides (from the first tick). A render is stopped
  when its CPU time reaches the budget, or when 1.5 budgets of wall time have passed and it
  used half its budget (a starved machine must not stretch the hold on the loop). Time the
  garbage collector spends while a render is on the stack is not the render's (a full
  collection of a large heap takes tens of milliseconds and would stop an innocent one-line
  template), and a render that only waited for a CPU is never stopped.
- A template that used up its budget is suspended for 30 s: its renders in that time fail at
  once with the same error, so a burst of messages for one bad template (a device publishing
  in a loop) holds the loop for one budget, not one per message.
- An output cap (256 KiB of text by default), counted while the output streams.
- Size checks before the operations that could allocate without end in one step, where
  no tick can stop them: `*` and `+` on strings and lists, `**` and `*` on big integers, `%`
  and `str.format` with huge widths, the `center`/`indent`/`replace`/`join`/`batch`/`slice`/
  `format`/`pack` filters and the str methods that pad or replace, and Jinja's `lipsum`.

What no check inside the process can bound is one C-level call that runs long on small input
(a regular expression that backtracks): the regex functions belong to the template functions;
see docs/security.md.
"""

from __future__ import annotations

import gc
import itertools
import math
import re
import string
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from hub.exceptions import TemplateError

DEFAULT_CPU_BUDGET = 0.050  # seconds of CPU per render
DEFAULT_MAX_OUTPUT = 256 * 1024  # characters of rendered text (also the largest string or list built)
MAX_SOURCE = 64 * 1024  # characters of template source
MAX_INT_BITS = 100_000  # ~30,000 digits: far beyond any reading, computed in microseconds
WALL_FACTOR = 1.5  # with BUSY_SHARE of the budget used, a render also stops after this many budgets of wall time
BUSY_SHARE = 0.5
SUSPENSION = 30.0  # seconds a template that used up its budget is refused at once (not rendered)
MAX_LIPSUM = 100  # paragraphs


class TemplateLimitError(TemplateError):
    """A render went over a limit (time, output or size of one value); the message says which."""


class BudgetExceeded(TemplateLimitError):
    """A render used its CPU time budget."""


class _GcClock:
    """Seconds the garbage collector has run in this process (a gc callback keeps the count)."""

    __slots__ = ("total", "started")

    def __init__(self) -> None:
        self.total = 0.0
        self.started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            self.total += time.perf_counter() - self.started
            self.started = None

    def now(self) -> float:
        """Return the collector's time so far, a collection in progress included."""
        started = self.started
        return self.total + (time.perf_counter() - started if started is not None else 0.0)


GC_CLOCK = _GcClock()
gc.callbacks.append(GC_CLOCK)


@dataclass(frozen=True, slots=True)
class TemplateLimits:
    """The limits of one hub's renders.

    Attributes:
        cpu_budget: seconds of CPU one render may use.
        max_output: characters a render may produce; also the largest string or list one
            operation may build.
    """

    cpu_budget: float = DEFAULT_CPU_BUDGET
    max_output: int = DEFAULT_MAX_OUTPUT


class RenderBudget:
    """The clock of one render: `tick()` at every loop iteration and call.

    The watchdog (hub.templating.watchdog) reads it too: `thread`, `watch_cpu0`, `preempting`
    and `preempted` are its bookkeeping.
    """

    __slots__ = ("limits", "started", "gc_started", "_cpu_started", "_next_check", "thread", "watch_cpu0",
                 "preempting", "preempted")

    def __init__(self, limits: TemplateLimits) -> None:
        self.limits = limits
        self.started = time.perf_counter()
        self.gc_started = GC_CLOCK.total  # a collection running right now is not subtracted: rare, and errs strict
        self._cpu_started: float | None = None
        self._next_check = self.started + limits.cpu_budget
        self.thread = 0
        self.watch_cpu0: float | None = None
        self.preempting = False
        self.preempted = False

    def paused(self) -> float:
        """Return the seconds the garbage collector took since the render started."""
        return GC_CLOCK.now() - self.gc_started

    def describe(self, cpu: float | None = None) -> str:
        """Say how long the render ran, for the error that stopped it."""
        wall = time.perf_counter() - self.started
        if cpu is None:
            start = self._cpu_started if self._cpu_started is not None else self.watch_cpu0
            cpu = time.thread_time() - start - self.paused() if start is not None else None
        used = f"{cpu * 1000:.0f} ms of CPU ({wall * 1000:.0f} ms wall)" if cpu is not None else f"{wall * 1000:.0f} ms"
        return (f"stopped after {used}: over the budget of {self.limits.cpu_budget * 1000:.0f} ms "
                "per render (a loop, a recursion or a filter on too large a value?)")

    def tick(self) -> None:
        """Raise TemplateLimitError once the render has used its budget."""
        now = time.perf_counter()
        if self._cpu_started is None:
            # The thread's CPU clock costs a system call: read it once a render loops or calls.
            # What ran before this first tick is straight-line template code (the watchdog
            # stops a slow filter there); counting the wall time since the start instead would
            # charge the render for any time the process waited for a CPU.
            self._cpu_started = time.thread_time()
        if now >= self._next_check:
            self._check(now)

    def _check(self, now: float) -> None:
        budget = self.limits.cpu_budget
        assert self._cpu_started is not None  # noqa: S101 - tick() sets it first
        used = time.thread_time() - self._cpu_started - self.paused()
        if over_budget(used, now - self.started - self.paused(), budget):
            raise BudgetExceeded(self.describe(used))
        # Not there yet (the thread was waiting): the CPU budget cannot be reached sooner than
        # this, nor the wall limit sooner than its time.
        wall_limit = self.started + budget * WALL_FACTOR
        self._next_check = now + max(min(budget - used, wall_limit - now if wall_limit > now else budget), 0.001)


def over_budget(cpu: float, wall: float, budget: float) -> bool:
    """Whether a render has used its budget: its CPU time, or 1.5 times it in wall time with half of it busy.

    On a starved machine a loop's CPU budget takes longer than the budget to use up, and the
    loop is held all that time; a render that waited for a CPU without working (an innocent
    one, descheduled) is not stopped.
    """
    return cpu >= budget or (wall >= budget * WALL_FACTOR and cpu >= budget * BUSY_SHARE)


current_budget: ContextVar[RenderBudget | None] = ContextVar("current_budget", default=None)


def tick() -> None:
    """Tick the current render's budget (no-op outside a render)."""
    budget = current_budget.get()
    if budget is not None:
        budget.tick()


def ticking(iterable: Any) -> Any:
    """Return the iterable of a `{% for %}`, ticking the budget for every item (a filter)."""
    budget = current_budget.get()
    if budget is None:
        return iterable
    return _Ticking(iterable, budget.tick)


class _Ticking:
    """An iterable that ticks per item and keeps len() (for loop.length) when it has one."""

    __slots__ = ("_iterable", "_tick")

    def __init__(self, iterable: Iterable[Any], tick_: Callable[[], None]) -> None:
        self._iterable = iterable
        self._tick = tick_

    def __iter__(self) -> Iterator[Any]:
        tick_ = self._tick
        for item in self._iterable:
            tick_()
            yield item

    def __len__(self) -> int:
        return len(self._iterable)  # type: ignore[arg-type]  # TypeError when it has none, as for any iterator


# ---- sizes checked before an operation builds its result ----


def max_output() -> int:
    """Return the current render's output cap (the default outside a render)."""
    budget = current_budget.get()
    return budget.limits.max_output if budget is not None else DEFAULT_MAX_OUTPUT


def too_large(what: str, size: float) -> None:
    """Raise when an operation would build something larger than the output cap."""
    cap = max_output()
    if size > cap:
        message = f"{what} would make {int(size):,} items; at most {cap:,} are allowed per value"
        raise TemplateLimitError(message)


def _sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `*`, `+`, `**` and `%` whose result would be too large to build."""
    if operator == "*":
        if _sized(left) and isinstance(right, int):
            too_large(f"{type(left).__name__} * {right}", len(left) * right)
        elif _sized(right) and isinstance(left, int):
            too_large(f"{left} * {type(right).__name__}", len(right) * left)
        elif _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            _too_many_bits("*")
    elif operator == "+" and _sized(left) and _sized(right):
        too_large("+", len(left) + len(right))
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        if right * math.log2(abs(left)) > MAX_INT_BITS:
            _too_many_bits("**")
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _too_many_bits(operator: str) -> None:
    message = f"{operator} would make an integer of more than {MAX_INT_BITS:,} bits"
    raise TemplateLimitError(message)


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_percent_format(text: str, args: Any) -> None:
    """Refuse a `%` format whose width or precision (given or taken from args) is over the cap."""
    values = list(args) if isinstance(args, tuple) else [args]
    for width, precision in _PERCENT.findall(text):
        for spec in (width, precision):
            if spec.isdigit():
                too_large("a % format width", int(spec))
            elif spec == "*":
                for value in values:
                    if _is_int(value):
                        too_large("a % format width", value)


def check_str_format(text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a str.format whose field widths (nested fields too) are over the cap."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format itself reports the malformed string
    for _literal, _name, spec, _conversion in fields:
        if not spec:
            continue
        for nested in re.findall(r"\{([^{}]*)\}", spec):
            key = nested.split("!")[0].split(":")[0]
            value = args[int(key)] if key.isdigit() and int(key) < len(args) else kwargs.get(key)
            if isinstance(value, int):
                too_large("a format width", value)
        for number in re.findall(r"\d+", re.sub(r"\{[^{}]*\}", "", spec)):
            too_large("a format width", int(number))


_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse str methods that would build a string over the cap (padding, tabs, replace, join).

    Returns:
        The arguments to call with (an iterable given to join is made a list, to be measured).
    """
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str | bytes):
        return args
    name = getattr(obj, "__name__", "")
    if name in _STR_WIDTH_METHODS and args and _is_int(args[0]):
        too_large(f"str.{name}", args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if _is_int(size):
            too_large("str.expandtabs", len(owner) * max(size, 1))
    elif name == "replace" and len(args) >= 2 and _sized(args[0]) and _sized(args[1]):
        too_large("str.replace", _replaced_size(owner, args[0], args[1]))
    elif name == "join" and args:
        items = bounded_list(args[0], "join")
        _check_join(owner, items)
        return (items, *args[1:])
    return args


def bounded_list(items: Any, what: str) -> Any:
    """Return items as a list (at most the cap's count), to measure before joining; non-iterables as given."""
    if isinstance(items, list | tuple | str | bytes):
        return items
    try:
        iterator = iter(items)
    except TypeError:
        return items
    cap = max_output()
    listed = list(itertools.islice(iterator, cap + 1))
    too_large(what, len(listed))
    return listed


def _replaced_size(text: Any, old: Any, new: Any) -> int:
    try:
        occurrences = text.count(old) if old else len(text) + 1
    except TypeError:
        return 0
    return len(text) + occurrences * max(len(new) - len(old), 0)


def _check_join(separator: Any, items: Any) -> None:
    if _sized(items):
        too_large("join", len(separator) * max(len(items) - 1, 0) + sum(len(i) for i in items if _sized(i)))
    elif hasattr(items, "__len__"):
        too_large("join", len(separator) * max(len(items) - 1, 0))


# ---- guarded versions of Jinja's and the hub's filters that build large values ----


def guard_filters(filters: dict[str, Any], globals_: dict[str, Any]) -> None:
    """Wrap the filters and globals that can build a large value from a small template."""

    def guarded(name: str, check: Callable[..., None]) -> None:
        original = filters.get(name)
        if original is None:
            return
        # A filter marked pass_context / pass_eval_context / pass_environment gets that first.
        skip = 1 if hasattr(original, "jinja_pass_arg") else 0

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(*args[skip:], **kwargs)
            return original(*args, **kwargs)

        if skip:
            wrapper.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
        filters[name] = wrapper

    def center(*args: Any, **kwargs: Any) -> None:
        values = args
        width = values[1] if len(values) > 1 else kwargs.get("width", 80)
        if _is_int(width):
            too_large("center", width)

    def indent(*args: Any, **kwargs: Any) -> None:
        values = args
        text = values[0] if values else ""
        width = values[1] if len(values) > 1 else kwargs.get("width", 4)
        lines = str(text).count("\n") + 1
        if _is_int(width):
            too_large("indent", len(str(text)) + width * lines)
        elif isinstance(width, str):
            too_large("indent", len(str(text)) + len(width) * lines)

    def replace(*args: Any, **kwargs: Any) -> None:
        values = args
        if len(values) >= 3:
            too_large("replace", _replaced_size(str(values[0]), str(values[1]), str(values[2])))


    def format_(*args: Any, **kwargs: Any) -> None:
        values = args
        if values and isinstance(values[0], str):
            check_percent_format(values[0], tuple(values[1:]) or tuple(kwargs.values()))

    def batch(*args: Any, **kwargs: Any) -> None:
        values = args
        count = values[1] if len(values) > 1 else kwargs.get("linecount", 1)
        if _is_int(count):
            too_large("batch", count)

    def slice_(*args: Any, **kwargs: Any) -> None:
        values = args
        count = values[1] if len(values) > 1 else kwargs.get("slices", 1)
        if _is_int(count):
            too_large("slice", count)

    def pack(*args: Any, **kwargs: Any) -> None:
        values = args
        fmt = values[1] if len(values) > 1 else kwargs.get("format_string")
        if isinstance(fmt, str):
            try:
                too_large("pack", struct.calcsize(fmt))
            except struct.error:
                pass  # pack reports it

    for name, check in (("center", center), ("indent", indent), ("replace", replace),
                        ("format", format_), ("batch", batch), ("slice", slice_), ("pack", pack)):
        guarded(name, check)
    original_join = filters.get("join")
    if original_join is not None:

        def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
            items = bounded_list(value, "join")
            if isinstance(d, str):
                _check_join(d, items)
            return original_join(eval_ctx, items, d, attribute)

        join.jinja_pass_arg = original_join.jinja_pass_arg  # type: ignore[attr-defined]  # pass_eval_context
        filters["join"] = join
    if "pack" in globals_:
        original_pack = globals_["pack"]

        def pack_global(*args: Any, **kwargs: Any) -> Any:
            pack(*args, **kwargs)
            return original_pack(*args, **kwargs)

        globals_["pack"] = pack_global
    if "lipsum" in globals_:
        original_lipsum = globals_["lipsum"]

        def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:  # noqa: A002 - Jinja's names
            if not all(_is_int(v) for v in (n, min, max)) or n > MAX_LIPSUM or max > 10_000:
                message = f"lipsum: at most {MAX_LIPSUM} paragraphs of at most 10,000 words"
                raise TemplateLimitError(message)
            return original_lipsum(n, html, min, max)

        globals_["lipsum"] = lipsum
