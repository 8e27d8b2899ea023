#!/usr/bin/env python3
"""Write the Claude Code plugin marketplace from the channels' facts: ``python scripts/plugins.py [--check]``.

Every channel ships as a plugin under ``plugins/<name>/`` (a manifest, an MCP config, a launcher,
a README, skills) listed in ``.claude-plugin/marketplace.json``. The plugins differ only in a few
values, so they are generated from the templates in ``scripts/plugin-templates/`` and each
channel's facts (``FACTS`` in its package, read through the registry in
``mcp_channels/channels/__init__.py``) instead of being edited by hand for each channel. ``--check`` (run by the tests) writes
nothing and fails when a generated file is missing, differs, or is left over.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))  # a clone runs this without installing the package

from mcp_channels.channels import ChannelFacts, all_facts  # noqa: E402
from mcp_channels.cli.access import ALL_SETTINGS  # noqa: E402

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
LOCKDOWN_OWNER_CHAT = (
    "On {title}, pairing would answer {strangers}. The self-chat always works; add\n"
    "other people by handle with `/{channel}:access allow {id_hint}` and keep `policy allowlist` (the\n"
    "default). When the status shows `policy: pairing`, point it out and offer\n"
    "`/{channel}:access policy allowlist`; if the user asks for pairing, explain this first."
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


def _skills_line(channel: ChannelFacts) -> str:
    if not channel.plugin.skills:
        return "This plugin has no skills: there is nothing to configure."
    commands = ", ".join(f"`/{channel.name}:{skill}`" for skill in channel.plugin.skills)
    return (
        f"## Skills\n\n{commands}: they run the `mcp-channels` command line (never edit JSON by hand) and\n"
        "refuse any change that a channel message asks for."
    )


def skill_values(channel: ChannelFacts) -> dict[str, str]:
    """What the skill templates say about the channel, from its facts: tokens, settings, lockdown.

    A channel with several tokens names the arguments of its ``configure`` in its plugin values
    (``token_arguments``: placeholders, one per token, such as ``<xoxb-…> <xapp-…>``).
    """
    values = dict(channel.plugin.values)
    for token in channel.tokens[:1]:
        if token.example:
            values["token_hint"] = f"{token.source} and looks like `{token.example}`"
    values["token_list"] = "\n".join(
        f"- `{token.variable}`, the {token.kind}: {token.source}, like `{token.example}`" for token in channel.tokens
    )
    if "token_arguments" in values:
        values["quoted_token_arguments"] = " ".join(f"'{argument}'" for argument in values["token_arguments"].split())
    access = channel.access
    if access is not None:
        values["settable"] = ", ".join(f"`{key}`" for key in access.settable or ALL_SETTINGS)
        lockdown = LOCKDOWN_OWNER_CHAT if access.owner_chat else LOCKDOWN_BOT
        values["lockdown"] = lockdown.format(
            channel=channel.name, title=channel.title, strangers=access.strangers, id_hint=access.id_hint
        )
    return values


def plugin_files(channel: ChannelFacts, version: str) -> dict[str, str]:
    """Every file of one plugin, by path relative to the repository root."""
    plugin = channel.plugin
    extra = channel.library.extra if channel.library else None
    install = f"mcp-channels[{extra}]" if extra else "mcp-channels"
    values = {
        "channel": channel.name,
        "title": channel.title,
        "marketplace": MARKETPLACE,
        "install": install,
        "requirement": f"{install}=={version}",
        "pinned": f"mcp-channels=={version}",
        "summary": plugin.summary,
        "setup": plugin.setup,
        "skills": _skills_line(channel),
        **skill_values(channel),
    }
    root = f"plugins/{channel.name}"
    manifest = {
        "name": channel.name,
        "description": plugin.description,
        "version": version,
        "author": AUTHOR,
        "license": LICENSE,
        "keywords": list(plugin.keywords),
        "channels": [{"server": channel.name}],
    }
    launch = {"mcpServers": {channel.name: {"command": "sh", "args": [f"${{CLAUDE_PLUGIN_ROOT}}/{LAUNCHER}"]}}}
    files = {
        f"{root}/.claude-plugin/plugin.json": _json(manifest),
        f"{root}/.mcp.json": _json(launch),
        f"{root}/{LAUNCHER}": render((TEMPLATES / "serve.sh").read_text(), values),
        f"{root}/README.md": render((TEMPLATES / "README.md").read_text(), values),
    }
    for skill, template in plugin.skills.items():
        files[f"{root}/skills/{skill}/SKILL.md"] = render((TEMPLATES / "skills" / template).read_text(), values)
    return files


def _titles() -> str:
    """Every channel's title, as a sentence lists them: "Fakechat, Webhook and Telegram"."""
    titles = [channel.title for channel in all_facts()]
    return f"{', '.join(titles[:-1])} and {titles[-1]}"


def marketplace(version: str) -> str:
    entries = [
        {
            "name": channel.name,
            "source": f"./plugins/{channel.name}",
            "description": channel.plugin.description,
            "version": version,
            "author": AUTHOR,
            "category": channel.plugin.category,
            "keywords": list(channel.plugin.keywords),
        }
        for channel in all_facts()
    ]
    return _json(
        {
            "name": MARKETPLACE,
            "owner": AUTHOR,
            "metadata": {
                "description": f"Claude Code channels in Python: {_titles()}.",
                "version": version,
            },
            "plugins": entries,
        }
    )


def expected_files() -> dict[str, str]:
    version = package_version()
    files = {".claude-plugin/marketplace.json": marketplace(version)}
    for channel in all_facts():
        files.update(plugin_files(channel, version))
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
