"""What only the JetStream store promises: its layout on the server, several hubs sharing it, outages, credentials.

Every test talks to a real ``nats-server -js`` on a loopback port.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
import nkeys
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_channels.hub.store import Event, InvalidInput, NatsStore, Retention, StoreError, StoreUnavailable, open_store
from mcp_channels.hub.store._nats import decode_token, encode_token
from support.nats_server import NatsServer

T = TypeVar("T")


def event(event_id: str, conversation: str = "chat", channel: str = "telegram") -> Event:
    return Event(event_id, channel, conversation, f"body of {event_id}")


# ---------------------------------------------------------------------- subject tokens (pure)


@given(st.text(min_size=1))
def test_tokens_round_trip_and_are_single_valid_subject_tokens(text: str) -> None:
    token = encode_token(text)
    assert decode_token(token) == text
    assert token and all(char.isascii() and (char.isalnum() or char in "-_=") for char in token)


@given(st.text(min_size=1), st.text(min_size=1))
def test_tokens_preserve_prefixes_and_never_collide(first: str, second: str) -> None:
    assert encode_token(first + second).startswith(encode_token(first))
    assert (encode_token(first) == encode_token(second)) == (first == second)


def test_ordinary_conversation_keys_stay_readable() -> None:
    assert encode_token("-1001234567") == "-1001234567"
    assert encode_token("chat_42") == "chat_42"
    assert encode_token("/ci/build") == "=2Fci=2Fbuild"
    assert encode_token("a.b*>") == "a=2Eb=2A=3E"
    assert encode_token("é") == "=C3=A9"


@pytest.mark.parametrize("token", ["", "a.b", "a b", "=4", "=zz", "=2f", "=41", "=FF", "=C3"])
def test_tokens_the_encoder_cannot_produce_are_refused(token: str) -> None:
    with pytest.raises(InvalidInput):
        decode_token(token)


# ---------------------------------------------------------------------- layout on the server


async def test_events_are_published_per_conversation_subject_with_their_id(
    nats_server: NatsServer, namespace: str
) -> None:
    async with NatsStore(nats_server.url, namespace=namespace) as store:
        await store.append([event("a", "/ci/build"), event("b", "-100"), event("c", "-100")])
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(f"{namespace}_telegram", subjects_filter=">")
            assert info.state.subjects == {f"{namespace}.telegram.=2Fci=2Fbuild": 1, f"{namespace}.telegram.-100": 2}
            assert info.config.max_msgs == 10_000
            assert info.config.max_age == 7 * 24 * 3600
            assert info.config.duplicate_window == 24 * 3600
            message = await js.get_msg(f"{namespace}_telegram", 2)
            assert message.headers is not None and message.headers["Nats-Msg-Id"] == "b"
            # A publish of a stored id by anyone is dropped by JetStream's duplicate window.
            ack = await js.publish(f"{namespace}.telegram.-100", b"{}", headers={"Nats-Msg-Id": "b"})
            assert (ack.duplicate, ack.seq) == (True, 2)
        finally:
            await nc.close()


async def test_messages_and_keys_written_by_others_are_skipped(nats_server: NatsServer, namespace: str) -> None:
    async with NatsStore(nats_server.url, namespace=namespace) as store:
        await store.append([event("a")])
        await store.kv_put("mine", "1")
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            await js.publish(f"{namespace}.telegram.chat", b"not json", headers={"Nats-Msg-Id": "foreign"})
            await js.publish(f"{namespace}.telegram.not=encoded", b"{}")
            await (await js.key_value(f"{namespace}_kv")).put("foreign.key", b"x")
        finally:
            await nc.close()
        await store.append([event("b")])

        assert [(item.id, item.seq) for item in await store.read("telegram")] == [("a", 1), ("b", 4)]
        assert await store.kv_items() == {"mine": "1"}
        assert [(item.conversation, item.count) for item in await store.backlog("telegram")] == [("chat", 3)]


async def test_reopening_with_other_limits_updates_the_stream(nats_server: NatsServer, namespace: str) -> None:
    async with NatsStore(nats_server.url, namespace=namespace) as store:
        await store.append([event("a")])
    async with NatsStore(
        nats_server.url, namespace=namespace, retention=Retention(max_age=3600, max_events=5)
    ) as store:
        await store.append([event("b")])
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().stream_info(f"{namespace}_telegram")
        assert (info.config.max_msgs, info.config.max_age, info.config.duplicate_window) == (5, 3600, 3600)
    finally:
        await nc.close()


# ---------------------------------------------------------------------- several hubs on one server


async def test_two_hubs_share_events_cursors_bindings_and_wake_each_other(
    nats_server: NatsServer, namespace: str
) -> None:
    async with (
        NatsStore(nats_server.url, namespace=namespace) as ingress,
        NatsStore(nats_server.url, namespace=namespace) as edge,
    ):
        watch = edge.watch("telegram")
        assert await asyncio.wait_for(anext(watch), 10) == 0
        await ingress.append([event("a"), event("b")])
        seen = await asyncio.wait_for(anext(watch), 10)
        while seen < 2:
            seen = await asyncio.wait_for(anext(watch), 10)
        assert [item.id for item in await edge.read("telegram")] == ["a", "b"]

        await edge.ack("telegram", "chat", 2)
        await ingress.ack("telegram", "chat", 1)  # late and lower: ignored
        assert await ingress.cursor("telegram", "chat") == 2
        await ingress.kv_put("binding/telegram/chat", "session-1")
        assert await edge.kv_items("binding/") == {"binding/telegram/chat": "session-1"}
        assert (await edge.append([event("a")]))[0].seq == 1  # the other hub's id is known here too
        await watch.aclose()


async def test_concurrent_acks_from_two_hubs_keep_the_highest(nats_server: NatsServer, namespace: str) -> None:
    async with (
        NatsStore(nats_server.url, namespace=namespace) as first,
        NatsStore(nats_server.url, namespace=namespace) as second,
    ):
        await first.append([event(f"e{i}") for i in range(1, 41)])
        await asyncio.gather(*(hub.ack("telegram", "chat", seq) for seq in range(1, 41) for hub in (first, second)))
        assert await first.cursor("telegram", "chat") == 40


# ---------------------------------------------------------------------- outages


async def until_it_works(call: Callable[[], Awaitable[T]], deadline: float = 30.0) -> T:
    """Retry ``call`` while the store is unavailable, as the hub does after an outage."""
    end = time.monotonic() + deadline
    while True:
        try:
            return await call()
        except StoreUnavailable:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.1)


async def test_unavailable_while_the_server_is_down_and_working_again_when_it_returns(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        async with NatsStore(server.url, reconnect_wait=0.2, timeout=1.0) as store:
            await store.append([event("before")])
            watch = store.watch("telegram")
            assert await asyncio.wait_for(anext(watch), 10) == 1

            server.stop()
            started = time.monotonic()
            for call in (
                lambda: store.append([event("during")]),
                lambda: store.read("telegram"),
                lambda: store.ack("telegram", "chat", 1),
                lambda: store.kv_get("binding"),
            ):
                with pytest.raises(StoreUnavailable):
                    await call()
            assert time.monotonic() - started < 5

            await asyncio.sleep(3)  # an outage of a few seconds: the client keeps trying meanwhile
            server.start()
            stored = await until_it_works(lambda: store.append([event("during"), event("after")]))
            assert [item.seq for item in stored] == [2, 3]
            assert [item.id for item in await store.read("telegram")] == ["before", "during", "after"]
            async with NatsStore(server.url) as other_hub:  # its appends reach our watch after the outage
                await other_hub.append([event("remote")])
            seen = await asyncio.wait_for(anext(watch), 20)
            while seen < 4:
                seen = await asyncio.wait_for(anext(watch), 20)
            await watch.aclose()
    finally:
        server.stop()


async def test_every_acknowledged_append_survives_a_server_killed_mid_burst(tmp_path: Path) -> None:
    """kill -9 of nats-server (not of its machine: the OS keeps what the server wrote) loses nothing acknowledged."""
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    confirmed: list[str] = []
    burst_running = asyncio.Event()
    try:
        async with NatsStore(server.url, timeout=1.0, reconnect_wait=0.1) as store:

            async def appender(worker: int) -> None:
                for n in range(10**9):
                    try:
                        stored = await store.append([event(f"w{worker}-{n}")])
                    except StoreUnavailable:
                        return
                    confirmed.append(stored[0].id)
                    if len(confirmed) >= 2000:
                        burst_running.set()

            appenders = [asyncio.create_task(appender(worker)) for worker in range(16)]
            await asyncio.wait_for(burst_running.wait(), 30)
            server.kill()
            await asyncio.wait_for(asyncio.gather(*appenders), 30)
            server.start()
            await until_it_works(lambda: store.read("telegram", limit=1))
            stored_ids: set[str] = set()
            after = 0
            while batch := await store.read("telegram", after=after, limit=10_000):
                stored_ids.update(item.id for item in batch)
                after = batch[-1].seq
            assert not [event_id for event_id in confirmed if event_id not in stored_ids]
    finally:
        server.stop()


async def test_a_dead_server_at_start_is_unavailable_quickly() -> None:
    from support.processes import free_port

    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        await NatsStore(f"nats://127.0.0.1:{free_port()}", timeout=1.0).initialize()
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------- credentials and TLS


async def test_user_password_in_the_url_and_wrong_credentials(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "js", config='authorization { user: hub, password: "s3cret" }\n')
    server.start()
    try:
        authorised = f"nats://hub:s3cret@127.0.0.1:{server.port}"
        async with open_store(authorised, namespace="auth") as store:
            await store.append([event("a")])
        with pytest.raises(StoreError, match="refused our credentials") as refused:
            await NatsStore(f"nats://hub:wrong@127.0.0.1:{server.port}", timeout=1.0).initialize()
        assert "wrong" not in str(refused.value)
    finally:
        server.stop()


async def test_token_and_nkey_seed_authentication(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public_key = nkeys.from_seed(seed).public_key.decode()
    seed_file = tmp_path / "hub.nk"
    seed_file.write_bytes(seed)
    for config, options in (
        ('authorization { token: "t0ken" }\n', {"token": "t0ken"}),
        (f'authorization {{ users: [ {{ nkey: "{public_key}" }} ] }}\n', {"nkeys_seed": str(seed_file)}),
    ):
        server = NatsServer(tmp_path / f"js-{len(config)}", config=config)
        server.start()
        try:
            async with NatsStore(server.url, **options) as store:  # type: ignore[arg-type]
                await store.kv_put("k", "v")
                assert await store.kv_get("k") == "v"
            with pytest.raises(StoreError):
                await NatsStore(server.url, timeout=1.0).initialize()
        finally:
            server.stop()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl command."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", ca_key, "-out", ca_cert)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr)
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
            "-extfile", extensions, "-out", cert)  # fmt: skip
    return ca_cert, cert, key


async def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    ca_cert, cert, key = make_certificates(tmp_path)
    server = NatsServer(tmp_path / "js", config=f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\n')
    server.start()
    try:
        async with open_store(f"tls://127.0.0.1:{server.port}", tls_ca_file=str(ca_cert)) as store:
            await store.append([event("a")])
            assert [item.id for item in await store.read("telegram")] == ["a"]
        with pytest.raises(StoreError, match="TLS"):  # the server's certificate is not trusted without the CA
            await open_store(f"tls://127.0.0.1:{server.port}", timeout=1.0).initialize()
    finally:
        server.stop()


def test_the_key_file_needs_its_certificate() -> None:
    with pytest.raises(InvalidInput):
        NatsStore("tls://127.0.0.1:4222", tls_key_file="client.key")


def test_namespaces_are_checked() -> None:
    with pytest.raises(InvalidInput):
        NatsStore("nats://127.0.0.1:4222", namespace="a.b")
