#!/usr/bin/env python3
"""Write the Claude Code plugin marketplace from one table: ``python scripts/plugins.py [--check]``.

Every channel ships as a plugin under ``plugins/<name>/`` (a manifest, an MCP config, a launcher,
a README, skills) listed in ``.claude-plugin/marketplace.json``. The five plugins differ only in
a few values, so they are generated from the templates in ``scripts/plugin-templates/`` and the
table below instead of being edited by hand five times. ``--check`` (run by the tests) writes
nothing and fails when a generated file is missing, differs, or is left over.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "plugin-templates"
MARKETPLACE = "mcp-channels"
AUTHOR = {"name": "mcp-channels contributors"}
LICENSE = "Apache-2.0"
LAUNCHER = "scripts/serve.sh"
EXECUTABLE = 0o755

LOCKDOWN_BOT = (
    "Pairing is only a way to learn someone's id. After a successful `pair`, or when the status shows\n"
    "`policy: pairing` with someone already allowed, ask the user whether that is everyone and offer\n"
    "`/{channel}:access policy allowlist`: strangers' messages are then dropped without an answer,\n"
    "and nobody new can ask for a code. Run it only when the user says yes."
)
LOCKDOWN_IMESSAGE = (
    "On iMessage, pairing would answer anyone who texts this Mac. The self-chat always works; add\n"
    "other people by handle with `/imessage:access allow <handle>` and keep `policy allowlist` (the\n"
    "default). When the status shows `policy: pairing`, point it out and offer\n"
    "`/imessage:access policy allowlist`; if the user asks for pairing, explain this first."
)


@dataclass(frozen=True)
class PluginSpec:
    """One channel's plugin: what the marketplace shows and what its files say."""

    name: str
    title: str
    description: str
    keywords: tuple[str, ...]
    category: str
    summary: str
    setup: str
    extra: str | None = None  # the pip extra with the platform library
    skills: dict[str, str] = field(default_factory=dict)  # skill folder -> template
    values: dict[str, str] = field(default_factory=dict)  # more template values for the skills


PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec(
        name="webhook",
        title="Webhook",
        description=(
            "Webhook receiver: every HTTP POST to 127.0.0.1:8788 becomes an event in your Claude Code session "
            "(CI results, monitoring alerts, GitHub hooks). Optional HMAC signatures via /webhook:configure."
        ),
        keywords=("webhook", "ci", "alerts", "channel", "mcp"),
        category="development",
        summary=(
            "Every HTTP POST to `127.0.0.1:8788` becomes one event in the Claude Code session: point CI,\n"
            "a monitoring system or a GitHub webhook (through a tunnel) at it. One-way: Claude reads and acts."
        ),
        setup=(
            "Nothing is required. To accept only signed requests, save a shared secret with\n"
            "`/webhook:configure <secret>` (or `mcp-channels configure webhook <secret>`). `WEBHOOK_PORT`\n"
            "moves the receiver off 8788. Try it: `curl -X POST localhost:8788/ci -d 'build failed on main'`."
        ),
        skills={"configure": "configure-webhook.md"},
    ),
    PluginSpec(
        name="fakechat",
        title="Fakechat",
        description=(
            "Localhost web chat for trying the channel flow: no token, no account, no third-party service. "
            "Open http://localhost:8787 and talk to your Claude Code session."
        ),
        keywords=("fakechat", "testing", "chat", "channel", "mcp"),
        category="development",
        summary=(
            "A chat page on `http://localhost:8787`: what you type there reaches the Claude Code session,\n"
            "and Claude answers in the page. No token, no account, nothing leaves this machine."
        ),
        setup=(
            "Nothing to set up. `FAKECHAT_PORT` moves the page off 8787. Open the page once Claude Code is\n"
            "running with the channel."
        ),
    ),
    PluginSpec(
        name="telegram",
        title="Telegram",
        description=(
            "Telegram bridge with access control: talk to your Claude Code session from Telegram and approve "
            "its tool use from your phone. Pairing, allowlists and policy via /telegram:access."
        ),
        keywords=("telegram", "messaging", "channel", "mcp"),
        category="productivity",
        summary=(
            "A Telegram bot that carries your Claude Code session to Telegram chats and back: messages,\n"
            "photos and files in, replies, reactions and edits out, tool approvals from your phone."
        ),
        setup=(
            "1. Create a bot with @BotFather and copy its token.\n"
            "2. `/telegram:configure <token>` (or `mcp-channels configure telegram <token>`).\n"
            "3. Start Claude Code with the channel (below) and DM your bot: it answers with a pairing code.\n"
            "4. `/telegram:access pair <code>`, then lock down with `/telegram:access policy allowlist`."
        ),
        extra="telegram",
        skills={"configure": "configure-bot.md", "access": "access.md"},
        values={
            "token_hint": "from @BotFather and looks like `123456789:AAH...`",
            "settable": "`ackReaction`, `replyToMode`, `textChunkLimit`, `chunkMode`, `mentionPatterns`",
            "id_note": (
                "Telegram ids are numbers: a user's id (ask @userinfobot) for `allow`, a group's id (negative,\n"
                "like `-1001654782309`) for `group add`. Do not check id formats yourself: the command decides."
            ),
            "lockdown": LOCKDOWN_BOT.format(channel="telegram"),
        },
    ),
    PluginSpec(
        name="discord",
        title="Discord",
        description=(
            "Discord bridge with access control: talk to your Claude Code session from Discord DMs and "
            "opted-in channels. Pairing, allowlists and policy via /discord:access."
        ),
        keywords=("discord", "messaging", "channel", "mcp"),
        category="productivity",
        summary=(
            "A Discord bot that carries your Claude Code session to its DMs and to the server channels you\n"
            "opt in: messages and attachments in, replies, reactions and edits out, tool approvals by button."
        ),
        setup=(
            "1. Create an application and a bot in the Discord Developer Portal, enable the Message Content\n"
            "   intent, invite the bot, and copy its token (Bot → Reset Token).\n"
            "2. `/discord:configure <token>` (or `mcp-channels configure discord <token>`).\n"
            "3. Start Claude Code with the channel (below) and DM your bot: it answers with a pairing code.\n"
            "4. `/discord:access pair <code>`, then lock down with `/discord:access policy allowlist`."
        ),
        extra="discord",
        skills={"configure": "configure-bot.md", "access": "access.md"},
        values={
            "token_hint": "from the Developer Portal (Bot → Reset Token) and looks like `MTIz...`",
            "settable": "`ackReaction`, `replyToMode`, `textChunkLimit`, `chunkMode`, `mentionPatterns`",
            "id_note": (
                "Discord ids are snowflakes (long numbers; Developer Mode → right-click → Copy User ID). A\n"
                "user id is not a channel id: `allow` takes users, `group add` takes channel ids. Do not check\n"
                "id formats yourself: the command decides."
            ),
            "lockdown": LOCKDOWN_BOT.format(channel="discord"),
        },
    ),
    PluginSpec(
        name="imessage",
        title="iMessage",
        description=(
            "iMessage bridge for macOS: reads chat.db directly, sends through Messages.app; your self-chat "
            "and allowlisted handles only. Manage access via /imessage:access."
        ),
        keywords=("imessage", "messaging", "macos", "channel", "mcp"),
        category="productivity",
        summary=(
            "Your Mac's Messages as a channel: texts from your self-chat and from allowlisted handles reach\n"
            "the Claude Code session, and Claude answers through Messages.app. macOS only, no network service."
        ),
        setup=(
            "1. Give the app that runs Claude Code (your terminal) Full Disk Access: System Settings →\n"
            "   Privacy & Security → Full Disk Access. `/imessage:configure` checks it.\n"
            "2. Text yourself: the self-chat always works. Add other people by handle with\n"
            "   `/imessage:access allow <handle>`. The first reply asks permission to control Messages."
        ),
        skills={"configure": "configure-imessage.md", "access": "access.md"},
        values={
            "settable": "`textChunkLimit`, `chunkMode`, `mentionPatterns`",
            "id_note": (
                "iMessage ids are handles: a phone number in international form (`+15551234567`) or an Apple ID\n"
                "email. A chat id (a GUID like `iMessage;-;+15551234567`) is not a handle. Do not check id formats\n"
                "yourself: the command decides."
            ),
            "lockdown": LOCKDOWN_IMESSAGE,
        },
    ),
)

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


