"""``python -m mcp_channels.channels.slack``: serve the Slack channel on stdio."""

from . import main

main()
