"""A stand-in for a program that starts MCP servers: Claude Code, or another client.

The tests run this file under the names they need (a script named ``claude``, a ``claude`` or
``node`` binary, another client), with a made-up command line after it. It runs the command in
``FAKE_SESSION_CHILD`` (a JSON list) as its child, with its own stdin and stdout, and exits with
the child's status: the child lives exactly as long as the test keeps the session's stdin open.
"""

import json
import os
import subprocess
import sys

sys.exit(subprocess.call(json.loads(os.environ["FAKE_SESSION_CHILD"])))
