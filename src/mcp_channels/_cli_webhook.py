"""``mcp-channels webhook try``: what a POST would become, without running the server.

For writing routes and templates: the body of a file (or ``-`` for standard input), with the
headers and path given, goes through the same settings (``WEBHOOK_ROUTES``, ``webhook.json``)
and the same code as a real delivery, and the event is printed as Claude Code would show it.
Nothing is saved; the ``payload_path`` shown is where the payload would be kept.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .channels.webhook import NAME, WebhookConfig, event_content, request_meta
from .errors import ConfigurationError
from .presets import file_name, shape
from .protocol import render_channel_tag

USAGE = """usage: mcp-channels webhook try <file|-> [--header 'Name: value' ...] [--path /p]

Print the event a POST of <file>'s body (- reads standard input) with those headers, to that
path (default /), would become, exactly as Claude Code shows it, and whether the filters of
the routes in WEBHOOK_ROUTES / webhook.json would drop it. Signatures are not checked and
nothing is saved. Exit status: 0 shown, 1 unreadable file or invalid settings, 2 usage."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-channels webhook try", usage=USAGE.splitlines()[0][7:], add_help=False)
    parser.add_argument("file")
    parser.add_argument("--header", "-H", action="append", default=[])
    parser.add_argument("--path", default="/")
    return parser


def _headers(parser: argparse.ArgumentParser, pairs: Sequence[str]) -> dict[str, str]:
    """``Name: value`` pairs as the HTTP layer gives them: lower-case names, repeats joined."""
    headers: dict[str, str] = {}
    for pair in pairs:
        name, colon, value = pair.partition(":")
        name = name.strip().lower()
        if not colon or not name or any(ch.isspace() for ch in name):
            parser.error(f"--header {pair!r} is not 'Name: value'")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    with open(source, "rb") as handle:
        return handle.read()


def webhook_command(argv: Sequence[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] != "try":
        print(f"mcp-channels webhook: unknown command {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    parser = _parser()
    args = parser.parse_args(argv[1:])
    path, _, query = args.path.partition("?")
    if not path.startswith("/"):
        parser.error(f"--path must start with /, not {args.path!r}")
    headers = _headers(parser, args.header)
    try:
        body = _read(args.file)
    except OSError as exc:
        print(f"mcp-channels webhook try: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        config = WebhookConfig()
    except ConfigurationError as exc:
        print(f"mcp-channels webhook try: {exc}", file=sys.stderr)
        return 1
    outcome = shape(body, headers, path, config.presets)
    meta = request_meta("POST", path, query, headers)
    would_save = (
        outcome.filtered is None
        and outcome.content is not None
        and outcome.payload is not None
        and config.inbox.keeps(outcome.payload)
    )
    payload_path = config.inbox.directory / file_name(outcome.label, outcome.suffix) if would_save else None
    content = event_content(meta, body, outcome, payload_path)
    print(render_channel_tag(NAME, content, meta))
    print(_verdict(body, content, outcome.meta.get("preset"), outcome.filtered))
    return 0


def _verdict(body: bytes, content: str, preset: str | None, filtered: str | None) -> str:
    shaped = (
        f"preset {preset}: {len(body):,} body bytes → {len(content.encode()):,} content bytes"
        if preset
        else "no preset: the body as it came"
    )
    if filtered is not None:
        return f"{shaped}\nfiltered out ({filtered}): the sender gets 202 filtered and the session sees nothing"
    return f"{shaped}\ndelivered: the sender gets 202 queued"
