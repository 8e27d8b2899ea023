"""``mcp-channels webhook try``: what a POST would become, without running the server.

For writing routes and templates: the body of a file (or ``-`` for standard input), with the
headers and path given, is shown as Claude Code would show its event
(:mod:`mcp_channels.channels.webhook._try` does it). This module reads the command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..channels.webhook._settings import WebhookSettings
from ..channels.webhook._try import try_delivery

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
    """``mcp-channels webhook try <file|-> [--header ...] [--path /p]``."""
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
    print(try_delivery(body, headers, path, query, WebhookSettings.from_environ()))  # a bad setting: ConfigurationError
    return 0


__all__ = [
    "USAGE",
    "webhook_command",
]
