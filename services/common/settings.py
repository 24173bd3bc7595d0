"""Settings: typed keys with help text, resolved from defaults, TOML, environment and flags.

The rule (DESIGN §6): defaults in code, then ``$MINI_HOME/mini.toml`` (or ``--config FILE``), then
``MINI_*`` environment variables, then command-line flags; later wins.  Key ``section.key`` (or
``section.sub.key``) maps to ``MINI_SECTION_KEY`` and to the flag ``--section-key``; lists are
comma-separated in the environment and on the command line.  ``home`` is the data directory
(``MINI_HOME``, flag ``--data-dir``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the key and the source."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One documented key.  ``type`` is inferred from ``default`` when not given."""

    key: str
    default: Any
    help: str
    type: type | None = None
    flag: str | None = None  # an extra short flag such as "--port"
    choices: tuple | None = None

    @property
    def kind(self) -> type:
        if self.type is not None:
            return self.type
        if self.default is None:
            return str
        return type(self.default)

    @property
    def env(self) -> str:
        return "MINI_" + self.key.replace(".", "_").upper()

    @property
    def long_flag(self) -> str:
        return "--" + self.key.replace(".", "-").replace("_", "-")

    def parse(self, raw: Any, source: str) -> Any:
        """Convert a raw value (string from env/flags, or a TOML value) to the setting's type."""
        kind = self.kind
        try:
            if raw is None:
                value = None
            elif kind is bool:
                value = raw if isinstance(raw, bool) else _parse_bool(str(raw))
            elif kind is list:
                if isinstance(raw, (list, tuple)):
                    value = [str(v) for v in raw]
                else:
                    value = [part.strip() for part in str(raw).split(",") if part.strip()]
            elif kind is int:
                if isinstance(raw, bool):
                    raise ValueError("expected an integer")
                value = int(raw)
            elif kind is float:
                value = float(raw)
            elif kind is dict:
                if not isinstance(raw, dict):
                    raise ValueError("expected a table")
                value = dict(raw)
            else:
                value = str(raw)
        except ValueError as exc:
            raise SettingsError(f"{self.key} (from {source}): {exc}: {raw!r}") from None
        if self.choices is not None and value not in self.choices:
            raise SettingsError(
                f"{self.key} (from {source}): {value!r} is not one of {', '.join(map(str, self.choices))}"
            )
        return value


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


HOME = Setting("home", "~/.mini", "Data directory holding every service's state, logs and run files.", flag="--data-dir")

