"""The wire contract between a channel server and Claude Code.

Everything both sides must agree on lives here as constants and pure functions, so the server SDK
and the host import the same definitions and can never drift apart: method and capability names,
the meta-key rule, the permission-reply grammar and request-id alphabet, and the exact way Claude
Code renders an event as a ``<channel>`` tag (attribute escaping, closing-tag neutralising) and
formats a permission request's ``description`` and ``input_preview``.

No I/O happens in this module. The facts it encodes come from ``docs/claude-code-host.md`` and
are checked against the golden cases of ``tests/golden/cc_vectors.json``.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from .errors import InvalidChannelEvent

# --------------------------------------------------------------------------- names

#: Protocol revision the server answers with (Claude Code asks for it; older ones are accepted).
LATEST_PROTOCOL_VERSION: Final = "2025-11-25"
#: Revisions a server negotiates in ``initialize``, newest first.
SUPPORTED_PROTOCOL_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
#: The "modern era" revision Claude Code probes with ``server/discover``; channels are refused in it.
MODERN_PROTOCOL_VERSION: Final = "2026-07-28"

METHOD_INITIALIZE: Final = "initialize"
METHOD_INITIALIZED: Final = "notifications/initialized"
METHOD_DISCOVER: Final = "server/discover"
METHOD_PING: Final = "ping"
METHOD_CANCELLED: Final = "notifications/cancelled"
METHOD_TOOLS_LIST: Final = "tools/list"
METHOD_TOOLS_CALL: Final = "tools/call"
#: Server -> host: an inbound event.
METHOD_CHANNEL: Final = "notifications/claude/channel"
#: Host -> server: a tool-use approval is waiting.
METHOD_PERMISSION_REQUEST: Final = "notifications/claude/channel/permission_request"
#: Server -> host: the user's verdict on a permission request.
METHOD_PERMISSION_VERDICT: Final = "notifications/claude/channel/permission"

#: The id Claude Code 2.1.332 gives its ``server/discover`` probe.
DISCOVER_PROBE_ID: Final = "server-discover-probe-1"

CAPABILITY_CHANNEL: Final = "claude/channel"
CAPABILITY_PERMISSION: Final = "claude/channel/permission"

#: Claude Code drops the connection on a longer line; it is the only size limit on an event.
MAX_LINE_BYTES: Final = 16 * 1024 * 1024

#: Claude Code cuts server instructions at this many characters.
INSTRUCTIONS_LIMIT: Final = 4096

# --------------------------------------------------------------------------- meta

META_KEY_RE: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: Claude Code renders ``source`` itself; a meta key of that name makes a duplicate attribute.
RESERVED_META_KEY: Final = "source"


def is_valid_meta_key(key: str) -> bool:
    """Whether Claude Code keeps ``key`` as an attribute (it silently drops the others)."""
    return META_KEY_RE.fullmatch(key) is not None


def meta_value_to_str(value: Any) -> str:
    """Stringify a meta value the way a JavaScript server would (``String(v)``).

    Claude Code drops a whole event whose meta holds a non-string, so values are converted before
    sending. Containers and ``None`` have no sensible attribute form and are refused.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    raise TypeError(f"meta values must be strings or numbers, not {type(value).__name__}")


def validate_meta(meta: Mapping[str, Any]) -> dict[str, str]:
    """Return ``meta`` with string values, or raise ``ValueError``/``TypeError`` naming the bad key.

    Stricter than Claude Code on purpose: it drops a bad key with only a debug log, which would
    lose the attribute without anyone noticing. A channel author wants to hear about it.
    """
    out: dict[str, str] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or not is_valid_meta_key(key):
            raise ValueError(f"meta key {key!r} is not allowed: keys must match {META_KEY_RE.pattern}")
        if key == RESERVED_META_KEY:
            raise ValueError("meta key 'source' is reserved: Claude Code sets it to the server name")
        try:
            out[key] = meta_value_to_str(value)
        except TypeError as exc:
            raise TypeError(f"meta key {key!r}: {exc}") from None
    return out


# --------------------------------------------------------------------------- rendering

_ATTR_ESCAPES: Final = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&apos;"))


def escape_attribute(value: str) -> str:
    """Escape an attribute value exactly as Claude Code does (``&`` first; newlines stay raw)."""
    for raw, entity in _ATTR_ESCAPES:
        value = value.replace(raw, entity)
    return value


