"""A team on NATS JetStream: one ingress hub owns the bot and the webhook, edge hubs on "other machines" deliver to their sessions.

Every machine is a separate process with its own hub directory and state; they share nothing but
a real ``nats-server -js`` on loopback. The ingress is started as a user would (``hub start
--role ingress --channel ...``); each edge is started by its first session's shim, from the
variables a developer would put in their environment (``MCP_CHANNELS_STORE``,
``MCP_CHANNELS_HUB_ROLE=edge``). What a session received is what its host printed; what a person
saw is what the fake Bot API recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from fakes.telegram_api import FakeTelegram
from fakes.telegram_session import TelegramSession, write_access
from mcp_channels.errors import JsonRpcError
from support.hub import HubDir, HubSession, WireSession, cli, hub_dir, wait_until
from support.nats_server import NatsServer, running_nats
from support.processes import free_port, http_request

ALICE, BOB = 111, 222
_namespaces = itertools.count(1)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with running_nats(tmp_path_factory.mktemp("jetstream")) as server:
        yield server


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    server.user(ALICE, "alice")
    server.user(BOB, "bob")
    yield server
    await server.stop()


class Team:
    """The machines of one test: an ingress and edges, each a hub directory of its own, all stopped at the end."""

    def __init__(
        self, server: NatsServer, tmp_path: Path, stack: contextlib.ExitStack, *,
        namespace: str | None = None, ingress_user: str = "", edge_user: str = "",
    ) -> None:  # fmt: skip
        self.server = server
        self.tmp_path = tmp_path
        self.stack = stack
        self.shared = {"MCP_CHANNELS_NATS_NAMESPACE": namespace or f"team{next(_namespaces)}"}
        self.ingress_store = server.url.replace("//", f"//{ingress_user}@" if ingress_user else "//")
        self.edge_store = server.url.replace("//", f"//{edge_user}@" if edge_user else "//")
        self.sessions: list[TelegramSession | HubSession] = []
        self.ingress: HubDir | None = None
        self.ingress_env: dict[str, str] = {}

    def machine(self, role: str) -> HubDir:
        store = self.ingress_store if role == "ingress" else self.edge_store
        extra = {**self.shared, "MCP_CHANNELS_HUB_ROLE": role, "MCP_CHANNELS_STORE": store}
        return self.stack.enter_context(hub_dir(extra=extra))

    async def start_ingress(self, channel: str, **env: str) -> HubDir:
        if self.ingress is None:
            self.ingress = self.machine("ingress")
            self.ingress_env = {**self.ingress.env, **env}
        code, out, err = await cli(self.ingress_env, "hub", "start", "--channel", channel)
        assert code == 0, out + err
        return self.ingress

    async def start_webhook_ingress(self) -> int:
        """An ingress running the webhook; its port."""
        port = free_port()
        await self.start_ingress("webhook", WEBHOOK_PORT=str(port), WEBHOOK_STATE_DIR=str(self.tmp_path / "webhook"))
        return port

    async def start_edge(self) -> HubDir:
        """An edge hub started by hand (``hub start``), before any session."""
        edge = self.machine("edge")
        code, out, err = await cli(edge.env, "hub", "start")
        assert code == 0, out + err
        return edge

    def edge_env(self, edge: HubDir, name: str) -> dict[str, str]:
        """What a developer's session on that machine has: the shared store, the edge role, its name."""
        return {
            **self.shared,
            "MCP_CHANNELS_STORE": self.edge_store,
            "MCP_CHANNELS_HUB_ROLE": "edge",
            "MCP_CHANNELS_HUB": "auto",
            "MCP_CHANNELS_HUB_DIR": str(edge.path),
            "MCP_CHANNELS_SESSION_NAME": name,
            "CLAUDE_PROJECT_DIR": f"/projects/{name}",
        }

    async def telegram_session(self, fake: FakeTelegram, edge: HubDir, name: str) -> TelegramSession:
        workdir = self.tmp_path / f"{name}-{len(self.sessions)}"
        # A developer's machine has no bot token: its shim answers from the ingress's declaration.
        env = {**self.edge_env(edge, name), "TELEGRAM_BOT_TOKEN": ""}
        session = TelegramSession(fake, workdir / "state", workdir, **env)
        self.sessions.append(session)
        await session.host.start()
        await session.host.wait_stderr("the hub")
        return session

    async def webhook_session(self, edge: HubDir, name: str) -> HubSession:
        session = HubSession(edge, "webhook", self.tmp_path / f"{name}-{len(self.sessions)}", name,
                             **self.edge_env(edge, name))  # fmt: skip
        self.sessions.append(session)
        return await session.start()

    async def close(self, session: TelegramSession | HubSession) -> None:
        self.sessions.remove(session)
        await session.stop()

    async def stop(self) -> None:
        for session in self.sessions:
            await session.stop()