# Keys every service reads: where the bus is, how durable writes are, how loud logs are.
COMMON: tuple[Setting, ...] = (
    HOME,
    Setting("nsqd.tcp_address", "", "host:port of the nsqd TCP endpoint (empty: the embedded broker, found by the supervisor)."),
    Setting("nsqd.http_address", "", "host:port of the nsqd HTTP endpoint (empty: the embedded broker)."),
    Setting(
        "nsqlookupd.http_addresses",
        [],
        "nsqlookupd HTTP addresses (comma-separated); when set, readers discover nsqd through them.",
        type=list,
    ),
    Setting(
        "durability.fsync",
        True,
        "true: 'acknowledged' means fdatasync'd (group commit); false: written to the OS (survives kill -9, not power loss).",
    ),
    Setting("bus.max_attempts", 10, "Delivery attempts before a failing message becomes a generic_error bad row."),
    Setting("common.event_loop", "uvloop", "Event loop of every service: uvloop (used when installed) or asyncio.",
            choices=("uvloop", "asyncio")),
    Setting("log.level", "INFO", "Log level of every service (DEBUG, INFO, WARNING, ERROR).",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
)


class Settings(Mapping[str, Any]):
    """Resolved settings: ``settings["collector.port"]``, ``settings.home`` (a Path)."""

    def __init__(self, spec: Iterable[Setting], values: Mapping[str, Any], sources: Mapping[str, str]):
        self.spec = {s.key: s for s in spec}
        self._values = dict(values)
        self._sources = dict(sources)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def home(self) -> Path:
        return Path(os.path.expanduser(self._values.get("home", "~/.mini"))).resolve()

    def source(self, key: str) -> str:
        """Where a value came from: default, a file path, an environment variable or a flag."""
        return self._sources[key]

    def replace(self, **overrides: Any) -> "Settings":
        """A copy with some keys changed (dots written as ``__``: ``collector__port=0``)."""
        values = dict(self._values)
        sources = dict(self._sources)
        for name, value in overrides.items():
            key = name.replace("__", ".")
            if key not in self.spec:
                raise SettingsError(f"unknown setting {key}")
            values[key] = value
            sources[key] = "override"
        return Settings(self.spec.values(), values, sources)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


def merge_specs(*specs: Iterable[Setting]) -> tuple[Setting, ...]:
    """Join setting lists, keeping the first definition of a key."""
    seen: dict[str, Setting] = {}
    for spec in specs:
        for setting in spec:
            seen.setdefault(setting.key, setting)
    return tuple(seen.values())


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat[key] = value  # a dict-typed setting may sit here
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def add_arguments(parser: argparse.ArgumentParser, spec: Iterable[Setting]) -> None:
    """Add ``--config`` and one flag per setting (default None, so unset flags don't override)."""
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (default: $MINI_HOME/mini.toml).")
    group = parser.add_argument_group("settings (flag / environment variable)")
    for setting in spec:
        if setting.kind is dict:
            continue
        names = [setting.long_flag]
        if setting.flag and setting.flag != setting.long_flag:
            names.insert(0, setting.flag)
        default = ",".join(setting.default) if isinstance(setting.default, list) else setting.default
        group.add_argument(
            *names,
            dest="setting:" + setting.key,
            default=None,
            metavar=setting.kind.__name__.upper(),
            help=f"{setting.help} [{setting.env}; default: {default!r}]".replace("%", "%%"),
        )


def load(
    spec: Iterable[Setting],
    args: argparse.Namespace | Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | os.PathLike | None = None,
) -> Settings:
    """Resolve every key of ``spec`` by the rule in this module's docstring."""
    spec = merge_specs((HOME,), spec)
    env = os.environ if env is None else env
    flags: dict[str, Any] = {}
    if isinstance(args, argparse.Namespace):
        for name, value in vars(args).items():
            if name.startswith("setting:") and value is not None:
                flags[name[len("setting:"):]] = value
        config_file = config_file or getattr(args, "config", None)
    elif args:
        flags = {k: v for k, v in args.items() if v is not None}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in spec:
        values[setting.key] = setting.default
        sources[setting.key] = "default"

    # The data directory decides where mini.toml lives, so resolve it first.
    home_raw = flags.get("home") or env.get(HOME.env) or HOME.default
    home = Path(os.path.expanduser(str(home_raw)))
    path = Path(config_file) if config_file else home / "mini.toml"
    if path.exists():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
        flat = _flatten(table)
        for setting in spec:
            if setting.key in flat:
                values[setting.key] = setting.parse(flat[setting.key], str(path))
                sources[setting.key] = str(path)
    elif config_file:
        raise SettingsError(f"--config {config_file}: no such file")

    for setting in spec:
        if setting.env in env and setting.kind is not dict:
            values[setting.key] = setting.parse(env[setting.env], setting.env)
            sources[setting.key] = setting.env
        if setting.key in flags:
            values[setting.key] = setting.parse(flags[setting.key], setting.long_flag)
            sources[setting.key] = setting.long_flag
    return Settings(spec, values, sources)


def parse_cli(
    prog: str, description: str, spec: Sequence[Setting], argv: Sequence[str] | None = None
) -> Settings:
    """Build an argparse parser listing every setting, parse ``argv`` and resolve the settings."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser, merge_specs((HOME,), spec))
    args = parser.parse_args(argv)
    try:
        return load(spec, args)
    except SettingsError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