# Invisible characters Claude Code tolerates between ``<``, ``/`` and the word of a closing tag.
_GAP = r"[\s\u00ad\u180e\u200b-\u200f\u2028-\u202f\u205f-\u2064\ufeff]*"
# ``<`` and ``/`` and their full-width/small-form lookalikes.
_LT = "<\uff1c\ufe64"
_SLASH = "/\uff0f\u2215\u2044\u29f8"
_CLOSING_TAG_RE: Final = re.compile(
    rf"[{_LT}](?={_GAP}[{_SLASH}]{_GAP}channel(?![\w-]))",
    re.IGNORECASE,
)


def neutralise_closing_tags(content: str) -> str:
    """Turn every ``</channel`` lookalike into ``<\\/channel`` so content cannot close the tag.

    Only the ``<`` (or its lookalike) is replaced, by ``<\\``; everything after it is kept, which
    is what Claude Code does. ``</channelx>`` and ``</channel-x>`` are other tags and stay.
    """
    return _CLOSING_TAG_RE.sub("<\\\\", content)


def render_channel_tag(server: str, content: str, meta: Mapping[str, str] | None = None) -> str:
    """Render an event as Claude Code puts it in front of the model.

    ``meta`` keys failing the key rule are dropped, as Claude Code does; a ``source`` key is kept
    and produces a duplicate attribute, also as Claude Code does (servers must never send one).
    """
    attrs = [f' source="{escape_attribute(server)}"']
    for key, value in (meta or {}).items():
        if is_valid_meta_key(key):
            attrs.append(f' {key}="{escape_attribute(value)}"')
    return f"<channel{''.join(attrs)}>\n{neutralise_closing_tags(content)}\n</channel>"


def parse_channel_params(params: Any) -> tuple[str, dict[str, str]]:
    """Validate ``notifications/claude/channel`` params the way Claude Code does.

    Returns ``(content, meta)``. A missing or non-string content, a meta that is not an object,
    or any non-string meta value makes Claude Code drop the whole event; this raises instead.
    Extra params keys are ignored.
    """
    if not isinstance(params, dict):
        raise InvalidChannelEvent("params must be an object")
    content = params.get("content")
    if not isinstance(content, str):
        raise InvalidChannelEvent("content must be a string")
    meta = params.get("meta", {})
    if meta is None and "meta" in params:
        raise InvalidChannelEvent("meta must be an object, not null")
    if not isinstance(meta, dict):
        raise InvalidChannelEvent("meta must be an object")
    for key, value in meta.items():
        if not isinstance(value, str):
            raise InvalidChannelEvent(f"meta value for {key!r} is not a string")
    return content, meta


# --------------------------------------------------------------------------- permission relay

#: What a phone-side answer must look like; the whole message must match.
PERMISSION_REPLY_RE: Final = re.compile(r"^\s*(y|yes|n|no)\s+([a-km-z]{5})\s*$", re.IGNORECASE | re.ASCII)
#: Request ids are drawn from this alphabet (no ``l``: it reads like ``1`` on a phone).
REQUEST_ID_ALPHABET: Final = "abcdefghijkmnopqrstuvwxyz"
REQUEST_ID_LENGTH: Final = 5
_REQUEST_ID_RE: Final = re.compile(r"^[a-km-z]{5}$")
# Ids containing one of these are redrawn, so nobody gets "Reply yes <slur>" on their phone.
_BLOCKED_ID_WORDS: Final = (
    "fuck", "shit", "cunt", "cock", "dick", "twat", "piss", "crap", "bitch", "whore", "nazi",
    "fag", "porn", "slut", "tits", "anus", "arse", "rape", "dyke", "kike", "spic", "coon", "jizz",
    "poop", "turd", "wank", "homo", "nigg", "retard", "sex",
)  # fmt: skip


def new_request_id() -> str:
    """Draw a permission request id as Claude Code does (uniform, redrawn up to 10 times)."""
    for _ in range(11):
        rid = "".join(secrets.choice(REQUEST_ID_ALPHABET) for _ in range(REQUEST_ID_LENGTH))
        if not any(word in rid for word in _BLOCKED_ID_WORDS):
            break
    return rid


def is_request_id(value: str) -> bool:
    """Whether ``value`` (case-insensitively) has the shape of a permission request id."""
    return _REQUEST_ID_RE.fullmatch(value.lower()) is not None


def parse_permission_reply(text: str) -> tuple[str, bool] | None:
    """Read ``yes abcde`` / ``n abcde``: return ``(request_id, allow)`` or ``None``.

    The id is lowercased (phones capitalise the first letter); a message that matches is a verdict
    and must be consumed, never forwarded to Claude as chat.
    """
    match = PERMISSION_REPLY_RE.match(text)
    if match is None:
        return None
    return match.group(2).lower(), match.group(1).lower().startswith("y")


