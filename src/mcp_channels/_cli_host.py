"""``mcp-channels host`` and ``mcp-channels demo``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .host.app import Host, HostOptions, build_entries
from .host.config import ConfigError, ServerSpec, load_mcp_config, load_plugin
from .host.gate import EntrySyntaxError, ManagedSettings


def _host_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-channels host",
        description="Spawn MCP servers as Claude Code does, gate them as it does, and show what the model would see.",
    )
    parser.add_argument("--mcp-config", type=Path, default=None, help="MCP config file (default: .mcp.json here)")
    parser.add_argument("--plugin-dir", type=Path, action="append", default=[], help="load a Claude Code plugin folder")
    parser.add_argument(
        "--channels", nargs="+", default=[], metavar="ENTRY", help="plugin:<name>@<marketplace> or server:<name>"
    )
    parser.add_argument(
        "--dangerously-load-development-channels", dest="dev_channels", nargs="+", default=[], metavar="ENTRY",
        help="entries that bypass the allowlist (not the org policy)",
    )  # fmt: skip
    parser.add_argument(
        "--managed-settings",
        type=Path,
        default=None,
        help="managed settings JSON (channelsEnabled, allowedChannelPlugins)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout, for scripts")
    parser.add_argument("--script", type=Path, default=None, help="run the commands in FILE first")
    parser.add_argument("--no-stdin", action="store_true", help="do not read commands from stdin")
    parser.add_argument(
        "--keep-running", action="store_true", help="keep running after the commands end (until Ctrl-C)"
    )
    return parser


def _load_specs(config: Path | None, plugin_dirs: Sequence[Path]) -> list[ServerSpec]:
    specs: list[ServerSpec] = []
    default = Path(".mcp.json")
    if config is not None:
        specs.extend(load_mcp_config(config))
    elif default.is_file():
        specs.extend(load_mcp_config(default))
    for directory in plugin_dirs:
        specs.extend(load_plugin(directory))
    return specs


def host_command(argv: Sequence[str]) -> int:
    options = _host_parser().parse_args(argv)
    try:
        entries = build_entries(options.channels, options.dev_channels)
    except EntrySyntaxError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        specs = _load_specs(options.mcp_config, options.plugin_dir)
        settings = ManagedSettings.load(options.managed_settings)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"mcp-channels host: {exc}", file=sys.stderr)
        return 1
    if not specs:
        print(
            "mcp-channels host: no servers to start (no .mcp.json here; use --mcp-config or --plugin-dir)",
            file=sys.stderr,
        )
        return 1
    host_options = HostOptions(
        specs=specs,
        entries=entries,
        settings=settings,
        json_mode=options.json,
        script=options.script,
        keep_running=options.keep_running,
        read_stdin=not options.no_stdin,
    )
    return asyncio.run(Host(host_options).run())


DEMO_BANNER = """\
mcp-channels demo: the host (standing in for Claude Code) with the webhook channel.

Send it an event from another terminal:

    curl -X POST localhost:{port}/ci -H 'X-GitHub-Event: check_run' -d 'build failed on main'

Each event is printed as Claude Code would show it to the model. Type /help for commands, Ctrl-D to stop.
"""


def demo_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mcp-channels demo", description="The host with a local channel, no account needed."
    )
    parser.add_argument("--port", type=int, default=8788, help="webhook port (default 8788)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mcp-channels-demo-") as tmp:
        config = Path(tmp) / "mcp.json"
        server = {
            "command": sys.executable,
            "args": ["-m", "mcp_channels", "serve", "webhook"],
            "env": {"WEBHOOK_PORT": str(options.port)},
        }
        config.write_text(json.dumps({"mcpServers": {"webhook": server}}))
        print(DEMO_BANNER.format(port=options.port), flush=True)
        host_options = HostOptions(
            specs=load_mcp_config(config),
            entries=build_entries([], ["server:webhook"]),
            keep_running=not sys.stdin.isatty(),
        )
        return asyncio.run(Host(host_options).run())