@pytest.fixture
async def team(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Team]:
    if nats_server.process is None:
        nats_server.start()  # a test that stopped it failed before starting it again
    with contextlib.ExitStack() as stack:
        machines = Team(nats_server, tmp_path, stack)
        try:
            yield machines
        finally:
            await machines.stop()


def bot_settings(fake: FakeTelegram, tmp_path: Path) -> dict[str, str]:
    """The ingress's own Telegram settings: the token and an access file letting Alice and Bob in."""
    state = tmp_path / "ingress-telegram"
    write_access(state, dmPolicy="allowlist", allowFrom=[str(ALICE), str(BOB)])
    return {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE": fake.base,
        "TELEGRAM_STATE_DIR": str(state),
        "MCP_CHANNELS_APPROVAL_INTERVAL": "0.1",
    }


async def test_two_edges_each_get_only_their_chats_reply_and_permissions_go_through_the_ingress(
    fake: FakeTelegram, team: Team, tmp_path: Path
) -> None:
    await team.start_ingress("telegram", **bot_settings(fake, tmp_path))
    await fake.wait_until(lambda: fake.polls)
    laptop, desktop = team.machine("edge"), team.machine("edge")
    alice = await team.telegram_session(fake, laptop, "alice-dev")
    bob = await team.telegram_session(fake, desktop, "bob-dev")
    assert laptop.pid() and desktop.pid() and laptop.pid() != desktop.pid()

    # reply runs at the ingress (the only bot connection) and binds the chat, for every hub
    await alice.ok("reply", chat_id=str(ALICE), text="hi alice")
    await bob.ok("reply", chat_id=str(BOB), text="hi bob")
    assert [m["text"] for m in fake.sent_to(ALICE)] == ["hi alice"]
    assert [m["text"] for m in fake.sent_to(BOB)] == ["hi bob"]
    for n in range(3):
        fake.send_text(fake.users[ALICE], f"alice {n}")
        fake.send_text(fake.users[BOB], f"bob {n}")
    for n in range(3):
        await alice.event(f"alice {n}")
        await bob.event(f"bob {n}")
    assert alice.contents() == [f"alice {n}" for n in range(3)]
    assert bob.contents() == [f"bob {n}" for n in range(3)]

    # a permission prompt from the laptop's session: shown in Alice's chat, the verdict to that session only
    await alice.host.command('/permission Bash "list the files" {"command": "ls"}')
    request = await alice.host.wait_type("permission_request")
    prompt = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "reply_markup" in m)
    fake.press(fake.users[ALICE], prompt, f"perm:allow:{request['request_id']}")
    resolved = await alice.host.wait_type("permission_resolved")
    assert resolved["behavior"] == "allow"
    fake.send_text(fake.users[ALICE], f"no {request['request_id']}")  # a second answer: the first won
    assert bob.host.of_type("permission_resolved") == []

    # /switch at the ingress moves Alice's chat to the desktop's session
    fake.send_text(fake.users[ALICE], "/switch bob-dev")
    await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and m["text"] == "This chat now goes to bob-dev.")
    fake.send_text(fake.users[ALICE], "alice moved")
    await bob.event("alice moved")
    fake.send_text(fake.users[BOB], "bob stays")
    await bob.event("bob stays")
    assert "alice moved" not in alice.contents()
    assert len(alice.host.of_type("permission_resolved")) == 1
    assert len({poll.agent for poll in fake.polls}) == 1  # one poller: the ingress's