def permission_verdict_params(request_id: str, allow: bool) -> dict[str, str]:
    """The params of a verdict notification (``behavior`` is case-sensitive on the host)."""
    return {"request_id": request_id.lower(), "behavior": "allow" if allow else "deny"}


DESCRIPTION_LIMIT: Final = 3500
_KEEP_HEAD: Final = 2000
_KEEP_TAIL: Final = 1500
_QUOTE_LOOKALIKES: Final = re.compile(
    "[\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033\u00ab\u00bb\u2039\u203a\uff02\uff07\u0060\u00b4]"
)
_WHITESPACE_RUN: Final = re.compile(r"\s+")
_MULTI_WHITESPACE_RUN: Final = re.compile(r"\s{2,}")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf") and char not in "\t\n\r"


def cap_code_points(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """Keep the head and tail of an over-long text with a marker saying how much was elided."""
    if len(text) <= limit:
        return text
    elided = len(text) - _KEEP_HEAD - _KEEP_TAIL
    return f"{text[:_KEEP_HEAD]}\n\u22ef {elided} code points elided \u22ef\n{text[-_KEEP_TAIL:]}"


def format_description(description: str) -> str:
    """Clean a tool description for a phone screen exactly as Claude Code does."""
    text = "".join(" " if _is_control(ch) else ch for ch in description)
    text = _QUOTE_LOOKALIKES.sub("\u00b7", text)
    text = _WHITESPACE_RUN.sub(" ", text).strip()
    return cap_code_points(text)


INPUT_PREVIEW_FIELD_BUDGET: Final = 15000
REDACTED: Final = '"[REDACTED]"'
_SECRET_VALUE_RE: Final = re.compile(
    r"sk-ant-[A-Za-z0-9_-]{10,}|sk-[A-Za-z0-9]{32,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


def _js_json(value: Any) -> str:
    """``JSON.stringify`` output: compact, non-ASCII kept, integral floats without ``.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        value = int(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def format_input_preview(tool_input: Any) -> str:
    """Render a tool's input for a permission prompt as Claude Code (>= 2.1.215) does.

    An object becomes ``{ "key": <json>, ... }`` with each value's whitespace runs collapsed and
    capped; values that look like credentials are replaced by ``"[REDACTED]"``; past 15,000
    characters the remaining fields are only named. Anything else is its capped JSON.
    """
    if not isinstance(tool_input, dict):
        return cap_code_points(_MULTI_WHITESPACE_RUN.sub(" ", _js_json(tool_input)))
    parts: list[str] = []
    used = 0
    keys = list(tool_input)
    for index, key in enumerate(keys):
        if used > INPUT_PREVIEW_FIELD_BUDGET:
            rest = keys[index:]
            named = ", ".join(_js_json(str(k)) for k in rest)
            return "{ " + ", ".join(parts) + f"\n\u22ef {len(rest)} fields elided: {named} \u22ef\n" + " }"
        rendered = _js_json(tool_input[key])
        if _SECRET_VALUE_RE.search(rendered):
            rendered = REDACTED
        rendered = cap_code_points(_MULTI_WHITESPACE_RUN.sub(" ", rendered))
        part = f"{_js_json(str(key))}: {rendered}"
        parts.append(part)
        used += len(part)
    return "{ " + ", ".join(parts) + " }"


__all__ = [
    "CAPABILITY_CHANNEL",
    "CAPABILITY_PERMISSION",
    "DESCRIPTION_LIMIT",
    "DISCOVER_PROBE_ID",
    "INPUT_PREVIEW_FIELD_BUDGET",
    "INSTRUCTIONS_LIMIT",
    "LATEST_PROTOCOL_VERSION",
    "MAX_LINE_BYTES",
    "META_KEY_RE",
    "METHOD_CANCELLED",
    "METHOD_CHANNEL",
    "METHOD_DISCOVER",
    "METHOD_INITIALIZE",
    "METHOD_INITIALIZED",
    "METHOD_PERMISSION_REQUEST",
    "METHOD_PERMISSION_VERDICT",
    "METHOD_PING",
    "METHOD_TOOLS_CALL",
    "METHOD_TOOLS_LIST",
    "MODERN_PROTOCOL_VERSION",
    "PERMISSION_REPLY_RE",
    "REDACTED",
    "REQUEST_ID_ALPHABET",
    "REQUEST_ID_LENGTH",
    "RESERVED_META_KEY",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "cap_code_points",
    "escape_attribute",
    "format_description",
    "format_input_preview",
    "is_request_id",
    "is_valid_meta_key",
    "meta_value_to_str",
    "neutralise_closing_tags",
    "new_request_id",
    "parse_channel_params",
    "parse_permission_reply",
    "permission_verdict_params",
    "render_channel_tag",
    "validate_meta",
]
