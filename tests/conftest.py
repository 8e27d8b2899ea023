"""Fixtures every kind of test may use. Helpers are the ``support`` package (importable because
``pythonpath = ["tests"]`` in ``pyproject.toml``), platform fakes the ``fakes`` package."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

# The suite tests the standalone servers: `serve` would otherwise attach to (or start) a hub in the
# user's own ~/.claude. The hub's tests turn it on, each in a directory of its own.
os.environ["MCP_CHANNELS_HUB"] = "off"


@pytest.fixture
def listener() -> Iterator[int]:
    """A port this test process listens on: another program holding a channel's port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])