async def test_kill_9_of_the_ingress_mid_burst_loses_nothing_and_repeats_nothing(
    fake: FakeTelegram, team: Team, tmp_path: Path
) -> None:
    settings = bot_settings(fake, tmp_path)
    ingress = await team.start_ingress("telegram", **settings)
    edge = team.machine("edge")
    session = await team.telegram_session(fake, edge, "burst")
    await session.ok("reply", chat_id=str(ALICE), text="ready")
    burst = [f"m{n:03d}" for n in range(150)]
    for text in burst:
        fake.send_text(fake.users[ALICE], text)
    await session.host.wait_count("event", 20, timeout=60)
    first = ingress.pid()
    assert first
    os.kill(first, signal.SIGKILL)
    await wait_until(lambda: ingress.pid() is None)
    await team.start_ingress("telegram", **settings)
    await session.host.wait_count("event", len(burst), timeout=120)
    await fake.wait_confirmed(fake.last_update_id)
    assert session.contents() == burst  # every message, once, in order, though some were fetched twice


async def post(port: int, path: str, body: bytes) -> int:
    status, _, _ = await http_request(port, "POST", path, body)
    return status


async def test_nats_down_for_10s_the_webhook_refuses_with_503_then_catches_up(
    nats_server: NatsServer, team: Team, tmp_path: Path
) -> None:
    port = await team.start_webhook_ingress()
    session = await team.webhook_session(team.machine("edge"), "ci")
    assert await post(port, "/ci", b"before") == 202
    await session.event("before")

    nats_server.stop()
    refused = []
    loop = asyncio.get_running_loop()
    outage_ends = loop.time() + 10.0
    while loop.time() < outage_ends:
        refused.append(await post(port, "/ci", b"during"))
        await asyncio.sleep(0.5)
    assert set(refused) == {503}, refused
    nats_server.start()

    async def accepted() -> None:
        while await post(port, "/ci", b"after") != 202:
            await asyncio.sleep(0.2)

    await asyncio.wait_for(accepted(), 30)
    await session.event("after", timeout=30)
    assert session.contents() == ["before", "after"]  # nothing refused was delivered, nothing twice


async def test_an_edge_offline_for_a_while_receives_its_backlog(team: Team, tmp_path: Path) -> None:
    port = await team.start_webhook_ingress()
    edge = team.machine("edge")
    first = await team.webhook_session(edge, "ops")
    assert await post(port, "/deploy", b"first") == 202
    await first.event("first")
    await team.close(first)
    code, _, err = await cli(edge.env, "hub", "stop")
    assert code == 0, err
    for n in range(5):
        assert await post(port, "/deploy", f"while away {n}".encode()) == 202
    back = await team.webhook_session(edge, "ops")  # starts the edge again
    for n in range(5):
        event = await back.event(f"while away {n}")
        assert event["meta"]["queued"] == "true"
    assert back.contents() == [f"while away {n}" for n in range(5)]


async def test_roles_and_stores_that_cannot_work_are_refused_clearly(nats_server: NatsServer) -> None:
    with hub_dir() as machine:
        code, _, err = await cli(machine.env, "hub", "run", "--role", "edge")
        assert code == 1 and "--role edge shares events between machines through NATS" in err
        code, _, err = await cli(machine.env, "hub", "run", "--store", "nats://u:secret@host:port")
        assert code == 1 and "must look like" not in err and "secret" not in err and "port" in err
        code, _, err = await cli(machine.env, "hub", "run", "--store", "http://host:4222", "--role", "ingress")
        assert code == 1 and "NATS" in err
        code, _, err = await cli(machine.env, "hub", "run", "--store", nats_server.url, "--nats-creds", "/nonexistent")
        assert code == 1 and "--nats-creds" in err and "not a readable file" in err
        dead = f"nats://127.0.0.1:{free_port()}"
        code, _, err = await cli(machine.env, "hub", "run", "--store", dead, "--role", "edge")
        assert code == 1 and f"cannot open the event store {dead}" in err
        assert machine.pid() is None