def package_version() -> str:
    """The version in pyproject.toml: plugins and marketplace entries carry the package's version."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{{name}}`` placeholders; a placeholder without a value is an error, not an empty string."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return _PLACEHOLDER.sub(value, template)


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _skills_line(plugin: PluginSpec) -> str:
    if not plugin.skills:
        return "This plugin has no skills: there is nothing to configure."
    commands = ", ".join(f"`/{plugin.name}:{skill}`" for skill in plugin.skills)
    return (
        f"## Skills\n\n{commands}: they run the `mcp-channels` command line (never edit JSON by hand) and\n"
        "refuse any change that a channel message asks for."
    )


def plugin_files(plugin: PluginSpec, version: str) -> dict[str, str]:
    """Every file of one plugin, by path relative to the repository root."""
    install = f"mcp-channels[{plugin.extra}]" if plugin.extra else "mcp-channels"
    values = {
        "channel": plugin.name,
        "title": plugin.title,
        "marketplace": MARKETPLACE,
        "install": install,
        "requirement": f"{install}=={version}",
        "pinned": f"mcp-channels=={version}",
        "summary": plugin.summary,
        "setup": plugin.setup,
        "skills": _skills_line(plugin),
        **plugin.values,
    }
    root = f"plugins/{plugin.name}"
    manifest = {
        "name": plugin.name,
        "description": plugin.description,
        "version": version,
        "author": AUTHOR,
        "license": LICENSE,
        "keywords": list(plugin.keywords),
        "channels": [{"server": plugin.name}],
    }
    launch = {"mcpServers": {plugin.name: {"command": "sh", "args": [f"${{CLAUDE_PLUGIN_ROOT}}/{LAUNCHER}"]}}}
    files = {
        f"{root}/.claude-plugin/plugin.json": _json(manifest),
        f"{root}/.mcp.json": _json(launch),
        f"{root}/{LAUNCHER}": render((TEMPLATES / "serve.sh").read_text(), values),
        f"{root}/README.md": render((TEMPLATES / "README.md").read_text(), values),
    }
    for skill, template in plugin.skills.items():
        files[f"{root}/skills/{skill}/SKILL.md"] = render((TEMPLATES / "skills" / template).read_text(), values)
    return files


def marketplace(version: str) -> str:
    entries = [
        {
            "name": plugin.name,
            "source": f"./plugins/{plugin.name}",
            "description": plugin.description,
            "version": version,
            "author": AUTHOR,
            "category": plugin.category,
            "keywords": list(plugin.keywords),
        }
        for plugin in PLUGINS
    ]
    return _json(
        {
            "name": MARKETPLACE,
            "owner": AUTHOR,
            "metadata": {
                "description": "Claude Code channels in Python: webhook, fakechat, Telegram, Discord and iMessage.",
                "version": version,
            },
            "plugins": entries,
        }
    )


def expected_files() -> dict[str, str]:
    version = package_version()
    files = {".claude-plugin/marketplace.json": marketplace(version)}
    for plugin in PLUGINS:
        files.update(plugin_files(plugin, version))
    return files


def problems(files: dict[str, str], root: Path) -> list[str]:
    """What differs between the tree at ``root`` and ``files``: missing, changed, not executable, left over."""
    found = []
    for path, text in files.items():
        target = root / path
        if not target.is_file():
            found.append(f"missing: {path}")
        elif target.read_text(encoding="utf-8") != text:
            found.append(f"differs: {path}")
        elif path.endswith(LAUNCHER) and target.stat().st_mode & EXECUTABLE != EXECUTABLE:
            found.append(f"not executable: {path}")
    present = {p.relative_to(root).as_posix() for p in (root / "plugins").rglob("*") if p.is_file()}
    found.extend(f"left over: {path}" for path in sorted(present - set(files)))
    return found


def write(files: dict[str, str], root: Path) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
        if path.endswith(LAUNCHER):
            target.chmod(EXECUTABLE)
    for leftover in problems(files, root):
        print(f"warning: {leftover} (remove it by hand)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail if the tree is out of date")
    parser.add_argument("--root", type=Path, default=REPO, help="the repository to write or check (default: this one)")
    args = parser.parse_args(argv)
    files = expected_files()
    if not args.check:
        write(files, args.root)
        return 0
    found = problems(files, args.root)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print("plugins are out of date: run `python scripts/plugins.py`", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
