"""Which store and role a hub runs with: options, then variables; anything unusable is a ConfigurationError naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_channels.errors import ConfigurationError
from mcp_channels.hub._router import Binding, RoutingState, SessionRecord, store_key
from mcp_channels.hub._store_config import resolve
from mcp_channels.hub._wire import SessionInfo
from mcp_channels.hub.store import MemoryStore

NO_NATS: dict[str, str | None] = {}


def test_the_default_is_sqlite_for_both_roles() -> None:
    config = resolve(None, None, NO_NATS, {})
    assert (config.store, config.role, config.options, config.is_nats) == (None, "both", {}, False)


def test_variables_count_when_options_are_not_given(tmp_path: Path) -> None:
    creds = tmp_path / "alice.creds"
    creds.write_text("creds")
    env = {
        "MCP_CHANNELS_STORE": "tls://nats.example.org:4222",
        "MCP_CHANNELS_HUB_ROLE": "edge",
        "MCP_CHANNELS_NATS_CREDS": str(creds),
        "MCP_CHANNELS_NATS_TOKEN": "s3cret",
        "MCP_CHANNELS_NATS_NAMESPACE": "team",
    }
    config = resolve(None, None, NO_NATS, env)
    assert config.store == "tls://nats.example.org:4222" and config.role == "edge"
    assert config.options == {"user_credentials": str(creds), "token": "s3cret", "namespace": "team"}
    assert resolve("nats://a:1,nats://b:2", "ingress", {"namespace": "other"}, env).options["namespace"] == "other"


@pytest.mark.parametrize(
    ("store", "role", "nats", "message"),
    [
        (None, "edge", {}, "--role edge shares events between machines"),
        ("/var/hub", "ingress", {}, "--role ingress shares events"),
        (None, "hub", {}, "hub role 'hub' is not one of both, ingress, edge"),
        ("nats://host", "both", {"creds": "/nonexistent/alice.creds"}, "--nats-creds (MCP_CHANNELS_NATS_CREDS)"),
        ("/var/hub", "both", {"namespace": "team"}, "NATS options, but the store is not nats://"),
        ("nats://user:pw@host:port", "both", {}, "NATS server 'host:port'"),
        ("http://host:4222", "both", {}, "must look like nats://host:4222"),
        ("nats://host:4222/path", "both", {}, "takes no path"),
        ("nats://:4222", "both", {}, "must look like"),
    ],
)
def test_unusable_choices_are_refused_with_the_option_named(
    store: str | None, role: str, nats: dict[str, str | None], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        resolve(store, role, nats, {})
    assert "pw" not in str(caught.value)


def test_a_client_key_needs_its_certificate(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("key")
    with pytest.raises(ConfigurationError, match="--nats-key needs --nats-cert"):
        resolve("tls://host:4222", None, {"key": str(key)}, {})


async def test_routing_mirrors_keys_written_and_removed_by_other_hubs() -> None:
    """What an edge does with each change it hears on the shared KV bucket."""
    async with MemoryStore() as store:
        routing = RoutingState(store)
        session = SessionInfo("key-a", 1, "delivering", name="alice")
        binding = Binding.to("telegram", "111", session, "reply")
        key = store_key("hub/b/", "telegram", "111")
        assert routing.apply(key, binding.to_json())
        assert routing.binding("telegram", "111") == binding
        assert routing.apply(key, None) and routing.binding("telegram", "111") is None
        record = SessionRecord(session, ("telegram",), 1.0, None, hub="laptop:/h")
        assert routing.apply(store_key("hub/s/", "all", "key-a"), record.to_json())
        assert routing.sessions["key-a"].hub == "laptop:/h"
        assert not routing.apply("hub/p/request", "{}")  # a permission record is not routing

        other = Binding.to("telegram", "222", SessionInfo("key-b", 2, "delivering"), "default")
        assert await routing.claim(other) == other
        late = Binding.to("telegram", "222", session, "default")
        assert await routing.claim(late) == other  # the first claim holds