def readme_team_conf(store_dir: Path) -> str:
    """The README's ``team.conf``, with this test's store directory and without its public listen line."""
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- team.conf:", 1)[1].split("```\n", 1)[1].split("```", 1)[0]
    assert "listen: 0.0.0.0:4222\n" in block and "/var/lib/nats" in block
    return block.replace("listen: 0.0.0.0:4222\n", "").replace("/var/lib/nats", str(store_dir))


async def test_the_readmes_team_config_lets_edges_work_and_not_publish_events(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """The copy-paste server config: Alice's edge, with the EDGE permissions, gets her chat, replies
    and answers a prompt through the ingress, but cannot put an event into a stream herself."""
    import nats

    server = NatsServer(tmp_path / "js", config=readme_team_conf(tmp_path / "js"))
    server.start()
    try:
        with contextlib.ExitStack() as stack:
            team = Team(server, tmp_path, stack, namespace="channels",
                        ingress_user="ingress:change-me-ingress", edge_user="alice:change-me-alice")  # fmt: skip
            try:
                await team.start_ingress("telegram", **bot_settings(fake, tmp_path))
                alice = await team.telegram_session(fake, team.machine("edge"), "alice-dev")
                await alice.ok("reply", chat_id=str(ALICE), text="hi alice")
                fake.send_text(fake.users[ALICE], "from alice")
                await alice.event("from alice")
                await alice.host.command('/permission Bash "list the files" {"command": "ls"}')
                request = await alice.host.wait_type("permission_request")
                prompt = await fake.wait_sent(lambda m: m["chat"]["id"] == ALICE and "reply_markup" in m)
                fake.press(fake.users[ALICE], prompt, f"perm:deny:{request['request_id']}")
                assert (await alice.host.wait_type("permission_resolved"))["behavior"] == "deny"
            finally:
                await team.stop()
        client = await nats.connect(server.url.replace("//", "//alice:change-me-alice@"))
        try:
            with pytest.raises(nats.errors.Error):
                await client.jetstream(timeout=1.0).publish("channels.telegram.111", b"{}", stream="channels_telegram")
        finally:
            await client.close()
    finally:
        server.stop()


async def test_a_burst_from_concurrent_senders_reaches_the_edge_whole(team: Team, tmp_path: Path) -> None:
    """The edge reads what the ingress stores while the ingress keeps storing: an event reported
    during a read must still be read (it used to wait for the next event)."""
    port = await team.start_webhook_ingress()
    edge = await team.start_edge()
    session = WireSession("burst-session")
    try:
        await session.attach(edge.paths, "webhook")

        async def sender(first: int) -> None:
            async with aiohttp.ClientSession() as client:  # keep-alive: POSTs as fast as they are answered
                for number in range(first, first + 25):
                    url = f"http://127.0.0.1:{port}/burst/{number % 8}"
                    async with client.post(url, data=f"event {number}".encode()) as response:
                        assert response.status == 202

        await asyncio.gather(*(sender(first) for first in range(0, 200, 25)))
        await session.wait_events(200, timeout=30)
        assert sorted(session.contents()) == sorted(f"event {number}" for number in range(200))
    finally:
        session.close()


async def test_an_ingress_takes_no_session_and_an_edge_sends_no_local_file(team: Team, tmp_path: Path) -> None:
    await team.start_webhook_ingress()
    ingress = team.ingress
    assert ingress is not None
    visitor = WireSession("visitor")
    try:
        with pytest.raises(JsonRpcError, match="this hub is an ingress"):
            await visitor.attach(ingress.paths, "webhook")
    finally:
        visitor.close()
    edge = await team.start_edge()
    session = WireSession("with-files")
    try:
        await session.attach(edge.paths, "webhook")
        assert session.link is not None
        (tmp_path / "report.txt").write_text("local only")
        arguments = {"text": "see attached", "files": [str(tmp_path / "report.txt")]}
        result = await session.link.peer.request("hub/call_tool", {"name": "reply", "arguments": arguments})
        assert result["isError"] and "cannot read files of this machine" in result["content"][0]["text"]
        code, out, _ = await cli(edge.env, "hub", "status")
        assert code == 0 and "as edge" in out and "webhook: at the ingress" in out
    finally:
        session.close()
