from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The suite tests the standalone servers: `serve` would otherwise attach to (or start) a hub in the
# user's own ~/.claude. The hub's tests turn it on, each in a directory of its own.
os.environ["MCP_CHANNELS_HUB"] = "off"
