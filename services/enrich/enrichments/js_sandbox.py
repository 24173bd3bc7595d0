"""A sandbox for user JavaScript: QuickJS with a time limit, a memory limit and no host access.

The engine is the bare QuickJS core (no ``std``/``os`` modules, no module loader, no network), so a
script can compute but cannot open files, sockets or processes.  After a limit is hit the context is
rebuilt, so one runaway event cannot poison the next.
"""

from __future__ import annotations

import json
from typing import Any

import quickjs

from ...common.enriched_event import FIELDS, FLOAT_FIELDS, INT_FIELDS

DEFAULT_TIME_LIMIT_S = 1.0
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
STACK_LIMIT = 1024 * 1024


class ScriptError(Exception):
    """The script did not compile, threw, hit a limit, or returned something unusable."""


def _accessors() -> str:
    # Snowplow exposes the event as a Java bean: getApp_id() / setApp_id(v) for every atomic field.
    lines = []
    for name in FIELDS:
        cap = name[0].upper() + name[1:]
        lines.append(f"E.prototype.get{cap}=function(){{return __get({json.dumps(name)})}};")
        lines.append(f"E.prototype.set{cap}=function(v){{__set({json.dumps(name)},v)}};")
    return "\n".join(lines)


PRELUDE = """
var __f = {}, __c = {}, __num = %s;
function __get(k){ var v = __f[k]; if (v === undefined || v === null) return null;
  return __num[k] ? Number(v) : v; }
function __set(k, v){ var s = (v === undefined || v === null) ? null : String(v); __f[k] = s; __c[k] = s; }
function E(){}
%s
function __run(fields, params){
  __f = JSON.parse(fields); __c = {};
  var out = process(new E(), JSON.parse(params));
  return JSON.stringify({out: out === undefined ? null : out, changed: __c});
}
""" % (json.dumps({k: True for k in INT_FIELDS | FLOAT_FIELDS}), _accessors())


class Sandbox:
    """One compiled script; :meth:`run` calls its ``process(event, params)``."""

    def __init__(self, source: str, *, time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT):
        self.source, self.time_limit_s, self.memory_limit = source, time_limit_s, memory_limit
        self._run = None
        self._build()

    def _build(self) -> None:
        ctx = quickjs.Context()
        ctx.set_memory_limit(self.memory_limit)
        ctx.set_max_stack_size(STACK_LIMIT)
        ctx.set_time_limit(self.time_limit_s)
        try:
            ctx.eval(PRELUDE)
            ctx.eval(self.source)
            if ctx.eval("typeof process") != "function":
                raise ScriptError("the script must define a function process(event, params)")
        except quickjs.JSException as exc:
            raise ScriptError(f"the script does not load: {_first_line(exc)}") from None
        self._ctx, self._run = ctx, ctx.get("__run")

    def run(self, fields: dict[str, str | None], params: Any) -> tuple[Any, dict[str, str | None]]:
        """(what process returned, atomic fields it set)."""
        try:
            text = self._run(json.dumps(fields, ensure_ascii=False), json.dumps(params, ensure_ascii=False))
        except quickjs.JSException as exc:
            message = _first_line(exc)
            if "interrupted" in message or "out of memory" in message or "stack overflow" in message:
                self._build()  # the context may hold the runaway's garbage: start clean
                message = _limit(message, self)
            raise ScriptError(message) from None
        except (quickjs.StackOverflow, MemoryError) as exc:
            self._build()
            raise ScriptError(f"the script exceeded its limits: {exc}") from None
        result = json.loads(text)
        return result["out"], result["changed"]


def _limit(message: str, box: Sandbox) -> str:
    if "interrupted" in message:
        return f"the script ran longer than its time limit of {box.time_limit_s:g} s and was stopped"
    if "out of memory" in message:
        return f"the script exceeded its memory limit of {box.memory_limit // (1024 * 1024)} MiB and was stopped"
    return f"the script was stopped: {message}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
