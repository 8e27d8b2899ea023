"""What the tests share: real processes and sockets, platform stand-ins, data.

- :mod:`.processes`: ``HostProcess`` (``mcp-channels host --json`` in a subprocess) and
  ``RawServer`` (JSON-RPC to a server directly), free ports, HTTP requests;
- :mod:`.chat_session`: what a chat channel's session under the host does the same way on every
  platform (tool calls, events, the access file);
- :mod:`.fakechat`, :mod:`.webhook`, :mod:`.imessage`, :mod:`.nats_server`, :mod:`.browser`,
  :mod:`.planted_secrets`: what the tests of one area need;
- data lives in ``tests/data/`` (sample channels, access files, webhook payloads), golden cases
  in ``tests/golden/``, stand-in programs in ``tests/bin/``, the Node.js client in ``tests/node/``.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
DATA = TESTS / "data"
SAMPLES = DATA / "sample_channels"
BIN = TESTS / "bin"
GOLDEN = TESTS / "golden"

__all__ = ["BIN", "DATA", "GOLDEN", "REPO", "SAMPLES", "TESTS"]
