"""``mcp-channels host`` and ``mcp-channels demo``.

The demo is the host with the fakechat channel (the one needing no account), on a fresh state
directory that is removed when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..channels import facts
from ..delivery import DELIVERY_VAR
from ..enablement import ManagedSettings, add_flag_arguments, build_entries
from ..errors import EntrySyntaxError, HostConfigError
from ..host.app import Host, HostOptions
from ..host.config import ServerSpec, load_mcp_config, load_plugin
from ..state import state_dir_variable


def _host_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-channels host",
        description="Spawn MCP servers as Claude Code does, gate them as it does, and show what the model would see.",
    )
    parser.add_argument("--mcp-config", type=Path, default=None, help="MCP config file (default: .mcp.json here)")
    parser.add_argument("--plugin-dir", type=Path, action="append", default=[], help="load a Claude Code plugin folder")
    add_flag_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout, for scripts")
    parser.add_argument("--script", type=Path, default=None, help="run the commands in FILE first")
    parser.add_argument("--no-stdin", action="store_true", help="do not read commands from stdin")
    parser.add_argument(
        "--keep-running", action="store_true", help="keep running after the commands end (until Ctrl-C)"
    )
    parser.add_argument(
        "--registration-delay", type=_milliseconds, default=None, metavar="MS",
        help="register each channel MS ms after notifications/initialized (default: 5-60 ms at random, as Claude Code)",
    )  # fmt: skip
    return parser


def _milliseconds(text: str) -> float:
    """A delay in milliseconds from the command line, as seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60_000:
        raise argparse.ArgumentTypeError(f"expected milliseconds from 0 to 60000, not {text!r}")
    return value / 1000


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
    except (HostConfigError, OSError, ValueError) as exc:
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
        registration_delay=options.registration_delay,
    )
    return asyncio.run(Host(host_options).run())


#: The channel the demo runs: the one that needs no account.
DEMO_CHANNEL = "fakechat"
DEMO_BANNER = """\
mcp-channels demo: the host (standing in for Claude Code) with the fakechat channel.

Open the chat page in your browser:

    http://localhost:{port}

Each message you send there is printed below exactly as Claude Code would show it to the model.
Answer from here as Claude would, for example:

    /call fakechat reply {{"text": "hello from the terminal"}}
    /permission Bash "list files" {{"command": "ls"}}      (a card with Allow / Deny appears in the page)

Type /help for commands, Ctrl-D to stop.
"""


def demo_command(argv: Sequence[str]) -> int:
    """``mcp-channels demo [--port N]``: the host with fakechat, answered from the terminal."""
    parser = argparse.ArgumentParser(
        prog="mcp-channels demo", description="The host with a local chat page, no account needed."
    )
    demo = facts(DEMO_CHANNEL)
    assert demo.port is not None
    port = demo.port
    parser.add_argument("--port", type=int, default=port.default, help=f"chat page port (default {port.default})")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mcp-channels-demo-") as tmp:
        config = Path(tmp) / "mcp.json"
        server = {
            "command": sys.executable,
            # Standalone: the demo's state lives in a temporary directory, so nothing it starts (a
            # hub would) may outlive it.
            "args": ["-m", "mcp_channels", "serve", demo.name, "--hub", "off"],
            "env": {
                port.variable: str(options.port),
                state_dir_variable(demo.name): str(Path(tmp) / demo.name),
                # The demo names its one server as a channel, but its command line is not the host's
                # flags the server would read: say so, rather than a "cannot tell" on the first screen.
                DELIVERY_VAR: "deliver",
            },
        }
        config.write_text(json.dumps({"mcpServers": {demo.name: server}}))
        print(DEMO_BANNER.format(port=options.port), flush=True)
        host_options = HostOptions(
            specs=load_mcp_config(config),
            entries=build_entries([], [f"server:{demo.name}"]),
            keep_running=not sys.stdin.isatty(),
        )
        return asyncio.run(Host(host_options).run())


__all__ = [
    "DEMO_BANNER",
    "DEMO_CHANNEL",
    "demo_command",
    "host_command",
]
