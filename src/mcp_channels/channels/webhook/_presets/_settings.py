"""Routes (path → preset, template, filters) and payload retention, read once at start.

From ``WEBHOOK_ROUTES`` (a JSON array of routes, or the short form ``/gh/**=github,/alerts=alertmanager``)
and from ``webhook.json`` in the webhook's state directory; environment routes are tried first,
then the file's, and the first whose path matches wins. A path without a route is auto-detected.

Validation is strict on purpose: a misspelt key or preset would otherwise quietly deliver raw
bodies (or nothing) and the user would not know why. Every problem names the file or variable
and the field, e.g. ``webhook.json: routes[1].preset: "gitub" is not a preset``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from mcp_channels.errors import SettingsError, TemplateError
from mcp_channels.protocol import RESERVED_META_KEY, is_valid_meta_key

from ._filters import Condition, Filters
from ._template import Expression, Selector, Template

SETTINGS_FILE: Final = "webhook.json"
PRESETS: Final = ("auto", "github", "gitlab", "sentry", "alertmanager", "raw")
DEFAULT_INBOX_FILES: Final = 500
DEFAULT_INBOX_BYTES: Final = 100 * 1024 * 1024
MAX_INBOX_FILES: Final = 100_000
MAX_INBOX_BYTES: Final = 1 << 40
#: Meta keys the channel itself sets on a shaped event.
RESERVED_META: Final = frozenset({RESERVED_META_KEY, "preset", "payload_path"})
_ROUTE_KEYS: Final = ("path", "preset", "template", "meta", "only", "drop")
_PATH_PATTERN: Final = re.compile(r"^/[^\s?#]*$")


def path_pattern(path: str) -> re.Pattern[str]:
    """``/ci/*`` → one segment after ``/ci/``; ``/gh/**`` → ``/gh`` and everything below it."""
    if path.endswith("/**"):
        return re.compile(_glob(path[:-3]) + "(?:/.*)?")
    return re.compile(_glob(path))


def _glob(path: str) -> str:
    return "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in re.split(r"(\*\*|\*)", path)
    )


class Route(NamedTuple):
    """What to do with deliveries to paths matching ``path`` (``*`` one segment, ``**`` any)."""

    path: str
    pattern: re.Pattern[str]
    preset: str = "auto"
    template: Template | None = None
    meta: tuple[tuple[str, Expression], ...] = ()
    filters: Filters = Filters()

    def matches(self, path: str) -> bool:
        return self.pattern.fullmatch(path) is not None


#: Paths no route matches: detect the sender, filter nothing.
DEFAULT_ROUTE: Final = Route("/**", path_pattern("/**"))


@dataclass(frozen=True)
class PresetSettings:
    """The routes and the inbox's retention, read once at start (see the module)."""

    routes: tuple[Route, ...] = ()
    inbox_max_files: int = DEFAULT_INBOX_FILES
    inbox_max_bytes: int = DEFAULT_INBOX_BYTES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], state_dir: Path) -> PresetSettings:
        """From ``WEBHOOK_ROUTES``, ``webhook.json`` in ``state_dir`` and ``WEBHOOK_INBOX_*``."""
        path = state_dir / SETTINGS_FILE
        document = _read_file(path)
        routes = _env_routes(environ.get("WEBHOOK_ROUTES", "")) + _routes(document.get("routes", []), f"{path}: routes")
        inbox = document.get("inbox", {})
        if not isinstance(inbox, dict):
            raise SettingsError(f"{path}: inbox: must be an object")
        _no_unknown_keys(inbox, ("max_files", "max_bytes"), f"{path}: inbox")
        files = _count(environ, "WEBHOOK_INBOX_MAX_FILES", inbox, "max_files", MAX_INBOX_FILES, f"{path}: inbox")
        size = _count(environ, "WEBHOOK_INBOX_MAX_BYTES", inbox, "max_bytes", MAX_INBOX_BYTES, f"{path}: inbox")
        return cls(
            routes, DEFAULT_INBOX_FILES if files is None else files, DEFAULT_INBOX_BYTES if size is None else size
        )

    def route_for(self, path: str) -> Route:
        for route in self.routes:
            if route.matches(path):
                return route
        return DEFAULT_ROUTE


def _read_file(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read: {exc}") from None
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as exc:
        raise SettingsError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(f'{path}: must be a JSON object with "routes" and/or "inbox"')
    _no_unknown_keys(document, ("routes", "inbox"), str(path))
    return document


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    repeated = next((key for key in keys if keys.count(key) > 1), None)
    if repeated is not None:
        raise ValueError(f"key {repeated!r} appears twice in one object")
    return dict(pairs)


def _no_unknown_keys(document: Mapping[str, object], known: tuple[str, ...], where: str) -> None:
    for key in document:
        if key not in known:
            raise SettingsError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")


def _count(
    environ: Mapping[str, str], variable: str, inbox: Mapping[str, object], key: str, high: int, where: str
) -> int | None:
    """A retention limit from the environment, else from the file, else ``None`` (the default)."""
    raw = environ.get(variable)
    if raw:
        if not raw.strip().isdigit() or not 0 <= int(raw) <= high:
            raise SettingsError(f"{variable}={raw!r}: must be a whole number from 0 to {high}")
        return int(raw)
    value = inbox.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise SettingsError(f"{where}.{key}: must be a whole number from 0 to {high}")
    return value


def _env_routes(text: str) -> tuple[Route, ...]:
    if not text.strip():
        return ()
    if text.lstrip().startswith("["):
        try:
            document = json.loads(text, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            raise SettingsError(f"WEBHOOK_ROUTES: not valid JSON: {exc}") from None
        return _routes(document, "WEBHOOK_ROUTES")
    routes = []
    for index, item in enumerate(part.strip() for part in text.split(",")):
        path, equals, preset = item.partition("=")
        if not equals:
            raise SettingsError(f"WEBHOOK_ROUTES: item {index + 1} {item!r} is not PATH=PRESET")
        routes.append(_route({"path": path.strip(), "preset": preset.strip()}, f"WEBHOOK_ROUTES: item {index + 1}"))
    return tuple(routes)


def _routes(document: object, where: str) -> tuple[Route, ...]:
    if not isinstance(document, list):
        raise SettingsError(f"{where}: must be an array of routes")
    return tuple(_route(item, f"{where}[{index}]") for index, item in enumerate(document))


def _route(item: object, where: str) -> Route:
    if not isinstance(item, dict):
        raise SettingsError(f'{where}: a route must be an object with a "path"')
    _no_unknown_keys(item, _ROUTE_KEYS, where)
    path = item.get("path")
    if not isinstance(path, str) or not _PATH_PATTERN.match(path):
        raise SettingsError(f"{where}.path: must be a path starting with / (globs * and ** allowed), not {path!r}")
    preset = item.get("preset", "auto")
    if preset not in PRESETS:
        raise SettingsError(f"{where}.preset: {preset!r} is not a preset (one of {', '.join(PRESETS)})")
    template = _template(item.get("template"), f"{where}.template")
    if template is not None and preset != "auto":
        raise SettingsError(f"{where}: a route has a template or a preset, not both")
    return Route(
        path=path,
        pattern=path_pattern(path),
        preset="template" if template is not None else str(preset),
        template=template,
        meta=_meta(item.get("meta", {}), f"{where}.meta"),
        filters=Filters(_conditions(item.get("only"), f"{where}.only"), _conditions(item.get("drop"), f"{where}.drop")),
    )


def _template(value: object, where: str) -> Template | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where}: must be a non-empty text")
    try:
        return Template.parse(value)
    except TemplateError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def _meta(value: object, where: str) -> tuple[tuple[str, Expression], ...]:
    if not isinstance(value, dict):
        raise SettingsError(f"{where}: must be an object of meta key → selector")
    entries = []
    for key, expression in value.items():
        if not is_valid_meta_key(key) or key in RESERVED_META:
            raise SettingsError(
                f"{where}: {key!r} cannot be a meta key (letters, digits, _; not {', '.join(sorted(RESERVED_META))})"
            )
        if not isinstance(expression, str):
            raise SettingsError(f'{where}.{key}: must be a selector text such as "build.status"')
        try:
            entries.append((key, Expression.parse(expression)))
        except TemplateError as exc:
            raise SettingsError(f"{where}.{key}: {exc}") from None
    return tuple(entries)


def _conditions(value: object, where: str) -> tuple[Condition, ...]:
    if value is None:
        return ()
    conditions = value if isinstance(value, list) else [value]
    return tuple(
        _condition(item, f"{where}[{index}]" if isinstance(value, list) else where)
        for index, item in enumerate(conditions)
    )


def _condition(value: object, where: str) -> Condition:
    if not isinstance(value, dict) or not value:
        raise SettingsError(f'{where}: must be a non-empty object of field → pattern(s), e.g. {{"branch": "main"}}')
    fields = []
    for name, patterns in value.items():
        selector = None
        if name.startswith("$"):
            try:
                selector = Selector.parse(name)
            except TemplateError as exc:
                raise SettingsError(f"{where}.{name}: {exc}") from None
        elif not is_valid_meta_key(name):
            raise SettingsError(f"{where}: {name!r} is neither a meta key nor a $.selector")
        listed = patterns if isinstance(patterns, list) else [patterns]
        if not listed or not all(isinstance(pattern, str) for pattern in listed):
            raise SettingsError(f"{where}.{name}: must be a pattern text or a non-empty array of them")
        fields.append((name, selector, tuple(listed)))
    return Condition(tuple(fields))
