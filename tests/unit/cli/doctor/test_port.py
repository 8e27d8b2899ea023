"""doctor's port check where /proc shows nothing, or shows a socket of another user: the check alone, in this process."""

from __future__ import annotations

from pathlib import Path

from mcp_channels.channels.webhook import PORT as WEBHOOK_PORT
from mcp_channels.cli.doctor._channel import check_port
from mcp_channels.diagnostics import Setup


def test_port_holder_where_proc_shows_nothing(tmp_path: Path, listener: int) -> None:
    """No /proc (macOS): "in use", with the command that shows who, never a guess."""
    check = check_port(
        Setup({"WEBHOOK_PORT": str(listener)}, tmp_path / "none", proc=tmp_path / "no-proc"), "webhook", WEBHOOK_PORT
    )
    assert check.status == "fail"
    assert check.message == f"port {listener} on 127.0.0.1 is in use (this system does not show by which process)"
    assert check.fix == (
        f"`lsof -nP -iTCP:{listener} -sTCP:LISTEN` shows it; stop it, or give the channel another port: "
        "WEBHOOK_PORT=<free port>"
    )


def test_port_holder_of_another_user(tmp_path: Path, listener: int) -> None:
    """/proc lists the socket (with its owner's uid) but no process of ours has it open."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        f"   0: 0100007F:{listener:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 "
        "424242 1 0000000000000000 100 0 0 10 0\n"
    )
    check = check_port(Setup({"WEBHOOK_PORT": str(listener)}, tmp_path / "none", proc=proc), "webhook", WEBHOOK_PORT)
    assert check.status == "fail"
    assert check.message == f"port {listener} on 127.0.0.1 is in use by a process of user 1001 that you cannot inspect"
