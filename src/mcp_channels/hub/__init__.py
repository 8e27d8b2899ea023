"""The hub: one long-lived local process that owns the platform connections and a durable event store.

Today this package holds the store (:mod:`mcp_channels.hub.store`): inbound events are committed
there before a platform is acknowledged, and each conversation's events are delivered from it to the
Claude Code session bound to that conversation, at least once, behind a cursor the session
acknowledges. The daemon, the per-session attachments and the routing will be added beside it.
"""

__all__: list[str] = []
