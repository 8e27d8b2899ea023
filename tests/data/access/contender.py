"""One of several processes editing the same access file at once (the locking test).

    contender.py cli <prefix> <count>   the command line: allow <prefix>-<j>, and remove the even ones
    contender.py pair <prefix> <count>  the server side: a DM from an unknown sender gets a code
                                        through the gate, then the code is approved

Each prints "ready" once imported and waits for a line on stdin, so all start together.
"""

from __future__ import annotations

import contextlib
import io
import sys

from mcp_channels.access import AccessStore, InboundMessage, approve_pairing, gate
from mcp_channels.cli.access import access_command
from mcp_channels.state import state_dir


def run_cli(prefix: str, count: int) -> None:
    for j in range(count):
        ident = f"{prefix}-{j}"
        with contextlib.redirect_stdout(io.StringIO()):
            if access_command(["telegram", "allow", ident]) != 0:
                raise SystemExit(f"allow {ident} failed")
            if j % 2 == 0 and access_command(["telegram", "remove", ident]) != 0:
                raise SystemExit(f"remove {ident} failed")


def run_pairing(prefix: str, count: int) -> None:
    store = AccessStore("telegram", state_dir("telegram"))
    for j in range(count):
        sender = f"{prefix}-{j}"
        result = gate(store, InboundMessage(sender, f"chat-{sender}", is_dm=True))
        if result.code is None:
            raise SystemExit(f"no pairing code for {sender}: {result.reason}")
        approve_pairing(store, result.code)


def main() -> None:
    role, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    (run_cli if role == "cli" else run_pairing)(prefix, count)
    print("done", flush=True)


if __name__ == "__main__":
    main()
